"""Background and walkaway tasks through the gateway, in-process: the exact
messages of /background, several at once with the chat still answering, the
failure path, /tasks, walkaway progress, steering and pings, and a task that
waits on an approval."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from hermes.gateway.delegation import brief
from hermes.store import task_ops
from hermes.store.db import open_db, transaction
from hermes.store.task_ops import Child
from hermes.testing import ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.tools_helpers import wait_until

STARTED = re.compile(r'🔄 Background task started: "(.*)"\nTask ID: (bg_\d{6}_[0-9a-f]{6})')


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel) -> Path:
    return make_home(tmp_path / "home", model)


def last_user(request: dict[str, Any]) -> str:
    users = [m for m in request["messages"] if m.get("role") == "user"]
    return str(users[-1]["content"]) if users else ""


def task_rows(home: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "state.db") as conn:
        return conn.execute(
            "SELECT id, kind, status, origin FROM tasks ORDER BY created_at"
        ).fetchall()


async def test_background_answers_at_once_and_delivers_the_result_to_the_same_thread(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    model.reply("All 12 servers are up.")
    async with running_gateway(home, [chat]):
        await chat.say(
            "/background Check all servers in the cluster and report any that are down",
            thread="9",
        )
        await wait_until(lambda: len(chat.shown()) == 2)
    started, done = chat.shown()
    match = STARTED.fullmatch(started)
    assert match, started
    assert match.group(1) == "Check all servers in the cluster..."
    assert done == "✅ Background task complete\nAll 12 servers are up."
    assert all(m.target.thread == "9" for m in chat.sent)
    # an isolated session: the task saw only its prompt
    assert [m["role"] for m in model.requests[0]["messages"]] == ["system", "user"]
    assert task_rows(home) == [(match.group(2), "background", "done", "fakechat:1:9")]


async def test_two_background_tasks_run_while_the_chat_stays_responsive(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    first = model.hang(then="alpha result")
    second = model.hang(then="beta result")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("/background alpha job")
        await first.wait_entered_async()
        await chat.say("/background beta job")
        await second.wait_entered_async()
        model.reply("Chatting meanwhile.")
        await chat.say("are you still there?")
        await wait_until(lambda: "Chatting meanwhile." in chat.shown())
        assert len(gw.tasks.running) == 2
        await chat.say("/tasks")
        await wait_until(lambda: any("bg_" in t and "running" in t for t in chat.shown()[3:]))
        second.release()
        first.release()
        await wait_until(lambda: sum("complete" in t for t in chat.shown()) == 2)
    assert "✅ Background task complete\nalpha result" in chat.shown()
    assert "✅ Background task complete\nbeta result" in chat.shown()


async def test_a_failed_background_task_reports_the_error(home: Path, model: ScriptedModel) -> None:
    chat = FakeChat()
    model.fail(400, "model not found: nope")
    async with running_gateway(home, [chat]):
        await chat.say("/background summarize the logs")
        await wait_until(lambda: len(chat.shown()) == 2)
    failed = chat.shown()[1]
    assert failed.startswith("❌ Background task failed\n")
    assert "model not found" in failed
    assert task_rows(home)[0][2] == "failed"


async def test_a_background_task_can_be_cancelled_from_the_chat(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    gate = model.hang(then="too late")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("/background a long job")
        await gate.wait_entered_async()
        task_id = task_rows(home)[0][0]
        await chat.say(f"/tasks cancel {task_id}")
        await wait_until(lambda: any("cancelled" in t for t in chat.shown()))
        await wait_until(lambda: not gw.tasks.running)
        gate.release()
    assert task_rows(home)[0][2] == "cancelled"
    assert not any("complete" in t for t in chat.shown())


async def test_background_without_a_prompt_says_how(home: Path, model: ScriptedModel) -> None:
    chat = FakeChat()
    async with running_gateway(home, [chat]):
        await chat.say("/background")
        await wait_until(lambda: len(chat.shown()) == 1)
    assert chat.shown()[0].startswith("Usage: /background PROMPT")
    assert task_rows(home) == []


async def test_walkaway_pings_milestones_takes_steering_and_ends_with_a_summary(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    model.tool_call("progress", {"message": "parser rewritten, tests green"})
    # the agent's next step waits while the user replies, then it runs a command
    gate = model.hang(then=("terminal", {"command": "echo simplified"}))
    model.reply("Summary: parser rewritten and simplified; docs left.")
    async with running_gateway(home, [chat]):
        await chat.say("/walkaway refactor the parser")
        await wait_until(lambda: any("📍" in t for t in chat.shown()))
        assert chat.shown()[0].startswith('🚶 Walkaway task started: "refactor the parser"')
        await gate.wait_entered_async()
        await chat.say("make it simpler")
        await wait_until(lambda: any(t.startswith("↪ Passed to") for t in chat.shown()))
        gate.release()
        await wait_until(
            lambda: any(t.startswith("🏁 Walkaway task complete") for t in chat.shown())
        )
    shown = chat.shown()
    assert any("📍" in t and "parser rewritten, tests green" in t for t in shown)
    assert (
        shown[-1]
        == "🏁 Walkaway task complete\nSummary: parser rewritten and simplified; docs left."
    )
    assert last_user(model.requests[-1]) == "[The user, while you work]: make it simpler"
    assert "progress" in [t["function"]["name"] for t in model.requests[0]["tools"]]


async def test_a_silent_walkaway_task_gets_a_still_working_ping(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    gate = model.hang(then="Done at last.")
    async with running_gateway(home, [chat], ping_after=0.2):
        await chat.say("/walkaway a slow job")
        await gate.wait_entered_async()
        await wait_until(lambda: any(t.startswith("⏳") for t in chat.shown()))
        gate.release()
        await wait_until(lambda: any("🏁" in t for t in chat.shown()))


async def test_a_background_task_waits_for_approval_then_finishes(
    home: Path, model: ScriptedModel
) -> None:
    (home / "notes.txt").write_text("x")
    chat = FakeChat()
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    async with running_gateway(home, [chat]):
        await chat.say("/background remove my notes")
        await wait_until(lambda: any("Approval needed" in t for t in chat.shown()))
        await wait_until(lambda: task_rows(home)[0][2] == "waiting_approval")
        model.reply("Chat still works.")
        await chat.say("hello")  # the chat is not held by a task's approval
        await wait_until(lambda: "Chat still works." in chat.shown())
        model.reply("Removed the notes.")
        await chat.say("/approve")
        await wait_until(lambda: "✅ Background task complete\nRemoved the notes." in chat.shown())
    assert not (home / "notes.txt").exists()
    assert task_rows(home)[0][2] == "done"


async def test_tasks_shows_delegated_children_under_their_parent_task(
    home: Path, model: ScriptedModel
) -> None:
    now = time.time()
    conn = open_db(home / "state.db")
    try:
        parent = task_ops.insert(conn, "background", "Survey the fleet", "fakechat:1", now - 60)
        with transaction(conn):
            task_ops.start(conn, parent.id, "S-parent", 1, now - 60)
        task_ops.finish(conn, parent.id, "done", now, result="ok")
        kids = []
        for n, (goal, session, status) in enumerate(
            [
                ("check web1", "S-parent", "done"),
                ("check web2", "S-parent", "timed_out"),
                ("summarise the logs", "S-chat", "failed"),  # a chat agent's child
            ]
        ):
            child = Child(brief(goal, "ctx"), "fakechat:1", None, session, f"c{n}", 1, now, True)
            (row,) = task_ops.insert_children(conn, [child], now - 50 + n * 10)
            task_ops.finish(conn, row.id, status, now, error="x" if status != "done" else None)
            task_ops.mark_reported(conn, [row.id], now)  # its parent had its result
            kids.append(row)
    finally:
        conn.close()
    chat = FakeChat()
    async with running_gateway(home, [chat]):
        await chat.say("/tasks")
        await wait_until(lambda: len(chat.shown()) == 1)
    lines = chat.shown()[0].splitlines()
    assert lines[0].startswith(f"↳ ❌ {kids[2].id} failed, ")
    assert lines[0].endswith('ago — "summarise the logs" (delegated by the agent in this chat)')
    assert lines[1].startswith(f"✅ {parent.id} done, ")
    assert lines[2].startswith(f"↳ ✅ {kids[0].id} done, ") and lines[2].endswith('"check web1"')
    assert lines[3].startswith(f"↳ ⏱ {kids[1].id} timed out, ")
    assert lines[4].startswith("Details: hermes tasks show ID")
