"""The whole product path on Discord: `hermes gateway run` as a real process, the real
discord.py against the loopback fake of Discord's REST API and Gateway
(tests/fakes/discord_api.py), the scripted model. DMs, servers, threads, approvals
with buttons, a crash, an outage, a revoked token, replays and a crowd."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.fakes.discord_api import CHANNEL, USER, FakeDiscord
from tests.gateway_helpers import (
    GatewayProcess,
    hermes_status,
    platform_connected,
    platform_home,
    stored_user_messages,
)
from tests.tools_helpers import wait_until

TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.token"


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord(TOKEN, heartbeat_ms=500) as fake:
        yield fake


def discord_home(
    path: Path,
    model: ScriptedModel,
    discord: FakeDiscord,
    section: dict[str, Any] | None = None,
    **env: str,
) -> Path:
    section = {"base_url": discord.api_url, **(section or {})}
    return platform_home(path, model, "discord", section, {"DISCORD_BOT_TOKEN": TOKEN, **env})


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel, discord: FakeDiscord) -> Path:
    return discord_home(tmp_path / "home", model, discord, DISCORD_ALLOWED_USERS=USER)


def shown(discord: FakeDiscord, channel: str) -> list[str]:
    return list(discord.messages_in(channel).values())


async def test_a_dm_is_answered(home: Path, model: ScriptedModel, discord: FakeDiscord) -> None:
    gw = await platform_connected(GatewayProcess(home), "discord")
    dm = discord.dm(USER)
    model.reply("Hi, I am Hermes on Discord.")
    discord.user_says(dm, "hello")
    await wait_until(lambda: shown(discord, dm) == ["Hi, I am Hermes on Discord."], 30, gw.log)
    discord.user_says(dm, "/status")
    await wait_until(lambda: len(shown(discord, dm)) == 2, 30, gw.log)
    assert shown(discord, dm)[1].startswith("Session: ")
    assert await gw.stop() == 0


async def test_a_reply_in_a_thread_stays_in_its_thread_and_so_does_background(
    home: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    gw = await platform_connected(GatewayProcess(home), "discord")
    thread = discord.add_thread(CHANNEL)
    model.reply("Answered in the thread.")
    discord.user_says(thread, "a question", mention=True)
    await wait_until(lambda: shown(discord, thread) == ["Answered in the thread."], 30, gw.log)
    model.reply("All servers are up.")
    discord.user_says(thread, "/background check the servers")
    done = "✅ Background task complete\nAll servers are up."
    await wait_until(lambda: done in shown(discord, thread), 30, gw.log)
    assert shown(discord, CHANNEL) == []
    # a delivery to channel:thread (what cron jobs and `hermes send` use) lands there too
    sent = run_hermes(home, "send", f"discord:{CHANNEL}:{thread}", "deploy done")
    assert sent.returncode == 0, sent.stderr
    await wait_until(lambda: "deploy done" in shown(discord, thread), 30, gw.log)
    assert await gw.stop() == 0
    assert shown(discord, CHANNEL) == []


async def test_require_mention_answers_only_mentions_and_replies_in_a_server(
    tmp_path: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    home = discord_home(
        tmp_path / "home", model, discord, {"require_mention": True}, DISCORD_ALLOWED_USERS=USER
    )
    gw = await platform_connected(GatewayProcess(home), "discord")
    model.reply("You called?")
    model.reply("Replying to my reply.")
    discord.user_says(CHANNEL, "just chatting among humans")
    discord.user_says(CHANNEL, "what time is it?", mention=True)
    await wait_until(lambda: shown(discord, CHANNEL) == ["You called?"], 30, gw.log)
    mine = next(iter(discord.messages_in(CHANNEL)))
    discord.user_says(CHANNEL, "more chatter")
    discord.user_says(CHANNEL, "and you?", reply_to=mine)
    await wait_until(lambda: len(shown(discord, CHANNEL)) == 2, 30, gw.log)
    assert await gw.stop() == 0
    assert shown(discord, CHANNEL) == ["You called?", "Replying to my reply."]
    assert stored_user_messages(home, "just chatting among humans") == 0
    assert stored_user_messages(home, "more chatter") == 0
    model.assert_done()


def approval(discord: FakeDiscord) -> tuple[str, str, list[Any]] | None:
    for sent in discord.sent:
        match = re.search(r"/approve (\w+)", sent.get("content") or "")
        if match and sent.get("components"):
            return sent["id"], match.group(1), sent["components"]
    return None


async def test_an_approval_button_resumes_the_turn_and_runs_the_exact_command(
    home: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    model.reply("Your notes are gone.")
    gw = await platform_connected(GatewayProcess(home), "discord")
    dm = discord.dm(USER)
    discord.user_says(dm, "delete my notes")
    await wait_until(lambda: approval(discord) is not None, 30, gw.log)
    found = approval(discord)
    assert found is not None
    message_id, approval_id, rows = found
    assert [b["custom_id"] for b in rows[0]["components"]] == [
        f"approve:{approval_id}",
        f"deny:{approval_id}",
    ]
    assert (home / "notes.txt").exists()
    discord.press_button(message_id, f"approve:{approval_id}")
    await wait_until(lambda: "Your notes are gone." in shown(discord, dm), 30, gw.log)
    assert not (home / "notes.txt").exists()
    assert [c["type"] for c in discord.callbacks] == [6]  # acknowledged within Discord's 3 s
    assert await gw.stop() == 0
    model.assert_done()


async def test_an_approval_typed_as_slash_approve_works_in_a_thread(
    home: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    model.reply("Deleted as you said.")
    gw = await platform_connected(GatewayProcess(home), "discord")
    thread = discord.add_thread(CHANNEL)
    discord.user_says(thread, "delete my notes", mention=True)
    await wait_until(lambda: approval(discord) is not None, 30, gw.log)
    found = approval(discord)
    assert found is not None
    assert found[0] in discord.messages_in(thread)  # the request is asked in the thread
    discord.user_says(thread, f"/approve {found[1]}")
    await wait_until(lambda: "Deleted as you said." in shown(discord, thread), 30, gw.log)
    assert not (home / "notes.txt").exists()
    assert await gw.stop() == 0
    model.assert_done()


async def test_sigkill_mid_turn_then_restart_loses_and_duplicates_nothing(
    home: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    gw = await platform_connected(GatewayProcess(home), "discord")
    dm = discord.dm(USER)
    gate = model.hang(partial="Let me think", then="never delivered")
    discord.user_says(dm, "important question")
    await gate.wait_entered_async(20)
    await wait_until(lambda: shown(discord, dm) == ["Let me think"], 20, gw.log)
    await gw.stop(signal.SIGKILL)
    gate.release()
    discord.user_says(dm, "said while it was down")  # replayed by the RESUME

    model.reply("The answer, after the restart.")
    model.reply("And to what you said meanwhile.")
    gw = await platform_connected(GatewayProcess(home), "discord")
    done = lambda: "And to what you said meanwhile." in shown(discord, dm)  # noqa: E731
    await wait_until(done, 30, lambda: f"{shown(discord, dm)}\n{gw.log()}")
    texts = shown(discord, dm)
    assert sum(t.startswith("↻ Hermes restarted while working on") for t in texts) == 1
    assert texts.count("The answer, after the restart.") == 1
    assert stored_user_messages(home, "important question") == 1
    assert stored_user_messages(home, "said while it was down") == 1
    assert discord.resumed >= 1
    assert await gw.stop() == 0
    model.assert_done()


async def test_replies_wait_out_an_outage_and_arrive_once(
    home: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    gw = await platform_connected(GatewayProcess(home), "discord")
    dm = discord.dm(USER)
    discord.fail("createMessage", 502, times=None)
    discord.fail("gateway", 503, times=None)  # no new Gateway connection either
    discord.drop_sockets(1011)
    model.reply("Sent after the outage.")
    await wait_until(
        lambda: hermes_status(gw)["platforms"]["discord"] == "reconnecting", 30, gw.log
    )
    discord.user_says(dm, "are you there?")  # waits in the session's log
    await wait_until(lambda: len(discord.calls_to("gateway")) >= 3, 30, gw.log)
    discord.recover()
    await wait_until(lambda: shown(discord, dm) == ["Sent after the outage."], 60, gw.log)
    assert hermes_status(gw)["platforms"]["discord"] == "connected"
    assert await gw.stop() == 0
    assert shown(discord, dm) == ["Sent after the outage."]


async def test_a_connection_that_goes_silent_is_rebuilt_and_nothing_is_lost(
    tmp_path: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    home = discord_home(
        tmp_path / "home", model, discord, {"heartbeat_timeout": 2}, DISCORD_ALLOWED_USERS=USER
    )
    gw = await platform_connected(GatewayProcess(home), "discord")
    dm = discord.dm(USER)
    discord.silence_sockets()  # open, but no HEARTBEAT_ACK and no events any more
    model.reply("Heard you after all.")
    discord.user_says(dm, "can you hear me?")
    await wait_until(lambda: shown(discord, dm) == ["Heard you after all."], 30, gw.log)
    assert discord.resumed == 1 and discord.identified == 1
    assert "discord: connected again after" in gw.log()
    assert await gw.stop() == 0


async def test_a_revoked_token_is_failed_in_the_status_without_a_reconnect_loop(
    home: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    gw = await platform_connected(GatewayProcess(home), "discord")
    discord.revoke_token()
    failed = lambda: hermes_status(gw)["platforms"]["discord"].startswith("failed: ")  # noqa: E731
    await wait_until(failed, 30, gw.log)
    state = hermes_status(gw)["platforms"]["discord"]
    assert "Discord rejected the bot token" in state and "DISCORD_BOT_TOKEN" in state
    connects = len(discord.calls_to("gateway"))
    # the web chat and the API go on; Discord is not tried again
    assert hermes_status(gw)["platforms"]["web"] == "connected"
    assert len(discord.calls_to("gateway")) == connects == 1
    assert await gw.stop() == 0
    assert TOKEN not in gw.output()


async def test_a_duplicate_message_create_is_answered_once(
    home: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    gw = await platform_connected(GatewayProcess(home), "discord")
    dm = discord.dm(USER)
    model.reply("Once.")
    model.reply("Twice is for the next one.")
    discord.duplicate_next()
    discord.user_says(dm, "say it once")
    discord.user_says(dm, "next")
    await wait_until(lambda: len(shown(discord, dm)) == 2, 30, gw.log)
    assert await gw.stop() == 0
    assert shown(discord, dm) == ["Once.", "Twice is for the next one."]
    assert stored_user_messages(home, "say it once") == 1
    model.assert_done()


async def test_an_unknown_user_pairs_with_a_code_the_owner_approves(
    tmp_path: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    home = discord_home(tmp_path / "home", model, discord)
    gw = await platform_connected(GatewayProcess(home), "discord")
    stranger = "500000000000000099"
    dm = discord.dm(stranger)
    discord.user_says(dm, "hello?", stranger)
    await wait_until(lambda: len(shown(discord, dm)) == 1, 30, gw.log)
    match = re.search(r"hermes pairing approve discord (\w+)", shown(discord, dm)[0])
    assert match, shown(discord, dm)
    approve = run_hermes(home, "pairing", "approve", "discord", match.group(1))
    assert approve.returncode == 0, approve.stderr
    model.reply("Welcome aboard.")
    discord.user_says(dm, "hello again", stranger)
    await wait_until(lambda: "Welcome aboard." in shown(discord, dm), 30, gw.log)
    assert await gw.stop() == 0


async def test_a_hundred_chats_at_once_each_get_their_replies_in_order(
    tmp_path: Path, model: ScriptedModel, discord: FakeDiscord
) -> None:
    home = discord_home(tmp_path / "home", model, discord, GATEWAY_ALLOW_ALL_USERS="true")
    users = [str(600_000_000_000_000_000 + n) for n in range(100)]
    chats = {u: discord.dm(u) for u in users}
    per_chat = 3
    model.reply_with(lambda r: f"re: {r.messages[-1]['content']}", times=None)
    gw = await platform_connected(GatewayProcess(home), "discord")
    for i in range(per_chat):  # every chat's first message, then every chat's second, ...
        for u in users:
            discord.user_says(chats[u], f"{u} says {i}", u)

    def expected(u: str) -> list[str]:
        return [f"re: {u} says {i}" for i in range(per_chat)]

    def done() -> bool:  # streamed replies are edited in place: wait for the final texts
        return all(shown(discord, chats[u]) == expected(u) for u in users)

    await wait_until(done, 120, lambda: f"{len(discord.sent)} sent\n{gw.log()}")
    assert await gw.stop() == 0
    assert len(model.requests) == len(users) * per_chat
