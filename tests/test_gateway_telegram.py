"""The whole product path: `hermes gateway run` as a real process, the real
python-telegram-bot talking to a fake Bot API server, the scripted model.
Crash (SIGKILL mid-turn), outage and pairing, as a Telegram user sees them."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes.testing import ScriptedModel
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import GatewayProcess, make_home
from tests.tools_helpers import wait_until

TOKEN = "123456:TEST-token"
CHAT = 4242


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


def telegram_home(path: Path, model: ScriptedModel, telegram: FakeTelegram, **env: str) -> Path:
    return make_home(
        path,
        model,
        {"server": {"port": 0}, "telegram": {"base_url": telegram.base_url}},
        {"TELEGRAM_BOT_TOKEN": TOKEN, "HERMES_API_KEY": "k", **env},
    )


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram) -> Path:
    return telegram_home(tmp_path / "home", model, telegram, TELEGRAM_ALLOWED_USERS=str(CHAT))


def shown(telegram: FakeTelegram) -> list[str]:
    return list(telegram.messages_in(CHAT).values())


def user_messages(home: Path, text: str) -> int:
    with sqlite3.connect(home / "state.db") as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM messages WHERE role = 'user' AND content = ?", (text,)
        ).fetchone()
    return int(row[0])


async def test_a_telegram_user_chats_with_the_gateway(
    home: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    gw = await GatewayProcess(home).ready()
    model.reply("Hi Ada, I am Hermes.")
    telegram.user_says(CHAT, "hello", user_id=CHAT)
    await wait_until(lambda: shown(telegram) == ["Hi Ada, I am Hermes."], 20)
    telegram.user_says(CHAT, "/status", user_id=CHAT)
    await wait_until(lambda: len(shown(telegram)) == 2, 20)
    assert shown(telegram)[1].startswith("Session: ")
    assert await gw.stop() == 0


async def test_a_markdown_reply_arrives_as_telegram_html_split_between_lines(
    home: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    gw = await GatewayProcess(home).ready()
    code = "\n".join(f"total += f({i})  # <{i}> 🎉" for i in range(300))  # ~10k characters
    model.reply(f"**Done** & `ok`:\n\n```python\n{code}\n```")
    telegram.user_says(CHAT, "show me", user_id=CHAT)
    arrived = lambda: any(t.endswith("# <299> 🎉") for t in shown(telegram))  # noqa: E731
    await wait_until(arrived, 30, why=lambda: f"{shown(telegram)}\n{gw.log()}")
    texts = shown(telegram)  # as Telegram shows them: the tags became entities
    assert len(texts) > 2 and texts[0].startswith("Done & ok:")
    lines = [line for t in texts for line in t.split("\n") if line.startswith("total")]
    assert lines == code.split("\n")  # every line once, in order, none cut
    final = {}  # message id -> the HTML it shows
    for m in [*telegram.sent, *telegram.edits]:
        final[m["message_id"]] = (m["raw"], m["parse_mode"])
    assert all(mode == "HTML" for _, mode in final.values())
    first, *rest = [raw for raw, _ in final.values()]
    assert first == "<b>Done</b> &amp; <code>ok</code>:"  # the block starts a fresh part
    assert all(raw.startswith('<pre><code class="language-python">total') for raw in rest)
    assert all(raw.endswith("</code></pre>") for raw in rest)
    assert await gw.stop() == 0


async def test_sigkill_mid_turn_then_restart_loses_and_duplicates_nothing(
    home: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    gw = await GatewayProcess(home).ready()
    gate = model.hang(partial="Let me think", then="never delivered")
    telegram.user_says(CHAT, "important question", user_id=CHAT)
    await gate.wait_entered_async(20)
    draft_shown = lambda: shown(telegram) == ["Let me think"]  # noqa: E731
    await wait_until(draft_shown, 20, why=lambda: f"{shown(telegram)}\n{gw.log()}")
    await gw.stop(signal.SIGKILL)
    gate.release()

    model.reply("The answer, after the restart.")
    gw = await GatewayProcess(home).ready()
    answered = lambda: "The answer, after the restart." in shown(telegram)  # noqa: E731
    await wait_until(answered, 30, why=lambda: f"{shown(telegram)}\n{gw.log()}")
    texts = shown(telegram)
    assert sum(t.startswith("↻ Hermes restarted while working on") for t in texts) == 1
    assert texts.count("The answer, after the restart.") == 1
    assert user_messages(home, "important question") == 1
    assert [r.messages[-1]["content"] for r in model.requests] == ["important question"] * 2
    # the update was acknowledged once stored: it is not handled again at the next start
    assert await gw.stop() == 0
    gw = await GatewayProcess(home).ready()
    assert telegram.pending_updates() == 0
    assert await gw.stop() == 0
    assert user_messages(home, "important question") == 1
    model.assert_done()


async def test_replies_wait_out_a_telegram_outage_and_arrive_once(
    home: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    gw = await GatewayProcess(home).ready()
    telegram.fail("sendMessage", 502, times=None)
    model.reply("Sent after the outage.")
    telegram.user_says(CHAT, "are you there?", user_id=CHAT)
    await wait_until(lambda: telegram.calls.count("sendMessage") >= 2, 30)
    assert shown(telegram) == []
    telegram.recover()
    await wait_until(lambda: shown(telegram) == ["Sent after the outage."], 30)
    assert await gw.stop() == 0
    assert shown(telegram) == ["Sent after the outage."]


async def test_an_unknown_sender_pairs_with_a_code_the_owner_approves(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    home = telegram_home(tmp_path / "home", model, telegram)
    gw = await GatewayProcess(home).ready()
    telegram.user_says(CHAT, "hello?", user_id=CHAT)
    await wait_until(lambda: len(shown(telegram)) == 1, 20)
    match = re.search(r"hermes pairing approve telegram (\w+)", shown(telegram)[0])
    assert match, shown(telegram)
    assert model.requests == []
    approve = subprocess.run(
        [sys.executable, "-m", "hermes", "pairing", "approve", "telegram", match.group(1)],
        env={**os.environ, "HERMES_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert approve.returncode == 0, approve.stderr
    model.reply("Welcome aboard.")
    telegram.user_says(CHAT, "hello again", user_id=CHAT)
    await wait_until(lambda: "Welcome aboard." in shown(telegram), 20)
    assert await gw.stop() == 0


async def test_hermes_send_reaches_a_forum_topic(
    home: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    telegram.user_says(
        -1001234, "topic 6 opened", user_id=CHAT, thread_id=6, chat_type="supergroup"
    )
    model.reply("Noted.")
    env = {**os.environ, "HERMES_HOME": str(home)}
    cmd = [sys.executable, "-m", "hermes", "send", "telegram:-1001234:6", "deploy done"]
    direct = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert direct.returncode == 0, direct.stderr
    gw = await GatewayProcess(home).ready()
    via = subprocess.run(
        [*cmd[:-1], "second note"], env=env, capture_output=True, text=True, timeout=60
    )
    assert via.returncode == 0, via.stderr
    assert await gw.stop() == 0
    sent = [(int(m["chat_id"]), m.get("message_thread_id"), m["text"]) for m in telegram.sent]
    assert sent[0] == (-1001234, 6, "deploy done")
    assert (-1001234, 6, "second note") in sent
    assert direct.stderr == ""


async def test_a_rejected_token_is_shown_on_the_console_and_by_doctor(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    home = make_home(
        tmp_path / "home",
        model,
        {"server": {"port": 0}, "telegram": {"base_url": telegram.base_url}},
        {"TELEGRAM_BOT_TOKEN": "999:wrong", "HERMES_API_KEY": "k"},
    )
    gw = await GatewayProcess(home).ready()

    def telegram_state() -> str:
        import json

        return str(json.loads((home / "gateway.json").read_text())["platforms"]["telegram"])

    await wait_until(lambda: telegram_state().startswith("failed"), 20)
    doctor = subprocess.run(
        [sys.executable, "-m", "hermes", "doctor"],
        env={**os.environ, "HERMES_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "telegram: failed" in doctor.stdout and "TELEGRAM_BOT_TOKEN" in doctor.stdout
    assert doctor.returncode != 0
    assert await gw.stop() == 0
    out = gw.output()
    assert "telegram: failed: Telegram rejected the bot token" in out
    assert "999:wrong" not in out


async def test_a_hundred_chats_at_once_each_get_their_replies_in_order(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    home = telegram_home(tmp_path / "home", model, telegram, GATEWAY_ALLOW_ALL_USERS="true")
    chats = [10_000 + n for n in range(100)]  # as on every platform (the bench goes further)
    per_chat = 3
    model.reply_with(lambda r: f"re: {r.messages[-1]['content']}", times=None)
    gw = await GatewayProcess(home).ready()
    for i in range(per_chat):  # every chat's first message, then every chat's second, ...
        for chat in chats:
            telegram.user_says(chat, f"{chat} says {i}", user_id=chat)

    def expected(chat: int) -> list[str]:
        return [f"re: {chat} says {i}" for i in range(per_chat)]

    def done() -> bool:  # streamed replies are edited in place: wait for the final texts
        return all(list(telegram.messages_in(chat).values()) == expected(chat) for chat in chats)

    await wait_until(done, 120, why=lambda: f"{len(telegram.sent)} sent\n{gw.log()}")
    assert await gw.stop() == 0
    for chat in chats:
        assert list(telegram.messages_in(chat).values()) == expected(chat)
    assert len(model.requests) == len(chats) * per_chat
