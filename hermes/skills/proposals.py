"""Proposals: staged changes to a skill (create, patch, delete) or to a memory file
(memories/USER.md, MEMORY.md), each bound to the SHA-256 of its target's text when
staged.

- Applying checks that hash first: when the target changed since (the user edited
  it, another proposal applied), the proposal is not applied and becomes stale.
- Applying keeps the text it replaced, so every applied change can be rolled back
  (when the target still holds what was applied). Nothing is ever deleted: a
  deleted (or rolled-back new) skill's folder moves to skills/.archive/.
- `skills.write_approval: ask` stages and waits for `/skills apply ID`; `auto`
  applies at once.

The work runs on the store's thread (`store.run`), file side included: proposals
are decided one at a time and the event loop never waits on the disk.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from hermes.backends.local import atomic_write
from hermes.errors import HermesError
from hermes.skills import format as fmt
from hermes.skills.similar import find_duplicate
from hermes.store import skill_ops
from hermes.store.db import Conn
from hermes.store.skill_ops import Proposal

if TYPE_CHECKING:
    from hermes.settings import Settings
    from hermes.store import Store

MEMORY_FILES = {"user": "USER.md", "memory": "MEMORY.md"}
SKILL_ACTIONS = ("create", "patch", "delete")
ARCHIVE = ".archive"


class ProposalError(HermesError):
    """A proposal that cannot be staged or decided (one line saying why)."""


@dataclass(frozen=True)
class Draft:
    """A change not staged yet."""

    kind: str  # skill | memory
    action: str  # create | patch | delete (skill); edit (memory)
    target: str  # skill name; user | memory
    content: str | None  # the whole new text (None: delete)
    reason: str = ""


def sha256_text(text: str | None) -> str:
    """The hash a proposal is bound to ('' for an absent target)."""
    return "" if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def target_path(home: Path, kind: str, target: str) -> Path:
    if kind == "memory":
        return home / "memories" / MEMORY_FILES[target]
    return home / "skills" / target / "SKILL.md"


def read_target(home: Path, kind: str, target: str) -> str | None:
    path = target_path(home, kind, target)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def existing_skills(skills_dir: Path) -> dict[str, str]:
    """name -> SKILL.md text of the skill folders (valid or not, archive excluded)."""
    found: dict[str, str] = {}
    if not skills_dir.is_dir():
        return found
    for path in sorted(skills_dir.glob("*/SKILL.md")):
        if not path.parent.name.startswith(fmt.HIDDEN):
            try:
                found[path.parent.name] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    return found


def renamed(content: str, name: str) -> str:
    """CONTENT with its front matter's name set to NAME."""
    return re.sub(r"(?m)^name:.*$", f"name: {name}", content, count=1)


def check(home: Path, draft: Draft) -> Draft:
    """The draft as it will be staged (a create of an existing skill is a patch; a
    near-duplicate create patches the existing skill), or ProposalError."""
    if draft.kind == "memory":
        if draft.target not in MEMORY_FILES or draft.action != "edit":
            raise ProposalError("a memory proposal edits target user or memory")
        if draft.content is None:
            raise ProposalError("a memory proposal needs the file's new text")
        return draft
    if draft.kind != "skill" or draft.action not in SKILL_ACTIONS:
        raise ProposalError(f"a skill proposal is {', '.join(SKILL_ACTIONS)}")
    bad = fmt.name_problem(draft.target)
    if bad:
        raise ProposalError(bad)
    exists = target_path(home, "skill", draft.target).is_file()
    if draft.action == "delete":
        if not exists:
            raise ProposalError(f"no skill named {draft.target!r} to delete")
        return replace(draft, content=None)
    if draft.content is None:
        raise ProposalError("a skill proposal needs the whole SKILL.md text")
    if draft.action == "patch" and not exists:
        raise ProposalError(f"no skill named {draft.target!r} to patch; create it")
    if draft.action == "create":
        content = draft.content or ""
        if exists:
            draft = replace(draft, action="patch")
        else:
            match = find_duplicate(draft.target, content, existing_skills(home / "skills"))
            if match is not None:
                why = f"{draft.reason}; " if draft.reason else ""
                draft = Draft(
                    "skill",
                    "patch",
                    match.name,
                    renamed(content, match.name),
                    f"{why}proposed as new skill {draft.target}, {match.describe()}",
                )
    problems = fmt.validate(draft.target, draft.content or "")
    if problems:
        raise ProposalError(f"skills/{draft.target}/SKILL.md: {'; '.join(problems)}")
    return draft


def stage_sync(
    conn: Conn, home: Path, draft: Draft, source: str, auto: bool, now: float
) -> tuple[Proposal, str]:
    """Stage DRAFT (and apply it when AUTO): (the proposal as it stands, one line)."""
    draft = check(home, draft)
    base = sha256_text(read_target(home, draft.kind, draft.target))
    pid = skill_ops.add_proposal(
        conn,
        kind=draft.kind,
        action=draft.action,
        target=draft.target,
        content=draft.content,
        base_hash=base,
        reason=draft.reason,
        source=source,
        now=now,
    )
    line = f"Proposal {pid}: {describe_draft(draft)}"
    if auto:
        line = apply_sync(conn, home, pid, now)
    else:
        line += f". Apply it with /skills apply {pid} (or /skills reject {pid})."
    proposal = skill_ops.get_proposal(conn, pid)
    assert proposal is not None
    return proposal, line


