"""The session_search and load_session tools, as the model sees them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hermes.context import Profile, TurnContext
from hermes.errors import ToolError
from hermes.messages import Message, ToolCall
from hermes.settings import Settings
from hermes.store import SearchHit, Store
from hermes.tools import session_tools
from hermes.tools.base import Tool
from hermes.tools.process import ProcessManager
from hermes.tools.session_tools import TOOLS


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "state.db")
    yield s
    await s.close()


async def context(store: Store, tmp_path: Path) -> TurnContext:
    current = await store.create_session(source="cli", title="now")
    profile = Profile(name="default", home=tmp_path, settings=Settings(), env={})
    return TurnContext(profile=profile, session_id=current, store=store, processes=ProcessManager())


def tool(name: str) -> Tool:
    return next(t for t in TOOLS if t.name == name)


def test_tools_are_exported_with_schemas() -> None:
    assert [t.name for t in TOOLS] == ["session_search", "load_session"]
    assert tool("session_search").spec.parameters["required"] == ["query"]
    assert tool("load_session").spec.parameters["required"] == ["id"]


async def test_search_lists_timestamped_excerpts_from_other_sessions(
    store: Store, tmp_path: Path
) -> None:
    ctx = await context(store, tmp_path)
    past = await store.create_session(source="telegram", title="Cluster")
    await store.append_messages(past, [Message("user", "how do we roll out kubernetes?")])
    await store.append_messages(ctx.session_id, [Message("user", "kubernetes again")])
    out = await tool("session_search").run({"query": "kubernetes"}, ctx)
    lines = out.splitlines()
    assert re.fullmatch(
        rf"\[\d{{4}}-\d\d-\d\d \d\d:\d\d\] session {past} \(Cluster\) — user: "
        r"how do we roll out kubernetes\?",
        lines[1],
    )
    assert ctx.session_id not in out
    assert "load_session" in lines[-1]


async def test_search_without_hits_says_so(store: Store, tmp_path: Path) -> None:
    ctx = await context(store, tmp_path)
    out = await tool("session_search").run({"query": "(weird) -query:*", "max_results": 3}, ctx)
    assert out.startswith("No past messages match")


async def test_search_needs_a_query(store: Store, tmp_path: Path) -> None:
    ctx = await context(store, tmp_path)
    with pytest.raises(ToolError, match="needs a query"):
        await tool("session_search").run({"query": "  "}, ctx)


async def test_load_session_shows_the_conversation_with_tool_calls(
    store: Store, tmp_path: Path
) -> None:
    ctx = await context(store, tmp_path)
    past = await store.create_session(source="cli", title="Files", model="m")
    await store.append_messages(
        past,
        [
            Message("user", "what is here?"),
            Message("assistant", "", [ToolCall("c1", "terminal", '{"command": "ls"}')]),
            Message("tool", "notes.txt", tool_call_id="c1", name="terminal"),
            Message("assistant", "Just notes.txt."),
        ],
    )
    out = await tool("load_session").run({"id": past}, ctx)
    assert out.splitlines()[0].startswith(f"Session {past} (Files)")
    body = "\n".join(out.splitlines()[2:])
    assert re.search(
        r"user: what is here\?\n.*assistant:\n  → terminal\(\{\"command\": \"ls\"\}\)", body
    )
    assert re.search(r"tool terminal: notes.txt\n.*assistant: Just notes.txt.", body)


async def test_load_session_shows_compacted_messages_not_summaries(
    store: Store, tmp_path: Path
) -> None:
    ctx = await context(store, tmp_path)
    past = await store.create_session(source="cli")
    ids = await store.append_messages(past, [Message("user", f"point {i}") for i in range(3)])
    await store.compact(past, ids[1], "points made")
    out = await tool("load_session").run({"id": past}, ctx)
    assert "point 0" in out and "point 2" in out and "points made" not in out


async def test_load_session_cuts_long_conversations_and_says_so(
    store: Store, tmp_path: Path
) -> None:
    ctx = await context(store, tmp_path)
    past = await store.create_session(source="cli")
    await store.append_messages(past, [Message("user", "x" * 1000) for _ in range(100)])
    out = await tool("load_session").run({"id": past}, ctx)
    assert len(out) <= session_tools.LOAD_MAX_CHARS + 200
    assert re.search(r"cut here: \d+ more of 100 messages not shown", out)


async def test_load_session_of_unknown_id_is_a_tool_error(store: Store, tmp_path: Path) -> None:
    ctx = await context(store, tmp_path)
    with pytest.raises(ToolError, match="no session with id 'nope'; use session_search"):
        await tool("load_session").run({"id": "nope"}, ctx)


def test_format_hit_without_title() -> None:
    hit = SearchHit("s1", 1, "assistant", 0.0, "…text…", None)
    assert "session s1 (untitled) — assistant: …text…" in session_tools.format_hit(hit)


async def test_load_session_clips_one_huge_message_instead_of_showing_nothing(
    store: Store, tmp_path: Path
) -> None:
    ctx = await context(store, tmp_path)
    past = await store.create_session(source="cli")
    pasted = "y" * (session_tools.LOAD_MAX_CHARS * 2)
    await store.append_messages(past, [Message("user", pasted), Message("assistant", "Got it.")])
    out = await tool("load_session").run({"id": past}, ctx)
    assert "more characters]" in out and "assistant: Got it." in out
    assert "cut here" not in out
