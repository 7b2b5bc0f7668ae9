"""`hermes sessions list | show ID | search QUERY | export ID | delete ID`."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from hermes.errors import HermesError
from hermes.store import SessionInfo, Store, StoredMessage
from hermes.store.where import Database, locate_home


def cmd_sessions(args: argparse.Namespace) -> int:
    import os

    from hermes.home import ensure_home, resolve_home

    # only state.db is needed: a broken config.yaml must not lock the user out of history
    _, home = resolve_home(args.profile, dict(os.environ))
    ensure_home(home)
    if getattr(args, "limit", 1) < 1:
        raise HermesError("--limit must be at least 1")
    if args.action == "search":
        words = args.query if isinstance(args.query, list) else [args.query]
        args.query = " ".join(words).strip()  # `search two words` needs no quotes
        if not args.query:
            raise HermesError("give words to search for, e.g. hermes sessions search kubernetes")
    text = asyncio.run(run(args, locate_home(home)))
    if text:
        print(text)
    return 0


async def run(args: argparse.Namespace, db_path: Database) -> str:
    """Do the action in args against the database at db_path; return the output."""
    async with await Store.open(db_path) as store:
        action = args.action
        if action == "list":
            return format_list(await store.list_sessions(limit=args.limit))
        if action == "search":
            return await _search(store, args.query, args.limit)
        if action == "delete":
            if not await store.delete_session(args.id):
                raise _unknown(args.id)
            return f"deleted session {args.id}"
        info = await store.get_session(args.id)
        if info is None:
            raise _unknown(args.id)
        messages = await store.all_messages(args.id)
        if action == "show":
            from hermes.tools.session_tools import render_session

            return render_session(info, messages)
        if action == "export":
            usage = await store.session_usage(args.id)
            data = export_session(info, messages)
            data["usage"] = {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cached_tokens": usage.cached_tokens,
            }
            return json.dumps(data, ensure_ascii=False, indent=2)
    raise HermesError(f"unknown sessions action {action!r} (see `hermes sessions --help`)")


def _unknown(session_id: str) -> HermesError:
    return HermesError(f"no session {session_id!r} (see `hermes sessions list`)")


def format_list(infos: list[SessionInfo]) -> str:
    if not infos:
        return "No sessions yet."
    from hermes.tools.session_tools import when

    rows = [("ID", "LAST ACTIVE", "SOURCE", "MSGS", "TITLE")]
    rows += [
        (i.id, when(i.updated_at), i.source, str(i.message_count), i.title or "(untitled)")
        for i in infos
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = []
    for row in rows:
        cells = [row[c].ljust(widths[c]) if c != 3 else row[c].rjust(widths[c]) for c in range(4)]
        lines.append("  ".join([*cells, row[4]]))
    return "\n".join(lines)


async def _search(store: Store, query: str, limit: int) -> str:
    from hermes.tools.session_tools import format_hit

    hits = await store.search(query, max_results=max(1, limit))
    if not hits:
        return f"No past messages match {query!r}."
    return "\n".join(format_hit(h) for h in hits)


def export_session(info: SessionInfo, messages: list[StoredMessage]) -> dict[str, Any]:
    """A session as JSON-ready data: metadata and every message (compacted ones
    and compaction summaries included, flagged), in the order written."""
    return {
        "session": {
            "id": info.id,
            "source": info.source,
            "title": info.title,
            "model": info.model,
            "created_at": info.created_at,
            "updated_at": info.updated_at,
            "message_count": info.message_count,
        },
        "messages": [
            {
                "id": s.id,
                "role": s.message.role,
                "content": s.message.content,
                "tool_calls": [
                    {"id": c.id, "name": c.name, "arguments": c.arguments}
                    for c in s.message.tool_calls
                ],
                "tool_call_id": s.message.tool_call_id,
                "name": s.message.name,
                "created_at": s.created_at,
                "compacted": s.compacted,
                "kind": s.kind,
            }
            for s in messages
        ],
    }
