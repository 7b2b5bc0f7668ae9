"""Approvals in the gateway, in-process: a risky call suspends its turn (a row
in state.db, nothing waiting in memory), the request shows in the chat with
buttons, and a decision from anywhere resumes or refuses the exact call."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hermes.platforms.spec import Capabilities
from hermes.store import approval_ops
from hermes.store.db import open_db
from hermes.testing import ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.tools_helpers import wait_until

DELETE = "rm ~/notes.txt"  # a user file outside the workspace: medium risk


def buttons_chat() -> FakeChat:
    return FakeChat(capabilities=Capabilities(max_length=4096, can_edit=True, buttons=True))


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel) -> Path:
    path = make_home(tmp_path / "home", model)
    (path / "notes.txt").write_text("keep me?")
    return path


def rows(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "state.db") as conn:
        return conn.execute(sql).fetchall()


def approval_ids(chat: FakeChat) -> list[str]:
    return [m.group(1) for t in chat.shown() if (m := re.search(r"/approve (\w+)", t))]


def prompt_of(chat: FakeChat) -> str:
    found = [t for t in chat.shown() if "Approval needed" in t]
    assert len(found) == 1, chat.shown()
    return found[0]


def tool_results(model: ScriptedModel) -> list[str]:
    return [
        str(m.get("content")) for r in model.requests for m in r.messages if m.get("role") == "tool"
    ][-1:]


async def test_a_medium_risk_command_waits_for_the_button_then_runs(
    home: Path, model: ScriptedModel
) -> None:
    chat = buttons_chat()
    model.tool_call("terminal", {"command": DELETE}, text="Deleting it.")
    model.reply("Deleted your notes.")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("delete my notes file")
        await wait_until(lambda: bool(approval_ids(chat)))
        prompt = prompt_of(chat)
        assert "medium risk" in prompt and DELETE in prompt
        approval_id = approval_ids(chat)[0]
        sent = next(m for m in chat.sent if "Approval needed" in m.text)
        assert [[b.data for b in row] for row in sent.buttons] == [
            [f"approve:{approval_id}", f"deny:{approval_id}"]
        ]
        # suspended: stored, nothing run, nothing waiting in the chat's worker
        assert (home / "notes.txt").exists()
        assert len(model.requests) == 1
        await wait_until(lambda: gw.chats.running() == 0)
        assert rows(home, "SELECT status FROM inbound") == [("waiting",)]
        assert rows(home, "SELECT status, risk FROM approvals") == [("pending", "medium")]

        await chat.say("✅ Approve", callback_data=f"approve:{approval_id}", callback_id="cb1")
        await wait_until(lambda: "Deleted your notes." in chat.shown())
        assert not (home / "notes.txt").exists()
        assert any(t.startswith(f"Approved {approval_id}") for t in chat.shown())
        assert "exit code 0" in tool_results(model)[0]
    decided = rows(home, "SELECT status, decided_by FROM approvals")
    assert decided == [("approved", "fakechat:42")]
    assert rows(home, "SELECT status FROM inbound WHERE event LIKE '%notes file%'") == [("done",)]
    model.assert_done()


async def test_a_denied_command_does_not_run_and_the_agent_is_told(
    home: Path, model: ScriptedModel
) -> None:
    chat = buttons_chat()
    model.tool_call("terminal", {"command": DELETE})
    model.reply("OK, I left the file alone.")
    async with running_gateway(home, [chat]):
        await chat.say("delete my notes file")
        await wait_until(lambda: bool(approval_ids(chat)))
        await chat.say(f"/deny {approval_ids(chat)[0]}")
        await wait_until(lambda: "OK, I left the file alone." in chat.shown())
    assert (home / "notes.txt").exists()
    assert "denied" in tool_results(model)[0]
    assert rows(home, "SELECT status FROM approvals") == [("denied",)]


async def test_messages_wait_behind_a_pending_approval_and_run_after_it(
    home: Path, model: ScriptedModel
) -> None:
    chat = buttons_chat()
    model.tool_call("terminal", {"command": DELETE})
    model.reply("Deleted.")
    model.reply("Second answer.")
    async with running_gateway(home, [chat]):
        await chat.say("delete my notes file")
        await wait_until(lambda: rows(home, "SELECT status FROM inbound") == [("waiting",)])
        await chat.say("and then this")
        await wait_until(lambda: any(t.startswith("⏸ This waits") for t in chat.shown()))
        assert len(model.requests) == 1
        await chat.say("/approve")  # the only pending one here
        await wait_until(lambda: "Second answer." in chat.shown())
        shown = chat.shown()
        assert shown.index("Deleted.") < shown.index("Second answer.")
    assert model.requests[-1].messages[-1]["content"] == "and then this"


async def test_stop_withdraws_the_request_and_frees_the_chat(
    home: Path, model: ScriptedModel
) -> None:
    chat = buttons_chat()
    model.tool_call("terminal", {"command": DELETE})
    model.reply("Fresh start.")
    async with running_gateway(home, [chat]):
        await chat.say("delete my notes file")
        await wait_until(lambda: bool(approval_ids(chat)))
        await chat.say("/stop")
        await wait_until(
            lambda: "⏹ Stopped before it ran." in chat.shown(), why=lambda: str(chat.shown())
        )
        await chat.say(f"/approve {approval_ids(chat)[0]}")
        await wait_until(lambda: any("was already cancelled" in t for t in chat.shown()))
        await chat.say("hello again")
        await wait_until(lambda: "Fresh start." in chat.shown())
    assert (home / "notes.txt").exists()
    # the history stays valid: the withdrawn call got a result before the next message
    assert any("not run" in str(m.get("content")) for m in model.requests[-1].messages)


async def test_a_hard_command_is_refused_without_asking(home: Path, model: ScriptedModel) -> None:
    chat = buttons_chat()
    model.tool_call("terminal", {"command": "rm -rf --no-preserve-root /"})
    model.reply("I will not do that.")
    async with running_gateway(home, [chat]):
        await chat.say("wipe everything")
        await wait_until(lambda: "I will not do that." in chat.shown())
    assert tool_results(model)[0].startswith("Refused:")
    assert rows(home, "SELECT COUNT(*) FROM approvals") == [(0,)]


async def test_mode_off_runs_without_asking_but_hard_is_still_refused(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, {"approvals": {"mode": "off"}})
    (home / "notes.txt").write_text("x")
    chat = buttons_chat()
    model.tool_call("terminal", {"command": DELETE})
    model.tool_call("terminal", {"command": "rm -rf ~"})
    model.reply("Done what I could.")
    async with running_gateway(home, [chat]):
        await chat.say("clean up")
        await wait_until(lambda: "Done what I could." in chat.shown())
    assert not (home / "notes.txt").exists()
    assert (home / "config.yaml").exists()
    assert tool_results(model)[0].startswith("Refused:")
    assert rows(home, "SELECT COUNT(*) FROM approvals") == [(0,)]


async def test_low_risk_runs_by_itself_after_the_configured_delay(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, {"approvals": {"low_risk_auto_approve_seconds": 1}})
    scratch = home / "workspace" / "build.log"
    scratch.parent.mkdir(parents=True)
    scratch.write_text("old log")
    chat = buttons_chat()
    model.tool_call("terminal", {"command": "rm build.log"})  # in the workspace: low
    model.reply("Cleaned.")
    async with running_gateway(home, [chat]):
        await chat.say("clean the build log")
        await wait_until(lambda: bool(approval_ids(chat)))
        assert "runs by itself" in prompt_of(chat)
        await wait_until(lambda: "Cleaned." in chat.shown(), 15)
    assert not scratch.exists()
    [(status, by)] = rows(home, "SELECT status, decided_by FROM approvals")
    assert status == "approved" and by.startswith("auto")


async def test_a_low_risk_request_denied_in_time_never_runs(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, {"approvals": {"low_risk_auto_approve_seconds": 60}})
    scratch = home / "workspace" / "build.log"
    scratch.parent.mkdir(parents=True)
    scratch.write_text("old log")
    chat = buttons_chat()
    model.tool_call("terminal", {"command": "rm build.log"})
    model.reply("Kept it.")
    async with running_gateway(home, [chat]):
        await chat.say("clean the build log")
        await wait_until(lambda: bool(approval_ids(chat)))
        await chat.say("/deny")
        await wait_until(lambda: "Kept it." in chat.shown())
    assert scratch.exists()


async def test_a_decision_made_while_the_gateway_was_down_resumes_at_start(
    home: Path, model: ScriptedModel
) -> None:
    chat = buttons_chat()
    model.tool_call("terminal", {"command": DELETE})
    async with running_gateway(home, [chat]):
        await chat.say("delete my notes file")
        await wait_until(lambda: bool(approval_ids(chat)))
    approval_id = approval_ids(chat)[0]
    conn = open_db(home / "state.db")  # what `hermes approvals approve` does offline
    try:
        approval_ops.decide(conn, approval_id, True, "cli (alice@box)", 0.0)
    finally:
        conn.close()
    model.reply("Deleted after the restart.")
    chat2 = buttons_chat()
    async with running_gateway(home, [chat2]):
        await wait_until(lambda: "Deleted after the restart." in chat2.shown())
    assert not (home / "notes.txt").exists()
    assert rows(home, "SELECT decided_by FROM approvals") == [("cli (alice@box)",)]


async def test_a_changed_command_is_a_new_request(home: Path, model: ScriptedModel) -> None:
    chat = buttons_chat()
    model.tool_call("terminal", {"command": DELETE})
    model.tool_call("terminal", {"command": "rm ~/notes.txt ~/.profile"})
    model.reply("Stopped trying.")
    async with running_gateway(home, [chat]):
        await chat.say("delete my notes file")
        await wait_until(lambda: len(approval_ids(chat)) == 1)
        await chat.say(f"/deny {approval_ids(chat)[0]}")
        await wait_until(lambda: len(approval_ids(chat)) == 2)
        assert approval_ids(chat)[0] != approval_ids(chat)[1]
        await chat.say(f"/deny {approval_ids(chat)[1]}")
        await wait_until(lambda: "Stopped trying." in chat.shown())
    assert rows(home, "SELECT action, status FROM approvals ORDER BY created_at") == [
        (DELETE, "denied"),
        ("rm ~/notes.txt ~/.profile", "denied"),
    ]


async def test_requests_also_go_to_the_approval_channels(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(
        tmp_path / "home", model, {"approvals": {"channels": ["origin", "fakechat:ops"]}}
    )
    (home / "notes.txt").write_text("x")
    chat = buttons_chat()
    model.tool_call("terminal", {"command": DELETE})
    model.reply("Deleted.")
    async with running_gateway(home, [chat]):
        await chat.say("delete my notes file")
        await wait_until(lambda: any("Approval needed" in t for t in chat.shown("ops")))
        approval_id = approval_ids(chat)[0]
        await chat.say(f"/approve {approval_id}", chat="ops", user="7")  # decided elsewhere
        await wait_until(lambda: "Deleted." in chat.shown())
    assert rows(home, "SELECT decided_by FROM approvals") == [("fakechat:7",)]
