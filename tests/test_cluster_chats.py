"""Any replica runs any turn (hermes/gateway/spread.py): two real `hermes gateway
run` replicas on one real PostgreSQL, python-telegram-bot against the fake Bot
API. Each replica runs one turn at a time (gateway.max_concurrent_turns: 1), so
while the active replica is busy with one chat the standby claims the next.
What a user does in a chat reaches the replica that runs it: /stop stops its
turn, an approval asked there is decided with a button (at the active replica)
and the turn goes on; a standby killed mid-turn loses nothing."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from hermes.testing import ScriptedModel
from hermes.testing.replies import Gate
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import GatewayProcess
from tests.test_cluster import LEASE, active, cluster_home, rows
from tests.test_cluster import telegram as telegram  # the fixture
from tests.tools_helpers import wait_until

BUSY, OTHER = 4242, 4343  # the chat that keeps the active replica busy, and the other


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram, pg_url: str) -> Path:
    path = tmp_path / "home"
    # the agent's ~ is the home (notes.txt there is a user file: medium risk)
    made = cluster_home(path, model, telegram, pg_url, f"{BUSY},{OTHER}", 1, HOME=str(path))
    (made / "notes.txt").write_text("precious")
    return made


def shown(telegram: FakeTelegram, chat: int) -> list[str]:
    return list(telegram.messages_in(chat).values())


def holder(pg_url: str, chat: int) -> str | None:
    """The replica id holding CHAT's claim now."""
    found = rows(pg_url, f"SELECT replica FROM chat_claims WHERE session_key LIKE '%:{chat}:%'")
    return str(found[0][0]) if found else None


def replica_id(gw: GatewayProcess, pg_url: str) -> str:
    name = gw.state_file.parent.name
    [(found,)] = rows(
        pg_url, f"SELECT id FROM replicas WHERE id LIKE '{name}:%' AND role <> 'stopped'"
    )
    return str(found)


async def busy_active(
    home: Path, model: ScriptedModel, telegram: FakeTelegram, pg_url: str
) -> tuple[GatewayProcess, GatewayProcess, Gate]:
    """The active replica busy with chat BUSY (its turn hangs on GATE), then a
    standby: (the active replica, the standby, GATE). The next chat's turn can
    only run on the standby."""
    lead = await GatewayProcess(home, {"HERMES_REPLICA": "r0"}).ready()
    await wait_until(lambda: len(active([lead])) == 1, 20)
    busy = model.hang(then="done with that")
    telegram.user_says(BUSY, "something long", user_id=BUSY)
    await busy.wait_entered_async(20)
    assert holder(pg_url, BUSY) == replica_id(lead, pg_url)
    standby = await GatewayProcess(home, {"HERMES_REPLICA": "r1"}).ready()
    return lead, standby, busy


async def on_the_standby(
    model: ScriptedModel,
    telegram: FakeTelegram,
    pg_url: str,
    standby: GatewayProcess,
    text: str,
    then: str = "never shown",
) -> Gate:
    """Chat OTHER says TEXT; its turn runs on the standby and hangs on the gate
    returned (then answers THEN)."""
    gate = model.hang(then=then)
    telegram.user_says(OTHER, text, user_id=OTHER)
    await gate.wait_entered_async(20)
    assert holder(pg_url, OTHER) == replica_id(standby, pg_url)
    return gate


async def test_a_standby_runs_a_chat_and_stop_from_that_chat_reaches_it(
    home: Path, model: ScriptedModel, telegram: FakeTelegram, pg_url: str
) -> None:
    lead, standby, busy = await busy_active(home, model, telegram, pg_url)
    other = await on_the_standby(model, telegram, pg_url, standby, "and something else")

    telegram.user_says(OTHER, "/stop", user_id=OTHER)  # reaches the active replica first
    await wait_until(lambda: "⏹ Stopped." in shown(telegram, OTHER), 20, why=standby.log)
    other.release()
    model.reply("here again")
    telegram.user_says(OTHER, "are you there?", user_id=OTHER)
    await wait_until(lambda: "here again" in shown(telegram, OTHER), 20, why=standby.log)
    busy.release()
    await wait_until(lambda: "done with that" in shown(telegram, BUSY), 20, why=lead.log)
    assert "never shown" not in shown(telegram, OTHER)
    assert [t for t in shown(telegram, OTHER) if t != "Stopped the current turn."] == [
        "⏹ Stopped.",
        "here again",
    ]
    assert shown(telegram, BUSY) == ["done with that"]
    assert await standby.stop() == 0 and await lead.stop() == 0
    model.assert_done()


