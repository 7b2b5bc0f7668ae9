"""The `/skills` verbs, shared by the chat command (hermes/commands.py) and
`hermes skills` (hermes/cli/skills_cmd.py): list, check, pending, show ID,
apply ID, reject ID, rollback ID."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hermes.skills import format as fmt
from hermes.skills import proposals
from hermes.skills_sync import read_manifest
from hermes.store import skill_ops

if TYPE_CHECKING:
    from hermes.store import Store

USAGE = "Use /skills [list|check|pending|show ID|apply ID|reject ID|rollback ID]."
WITH_ID = ("show", "apply", "reject", "rollback")


async def run(store: Store, home: Path, arg: str) -> str:
    """The answer to `/skills ARG` (a bad id or decision is answered in one line)."""
    try:
        return await _run(store, home, arg)
    except proposals.ProposalError as exc:
        return str(exc)


async def _run(store: Store, home: Path, arg: str) -> str:
    verb, _, rest = arg.strip().partition(" ")
    verb, pid = (verb or "list").lower(), rest.strip()
    if verb in WITH_ID and not pid:
        return f"/skills {verb} needs a proposal id; /skills pending lists them."
    if verb == "list":
        return await listing(store, home)
    if verb == "check":
        return check(home)
    if verb == "pending":
        return proposals.listing(await proposals.pending(store))
    if verb == "show":
        return show(await proposals.show(store, pid))
    if verb == "apply":
        return await proposals.apply(store, home, pid)
    if verb == "reject":
        return await proposals.reject(store, home, pid)
    if verb == "rollback":
        return await proposals.rollback(store, home, pid)
    return f"Unknown /skills verb {verb!r}. {USAGE}"


def check(home: Path) -> str:
    skills, problems = fmt.scan(home / "skills")
    if not problems:
        return f"All {len(skills)} skills are valid."
    lines = [p.line() for p in problems]
    bad = len({p.name for p in problems})
    return "\n".join([f"{bad} invalid skill(s), not loaded ({len(skills)} valid):", *lines])


async def listing(store: Store, home: Path) -> str:
    skills, problems = fmt.scan(home / "skills")
    usage = {u.name: u for u in await store.run(skill_ops.all_usage)}
    bundled = set(read_manifest(home / "skills"))
    lines = []
    for s in skills:
        u = usage.get(s.name)
        by = "bundled" if s.name in bundled else (u.created_by if u else "user")
        seen = f"{u.views} views, {u.uses} uses, by {by}" if u else f"by {by}"
        lines.append(f"- {s.name} ({seen}): {s.description}")
    if problems:
        lines.append(f"{len({p.name for p in problems})} invalid skill(s): /skills check")
    pending = await proposals.pending(store)
    if pending:
        lines.append(f"{len(pending)} pending proposal(s): /skills pending")
    return "\n".join(lines) or "No skills yet."


def show(p: skill_ops.Proposal) -> str:
    head = f"{p.id} [{p.status}, from {p.source}]: {proposals.describe_draft(p)}"
    if p.note:
        head += f"\nNote: {p.note}"
    return head + ("\n\n" + p.content if p.content else "")
