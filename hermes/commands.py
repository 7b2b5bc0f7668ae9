"""Slash commands shared by every front end (terminal now, chats later).

A command acts on a Conversation and returns text to show. /retry does not
run the turn itself: it hands the text back so the front end can stream it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hermes.agent.conversation import Conversation


@dataclass(frozen=True)
class Outcome:
    text: str
    resend: str | None = None  # run this as a new turn (the front end streams it)
    exit: bool = False


Handler = Callable[[Conversation, str], Awaitable[Outcome]]

HELP: dict[str, str] = {
    "/new": "start a fresh session (the old one stays stored)",
    "/reset": "same as /new",
    "/status": "session, model, context used, tokens",
    "/model [NAME]": "show or switch the model (NAME or PROVIDER:NAME); history is kept",
    "/profile": "the profile serving this chat and its home",
    "/compress": "summarize older messages now",
    "/usage": "tokens and cost of the last turn, this session and today",
    "/retry": "run your last message again",
    "/skills [VERB]": "skills and proposals: list, check, pending, show|apply|reject|rollback ID",
    "/undo": "drop the last turn",
    "/help": "this list",
}


def is_command(text: str) -> bool:
    return text.startswith("/") and len(text) > 1 and not text.startswith("//")


async def run_command(conv: Conversation, line: str) -> Outcome:
    name, _, arg = line.strip().partition(" ")
    handler = _HANDLERS.get(name.lower())
    if handler is None:
        return Outcome(f"Unknown command {name}. /help lists the commands.")
    return await handler(conv, arg.strip())


async def _help(conv: Conversation, arg: str) -> Outcome:
    width = max(len(k) for k in HELP)
    return Outcome("\n".join(f"{k.ljust(width)}  {v}" for k, v in HELP.items()))


async def _new(conv: Conversation, arg: str) -> Outcome:
    old, had_messages = conv.session_id, bool(conv.messages())
    new = await conv.new_session()
    kept = f" The previous one ({old}) is kept." if had_messages else ""
    return Outcome(f"New session {new}.{kept}")


async def _status(conv: Conversation, arg: str) -> Outcome:
    from hermes.providers.describe import with_notice
    from hermes.providers.resolve import describe

    used = conv.context_tokens()
    window = conv.provider.context_window
    total = await conv.store.session_usage(conv.session_id)
    lines = [
        f"Session: {conv.session_id} ({len(conv.messages())} messages in context)",
        f"Model: {with_notice(describe(conv.provider), conv.provider.name)}",
        f"Context: ~{used:,} of {window:,} tokens ({100 * used // max(window, 1)}%)",
        f"Tokens this session: {total.prompt_tokens:,} in, {total.completion_tokens:,} out",
        f"Profile: {conv.profile.name}",
    ]
    running = conv.processes.list()
    if running:
        lines.append(f"Background processes: {len(running)}")
    return Outcome("\n".join(lines))


async def _model(conv: Conversation, arg: str) -> Outcome:
    from hermes.providers.describe import with_notice
    from hermes.providers.resolve import describe, missing_key

    if not arg:
        current = with_notice(describe(conv.provider), conv.provider.name)
        return Outcome(f"Model: {current}. Switch with /model NAME or PROVIDER:NAME.")
    profile = conv.profile
    problem = missing_key(
        profile.settings.model, profile.env, arg, current=conv.provider.name, home=profile.home
    )
    if problem:  # refuse now, not at the next turn
        return Outcome(f"Model not switched: {problem}.")
    described = with_notice(await conv.set_model(arg), conv.provider.name)
    return Outcome(f"Model switched to {described}. The next turn uses it; history is kept.")


async def _profile(conv: Conversation, arg: str) -> Outcome:
    return Outcome(f"Profile: {conv.profile.name} (home {conv.profile.home})")


async def _compress(conv: Conversation, arg: str) -> Outcome:
    before = len(conv.messages())
    if not await conv.compress():
        return Outcome("Nothing to compress yet: the conversation is still short.")
    after = len(conv.messages())
    return Outcome(f"Summarized {before - after + 1} older messages; {after} in context now.")


async def _usage(conv: Conversation, arg: str) -> Outcome:
    from hermes.usage_chat import usage_report

    return Outcome(await usage_report(conv))


async def _undo(conv: Conversation, arg: str) -> Outcome:
    removed = await conv.undo()
    if removed is None:
        return Outcome("Nothing to undo.")
    return Outcome(f"Removed the last turn: {clip(removed)}")


async def _retry(conv: Conversation, arg: str) -> Outcome:
    text = await conv.undo()
    if text is None:
        return Outcome("Nothing to retry.")
    return Outcome(f"Retrying: {clip(text)}", resend=text)


async def _skills(conv: Conversation, arg: str) -> Outcome:
    from hermes.errors import HermesError
    from hermes.skills import verbs

    try:
        return Outcome(await verbs.run(conv.store, conv.profile.home, arg))
    except HermesError as exc:
        return Outcome(str(exc))


def clip(text: str, limit: int = 60) -> str:
    """TEXT on one line, cut to LIMIT characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


_HANDLERS: dict[str, Handler] = {
    "/new": _new,
    "/reset": _new,
    "/status": _status,
    "/model": _model,
    "/profile": _profile,
    "/compress": _compress,
    "/usage": _usage,
    "/undo": _undo,
    "/retry": _retry,
    "/skills": _skills,
    "/help": _help,
}