def describe_draft(d: Draft | Proposal) -> str:
    what = f"skill {d.target}" if d.kind == "skill" else f"memories/{MEMORY_FILES[d.target]}"
    verb = {"create": "create", "patch": "patch", "delete": "delete", "edit": "edit"}[d.action]
    return f"{verb} {what}" + (f" ({d.reason})" if d.reason else "")


def _get(conn: Conn, pid: str) -> Proposal:
    proposal = skill_ops.get_proposal(conn, pid.strip())
    if proposal is None:
        raise ProposalError(f"no proposal {pid!r}; /skills pending lists them")
    return proposal


def _archive(home: Path, folder: Path, pid: str) -> Path:
    archive = home / "skills" / ARCHIVE
    archive.mkdir(parents=True, exist_ok=True)
    dest = archive / folder.name
    if dest.exists():
        dest = archive / f"{folder.name}-{pid}"
    folder.rename(dest)
    return dest


def _write(path: Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8"))


def apply_sync(conn: Conn, home: Path, pid: str, now: float) -> str:
    p = _get(conn, pid)
    if p.status != "pending":
        raise ProposalError(f"proposal {p.id} is {p.status}, not pending")
    current = read_target(home, p.kind, p.target)
    if sha256_text(current) != p.base_hash:
        note = "its target changed since it was proposed"
        skill_ops.set_status(conn, p.id, "stale", now, expect="pending", note=note)
        return f"Not applied: proposal {p.id} is stale ({note}); nothing was changed."
    path = target_path(home, p.kind, p.target)
    moved: str | None = None
    if p.action == "delete":
        moved = str(_archive(home, path.parent, p.id))
    else:
        _write(path, p.content or "")
    if not skill_ops.set_status(
        conn, p.id, "applied", now, expect="pending", previous=current, moved_to=moved
    ):  # cannot happen on the store's one thread; kept as a guard
        raise ProposalError(f"proposal {p.id} was decided meanwhile")
    if p.kind == "skill" and p.action == "create":
        skill_ops.set_creator(conn, p.target, "user" if p.source == "user" else "agent", now)
    return f"Applied {p.id}: {describe_draft(p)}. Undo with /skills rollback {p.id}."


def reject_sync(conn: Conn, home: Path, pid: str, now: float) -> str:
    p = _get(conn, pid)
    if not skill_ops.set_status(conn, p.id, "rejected", now, expect="pending"):
        raise ProposalError(f"proposal {p.id} is {p.status}, not pending")
    return f"Rejected {p.id}: {describe_draft(p)}."


def rollback_sync(conn: Conn, home: Path, pid: str, now: float) -> str:
    p = _get(conn, pid)
    if p.status != "applied":
        raise ProposalError(f"proposal {p.id} is {p.status}; only an applied one rolls back")
    path = target_path(home, p.kind, p.target)
    if p.action == "delete":
        if path.parent.exists() or not p.moved_to or not Path(p.moved_to).is_dir():
            raise ProposalError(
                f"cannot roll back {p.id}: skills/{p.target} exists again or its archived "
                "folder is gone"
            )
        Path(p.moved_to).rename(path.parent)
        note = f"restored from {p.moved_to}"
    else:
        if sha256_text(read_target(home, p.kind, p.target)) != sha256_text(p.content):
            raise ProposalError(
                f"cannot roll back {p.id}: {describe_target(p)} changed since it was applied"
            )
        if p.previous is not None:
            _write(path, p.previous)
            note = "previous text restored"
        else:  # a skill it created: archived, not deleted
            note = f"moved to {_archive(home, path.parent, p.id)}"
    skill_ops.set_status(conn, p.id, "rolled_back", now, expect="applied", note=note)
    return f"Rolled back {p.id} ({describe_draft(p)}): {note}."


def describe_target(p: Proposal) -> str:
    return f"skills/{p.target}" if p.kind == "skill" else f"memories/{MEMORY_FILES[p.target]}"


def listing(items: list[Proposal]) -> str:
    if not items:
        return "No pending proposals."
    lines = [f"{p.id}  {describe_draft(p)} [{p.source}]" for p in items]
    return "\n".join(
        [*lines, "Apply: /skills apply ID · reject: /skills reject ID · see: /skills show ID"]
    )


# ----- async wrappers: the work runs on the store's thread ------------------------


async def stage(
    store: Store, home: Path, settings: Settings, draft: Draft, source: str
) -> tuple[Proposal, str]:
    auto = settings.skills.write_approval == "auto"
    return await store.run(stage_sync, home, draft, source, auto, time.time())


async def apply(store: Store, home: Path, pid: str) -> str:
    return await store.run(apply_sync, home, pid, time.time())


async def reject(store: Store, home: Path, pid: str) -> str:
    return await store.run(reject_sync, home, pid, time.time())


async def rollback(store: Store, home: Path, pid: str) -> str:
    return await store.run(rollback_sync, home, pid, time.time())


async def pending(store: Store) -> list[Proposal]:
    return await store.run(skill_ops.proposals, "pending")


async def show(store: Store, pid: str) -> Proposal:
    return await store.run(_get, pid)
