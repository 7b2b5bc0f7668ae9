"""The `delegate` and `send_message` tools through an in-process gateway: children
that run in parallel and finish out of order, a child that times out (its command
killed), a child's approval answered in the chat, /stop cascading to children, a
result the parent did not wait for arriving as a new turn once, and a send
through the delivery ledger (and what both tools say outside a gateway)."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from hermes.testing import ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.tools_helpers import make_ctx, pid_alive, wait_until


def rows(home: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "state.db") as conn:
        return conn.execute(
            "SELECT id, status, parent, depth, waited FROM tasks WHERE kind = 'delegate'"
            " ORDER BY created_at, id"
        ).fetchall()


def goal_of(request: Any) -> str:
    found = re.search(r"Task: (\w+)", str(request.messages[1]["content"]))
    return found.group(1) if found else "?"


def tool_results(request: Any) -> list[str]:
    return [str(m["content"]) for m in request.messages if m["role"] == "tool"]


async def test_children_run_in_parallel_and_finish_out_of_order(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model)
    chat = FakeChat()
    alpha_may_answer = threading.Event()
    answered: list[str] = []

    def child(request: Any) -> str:
        goal = goal_of(request)
        if goal == "alpha":  # the first started finishes last
            assert alpha_may_answer.wait(10)
        answered.append(goal)
        if len(answered) == 2:
            alpha_may_answer.set()
        return f"{goal} result"

    tasks = [{"goal": g} for g in ("alpha", "beta", "gamma")]
    model.tool_call("delegate", {"tasks": tasks})
    model.reply_with(child, times=3)
    model.reply("All three are done.")
    async with running_gateway(home, [chat]):
        await chat.say("split this work")
        await wait_until(lambda: "All three are done." in chat.shown(), 20)
    assert answered[-1] == "alpha" and sorted(answered) == ["alpha", "beta", "gamma"]
    [result] = tool_results(model.requests[-1])
    for goal in ("alpha", "beta", "gamma"):
        assert f"succeeded\n{goal} result" in result
    assert chat.shown() == ["All three are done."]  # the parent waited: no extra messages
    stored = rows(home)
    assert [r[1] for r in stored] == ["done"] * 3 and {r[3] for r in stored} == {1}
    # each child is a fresh session with a focused brief and no delegate/memory/cron/clarify
    briefs = [r for r in model.requests if "sub-agent" in str(r.messages[1]["content"])]
    assert len(briefs) == 3 and all(len(r.messages) == 2 for r in briefs)
    names = {t["function"]["name"] for t in briefs[0].get("tools", [])}
    assert "terminal" in names and not names & {"delegate", "memory", "cron", "clarify"}


async def test_a_child_that_overruns_is_timed_out_and_its_command_killed(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, config={"delegation": {"timeout_seconds": 1}})
    chat = FakeChat()
    model.tool_call("delegate", {"tasks": [{"goal": "forever"}]})
    model.tool_call("terminal", {"command": "sleep 300 & echo PID $! > pid.txt; sleep 300"})
    model.reply("It took too long.")
    async with running_gateway(home, [chat]):
        await chat.say("do the slow thing")
        await wait_until(lambda: "It took too long." in chat.shown(), 20)
    [result] = tool_results(model.requests[-1])
    assert "timed out" in result and "timed out after 1 s" in result
    assert rows(home)[0][1] == "timed_out"
    pid = int((home / "workspace" / "pid.txt").read_text().split()[1])
    await wait_until(lambda: not pid_alive(pid))


async def test_a_childs_risky_command_is_asked_in_the_chat_and_runs_when_approved(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model)
    chat = FakeChat()
    model.tool_call("delegate", {"tasks": [{"goal": "cleanup"}]})
    model.tool_call("terminal", {"command": "rm -rf build && echo removed"})
    model.reply("cleanup result")
    model.reply("Cleaned up.")
    async with running_gateway(home, [chat]):
        (home / "workspace" / "build").mkdir(parents=True)
        await chat.say("clean the build")
        await wait_until(lambda: any("/approve" in t for t in chat.shown()), 20)
        [asked] = [t for t in chat.shown() if "/approve" in t]
        child_id = rows(home)[0][0]
        assert child_id in asked  # marked with the child task
        approval = re.search(r"/approve (\w+)", asked)
        assert approval is not None
        await chat.say(f"/approve {approval.group(1)}")
        await wait_until(lambda: "Cleaned up." in chat.shown(), 20)
    assert not (home / "workspace" / "build").exists()
    assert "succeeded\ncleanup result" in tool_results(model.requests[-1])[0]


async def test_stop_cascades_to_the_children(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "home", model)
    chat = FakeChat()
    model.tool_call("delegate", {"tasks": [{"goal": "one"}, {"goal": "two"}]})
    first, second = model.hang(then="late"), model.hang(then="late")
    async with running_gateway(home, [chat]):
        await chat.say("go")
        await first.wait_entered_async()
        await second.wait_entered_async()
        await chat.say("/stop")
        await wait_until(lambda: [r[1] for r in rows(home)] == ["cancelled", "cancelled"], 20)
        # the answer to /stop goes through the ledger: wait for it before stopping
        await wait_until(lambda: any("Stopped" in t for t in chat.shown()), 20)
        first.release()
        second.release()
    assert any("Stopped" in t for t in chat.shown())


async def test_a_result_not_waited_for_comes_back_as_a_new_turn_once(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model)
    chat = FakeChat()
    child_may_answer = threading.Event()

    def answer(request: Any) -> object:
        last = request.messages[-1]
        if "sub-agent" in str(request.messages[1]["content"]):
            assert child_may_answer.wait(10)
            return "the report is ready"
        if str(last["content"]).startswith("[the delegated task"):
            return "Here is what the sub-agent found: the report is ready."
        if last["role"] == "tool":
            return "I started it; I will tell you."
        return ("delegate", {"tasks": [{"goal": "report"}], "wait": False})

    model.reply_with(answer, times=4)
    async with running_gateway(home, [chat]):
        await chat.say("make a report in the background")
        await wait_until(lambda: "I started it; I will tell you." in chat.shown(), 20)
        child_may_answer.set()
        await wait_until(lambda: any("sub-agent found" in t for t in chat.shown()), 20)
    shown = chat.shown()
    assert any("Delegated task complete\nthe report is ready" in t for t in shown)
    assert sum("sub-agent found" in t for t in shown) == 1
    turn = model.requests[-1].messages[-1]["content"]
    assert turn.startswith(f"[the delegated task {rows(home)[0][0]} you started succeeded")
    with sqlite3.connect(home / "state.db") as conn:
        assert conn.execute("SELECT reported_at FROM tasks").fetchone()[0] is not None


async def test_send_message_goes_through_the_ledger_once(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model)
    chat = FakeChat()
    model.tool_call("send_message", {"target": "fakechat:77", "message": "heads up"})
    model.tool_call("send_message", {"target": "nowhere:1", "message": "x"})
    model.reply("Sent.")
    async with running_gateway(home, [chat]):
        await chat.say("tell chat 77")
        await wait_until(lambda: "Sent." in chat.shown(), 20)
    assert chat.shown("77") == ["heads up"]
    first, second = tool_results(model.requests[-1])
    assert first.startswith("Sent to fakechat:77")
    assert second.startswith("Error: unknown platform 'nowhere'")
    with sqlite3.connect(home / "state.db") as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM deliveries") if k.startswith("tool:")]
    assert len(keys) == 1


@pytest.mark.parametrize("tool", ["send_message", "delegate"])
async def test_outside_a_gateway_the_tools_say_so(tmp_path: Path, tool: str) -> None:
    from hermes.errors import ToolError
    from hermes.tools.gateway_tools import TOOLS

    ctx = make_ctx(tmp_path)
    [found] = [t for t in TOOLS if t.name == tool]
    with pytest.raises(ToolError, match="works only in the gateway"):
        await found.run({"message": "x", "tasks": [{"goal": "x"}]}, ctx)


async def test_a_gateway_stopped_with_children_running_gives_each_result_once(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model)
    first_run = threading.Event()  # set: the first gateway is gone

    def answer(request: Any) -> object:
        messages = request.messages
        last = str(messages[-1]["content"])
        if "sub-agent" in str(messages[1]["content"]):
            if not first_run.is_set():
                first_run.wait(20)  # held until the first gateway stopped
                return "lost answer"
            return f"{goal_of(request)} result"
        if last.startswith("[the delegated task"):
            return "Noted: " + last.rsplit("\n", 1)[-1]
        if messages[-1]["role"] == "tool":
            return "I was interrupted; the parts will report here."
        return ("delegate", {"tasks": [{"goal": "left"}, {"goal": "right"}]})

    model.reply_with(answer, times=None)
    chat = FakeChat()
    async with running_gateway(home, [chat]):
        await chat.say("do both parts")
        await wait_until(lambda: len(model.requests) == 3, 20)  # the parent, two children
    first_run.set()  # the gateway stopped mid-turn: the rows stay running
    assert [r[1] for r in rows(home)] == ["running", "running"]
    again = FakeChat()
    async with running_gateway(home, [again]):
        await wait_until(lambda: sum(t.startswith("Noted: ") for t in again.shown()) == 2, 20)
    assert [r[1] for r in rows(home)] == ["done", "done"]  # the same two, not two more
    shown = again.shown()
    assert sorted(t for t in shown if t.startswith("Noted: ")) == [
        "Noted: left result",
        "Noted: right result",
    ]
    assert not any("lost" in t for t in shown)
    turns = [r for r in model.requests if str(r.messages[-1]["content"]).startswith("[the del")]
    assert len(turns) == 2  # each result given to the agent once


async def test_a_sigkilled_gateway_resumes_the_children_and_gives_each_result_once(
    tmp_path: Path, model: ScriptedModel
) -> None:
    """A real `hermes gateway run` (Telegram, through its fake) killed with SIGKILL
    while two children wait on the model: after the restart the same two children
    resume, the parent's turn records its call as not finished, and each child's
    result comes to the chat and to the agent (a new turn) once."""
    import signal

    from tests.fakes.telegram_api import FakeTelegram
    from tests.gateway_helpers import GatewayProcess
    from tests.test_gateway_telegram import CHAT, TOKEN, shown, telegram_home

    killed = threading.Event()

    def answer(request: Any) -> object:
        messages = request.messages
        if "sub-agent" in str(messages[1]["content"]):
            if not killed.is_set():
                killed.wait(30)
                return "lost answer"
            return f"{goal_of(request)} result"
        last = str(messages[-1]["content"])
        if last.startswith("[the delegated task"):
            return "Noted: " + last.rsplit("\n", 1)[-1]
        if messages[-1]["role"] == "tool":
            return "The gateway restarted; the parts will report here."
        return ("delegate", {"tasks": [{"goal": "left"}, {"goal": "right"}]})

    model.reply_with(answer, times=None)
    with FakeTelegram(TOKEN) as telegram:
        home = telegram_home(tmp_path / "home", model, telegram, TELEGRAM_ALLOWED_USERS=str(CHAT))
        gw = await GatewayProcess(home).ready()
        telegram.user_says(CHAT, "do both parts", user_id=CHAT)
        await wait_until(lambda: len(model.requests) == 3, 20, why=gw.log)
        await gw.stop(signal.SIGKILL)
        killed.set()
        gw = await GatewayProcess(home).ready()
        noted = lambda: sum(t.startswith("Noted: ") for t in shown(telegram)) == 2  # noqa: E731
        await wait_until(noted, 30, why=lambda: f"{shown(telegram)}\n{gw.log()}")
        assert await gw.stop() == 0
    assert [r[1] for r in rows(home)] == ["done", "done"]  # the same two children
    texts = shown(telegram)
    assert sorted(t for t in texts if t.startswith("Noted: ")) == [
        "Noted: left result",
        "Noted: right result",
    ]
    assert sum("Delegated task complete" in t for t in texts) == 2
    assert not any("lost" in t for t in texts)
