"""The background review: after a turn worth learning from, the model reads the
turn's transcript and may propose creating or improving a skill and saving
memories; every `memory.nudge_turns` turns it is asked what to remember. The
answers become staged proposals (hermes/skills/proposals.py).

`review(provider, transcript, existing)` and `nudge(...)` are plain functions (the
model's answer is a strict JSON shape, parsed defensively: anything else is no
proposal, logged). `after_turn(...)` is the runner the gateway starts after a
turn, off the chat's critical path: it decides whether a review is due, runs it
in its own small session (source "review", stored like any session) and stages
what came back. It never raises.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hermes.agent.compress import transcript as render_transcript
from hermes.messages import Message
from hermes.skills.proposals import Draft, ProposalError, existing_skills, read_target, stage

if TYPE_CHECKING:
    from hermes.context import Profile
    from hermes.providers.base import Provider
    from hermes.settings import MemorySettings
    from hermes.store import Store

log = logging.getLogger(__name__)

TRANSCRIPT_CHARS = 24_000
MAX_PROPOSALS = 5
SHAPE = (
    'Answer with JSON only, exactly this shape: {"proposals": [ ... ]}, where each item '
    'is either {"kind": "skill", "action": "create" | "patch", "name": "lowercase-with-'
    'hyphens", "content": "the whole SKILL.md", "reason": "one line"} or {"kind": '
    '"memory", "target": "user" | "memory", "text": "one short entry", "reason": "one '
    'line"}. SKILL.md is YAML front matter (name: the same name; description: what it '
    "does and when to use it, at most 1024 chars) between '---' lines, then the steps in "
    'Markdown. Nothing worth keeping: {"proposals": []}.'
)
REVIEW_PROMPT = (
    "You review a finished piece of work by an assistant to make it better next time. "
    "If the transcript shows a procedure worth repeating (several steps, a pitfall "
    "found, a correction by the user), propose one skill: patch an existing skill when "
    "one covers the task (give its name and its whole improved text), create one only "
    "when none does. Propose memories only for durable facts about the user or the "
    "environment. Propose nothing for routine work. " + SHAPE
)
NUDGE_PROMPT = (
    "You keep an assistant's long-term memory. Read the recent conversation and the "
    "current memory files. Propose only durable facts not already there: the user's "
    "preferences and details (target user) or lessons about the environment and "
    "projects (target memory). No secrets, no one-off task details. " + SHAPE
)
_CORRECTION = re.compile(
    r"^\s*(no\b|nope\b|wrong\b|that'?s (not|wrong)|not (what|like)|actually\b|i said\b|"
    r"you (should|shouldn'?t|didn'?t|forgot)|don'?t\b|stop\b|instead\b)",
    re.IGNORECASE,
)


def looks_like_correction(text: str) -> bool:
    """Whether the user's message corrects the assistant (a cheap heuristic)."""
    return bool(_CORRECTION.search(text))


def tool_calls_in(messages: Sequence[Message]) -> int:
    return sum(len(m.tool_calls) for m in messages)


def last_turn(messages: Sequence[Message]) -> tuple[list[Message], int]:
    """(the last turn: its user message and what followed, how many user messages
    the context holds) — the TURN and TURN_NUMBER after_turn takes."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        return [], 0
    return list(messages[users[-1] :]), len(users)


def parse(text: str) -> list[dict[str, Any]]:
    """The proposal items of the model's answer; [] (logged) when it is not the shape."""
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
    if fenced:
        body = fenced.group(1)
    try:
        data = json.loads(body)
    except ValueError:
        log.warning("skills review: the model's answer is not JSON; no proposals (%.80r)", text)
        return []
    items = data.get("proposals") if isinstance(data, dict) else None
    if not isinstance(items, list):
        log.warning("skills review: no 'proposals' list in the model's answer; no proposals")
        return []
    good: list[dict[str, Any]] = []
    for item in items[:MAX_PROPOSALS]:
        if _item_ok(item):
            good.append(item)
        else:
            log.warning("skills review: dropped a malformed proposal %.120r", item)
    return good


def _item_ok(item: object) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("reason", ""), str):
        return False
    if item.get("kind") == "skill":
        return (
            item.get("action") in ("create", "patch")
            and isinstance(item.get("name"), str)
            and isinstance(item.get("content"), str)
        )
    if item.get("kind") == "memory":
        return item.get("target") in ("user", "memory") and isinstance(item.get("text"), str)
    return False


def to_drafts(
    items: list[dict[str, Any]], memory: dict[str, str], limits: MemorySettings | None = None
) -> list[Draft]:
    """Drafts for ITEMS. Memory entries are added to the current text of their file
    (MEMORY -> {"user": USER.md text, "memory": MEMORY.md text}), one edit per file,
    so they are bound to one hash; an entry already there, or one that would push a
    file over its limit, is left out (logged)."""
    from hermes.tools.memory import join_entries, split_entries

    drafts: list[Draft] = []
    added: dict[str, list[str]] = {}
    reasons: dict[str, list[str]] = {}
    for item in items:
        if item["kind"] == "skill":
            drafts.append(
                Draft(
                    "skill", item["action"], item["name"], item["content"], item.get("reason", "")
                )
            )
            continue
        target, text = item["target"], " ".join(str(item["text"]).split())
        entries = split_entries(memory.get(target, ""))
        if text and text not in entries and text not in added.get(target, []):
            added.setdefault(target, []).append(text)
            reasons.setdefault(target, []).append(str(item.get("reason") or text[:60]))
    for target, texts in added.items():
        current = memory.get(target, "")
        content = join_entries([*split_entries(current), *texts]) + "\n"
        if limits is not None:
            limit = limits.user_char_limit if target == "user" else limits.memory_char_limit
            if len(content) > limit:
                log.warning("skills review: memory proposal for %s is over its limit", target)
                continue
        drafts.append(Draft("memory", "edit", target, content, "; ".join(reasons[target])))
    return drafts


