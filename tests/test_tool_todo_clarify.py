"""The todo and clarify tools, and the default tool set."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tools_helpers import FakeUser, MemoryTodoStore, make_ctx

from hermes.errors import ToolError
from hermes.store import Store
from hermes.tools.clarify import TOOLS as CLARIFY_TOOLS
from hermes.tools.registry import default_tools
from hermes.tools.todo import TOOLS as TODO_TOOLS

TODO = TODO_TOOLS[0]
CLARIFY = CLARIFY_TOOLS[0]


async def test_todo_write_then_merge_updates(tmp_path: Path) -> None:
    store = MemoryTodoStore()
    ctx = make_ctx(tmp_path, store=store)
    assert await TODO.run({}, ctx) == "Todo list is empty."
    out = await TODO.run(
        {
            "todos": [
                {"content": "Read the code", "status": "in_progress"},
                {"content": "Write tests"},
                {"content": "Ship"},
            ]
        },
        ctx,
    )
    assert out.splitlines() == [
        "Todo list (0/3 done):",
        "[~] 1. Read the code (in progress)",
        "[ ] 2. Write tests",
        "[ ] 3. Ship",
    ]
    out = await TODO.run(
        {
            "todos": [
                {"id": 1, "status": "completed"},
                {"id": 2, "status": "in_progress"},
                {"id": 3, "status": "cancelled"},
                {"content": "Tell the user"},
            ],
            "merge": True,
        },
        ctx,
    )
    assert out.splitlines() == [
        "Todo list (1/4 done):",
        "[x] 1. Read the code",
        "[~] 2. Write tests (in progress)",
        "[-] 3. Ship (cancelled)",
        "[ ] 4. Tell the user",
    ]
    assert [(i.id, i.status) for i in store.todos["s1"]][:2] == [(1, "done"), (2, "in_progress")]
    assert await TODO.run({}, ctx) == out
    assert await TODO.run({"todos": []}, ctx) == "Todo list is empty."


async def test_todo_rejects_bad_items(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match="status must be one of"):
        await TODO.run({"todos": [{"content": "x", "status": "later"}]}, ctx)
    with pytest.raises(ToolError, match="needs content"):
        await TODO.run({"todos": [{"id": 7, "status": "done"}], "merge": True}, ctx)
    with pytest.raises(ToolError, match="todos must be a list"):
        await TODO.run({"todos": "buy milk"}, ctx)


async def test_todo_is_per_session(tmp_path: Path) -> None:
    store = MemoryTodoStore()
    first = make_ctx(tmp_path, store=store)
    await TODO.run({"todos": [{"content": "only here"}]}, first)
    second = make_ctx(tmp_path, store=store)
    second.session_id = "s2"
    assert await TODO.run({}, second) == "Todo list is empty."


async def test_clarify_asks_the_user_and_returns_the_answer(tmp_path: Path) -> None:
    user = FakeUser("blue")
    ctx = make_ctx(tmp_path, user=user)
    out = await CLARIFY.run({"question": "Which colour?", "choices": ["red", "blue"]}, ctx)
    assert out == "User answered: blue"
    assert user.asked == [("Which colour?", ["red", "blue"])]
    await CLARIFY.run({"question": "Anything else?"}, ctx)
    assert user.asked[-1] == ("Anything else?", None)
    with pytest.raises(ToolError, match="question"):
        await CLARIFY.run({"question": " "}, ctx)


async def test_clarify_without_a_user_says_to_proceed(tmp_path: Path) -> None:
    out = await CLARIFY.run({"question": "Which?"}, make_ctx(tmp_path))
    assert out.startswith("User answered: (nobody is available")


def test_default_tools_hold_the_local_tools_once_each() -> None:
    tools = default_tools()
    names = [t.name for t in tools]
    for name in ("terminal", "process", "read_file", "write_file", "patch", "search_files"):
        assert name in names
    assert {"memory", "todo", "clarify"} <= set(names)
    assert len(names) == len(set(names))
    for tool in tools:
        spec = tool.spec.to_openai()["function"]
        assert spec["description"] and spec["parameters"]["type"] == "object"


async def test_todo_persists_in_the_real_store(tmp_path: Path) -> None:
    from hermes.store import Store

    store = await Store.open(tmp_path / "state.db")
    try:
        ctx = make_ctx(tmp_path, store=store)
        ctx.session_id = await store.create_session(source="cli")
        await TODO.run({"todos": [{"content": "Plan", "status": "done"}, {"content": "Do"}]}, ctx)
    finally:
        await store.close()
    reopened = await Store.open(tmp_path / "state.db")
    try:
        ctx = make_ctx(tmp_path, store=reopened)
        ctx.session_id = (await reopened.list_sessions())[0].id
        assert await TODO.run({}, ctx) == "Todo list (1/2 done):\n[x] 1. Plan\n[ ] 2. Do"
    finally:
        await reopened.close()


async def test_concurrent_todo_calls_of_one_turn_all_land(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "state.db") as store:
        ctx = make_ctx(tmp_path, store=store)
        ctx.session_id = await store.create_session(source="cli")
        calls = [
            TODO.run({"todos": [{"content": f"step {i}"}], "merge": True}, ctx) for i in range(5)
        ]
        await asyncio.gather(*calls)  # the tool calls of one reply run concurrently
        items = await store.get_todo(ctx.session_id)
        assert sorted(i.text for i in items) == [f"step {i}" for i in range(5)]
        assert sorted(i.id for i in items) == [1, 2, 3, 4, 5]
        with pytest.raises(ToolError, match="needs content"):
            await TODO.run({"todos": [{"id": 9, "status": "done"}], "merge": True}, ctx)
        assert len(await store.get_todo(ctx.session_id)) == 5  # a refused change writes nothing
