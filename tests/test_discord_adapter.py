"""The Discord adapter in-process: the real discord.py against the loopback fake of
Discord's REST API and Gateway (tests/fakes/discord_api.py), events into a list."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hermes.gateway.events import Button, Inbound, Outbound, Target, VoiceOut
from hermes.platforms.adapter import MemoryCursor, SendError
from hermes.platforms.discord import PLATFORM
from hermes.platforms.discord_adapter import DiscordAdapter
from hermes.providers.http import Backoff
from tests.fakes.discord_api import BOT_ID, CHANNEL, GUILD, USER, FakeDiscord
from tests.tools_helpers import wait_until

TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.token"


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord(TOKEN, heartbeat_ms=300) as fake:
        yield fake


class Running:
    """An adapter running against the fake, its events collected."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        self.adapter = adapter
        self.events: list[Inbound] = []
        self.task: asyncio.Task[None] | None = None

    async def sink(self, event: Inbound) -> None:
        self.events.append(event)

    def texts(self) -> list[str]:
        return [e.text for e in self.events]


def adapter(
    discord: FakeDiscord,
    tmp_path: Path,
    cursors: dict[str, MemoryCursor] | None = None,
    **kw: object,
) -> DiscordAdapter:
    store = cursors if cursors is not None else {}
    return DiscordAdapter(
        str(kw.pop("token", TOKEN)),
        downloads=tmp_path / "inbox",
        base_url=discord.api_url,
        cursor=lambda key: store.setdefault(key, MemoryCursor()),
        backoff=Backoff(base=0.05, cap=0.2),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def running(discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Running]:
    run = Running(adapter(discord, tmp_path))
    async with started(run):
        yield run


class started:
    def __init__(self, run: Running) -> None:
        self.run = run

    async def __aenter__(self) -> Running:
        self.run.task = asyncio.create_task(self.run.adapter.run(self.run.sink))
        await wait_until(lambda: self.run.adapter.state == "connected" or self.run.task.done(), 20)
        return self.run

    async def __aexit__(self, *exc: object) -> None:
        assert self.run.task is not None
        self.run.task.cancel()
        await asyncio.gather(self.run.task, return_exceptions=True)
        await self.run.adapter.close()


async def test_a_dm_becomes_one_inbound_and_the_reply_goes_back(
    running: Running, discord: FakeDiscord
) -> None:
    dm = discord.dm(USER)
    said = discord.user_says(dm, "hello")
    await wait_until(lambda: running.texts() == ["hello"])
    event = running.events[0]
    assert (event.chat, event.thread, event.user, event.is_group) == (dm, None, USER, False)
    assert event.external_id == said["id"] == event.message_id
    target = Target("discord", dm)
    sent = await running.adapter.send(Outbound(target, "hi there"))
    await running.adapter.edit(target, sent, "hi there, edited")
    assert discord.messages_in(dm) == {sent: "hi there, edited"}
    assert discord.sent[0]["allowed_mentions"] == {"parse": [], "replied_user": False}


async def test_a_thread_message_names_its_channel_and_the_reply_lands_in_the_thread(
    running: Running, discord: FakeDiscord
) -> None:
    announced = discord.add_thread(CHANNEL)
    quiet = discord.add_thread(CHANNEL, announce=False)  # learnt through GET /channels/{id}
    discord.user_says(announced, "in a thread")
    discord.user_says(quiet, "in another")
    await wait_until(lambda: len(running.events) == 2)
    places = [(e.chat, e.thread, e.is_group) for e in running.events]
    assert places == [(CHANNEL, announced, True), (CHANNEL, quiet, True)]
    assert discord.calls_to("getChannel")[0].params["channel"] == quiet
    await running.adapter.send(Outbound(running.events[0].target, "threaded"))
    assert discord.messages_in(announced) == {discord.sent[0]["id"]: "threaded"}
    assert discord.messages_in(CHANNEL) == {}


async def test_require_mention_keeps_guild_chatter_out_but_not_dms(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    async with started(Running(adapter(discord, tmp_path, require_mention=True))) as run:
        discord.user_says(CHANNEL, "chatter")
        discord.user_says(CHANNEL, "hey bot", mention=True)
        mine = run.adapter
        sent = await mine.send(Outbound(Target("discord", CHANNEL), "I answered"))
        discord.user_says(CHANNEL, "a reply to the bot", reply_to=sent)
        discord.user_says(discord.dm(USER), "a dm")
        await wait_until(lambda: len(run.events) == 3)
    assert run.texts() == ["hey bot", "a reply to the bot", "a dm"]
    assert [e.mentions_bot for e in run.events] == [True, True, False]
    assert run.events[1].reply_to == "I answered"


async def test_buttons_are_components_and_a_press_is_acknowledged(
    running: Running, discord: FakeDiscord
) -> None:
    dm = discord.dm(USER)
    buttons = [[Button("Approve", "approve:abc"), Button("Deny", "deny:abc")]]
    sent = await running.adapter.send(Outbound(Target("discord", dm), "Approval needed", buttons))
    row = discord.sent[0]["components"][0]["components"]
    assert [(b["custom_id"], b["style"]) for b in row] == [("approve:abc", 3), ("deny:abc", 4)]
    discord.press_button(sent, "approve:abc")
    await wait_until(lambda: len(running.events) == 1)
    press = running.events[0]
    assert (press.callback_data, press.text, press.chat, press.user) == (
        "approve:abc",
        "Approve",
        dm,
        USER,
    )
    await running.adapter.acknowledge(press)
    assert discord.callbacks[0]["type"] == 6
    await running.adapter.acknowledge(press)  # a second acknowledgement is no error


async def test_files_and_voice_messages_arrive_as_attachments_and_download(
    running: Running, discord: FakeDiscord, tmp_path: Path
) -> None:
    dm = discord.dm(USER)
    discord.user_sends_file(dm, b"OggS voice", "voice-message.ogg", "audio/ogg", voice=True)
    discord.user_sends_file(dm, b"%PDF", "report.pdf", "application/pdf", text="see this")
    discord.user_sends_file(dm, b"OggS a song", "song.ogg", "audio/ogg")  # a file, no flag
    await wait_until(lambda: len(running.events) == 3)
    voice, report, song = [await running.adapter.fetch(e) for e in running.events]
    assert (song.attachments[0].kind, song.attachments[0].voice) == ("audio", False)
    assert (voice.attachments[0].kind, voice.attachments[0].voice) == ("audio", True)
    assert voice.attachments[0].duration == 3.5
    assert downloaded(voice) == b"OggS voice"
    assert report.text == "see this" and report.attachments[0].kind == "file"
    assert Path(report.attachments[0].path or "").parent == tmp_path / "inbox"


def downloaded(event: Inbound) -> bytes:
    return Path(event.attachments[0].path or "").read_bytes()


async def test_a_duplicate_message_create_is_delivered_once(
    running: Running, discord: FakeDiscord
) -> None:
    dm = discord.dm(USER)
    discord.duplicate_next()
    discord.user_says(dm, "once")
    discord.user_says(dm, "after")
    await wait_until(lambda: running.texts()[-1:] == ["after"])
    assert running.texts() == ["once", "after"]


async def test_a_dropped_socket_resumes_and_misses_nothing(
    running: Running, discord: FakeDiscord
) -> None:
    dm = discord.dm(USER)
    discord.user_says(dm, "one")
    await wait_until(lambda: running.texts() == ["one"])
    discord.drop_sockets(1011)
    discord.user_says(dm, "two")  # sent while the bot is away: kept in the session log
    await wait_until(lambda: running.texts() == ["one", "two"], 20)
    assert discord.resumed >= 1 and discord.identified == 1
    assert running.adapter.state == "connected"


async def test_a_silent_socket_is_torn_down_and_resumed(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    run = Running(adapter(discord, tmp_path, heartbeat_timeout=1.0))
    async with started(run):
        dm = discord.dm(USER)
        discord.silence_sockets()
        discord.user_says(dm, "said into the void")
        await wait_until(lambda: run.texts() == ["said into the void"], 20)
        assert discord.resumed >= 1 and discord.identified == 1


async def test_a_restart_resumes_the_saved_session_and_gets_what_came_meanwhile(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    cursors: dict[str, MemoryCursor] = {}
    dm = discord.dm(USER)
    async with started(Running(adapter(discord, tmp_path, cursors))) as first:
        discord.user_says(dm, "before")
        await wait_until(lambda: first.texts() == ["before"])
        await wait_until(lambda: json.loads(cursors[f"discord.session.{BOT_ID}"].value or "{}"))
    await wait_until(lambda: discord.live_sockets() == 0)
    discord.user_says(dm, "while down")
    async with started(Running(adapter(discord, tmp_path, cursors))) as second:
        await wait_until(lambda: second.texts() == ["while down"], 20)
    assert discord.identified == 1 and discord.resumed == 1


async def test_an_expired_session_identifies_anew(discord: FakeDiscord, tmp_path: Path) -> None:
    cursors: dict[str, MemoryCursor] = {}
    async with started(Running(adapter(discord, tmp_path, cursors))):
        pass
    discord.invalidate_sessions()
    async with started(Running(adapter(discord, tmp_path, cursors))) as second:
        discord.user_says(discord.dm(USER), "new session")
        await wait_until(lambda: second.texts() == ["new session"], 20)
    assert discord.identified == 2


async def test_a_wrong_token_fails_once_without_a_reconnect_loop(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    run = Running(adapter(discord, tmp_path, token="wrong"))
    async with started(run):
        await wait_until(lambda: run.task is not None and run.task.done(), 20)
    assert run.adapter.state.startswith("failed: Discord rejected the bot token")
    assert len(discord.calls_to("users/@me")) == 1


async def test_a_token_revoked_while_connected_fails_on_close_code_4004(
    running: Running, discord: FakeDiscord
) -> None:
    discord.revoke_token()
    await wait_until(lambda: running.task is not None and running.task.done(), 20)
    assert running.adapter.state.startswith("failed: Discord rejected the bot token")
    assert "4004" in running.adapter.state
    assert discord.calls_to("gateway")[1:] == []


async def test_send_errors_say_whether_to_retry(running: Running, discord: FakeDiscord) -> None:
    dm = Target("discord", discord.dm(USER))
    discord.fail("createMessage", 429, times=1, retry_after=0.1)
    assert await running.adapter.send(Outbound(dm, "after a 429"))  # discord.py waits it out
    discord.fail("createMessage", 403, times=1)
    with pytest.raises(SendError) as refused:
        await running.adapter.send(Outbound(dm, "forbidden"))
    assert not refused.value.retryable
    discord.fail("createMessage", 429, times=1, retry_after=60)
    with pytest.raises(SendError) as limited:
        await running.adapter.send(Outbound(dm, "too long a wait"))
    assert limited.value.retryable and limited.value.retry_after == 60
    with pytest.raises(SendError) as unknown:
        await running.adapter.send(Outbound(Target("discord", "123"), "nowhere"))
    assert not unknown.value.retryable
    assert discord.calls_to("createMessage")[0].data["content"] == "after a 429"
    assert GUILD  # the fake's server exists for the guild tests above


async def test_the_setup_check_names_a_wrong_token_and_a_missing_intent(
    discord: FakeDiscord,
) -> None:
    assert PLATFORM.check is not None
    env = {"DISCORD_BOT_TOKEN": TOKEN, "DISCORD_API_BASE_URL": discord.api_url}
    assert await PLATFORM.check(env) is None
    wrong = await PLATFORM.check({**env, "DISCORD_BOT_TOKEN": "nope"})
    assert "copy DISCORD_BOT_TOKEN again" in wrong
    discord.app_flags = 0
    assert "MESSAGE CONTENT INTENT" in await PLATFORM.check(env)


async def test_sending_needs_no_gateway_connection(discord: FakeDiscord, tmp_path: Path) -> None:
    """`hermes send` and the courier at start send before (or without) run()."""
    mine = adapter(discord, tmp_path)
    sent = await mine.send(Outbound(Target("discord", CHANNEL), "deploy done"))
    await mine.close()
    assert discord.messages_in(CHANNEL) == {sent: "deploy done"}
    assert discord.calls_to("gateway") == []
    wrong = adapter(discord, tmp_path, token="wrong")
    with pytest.raises(SendError) as refused:
        await wrong.send(Outbound(Target("discord", CHANNEL), "never"))
    assert not refused.value.retryable and "DISCORD_BOT_TOKEN" in str(refused.value)
    await wrong.close()


# -- spoken replies ----------------------------------------------------------------------


async def test_a_spoken_reply_is_a_native_voice_message(
    discord: FakeDiscord, tmp_path: Path, voice_ogg: Path, voice_bytes: bytes
) -> None:
    assert PLATFORM.capabilities.audio_out
    asked = discord.user_says(CHANNEL, "say it")
    thread = discord.add_thread(announce=False)
    mine = adapter(discord, tmp_path)
    voice = VoiceOut(Target("discord", CHANNEL), str(voice_ogg), 2.5, asked["id"])
    first = await mine.send_voice(voice)
    await mine.send_voice(VoiceOut(Target("discord", CHANNEL, thread), str(voice_ogg), 2.5))
    await mine.close()
    sent, threaded = discord.sent
    assert (sent["id"], sent["flags"], sent["channel_id"]) == (first, 1 << 13, CHANNEL)
    assert sent["files"] == {"voice-message.ogg": voice_bytes}
    assert sent["message_reference"]["message_id"] == asked["id"]
    [item] = sent["attachments"]
    waveform = base64.b64decode(item["waveform"])
    assert item["duration_secs"] == 2.5 and len(waveform) == 256
    assert max(waveform) == 255 and min(waveform) < 64  # drawn from the speech, not flat
    assert threaded["channel_id"] == thread and "message_reference" not in threaded


async def test_a_failed_voice_message_can_be_retried(
    discord: FakeDiscord, tmp_path: Path, voice_ogg: Path
) -> None:
    mine = adapter(discord, tmp_path)
    voice = VoiceOut(Target("discord", CHANNEL), str(voice_ogg), 2.0)
    discord.fail("createMessage", 429, times=1, retry_after=60)
    with pytest.raises(SendError) as limited:
        await mine.send_voice(voice)
    assert limited.value.retryable and limited.value.retry_after == 60
    discord.fail("createMessage", 503, times=1)
    with pytest.raises(SendError) as down:
        await mine.send_voice(voice)
    assert down.value.retryable
    gone = VoiceOut(Target("discord", CHANNEL), str(tmp_path / "missing.ogg"), 2.0)
    with pytest.raises(SendError) as unreadable:
        await mine.send_voice(gone)
    assert not unreadable.value.retryable
    assert await mine.send_voice(voice)
    await mine.close()
    assert len(discord.sent) == 1
