"""The whole product path on Signal: `hermes gateway run` as a real process against the
loopback signal-cli daemon (tests/fakes/signal_cli.py), the scripted model. DMs with
the typing indicator, groups, approvals by reaction, long replies split by bytes,
voice notes, a crash, an outage, a silent stream, a rate limit and a crowd."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.envfile import read_env_file
from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.fakes.signal_cli import ACCOUNT, GROUP, USER, FakeSignalCli
from tests.gateway_helpers import (
    GatewayProcess,
    hermes_status,
    make_home,
    platform_connected,
    platform_home,
    stored_user_messages,
)
from tests.tools_helpers import wait_until
from tests.voice_helpers import spoken

CHAT = f"group.{GROUP}"


@pytest.fixture
def fake() -> Iterator[FakeSignalCli]:
    with FakeSignalCli() as daemon:
        yield daemon


def signal_home(
    path: Path,
    model: ScriptedModel,
    fake: FakeSignalCli,
    section: dict[str, Any] | None = None,
    **env: str,
) -> Path:
    env = {"SIGNAL_HTTP_URL": fake.base_url, "SIGNAL_ACCOUNT": ACCOUNT, **env}
    return platform_home(path, model, "signal", section or {}, env)


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel, fake: FakeSignalCli) -> Path:
    return signal_home(tmp_path / "home", model, fake, SIGNAL_ALLOWED_USERS=USER)


async def test_a_dm_is_answered_once_with_typing_shown_during_the_turn(
    home: Path, model: ScriptedModel, fake: FakeSignalCli
) -> None:
    gw = await platform_connected(GatewayProcess(home), "signal")
    gate = model.hang(then="Hi, I am Hermes on Signal.")
    fake.user_says("hello")
    await gate.wait_entered_async(20)
    await wait_until(lambda: len(fake.typing) >= 1, 20, gw.log)
    assert fake.typing[0]["recipient"] == [USER] and "stop" not in fake.typing[0]
    assert fake.texts_to(USER) == []  # no draft, no edits: nothing until the answer
    gate.release()
    await wait_until(lambda: fake.texts_to(USER) == ["Hi, I am Hermes on Signal."], 30, gw.log)
    await wait_until(lambda: fake.typing[-1].get("stop") is True, 10, gw.log)
    assert not fake.calls_to("editMessage")
    assert await gw.stop() == 0
    model.assert_done()


async def test_in_a_group_with_require_mention_only_mentions_are_answered(
    tmp_path: Path, model: ScriptedModel, fake: FakeSignalCli
) -> None:
    home = signal_home(
        tmp_path / "home", model, fake, {"require_mention": True}, SIGNAL_ALLOWED_USERS=USER
    )
    gw = await platform_connected(GatewayProcess(home), "signal")
    model.reply("You called?")
    fake.user_says("just chatting among humans", group=GROUP)
    asked = fake.user_says("what time is it?", group=GROUP, mention=True)
    await wait_until(lambda: fake.texts_to(CHAT) == ["You called?"], 30, gw.log)
    (sent,) = fake.sent_to(CHAT)
    assert (sent["groupId"], sent["quoteTimestamp"], sent["quoteAuthor"]) == (GROUP, asked, USER)
    assert await gw.stop() == 0
    assert stored_user_messages(home, "just chatting among humans") == 0
    model.assert_done()


def request(fake: FakeSignalCli) -> tuple[int, str] | None:
    for sent in fake.sent:
        match = re.search(r"/approve (\w+)", sent.get("message") or "")
        if match and "React 👍 to approve, 👎 to deny." in sent["message"]:
            return int(sent["timestamp"]), match.group(1)
    return None


async def test_a_thumbs_down_denies_and_a_thumbs_up_after_a_restart_approves(
    home: Path, model: ScriptedModel, fake: FakeSignalCli
) -> None:
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    model.reply("I left your notes alone.")
    gw = await platform_connected(GatewayProcess(home), "signal")
    fake.user_says("delete my notes")
    await wait_until(lambda: request(fake) is not None, 30, gw.log)
    found = request(fake)
    assert found is not None
    fake.react("👎", found[0])
    await wait_until(lambda: "I left your notes alone." in fake.texts_to(USER), 30, gw.log)
    assert (home / "notes.txt").exists()

    fake.sent.clear()
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    model.reply("Your notes are gone.")
    fake.user_says("delete them after all")
    await wait_until(lambda: request(fake) is not None, 30, gw.log)
    found = request(fake)
    assert found is not None
    assert await gw.stop() == 0  # the request waits in state.db; the reaction comes later
    fake.react("👍", found[0])
    gw = await platform_connected(GatewayProcess(home), "signal")
    await wait_until(lambda: "Your notes are gone." in fake.texts_to(USER), 30, gw.log)
    assert not (home / "notes.txt").exists()
    assert await gw.stop() == 0
    model.assert_done()


async def test_a_long_reply_with_emoji_is_split_by_utf8_bytes(
    home: Path, model: ScriptedModel, fake: FakeSignalCli
) -> None:
    words = ["🚀launch", "naïve", "ok", "日本語のテキスト", "👍🏽", "plain"]
    reply = " ".join(words[n % len(words)] for n in range(2000))[:10_000].strip()
    assert len(reply) >= 9_990 and len(reply.encode()) > 15_000
    model.reply(reply)
    gw = await platform_connected(GatewayProcess(home), "signal")
    fake.user_says("tell me a lot")
    await wait_until(lambda: " ".join(fake.texts_to(USER)) == reply, 30, gw.log)
    parts = fake.texts_to(USER)
    assert len(parts) >= 8
    assert all(len(p.encode()) <= 2000 for p in parts), [len(p.encode()) for p in parts]
    assert await gw.stop() == 0


async def test_a_voice_note_is_recognised_by_its_content_and_heard(
    home: Path, model: ScriptedModel, fake: FakeSignalCli, tmp_path: Path
) -> None:
    model.reply("I heard a voice note.")
    gw = await platform_connected(GatewayProcess(home), "signal")
    # no name, application/octet-stream, ADTS AAC: an Android voice note
    aac = spoken("see you at the station", tmp_path / "note.aac", fmt="aac")
    fake.send_audio(aac.read_bytes())
    await wait_until(lambda: fake.texts_to(USER) == ["I heard a voice note."], 60, gw.log)
    asked = model.requests[-1].messages[-1]["content"]
    match = re.search(r"\[voice note, transcribed; audio: (\S+\.aac)", asked)
    assert match, asked
    assert await asyncio.to_thread(Path(match.group(1)).read_bytes) == aac.read_bytes()
    assert "station" in asked.lower()
    assert await gw.stop() == 0


async def test_sigkill_mid_turn_then_restart_loses_and_duplicates_nothing(
    home: Path, model: ScriptedModel, fake: FakeSignalCli
) -> None:
    gw = await platform_connected(GatewayProcess(home), "signal")
    gate = model.hang(then="never delivered")
    fake.user_says("important question")
    await gate.wait_entered_async(20)
    await gw.stop(signal.SIGKILL)
    gate.release()
    fake.user_says("said while it was down")  # waits for the next event stream

    model.reply("The answer, after the restart.")
    model.reply("And to what you said meanwhile.")
    gw = await platform_connected(GatewayProcess(home), "signal")
    done = lambda: "And to what you said meanwhile." in fake.texts_to(USER)  # noqa: E731
    await wait_until(done, 30, lambda: f"{fake.texts_to(USER)}\n{gw.log()}")
    texts = fake.texts_to(USER)
    assert sum(t.startswith("↻ Hermes restarted while working on") for t in texts) == 1
    assert texts.count("The answer, after the restart.") == 1
    assert "never delivered" not in texts
    assert stored_user_messages(home, "important question") == 1
    assert stored_user_messages(home, "said while it was down") == 1
    assert await gw.stop() == 0
    model.assert_done()


async def test_an_outage_is_waited_out_and_the_reply_arrives_once(
    home: Path, model: ScriptedModel, fake: FakeSignalCli
) -> None:
    gw = await platform_connected(GatewayProcess(home), "signal")
    fake.fail("rpc", 503)
    fake.fail("events", 503)
    fake.drop_streams()
    await wait_until(lambda: hermes_status(gw)["platforms"]["signal"] == "reconnecting", 30, gw.log)
    model.reply("Sent after the outage.")
    fake.user_says("are you there?")  # held by the daemon until a stream opens
    await wait_until(lambda: len(fake.calls_to("events")) >= 3, 30, gw.log)
    fake.recover()
    await wait_until(lambda: fake.texts_to(USER) == ["Sent after the outage."], 60, gw.log)
    assert hermes_status(gw)["platforms"]["signal"] == "connected"
    assert await gw.stop() == 0
    assert fake.texts_to(USER) == ["Sent after the outage."]


async def test_a_silent_stream_is_detected_and_what_it_held_is_answered(
    tmp_path: Path, model: ScriptedModel, fake: FakeSignalCli
) -> None:
    home = signal_home(
        tmp_path / "home", model, fake, {"probe_interval": 1}, SIGNAL_ALLOWED_USERS=USER
    )
    gw = await platform_connected(GatewayProcess(home), "signal")
    opened = fake.streams_opened
    fake.silence_stream()  # open, but it carries nothing any more
    model.reply("Heard you after all.")
    fake.user_says("can you hear me?")
    await wait_until(lambda: fake.texts_to(USER) == ["Heard you after all."], 30, gw.log)
    assert fake.streams_opened > opened
    assert fake.calls_to("check")  # probed before the stream was renewed
    assert await gw.stop() == 0


async def test_a_rate_limited_send_is_retried_after_the_wait(
    home: Path, model: ScriptedModel, fake: FakeSignalCli
) -> None:
    gw = await platform_connected(GatewayProcess(home), "signal")
    fake.rpc_error("send", -5, "Failed to send message due to rate limiting", retry_after=1)
    model.reply("Delivered once the limit passed.")
    fake.user_says("hello")
    await wait_until(
        lambda: fake.texts_to(USER) == ["Delivered once the limit passed."], 30, gw.log
    )
    sends = [c for c in fake.calls_to("rpc") if c.data.get("method") == "send"]
    assert len(sends) == 2
    assert await gw.stop() == 0


async def test_a_hundred_chats_at_once_each_get_their_replies_in_order(
    tmp_path: Path, model: ScriptedModel, fake: FakeSignalCli
) -> None:
    home = signal_home(tmp_path / "home", model, fake, GATEWAY_ALLOW_ALL_USERS="true")
    users = [f"+49170{n:08d}" for n in range(100)]
    per_chat = 3
    model.reply_with(lambda r: f"re: {r.messages[-1]['content']}", times=None)
    gw = await platform_connected(GatewayProcess(home), "signal")
    for i in range(per_chat):  # every chat's first message, then every chat's second, ...
        for u in users:
            fake.user_says(f"{u} says {i}", sender=u, uuid=None)

    def expected(u: str) -> list[str]:
        return [f"re: {u} says {i}" for i in range(per_chat)]

    def done() -> bool:
        return all(fake.texts_to(u) == expected(u) for u in users)

    def missing() -> str:
        wrong = {u: fake.texts_to(u) for u in users if fake.texts_to(u) != expected(u)}
        return f"{len(fake.sent)} sent; not as expected: {wrong}\n{gw.log()}"

    await wait_until(done, 120, missing)
    assert await gw.stop() == 0
    assert len(model.requests) == len(users) * per_chat


def test_gateway_setup_checks_the_daemon_and_the_account(
    tmp_path: Path, model: ScriptedModel, fake: FakeSignalCli
) -> None:
    home = make_home(tmp_path / "home", model, {"server": {"port": 0}})
    env = {"HERMES_SERVICE_MANAGER": "none", "HOME": str(tmp_path)}
    base = ("gateway", "setup", "--platform", "signal", f"--set=SIGNAL_HTTP_URL={fake.base_url}")
    wrong = run_hermes(home, *base, "--set=SIGNAL_ACCOUNT=+4915199999999", env=env, clean=True)
    assert wrong.returncode == 1
    assert "signal-cli has no account +4915199999999" in wrong.stderr
    assert "nothing was saved" in wrong.stderr
    good = run_hermes(
        home, *base, f"--set=SIGNAL_ACCOUNT={ACCOUNT}", "--no-start", env=env, clean=True
    )
    assert good.returncode == 0, good.stderr
    assert read_env_file(home / ".env") == {
        "SIGNAL_HTTP_URL": fake.base_url,
        "SIGNAL_ACCOUNT": ACCOUNT,
    }