async def test_an_approval_asked_on_a_standby_is_decided_by_button_and_the_turn_goes_on(
    home: Path, model: ScriptedModel, telegram: FakeTelegram, pg_url: str
) -> None:
    lead, standby, busy = await busy_active(home, model, telegram, pg_url)
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    model.reply("Your notes are gone.")
    telegram.user_says(OTHER, "delete my notes", user_id=OTHER)

    def request() -> tuple[int, str] | None:
        for sent in telegram.sent:
            found = re.search(r"/approve (\w+)", sent["text"] or "")
            if found and sent["reply_markup"] and str(sent["chat_id"]) == str(OTHER):
                return int(sent["message_id"]), found.group(1)
        return None

    await wait_until(lambda: request() is not None, 30, why=standby.log)
    # the standby ran that turn (it says so at its next beat, a third of a lease on)
    mine = f"SELECT turns FROM replicas WHERE id = '{replica_id(standby, pg_url)}'"
    await wait_until(lambda: rows(pg_url, mine) == [(1,)], LEASE, lambda: str(rows(pg_url, mine)))
    assert (home / "notes.txt").exists()
    message_id, approval_id = request() or (0, "")
    # the button reaches the active replica; the turn goes on there (the standby
    # let the chat go to it while it waited)
    telegram.press_button(OTHER, message_id, f"approve:{approval_id}", user_id=OTHER)
    busy.release()  # (the active replica runs one turn at a time too)
    await wait_until(lambda: "Your notes are gone." in shown(telegram, OTHER), 30, why=lead.log)
    assert not (home / "notes.txt").exists()
    assert shown(telegram, OTHER).count("Your notes are gone.") == 1
    await wait_until(lambda: "done with that" in shown(telegram, BUSY), 20, why=lead.log)
    assert await standby.stop() == 0 and await lead.stop() == 0
    model.assert_done()


async def test_a_standby_killed_mid_turn_loses_nothing(
    home: Path, model: ScriptedModel, telegram: FakeTelegram, pg_url: str
) -> None:
    lead, standby, busy = await busy_active(home, model, telegram, pg_url)
    cut = await on_the_standby(model, telegram, pg_url, standby, "tell me a story")
    telegram.user_says(OTHER, "and then another", user_id=OTHER)  # queued behind it there
    await standby.stop(signal.SIGKILL)
    cut.release()
    model.reply("once upon a time")
    model.reply("another one")
    busy.release()  # the active replica has room again; it takes the chat over
    await wait_until(lambda: "done with that" in shown(telegram, BUSY), 20, why=lead.log)
    await wait_until(lambda: "another one" in shown(telegram, OTHER), LEASE * 3 + 10, why=lead.log)
    replies = [t for t in shown(telegram, OTHER) if not t.startswith(("⚠️", "⏹", "↻"))]
    assert replies == ["once upon a time", "another one"], shown(telegram, OTHER)
    assert holder(pg_url, OTHER) in (None, replica_id(lead, pg_url))
    assert await lead.stop() == 0
    model.assert_done()


async def test_a_standby_stopped_cleanly_finishes_its_turn_and_lets_the_chat_go(
    home: Path, model: ScriptedModel, telegram: FakeTelegram, pg_url: str
) -> None:
    lead, standby, busy = await busy_active(home, model, telegram, pg_url)
    story = await on_the_standby(model, telegram, pg_url, standby, "a story", "once upon a time")
    standby.proc.send_signal(signal.SIGTERM)  # it drains: the running turn ends first
    story.release()
    assert await standby.stop() == 0
    assert holder(pg_url, OTHER) is None  # let go at once, not after a lease
    # (sent by the active replica's courier)
    await wait_until(lambda: "once upon a time" in shown(telegram, OTHER), 20, why=lead.log)
    busy.release()
    await wait_until(lambda: "done with that" in shown(telegram, BUSY), 20, why=lead.log)
    model.reply("and they lived happily")
    telegram.user_says(OTHER, "and then?", user_id=OTHER)
    await wait_until(lambda: "and they lived happily" in shown(telegram, OTHER), 20, why=lead.log)
    assert shown(telegram, OTHER) == ["once upon a time", "and they lived happily"]
    assert await lead.stop() == 0
    model.assert_done()