async def _ask(provider: Provider, system: str, user: str) -> tuple[list[Message], str]:
    request = [Message("system", system), Message("user", user)]
    completion = await provider.complete(request, [])
    return request, completion.message.content


async def review(
    provider: Provider, transcript: str, existing: dict[str, str]
) -> list[dict[str, Any]]:
    """Ask the model to review TRANSCRIPT given EXISTING skills (name -> SKILL.md);
    the proposal items it answered (see parse)."""
    _, answer = await _ask(provider, REVIEW_PROMPT, _review_text(transcript, existing))
    return parse(answer)


def _review_text(transcript: str, existing: dict[str, str]) -> str:
    from hermes.skills.format import description_of

    listed = "\n".join(f"- {n}: {description_of(t)}" for n, t in existing.items()) or "(none)"
    return f"Existing skills:\n{listed}\n\nTranscript of the turn:\n{transcript}"


def _nudge_text(transcript: str, memory: dict[str, str]) -> str:
    return (
        f"USER.md now:\n{memory.get('user') or '(empty)'}\n\n"
        f"MEMORY.md now:\n{memory.get('memory') or '(empty)'}\n\n"
        f"Recent conversation:\n{transcript}"
    )


def due(profile: Profile, turn: Sequence[Message], turn_number: int) -> tuple[bool, bool]:
    """(skill review due, memory nudge due) after TURN, the session's TURN_NUMBER-th."""
    settings = profile.settings
    every = settings.skills.review_after_tool_calls
    user_text = next((m.content for m in turn if m.role == "user"), "")
    skill = every > 0 and (tool_calls_in(turn) >= every or looks_like_correction(user_text))
    nudge_every = settings.memory.nudge_turns
    nudge = nudge_every > 0 and turn_number > 0 and turn_number % nudge_every == 0
    return skill, nudge


def review_due(profile: Profile, messages: Sequence[Message]) -> tuple[list[Message], int] | None:
    """(the last turn, its number) when a review or a nudge is due after it, else None:
    plain code, cheap enough for every turn."""
    turn, number = last_turn(messages)
    return (turn, number) if any(due(profile, turn, number)) else None


def announcement(lines: Sequence[str]) -> str:
    """The one message that tells the chat what a review staged."""
    return "💡 From this conversation:\n" + "\n".join(f"• {line}" for line in lines)


async def after_turn(
    profile: Profile,
    store: Store,
    provider: Provider,
    turn: Sequence[Message],
    turn_number: int,
) -> list[str]:
    """Run the reviews due after TURN (the messages of the turn just finished, its
    user message first; TURN_NUMBER counts the session's user turns from 1) and
    stage their proposals. One line per staged proposal (for the chat); [] when
    nothing was due or proposed. Never raises: failures are logged."""
    try:
        skill_due, nudge_due = due(profile, turn, turn_number)
        if not (skill_due or nudge_due):
            return []
        return await _run(profile, store, provider, turn, skill_due, nudge_due)
    except Exception:
        log.exception("skills review failed; no proposals this time")
        return []


async def _run(
    profile: Profile,
    store: Store,
    provider: Provider,
    turn: Sequence[Message],
    skill_due: bool,
    nudge_due: bool,
) -> list[str]:
    home = profile.home
    text = render_transcript(turn, TRANSCRIPT_CHARS)
    memory = {t: read_target(home, "memory", t) or "" for t in ("user", "memory")}
    session = await store.create_session(source="review", model=provider.model)
    asks: list[tuple[str, str, str]] = []
    if skill_due:
        asks.append(("review", REVIEW_PROMPT, _review_text(text, existing_skills(home / "skills"))))
    if nudge_due:
        asks.append(("nudge", NUDGE_PROMPT, _nudge_text(text, memory)))
    lines: list[str] = []
    for source, system, user in asks:
        request, answer = await _ask(provider, system, user)
        await store.append_messages(session, [*request, Message("assistant", answer)])
        items = parse(answer)
        if source == "nudge":
            items = [i for i in items if i["kind"] == "memory"]
        drafts = to_drafts(items, memory, profile.settings.memory)
        lines += await stage_all(profile, store, drafts, source)
    return lines


async def stage_all(profile: Profile, store: Store, drafts: list[Draft], source: str) -> list[str]:
    """Stage DRAFTS (a bad one is logged and skipped); one line per proposal."""
    lines: list[str] = []
    for draft in drafts:
        try:
            _, line = await stage(store, profile.home, profile.settings, draft, source)
        except ProposalError as exc:
            log.warning("skills review: proposal not staged: %s", exc)
            continue
        lines.append(line)
    return lines
