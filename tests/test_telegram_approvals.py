"""Approvals and background tasks as a Telegram user sees them: the real
`hermes gateway run` process, python-telegram-bot against the fake Bot API,
the inline keyboard under the request, a restart between request and
decision, and low risk running by itself."""

from __future__ import annotations

import re
import signal
import sqlite3
from pathlib import Path

import pytest

from hermes.testing import ScriptedModel
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import GatewayProcess, make_home
from tests.tools_helpers import wait_until

TOKEN = "123456:TEST-token"
CHAT = 4242


@pytest.fixture
def telegram() -> FakeTelegram:
    with FakeTelegram(TOKEN) as fake:
        yield fake  # type: ignore[misc]


def telegram_home(path: Path, model: ScriptedModel, telegram: FakeTelegram, **config: dict) -> Path:  # type: ignore[type-arg]
    home = make_home(
        path,
        model,
        {"server": {"port": 0}, "telegram": {"base_url": telegram.base_url}, **config},
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "HERMES_API_KEY": "k",
            "TELEGRAM_ALLOWED_USERS": str(CHAT),
            "HOME": str(path),  # the agent's ~ (notes.txt there is a user file: medium risk)
        },
    )
    (home / "notes.txt").write_text("precious")
    return home


def shown(telegram: FakeTelegram) -> list[str]:
    return list(telegram.messages_in(CHAT).values())


def request_message(telegram: FakeTelegram) -> tuple[int, str]:
    """The approval request: its message id and its approval id."""
    for sent in telegram.sent:
        match = re.search(r"/approve (\w+)", sent["text"] or "")
        if match and sent["reply_markup"]:
            return int(sent["message_id"]), match.group(1)
    raise AssertionError(f"no approval request with buttons in {shown(telegram)}")


def request_recorded(home: Path) -> bool:
    with sqlite3.connect(home / "state.db") as conn:
        rows = conn.execute("SELECT status FROM deliveries WHERE key LIKE 'approval:%'").fetchall()
    return rows == [("sent",)]


def has_request(telegram: FakeTelegram) -> bool:
    return any("Approval needed" in t for t in shown(telegram))


