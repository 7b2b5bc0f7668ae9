"""session_search and load_session: the agent's recall of past conversations.

The text renderers here are shared with `hermes sessions`.
"""

from __future__ import annotations

import time
from typing import Any

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.store import SearchHit, SessionInfo, StoredMessage
from hermes.tools.base import Tool, schema

MAX_RESULTS = 20
LOAD_MAX_CHARS = 24_000  # load_session's answer is cut beyond this
TOOL_OUTPUT_CHARS = 600  # per tool result in load_session
MESSAGE_CHARS = 4_000  # per other message in load_session (one pasted file must not fill it)
CALL_ARGS_CHARS = 300  # per tool call's arguments


def when(ts: float) -> str:
    """Local time as 2026-11-21 13:45."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


def format_hit(hit: SearchHit) -> str:
    title = hit.session_title or "untitled"
    return (
        f"[{when(hit.created_at)}] session {hit.session_id} ({title}) — {hit.role}: {hit.excerpt}"
    )


def format_header(info: SessionInfo) -> str:
    return (
        f"Session {info.id} ({info.title or 'untitled'}) — source {info.source}, "
        f"model {info.model or 'unknown'}, started {when(info.created_at)}, "
        f"last active {when(info.updated_at)}, {info.message_count} messages"
    )


def format_message(
    stored: StoredMessage,
    *,
    tool_output_chars: int | None = None,
    message_chars: int | None = None,
    with_date: bool = True,
) -> str:
    """One message as text: '[2026-11-21 13:45] user: ...' ('[13:45]' without
    the date), its tool calls as '  → name(arguments)'."""
    m = stored.message
    stamp = when(stored.created_at) if with_date else when(stored.created_at)[-5:]
    label: str = m.role
    if stored.kind == "summary":
        label = "summary"
    elif m.role == "tool":
        label = f"tool {m.name or ''}".rstrip()
    content = m.content
    limit = tool_output_chars if m.role == "tool" else message_chars
    if limit is not None:
        content = _clip(content, limit)
    lines = [f"[{stamp}] {label}: {content}" if content else f"[{stamp}] {label}:"]
    for call in m.tool_calls:
        lines.append(f"  → {call.name}({_clip(call.arguments, CALL_ARGS_CHARS)})")
    return "\n".join(lines)


def render_session(
    info: SessionInfo, messages: list[StoredMessage], *, max_chars: int | None = None
) -> str:
    """The conversation as text, cut at max_chars with a note saying so."""
    short = max_chars is not None
    parts = [format_header(info), ""]
    used = sum(len(p) + 1 for p in parts)
    day = ""
    for index, stored in enumerate(messages):
        new_day = when(stored.created_at)[:10]
        text = format_message(
            stored,
            tool_output_chars=TOOL_OUTPUT_CHARS if short else None,
            message_chars=MESSAGE_CHARS if short else None,
            with_date=new_day != day,
        )
        day = new_day
        if max_chars is not None and used + len(text) + 1 > max_chars:
            left = len(messages) - index
            parts.append(
                f"[… cut here: {left} more of {len(messages)} messages not shown "
                f"(the conversation is longer than {max_chars} characters)]"
            )
            break
        parts.append(text)
        used += len(text) + 1
    return "\n".join(parts)


async def _session_search(args: dict[str, Any], ctx: TurnContext) -> str:
    query = str(args.get("query") or "").strip()
    if not query:
        raise ToolError("session_search needs a query: the words to look for")
    try:
        max_results = int(args.get("max_results", 5))
    except (TypeError, ValueError) as exc:
        raise ToolError("max_results must be a whole number (1-20)") from exc
    max_results = min(max(max_results, 1), MAX_RESULTS)
    hits = await ctx.store.search(query, max_results=max_results, exclude_session=ctx.session_id)
    if not hits:
        return f"No past messages match {query!r}. Try other or fewer words."
    lines = [f"{len(hits)} past message(s) match {query!r}:"]
    lines += [format_hit(h) for h in hits]
    lines.append("To read one of these conversations, call load_session with its session id.")
    return "\n".join(lines)


async def _load_session(args: dict[str, Any], ctx: TurnContext) -> str:
    session_id = str(args.get("id") or "").strip()
    if not session_id:
        raise ToolError("load_session needs the id of a session (session_search shows ids)")
    info = await ctx.store.get_session(session_id)
    if info is None:
        raise ToolError(
            f"no session with id {session_id!r}; use session_search to find session ids"
        )
    messages = [m for m in await ctx.store.all_messages(session_id) if m.kind != "summary"]
    return render_session(info, messages, max_chars=LOAD_MAX_CHARS)


SESSION_SEARCH = Tool(
    name="session_search",
    description=(
        "Search past conversations (full text over earlier user and assistant messages, "
        "not the current session). Returns timestamped excerpts with session ids; use "
        "load_session to read a whole conversation. Words are matched with stemming; "
        'put "exact phrases" in double quotes; word* matches a prefix.'
    ),
    parameters=schema(
        {
            "query": {"type": "string", "description": "words to look for"},
            "max_results": {
                "type": "integer",
                "description": f"how many excerpts (1-{MAX_RESULTS}, default 5)",
                "minimum": 1,
                "maximum": MAX_RESULTS,
            },
        },
        required=["query"],
    ),
    handler=_session_search,
)

LOAD_SESSION = Tool(
    name="load_session",
    description=(
        "Read a past conversation by its session id (as shown by session_search): "
        "every message in order, tool calls summarized; very long ones are cut."
    ),
    parameters=schema(
        {"id": {"type": "string", "description": "the session id, e.g. 20261121_134501_a1b2c3"}},
        required=["id"],
    ),
    handler=_load_session,
)

TOOLS: list[Tool] = [SESSION_SEARCH, LOAD_SESSION]
