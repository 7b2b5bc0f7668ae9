"""Slack as a user sees it: `hermes gateway run` as a real process, slack-bolt and
slack_sdk against the fake Slack (tests/fakes/slack_api.py), the scripted model.
DMs, threads, approvals by Block Kit button, a crash mid-turn, an outage, a revoked
token, a duplicate envelope, a long reply, and the incoming webhook alone."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.pidfile import poke
from hermes.testing import ScriptedModel
from tests.fakes.slack_api import FakeSlack
from tests.gateway_helpers import GatewayProcess, make_home, platform_home
from tests.tools_helpers import wait_until

DM, CHANNEL, ADA = "D0ADA0001", "C0TEAM001", "U0ADA0001"
DELIVER = ["--name", "Disks", "--deliver", "slack:webhook"]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def slack_home(
    path: Path,
    model: ScriptedModel,
    slack: FakeSlack,
    config: dict[str, Any] | None = None,
    **settings: Any,
) -> Path:
    """A home with the bot on the fake; SETTINGS go to its `slack:` section."""
    section = {"base_url": slack.api_url, "ping_interval": 0.5, "probe_interval": 2}
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_ALLOWED_USERS": ADA,
    }
    return platform_home(path, model, "slack", {**section, **settings}, env, **(config or {}))


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel, slack: FakeSlack) -> Path:
    return slack_home(tmp_path / "home", model, slack)


def platform_state(home: Path) -> str:
    return str(json.loads((home / "gateway.json").read_text())["platforms"]["slack"])


def user_messages(home: Path, text: str) -> int:
    with sqlite3.connect(home / "state.db") as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM messages WHERE role = 'user' AND content = ?", (text,)
        ).fetchone()
    return int(row[0])


async def connected(home: Path) -> GatewayProcess:
    gw = await GatewayProcess(home).ready()
    await wait_until(lambda: platform_state(home) == "connected", 20, why=gw.log)
    return gw


async def test_a_dm_is_answered_and_acknowledged(
    home: Path, model: ScriptedModel, slack: FakeSlack
) -> None:
    gw = await connected(home)
    model.reply("Hi Ada, I am Hermes.")
    slack.user_says(DM, "hello", user=ADA)
    await wait_until(lambda: slack.shown(DM) == ["Hi Ada, I am Hermes."], 20, why=gw.log)
    assert slack.pending() == 0 and len(slack.acks) == 1
    assert await gw.stop() == 0


async def test_a_reply_in_a_thread_stays_in_that_thread(
    tmp_path: Path, model: ScriptedModel, slack: FakeSlack
) -> None:
    home = slack_home(tmp_path / "home", model, slack, require_mention=True)
    gw = await connected(home)
    parent = slack.user_says(CHANNEL, "release notes for 2.4", user=ADA)  # no mention
    model.reply("Here are the notes.")
    slack.user_says(CHANNEL, f"<@{slack.bot_user}> summarize this", ADA, parent["ts"])
    await wait_until(
        lambda: slack.shown(CHANNEL, parent["ts"]) == ["Here are the notes."], 20, why=gw.log
    )
    await wait_until(lambda: slack.pending() == 0 and len(slack.acks) == 3, 20, why=gw.log)
    assert await gw.stop() == 0
    assert slack.shown(CHANNEL) == []  # nothing at the top level of the channel
    assert slack.shown(CHANNEL, parent["ts"]) == ["Here are the notes."]
    # it came as `message` and as `app_mention`: one message, one answer
    assert user_messages(home, "summarize this") == 1
    assert len(model.requests) == 1


async def test_a_block_kit_button_approves_and_the_turn_resumes(
    tmp_path: Path, model: ScriptedModel, slack: FakeSlack
) -> None:
    home = slack_home(
        tmp_path / "home", model, slack, {"approvals": {"channels": ["origin", "slack:webhook"]}}
    )
    with (home / ".env").open("a") as env:
        env.write(f"SLACK_WEBHOOK_URL={slack.webhook_url}\n")
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    model.reply("Your notes are gone.")
    gw = await connected(home)
    slack.user_says(DM, "delete my notes", user=ADA)
    await wait_until(lambda: any("/approve" in m["text"] for m in slack.sent), 30, why=gw.log)
    request = next(m for m in slack.sent if "/approve" in m["text"])
    approval_id = re.search(r"/approve (\w+)", request["text"]).group(1)  # type: ignore[union-attr]
    buttons = [e for b in request["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["value"] for b in buttons] == [f"approve:{approval_id}", f"deny:{approval_id}"]
    assert all(len(b["text"]["text"]) <= 3000 for b in request["blocks"] if "text" in b)
    # the approval channel with only a webhook got the request too, with /approve
    await wait_until(lambda: len(slack.webhook_posts) == 1, 20, why=gw.log)
    assert f"/approve {approval_id}" in slack.webhook_posts[0]["text"]
    assert (home / "notes.txt").exists()
    slack.press_button(DM, request["ts"], f"approve:{approval_id}", user=ADA)
    await wait_until(lambda: "Your notes are gone." in slack.shown(DM), 30, why=gw.log)
    assert not (home / "notes.txt").exists()
    assert await gw.stop() == 0
    model.assert_done()


async def test_sigkill_mid_turn_then_restart_loses_and_duplicates_nothing(
    home: Path, model: ScriptedModel, slack: FakeSlack
) -> None:
    gw = await connected(home)
    gate = model.hang(partial="Let me think", then="never delivered")
    slack.user_says(DM, "important question", user=ADA)
    await gate.wait_entered_async(20)
    await wait_until(lambda: slack.shown(DM) == ["Let me think"], 20, why=gw.log)
    assert slack.pending() == 0  # stored, so acknowledged
    await gw.stop(signal.SIGKILL)
    gate.release()

    model.reply("The answer, after the restart.")
    gw = await connected(home)
    answered = lambda: "The answer, after the restart." in slack.shown(DM)  # noqa: E731
    await wait_until(answered, 30, why=lambda: f"{slack.shown(DM)}\n{gw.log()}")
    texts = slack.shown(DM)
    assert sum(t.startswith("↻ Hermes restarted while working on") for t in texts) == 1
    assert texts.count("The answer, after the restart.") == 1
    assert user_messages(home, "important question") == 1
    assert [r.messages[-1]["content"] for r in model.requests] == ["important question"] * 2
    assert await gw.stop() == 0
    model.assert_done()


async def test_replies_wait_out_a_slack_outage_and_arrive_once(
    home: Path, model: ScriptedModel, slack: FakeSlack
) -> None:
    gw = await connected(home)
    slack.fail("chat.postMessage", 503)
    model.reply("Sent after the outage.")
    slack.user_says(DM, "are you there?", user=ADA)
    await wait_until(lambda: len(slack.calls_to("chat.postMessage")) >= 2, 30, why=gw.log)
    assert slack.shown(DM) == []
    slack.recover()
    await wait_until(lambda: slack.shown(DM) == ["Sent after the outage."], 30, why=gw.log)
    assert await gw.stop() == 0
    assert slack.shown(DM) == ["Sent after the outage."]


async def test_a_revoked_token_is_failed_and_not_retried(
    home: Path, model: ScriptedModel, slack: FakeSlack
) -> None:
    gw = await connected(home)
    slack.revoke_token()
    await wait_until(lambda: platform_state(home).startswith("failed"), 20, why=gw.log)
    assert "token_revoked" in platform_state(home)
    opened = len(slack.calls_to("apps.connections.open"))
    doctor = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hermes", "doctor"],
        env={**os.environ, "HERMES_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "slack: failed" in doctor.stdout and "SLACK_BOT_TOKEN" in doctor.stdout
    # the doctor's run took seconds: no reconnect was tried meanwhile
    assert len(slack.calls_to("apps.connections.open")) == opened
    assert platform_state(home).startswith("failed")
    assert await gw.stop() == 0
    assert slack.bot_token not in gw.output()


async def test_an_envelope_delivered_twice_is_answered_once(
    home: Path, model: ScriptedModel, slack: FakeSlack
) -> None:
    gw = await connected(home)
    model.reply("Once.")
    slack.duplicate_next()
    slack.user_says(DM, "say it once", user=ADA)
    await wait_until(lambda: slack.shown(DM) == ["Once."], 20, why=gw.log)
    await wait_until(lambda: slack.pending() == 0 and len(slack.acks) == 2, 20, why=gw.log)
    assert await gw.stop() == 0
    assert slack.shown(DM) == ["Once."]
    assert user_messages(home, "say it once") == 1
    assert len(model.requests) == 1


async def test_a_long_reply_is_split_within_4000_with_code_blocks_intact(
    home: Path, model: ScriptedModel, slack: FakeSlack
) -> None:
    code = "\n".join(f"step_{i} = run({i})  # keep going" for i in range(60))
    chunks = [f"Part {n}: " + "words " * 150 + f"\n```\n{code}\n```\n" for n in range(4)]
    reply = "\n".join(chunks)
    assert len(reply) > 10_000
    model.reply(reply)
    gw = await connected(home)
    slack.user_says(DM, "the long one", user=ADA)

    def done() -> bool:
        shown = slack.shown(DM)
        return sum(t.count("step_59") for t in shown) == 4 and slack.pending() == 0

    await wait_until(done, 30, why=lambda: f"{slack.shown(DM)}\n{gw.log()}")
    parts = slack.shown(DM)
    assert len(parts) >= 3
    assert all(len(p) <= 4000 for p in parts)
    for p in parts:  # each part opens and closes its code blocks
        assert p.count("```") % 2 == 0, p
    for i in range(60):
        assert sum(t.count(f"step_{i} = run({i})") for t in parts) == 4
    assert await gw.stop() == 0


async def test_the_webhook_alone_gets_cron_results(
    tmp_path: Path, model: ScriptedModel, slack: FakeSlack
) -> None:
    home = make_home(
        tmp_path / "home",
        model,
        {"server": {"port": 0}},
        {"SLACK_WEBHOOK_URL": slack.webhook_url, "HERMES_API_KEY": "k"},
    )
    env = {**os.environ, "HERMES_HOME": str(home)}
    add = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hermes", "cron", "add", "every 2h", "Check the disks.", *DELIVER],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert add.returncode == 0, add.stderr
    gw = await connected(home)
    model.reply("Disks are 40% full.")
    with sqlite3.connect(home / "state.db") as conn:
        conn.execute("UPDATE cron_jobs SET next_run_at = ?", (time.time(),))
    assert poke(home)
    await wait_until(lambda: len(slack.webhook_posts) == 1, 30, why=gw.log)
    assert slack.webhook_posts[0]["text"] == "⏰ Disks\nDisks are 40% full."
    assert await gw.stop() == 0
    assert [c.name for c in slack.calls if c.name != "webhook"] == []  # no bot, no socket


async def test_a_hundred_chats_at_once_each_get_their_replies_in_order(
    tmp_path: Path, model: ScriptedModel, slack: FakeSlack
) -> None:
    home = slack_home(tmp_path / "home", model, slack)
    with (home / ".env").open("a") as env:
        env.write("GATEWAY_ALLOW_ALL_USERS=true\n")
    chats = [f"D{n:08d}" for n in range(100)]
    per_chat = 2
    model.reply_with(lambda r: f"re: {r.messages[-1]['content']}", times=None)
    gw = await connected(home)
    for i in range(per_chat):  # every chat's first message, then every chat's second
        for n, chat in enumerate(chats):
            slack.user_says(chat, f"{chat} says {i}", user=f"U{n:08d}")

    def expected(chat: str) -> list[str]:
        return [f"re: {chat} says {i}" for i in range(per_chat)]

    def done() -> bool:  # streamed replies are edited in place: wait for the final texts
        return all(slack.shown(chat) == expected(chat) for chat in chats)

    await wait_until(done, 120, why=lambda: f"{len(slack.sent)} sent\n{gw.log()}")
    assert await gw.stop() == 0
    assert all(slack.shown(chat) == expected(chat) for chat in chats)
    assert len(model.requests) == len(chats) * per_chat
    assert slack.pending() == 0
