"""The `memory` tool: durable notes in HOME/memories/MEMORY.md (the agent's own
notes) and USER.md (what it knows about the user).

File format: entries separated by a line holding only `§`. An entry may span
lines. Each file has a size limit in characters (settings.memory), counted
over the whole file text as stored.

The read-modify-write below has no await in it, so concurrent turns in one
process cannot interleave their changes; it holds an exclusive lock on
memories/.lock too, so the replicas of a cluster sharing the home's volume
cannot either (docs/scale-out.md).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.tools.base import Tool, schema
from hermes.tools.files import atomic_write

SEPARATOR = "\n§\n"
FILES = {"memory": "MEMORY.md", "user": "USER.md"}
Target = Literal["memory", "user"]


def memory_path(home: Path, target: Target) -> Path:
    return home / "memories" / FILES[target]


def split_entries(text: str) -> list[str]:
    parts = [p.strip() for p in text.replace("\r\n", "\n").split("\n§\n")]
    return [p for p in parts if p]


def join_entries(entries: list[str]) -> str:
    return SEPARATOR.join(entries)


def read_memories(home: Path) -> tuple[str, str]:
    """(MEMORY.md, USER.md) as stored, '' where missing: for the system prompt."""

    def read(target: Target) -> str:
        path = memory_path(home, target)
        return path.read_text(encoding="utf-8").strip() if path.exists() else ""

    return read("memory"), read("user")


def _clean(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"{key} must be non-empty text")
    text = value.strip()
    if any(line.strip() == "§" for line in text.splitlines()):
        raise ToolError(f"{key} must not contain a line holding only '§' (the entry separator)")
    return text


def _short(entry: str) -> str:
    line = entry.splitlines()[0]
    return repr(line[:60] + ("..." if len(line) > 60 or "\n" in entry else ""))


def _find(entries: list[str], needle: str, name: str) -> int:
    exact = [i for i, e in enumerate(entries) if e == needle]
    if exact:
        return exact[0]
    hits = [i for i, e in enumerate(entries) if needle in e]
    if not hits:
        listing = "; ".join(_short(e) for e in entries) or "none"
        raise ToolError(f"no entry in {name} contains {needle!r}; entries: {listing}")
    if len(hits) > 1:
        listing = "; ".join(_short(entries[i]) for i in hits)
        raise ToolError(
            f"old_text {needle!r} matches {len(hits)} entries in {name} ({listing}); "
            "use a longer piece that appears in only one"
        )
    return hits[0]


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on FOLDER/.lock (flock: other processes, other machines on
    NFS v4 or CephFS) for one short read-modify-write."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


async def memory(args: dict[str, Any], ctx: TurnContext) -> str:
    with _locked(ctx.profile.home / "memories"):
        return _change(args, ctx)


def _change(args: dict[str, Any], ctx: TurnContext) -> str:
    action = args.get("action")
    target = args.get("target", "memory")
    if target not in ("memory", "user"):
        raise ToolError(f"target must be 'memory' or 'user', got {target!r}")
    limits = ctx.profile.settings.memory
    limit = limits.memory_char_limit if target == "memory" else limits.user_char_limit
    path = memory_path(ctx.profile.home, target)
    name = path.name
    try:
        entries = split_entries(path.read_text(encoding="utf-8")) if path.exists() else []
    except UnicodeDecodeError as exc:
        raise ToolError(
            f"{path} is not UTF-8 text ({exc.reason}), so it was left as it is; ask the user "
            "to convert it (e.g. iconv -f latin1 -t utf-8) or fix it with the terminal"
        ) from exc
    used_before = len(join_entries(entries))

    if action == "add":
        text = _clean(args.get("text"), "text")
        if text in entries:
            return f"Already in {name}; nothing changed. {name}: {used_before}/{limit} chars"
        updated, verb = [*entries, text], "Added to"
    elif action == "replace":
        old = _clean(args.get("old_text"), "old_text")
        text = _clean(args.get("text"), "text")
        updated, verb = list(entries), "Replaced an entry in"
        updated[_find(entries, old, name)] = text
    elif action == "remove":
        old = _clean(args.get("old_text") or args.get("text"), "old_text")
        updated, verb = list(entries), "Removed an entry from"
        del updated[_find(entries, old, name)]
    else:
        raise ToolError(f"unknown action {action!r}; use add, replace or remove")

    content = join_entries(updated)
    if len(content) > limit and len(content) > used_before:
        raise ToolError(
            f"{name} is at {used_before}/{limit} chars and this change would make it "
            f"{len(content)}, over the limit; remove or condense entries first "
            "(action=remove or replace), then try again"
        )
    atomic_write(path, (content + "\n" if content else "").encode("utf-8"))
    shown = content or "(empty)"
    return f"{verb} {name}. {name}: {len(content)}/{limit} chars\n{shown}"


TOOLS: list[Tool] = [
    Tool(
        name="memory",
        description=(
            "Keep durable notes that are shown to you at the start of every future "
            "session. target='memory' (MEMORY.md): your own notes - facts about the "
            "environment, projects, conventions, lessons learned. target='user' "
            "(USER.md): the user's preferences, habits and details they shared. "
            "Actions: add (text), replace (old_text: a unique piece of the entry, text: "
            "the new entry), remove (old_text). Each file has a small size limit; keep "
            "entries short and specific, and condense or remove stale ones when it is "
            "full. Do not store secrets or one-off task details. Changes appear in the "
            "prompt from the next session on."
        ),
        parameters=schema(
            {
                "action": {"type": "string", "enum": ["add", "replace", "remove"]},
                "target": {"type": "string", "enum": ["memory", "user"]},
                "text": {"type": "string", "description": "The entry (add, replace)."},
                "old_text": {
                    "type": "string",
                    "description": "A unique piece of the entry to change (replace, remove).",
                },
            },
            ["action", "target"],
        ),
        handler=memory,
    )
]