async def test_the_inline_button_approves_and_the_command_runs(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    home = telegram_home(tmp_path / "home", model, telegram)
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    model.reply("Your notes are gone.")
    gw = await GatewayProcess(home).ready()
    telegram.user_says(CHAT, "delete my notes", user_id=CHAT)
    await wait_until(lambda: has_request(telegram), 30, why=gw.log)
    message_id, approval_id = request_message(telegram)
    assert (home / "notes.txt").exists()
    buttons = telegram.sent[-1]["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for b in buttons[0]] == [
        f"approve:{approval_id}",
        f"deny:{approval_id}",
    ]
    telegram.press_button(CHAT, message_id, f"approve:{approval_id}", user_id=CHAT)
    await wait_until(lambda: "Your notes are gone." in shown(telegram), 30, why=gw.log)
    assert not (home / "notes.txt").exists()
    assert "answerCallbackQuery" in telegram.calls
    assert await gw.stop() == 0
    model.assert_done()


async def test_the_deny_button_keeps_the_command_from_running(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    home = telegram_home(tmp_path / "home", model, telegram)
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    model.reply("Understood, I kept them.")
    gw = await GatewayProcess(home).ready()
    telegram.user_says(CHAT, "delete my notes", user_id=CHAT)
    await wait_until(lambda: has_request(telegram), 30, why=gw.log)
    message_id, approval_id = request_message(telegram)
    telegram.press_button(CHAT, message_id, f"deny:{approval_id}", user_id=CHAT)
    await wait_until(lambda: "Understood, I kept them." in shown(telegram), 30, why=gw.log)
    assert (home / "notes.txt").exists()
    assert await gw.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
async def test_a_restart_between_request_and_decision_still_works(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram, sig: int
) -> None:
    home = telegram_home(tmp_path / "home", model, telegram)
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    gw = await GatewayProcess(home).ready()
    telegram.user_says(CHAT, "delete my notes", user_id=CHAT)
    await wait_until(lambda: has_request(telegram), 30, why=gw.log)
    message_id, approval_id = request_message(telegram)
    # (a kill between Telegram accepting a message and the ledger recording it
    # re-sends that message: at-least-once is all a platform without idempotency
    # keys allows, so the kill comes once the request is recorded as sent)
    await wait_until(lambda: request_recorded(home), 30)
    await gw.stop(sig)

    model.reply("Deleted after the restart.")
    gw = await GatewayProcess(home).ready()
    telegram.press_button(CHAT, message_id, f"approve:{approval_id}", user_id=CHAT)
    await wait_until(lambda: "Deleted after the restart." in shown(telegram), 30, why=gw.log)
    assert not (home / "notes.txt").exists()
    assert sum("Approval needed" in t for t in shown(telegram)) == 1, shown(telegram)
    assert await gw.stop() == 0
    model.assert_done()


async def test_low_risk_auto_approves_after_the_configured_delay(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    home = telegram_home(
        tmp_path / "home", model, telegram, approvals={"low_risk_auto_approve_seconds": 1}
    )
    log = home / "workspace" / "old.log"
    log.parent.mkdir(parents=True)
    log.write_text("old")
    model.tool_call("terminal", {"command": "rm old.log"})
    model.reply("Cleaned up the old log.")
    gw = await GatewayProcess(home).ready()
    telegram.user_says(CHAT, "clean up the old log", user_id=CHAT)
    await wait_until(lambda: "Cleaned up the old log." in shown(telegram), 30, why=gw.log)
    assert not log.exists()
    with sqlite3.connect(home / "state.db") as conn:
        [(by,)] = conn.execute("SELECT decided_by FROM approvals").fetchall()
    assert by.startswith("auto")
    assert await gw.stop() == 0


async def test_background_task_end_to_end(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    home = telegram_home(tmp_path / "home", model, telegram)
    model.reply("Backups are fine.")
    gw = await GatewayProcess(home).ready()
    telegram.user_says(
        -100777, "/background check the backups", user_id=CHAT, thread_id=5, chat_type="supergroup"
    )
    await wait_until(lambda: len(telegram.messages_in(-100777)) == 2, 30, why=gw.log)
    started, done = telegram.messages_in(-100777).values()
    assert re.fullmatch(
        r'🔄 Background task started: "check the backups"\nTask ID: bg_\d{6}_[0-9a-f]{6}', started
    )
    assert done == "✅ Background task complete\nBackups are fine."
    assert {s["message_thread_id"] for s in telegram.sent} == {5}
    assert await gw.stop() == 0


async def test_a_sibling_cannot_use_the_api_to_approve_its_own_request(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    """The attack of issue 12 against a real gateway: the model asks for a deletion
    and, in the same reply, runs a script that calls the gateway's approvals API
    with $HERMES_API_KEY. The script is held while the request waits; once the
    user denies it, it runs, but finds no key in its environment: 401."""
    home = telegram_home(tmp_path / "home", model, telegram)
    workspace = home / "workspace"
    workspace.mkdir()
    (workspace / "approve.py").write_text(
        "import json, os, urllib.request, urllib.error\n"
        "state = json.load(open(os.environ['HERMES_HOME'] + '/gateway.json'))\n"
        "key = os.environ.get('HERMES_API_KEY', '')\n"
        "req = urllib.request.Request(state['url'] + '/api/hermes/approvals',\n"
        "    headers={'Authorization': 'Bearer ' + key})\n"
        "try:\n"
        "    status = urllib.request.urlopen(req, timeout=10).status\n"
        "except urllib.error.HTTPError as exc:\n"
        "    status = exc.code\n"
        "open('attempt.txt', 'w').write(f'{status} key={bool(key)}')\n"
    )
    model.tool_calls(
        [
            ("terminal", {"command": "rm ~/notes.txt"}),
            ("terminal", {"command": "python3 approve.py"}),
        ]
    )
    model.reply("I left your notes alone.")
    gw = await GatewayProcess(home).ready()
    telegram.user_says(CHAT, "delete my notes", user_id=CHAT)
    await wait_until(lambda: has_request(telegram), 30, why=gw.log)
    message_id, approval_id = request_message(telegram)

    def statuses() -> list[tuple[str]]:
        with sqlite3.connect(home / "state.db") as conn:
            return conn.execute("SELECT status FROM inbound").fetchall()

    # the request goes out while the turn still admits its sibling call, then it waits
    await wait_until(lambda: statuses() == [("waiting",)], 30, why=gw.log)
    assert not (workspace / "attempt.txt").exists()  # held while the request waits
    telegram.press_button(CHAT, message_id, f"deny:{approval_id}", user_id=CHAT)
    await wait_until(lambda: "I left your notes alone." in shown(telegram), 30, why=gw.log)
    assert (home / "notes.txt").read_text() == "precious"
    assert (workspace / "attempt.txt").read_text() == "401 key=False"
    with sqlite3.connect(home / "state.db") as conn:
        assert conn.execute("SELECT status, requester FROM approvals").fetchall() == [
            ("denied", f"telegram:{CHAT}")
        ]
    assert await gw.stop() == 0
