"""The Signal adapter against the loopback signal-cli daemon (tests/fakes/signal_cli.py):
events in, JSON-RPC out, liveness, approvals by reaction, voice notes by content; and
the pure parts (server-sent events, audio sniffing, the JSON)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes.gateway.events import Button, Inbound, Outbound, Target, VoiceOut
from hermes.platforms.adapter import MemoryCursor, SendError
from hermes.platforms.audio_sniff import audio_mime
from hermes.platforms.signal import check
from hermes.platforms.signal_adapter import SignalAdapter
from hermes.platforms.signal_wire import SseParser, reactions
from hermes.providers.http import Backoff
from tests.fakes.signal_cli import ACCOUNT, GROUP, USER, USER_UUID, FakeSignalCli
from tests.gateway_helpers import running_adapter
from tests.tools_helpers import wait_until
from tests.voice_helpers import spoken

ADTS = bytes([0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC]) + b"\x00" * 64


@pytest.fixture
def fake() -> Iterator[FakeSignalCli]:
    with FakeSignalCli() as daemon:
        yield daemon


class Cursors:
    def __init__(self) -> None:
        self.kept: dict[str, MemoryCursor] = {}

    def __call__(self, key: str) -> MemoryCursor:
        return self.kept.setdefault(key, MemoryCursor())


def adapter(fake: FakeSignalCli, tmp_path: Path, **kw: object) -> SignalAdapter:
    options: dict[str, object] = {
        "allowed": lambda: frozenset({USER}),
        "downloads": tmp_path / "inbox",
        "backoff": Backoff(base=0.05, cap=0.2),
        **kw,
    }
    return SignalAdapter(fake.base_url, ACCOUNT, **options)  # type: ignore[arg-type]


class Seen:
    def __init__(self) -> None:
        self.events: list[Inbound] = []

    async def __call__(self, event: Inbound) -> None:
        self.events.append(event)


async def test_a_dm_and_a_group_message_become_inbound_events(
    fake: FakeSignalCli, tmp_path: Path
) -> None:
    seen = Seen()
    signal = adapter(fake, tmp_path)
    async with running_adapter(signal, seen):
        await wait_until(lambda: signal.state == "connected", 10)
        stamp = fake.user_says("hello")
        fake.user_says("hi all", group=GROUP, mention=True)
        await wait_until(lambda: len(seen.events) == 2, 10)
    dm, group = seen.events
    assert (dm.chat, dm.user, dm.text, dm.is_group) == (USER, USER, "hello", False)
    assert dm.external_id == f"{USER_UUID}:{stamp}" and dm.message_id == f"{stamp}:{USER}"
    assert (group.chat, group.is_group, group.mentions_bot) == (f"group.{GROUP}", True, True)
    assert group.text == "hi all" and group.chat_name == "Team"


async def test_require_mention_drops_group_chatter_but_not_mentions_or_replies(
    fake: FakeSignalCli, tmp_path: Path
) -> None:
    seen = Seen()
    signal = adapter(fake, tmp_path, require_mention=True)
    async with running_adapter(signal, seen):
        await wait_until(lambda: signal.state == "connected", 10)
        fake.user_says("chatter", group=GROUP)
        fake.user_says("you there?", group=GROUP, mention=True)
        quote = {"id": 1, "authorNumber": ACCOUNT, "text": "an earlier answer"}
        fake.user_says("and this?", group=GROUP, quote=quote)
        fake.user_says("a DM needs no mention")
        await wait_until(lambda: len(seen.events) == 3, 10)
    assert [e.text for e in seen.events] == ["you there?", "and this?", "a DM needs no mention"]
    assert seen.events[1].reply_to == "an earlier answer"


async def test_a_uuid_in_the_allowlist_names_the_sender(
    fake: FakeSignalCli, tmp_path: Path
) -> None:
    seen = Seen()
    signal = adapter(fake, tmp_path, allowed=lambda: frozenset({USER_UUID}))
    async with running_adapter(signal, seen):
        fake.user_says("by uuid")
        await wait_until(lambda: len(seen.events) == 1, 10)
    assert seen.events[0].user == USER_UUID


async def test_duplicates_reach_the_sink_once(fake: FakeSignalCli, tmp_path: Path) -> None:
    seen = Seen()
    signal = adapter(fake, tmp_path)
    async with running_adapter(signal, seen):
        await wait_until(lambda: signal.state == "connected", 10)
        fake.duplicate_next()
        fake.user_says("once")
        fake.user_says("twice")
        await wait_until(lambda: len(seen.events) == 2, 10)
    assert [e.text for e in seen.events] == ["once", "twice"]


async def test_a_silent_stream_is_renewed_and_what_it_held_arrives(
    fake: FakeSignalCli, tmp_path: Path
) -> None:
    seen = Seen()
    signal = adapter(fake, tmp_path, probe_interval=0.5)
    async with running_adapter(signal, seen):
        await wait_until(lambda: signal.state == "connected", 10)
        fake.silence_stream()
        fake.user_says("can you hear me?")
        await wait_until(lambda: [e.text for e in seen.events] == ["can you hear me?"], 10)
        assert signal.renewals >= 1 and fake.calls_to("rpc")  # probed before renewing
        assert signal.state == "connected"


async def test_an_outage_reconnects_and_nothing_said_meanwhile_is_lost(
    fake: FakeSignalCli, tmp_path: Path
) -> None:
    seen = Seen()
    signal = adapter(fake, tmp_path)
    async with running_adapter(signal, seen):
        await wait_until(lambda: signal.state == "connected", 10)
        fake.fail("events", 503)
        fake.drop_streams()
        await wait_until(lambda: signal.state == "reconnecting", 10)
        fake.user_says("during the outage")  # held: no stream is open
        await wait_until(lambda: len(fake.calls_to("events")) >= 3, 10)
        fake.recover()
        await wait_until(lambda: [e.text for e in seen.events] == ["during the outage"], 10)
        assert signal.state == "connected"


async def test_an_unknown_account_fails_without_a_retry_loop(
    fake: FakeSignalCli, tmp_path: Path
) -> None:
    signal = SignalAdapter(fake.base_url, "+4915199999999", backoff=Backoff(base=0.01, cap=0.01))
    async with running_adapter(signal, Seen()) as task:
        await wait_until(task.done, 10)
    assert signal.state.startswith("failed: signal-cli has no account +4915199999999")
    assert len(fake.calls_to("events")) == 1
    with pytest.raises(SendError) as err:
        await signal.send(Outbound(Target("signal", USER), "hi"))
    assert not err.value.retryable


async def test_a_daemon_serving_another_account_fails_without_a_retry_loop(
    tmp_path: Path,
) -> None:
    with FakeSignalCli("+4915177777777", single_account=True) as other:
        signal = adapter(other, tmp_path)  # SIGNAL_ACCOUNT is ACCOUNT: the daemon ignores it
        async with running_adapter(signal, Seen()) as task:
            await wait_until(lambda: signal.state == "connected", 10)
            other.user_says("hello")  # the event names the daemon's own account
            await wait_until(task.done, 10)
    assert signal.state.startswith("failed: the daemon at")
    assert "serves another account, not SIGNAL_ACCOUNT +4915100000001" in signal.state
    assert len(other.calls_to("events")) == 1


async def test_a_rate_limit_is_a_retryable_send_error_with_its_wait(
    fake: FakeSignalCli, tmp_path: Path
) -> None:
    signal = adapter(fake, tmp_path)
    fake.rpc_error("send", -5, "Failed to send message due to rate limiting", retry_after=7)
    try:
        with pytest.raises(SendError) as err:
            await signal.send(Outbound(Target("signal", USER), "hi"))
        assert err.value.retryable and err.value.retry_after == 7
        fake.rpc_error("send", -1, "Failed to send message")  # e.g. an unregistered user
        with pytest.raises(SendError) as err:
            await signal.send(Outbound(Target("signal", USER), "hi"))
        assert not err.value.retryable
        assert await signal.send(Outbound(Target("signal", f"group.{GROUP}"), "to all"))
        assert fake.sent[-1]["groupId"] == GROUP
    finally:
        await signal.close()


async def test_a_reaction_on_a_request_presses_its_button_also_after_a_restart(
    fake: FakeSignalCli, tmp_path: Path
) -> None:
    cursors = Cursors()
    buttons = [[Button("✅ Approve", "approve:ab12"), Button("❌ Deny", "deny:ab12")]]
    first = adapter(fake, tmp_path, cursor=cursors)
    stamp = int(await first.send(Outbound(Target("signal", USER), "Run rm?", buttons=buttons)))
    await first.close()
    assert fake.sent[-1]["message"] == "Run rm?\n\nReact 👍 to approve, 👎 to deny."
    seen = Seen()
    second = adapter(fake, tmp_path, cursor=cursors)  # a new process: only state.db remembers
    async with running_adapter(second, seen):
        await wait_until(lambda: second.state == "connected", 10)
        fake.react("👍", stamp + 1)  # not the request: ignored
        fake.react("👎🏽", stamp)
        await wait_until(lambda: len(seen.events) == 1, 10)
    press = seen.events[0]
    assert (press.callback_data, press.chat, press.text) == ("deny:ab12", USER, "❌ Deny")


async def test_a_voice_note_is_recognised_by_its_bytes(fake: FakeSignalCli, tmp_path: Path) -> None:
    seen = Seen()
    signal = adapter(fake, tmp_path)
    async with running_adapter(signal, seen):
        fake.send_audio(ADTS)  # application/octet-stream, no name: only the bytes tell
        await wait_until(lambda: len(seen.events) == 1, 10)
        event = await signal.fetch(seen.events[0])
    (note,) = event.attachments
    assert (note.kind, note.voice, note.mime) == ("audio", True, "audio/aac")
    assert note.path is not None and await asyncio.to_thread(Path(note.path).read_bytes) == ADTS
    assert note.path.endswith(".aac")


async def test_an_audio_file_with_a_name_is_not_a_voice_note(
    fake: FakeSignalCli, tmp_path: Path
) -> None:
    seen = Seen()
    signal = adapter(fake, tmp_path)
    async with running_adapter(signal, seen):
        fake.send_audio(ADTS, filename="memo.aac")  # a file, labelled octet-stream
        fake.send_audio(ADTS, content_type="audio/aac", filename="song.aac")
        await wait_until(lambda: len(seen.events) == 2, 10)
        events = [await signal.fetch(e) for e in seen.events]
    for event in events:
        (file,) = event.attachments
        assert (file.kind, file.voice, file.mime) == ("audio", False, "audio/aac")
        assert file.path is not None and file.path.endswith(".aac")


async def test_a_spoken_reply_is_an_ogg_attachment_without_a_name(
    fake: FakeSignalCli, tmp_path: Path
) -> None:
    ogg = spoken("Done.", tmp_path / "reply.ogg")
    signal = adapter(fake, tmp_path)
    assert signal.capabilities.audio_out
    group = f"group.{GROUP}"
    try:
        stamp = await signal.send_voice(VoiceOut(Target("signal", USER), str(ogg), 0.8, "5:x"))
        quoted = VoiceOut(Target("signal", group), str(ogg), 0.8, f"1234:{USER}", "d.v")
        await signal.send_voice(quoted)
        fake.rpc_error("send", -5, "Failed to send message due to rate limiting", retry_after=7)
        with pytest.raises(SendError) as limited:
            await signal.send_voice(quoted)
        fake.rpc_error("send", -3, "Failed to send message: IOException")
        with pytest.raises(SendError) as broken:
            await signal.send_voice(quoted)
    finally:
        await signal.close()
    data = ogg.read_bytes()
    (dm,) = fake.attachments_to(USER)
    assert dm == {"mime": "audio/ogg", "filename": None, "data": data, "quote": None}
    assert fake.sent_to(USER)[0]["timestamp"] == int(stamp)
    (in_group,) = fake.attachments_to(group)
    assert (in_group["data"], in_group["quote"]) == (data, 1234)
    assert limited.value.retryable and limited.value.retry_after == 7
    assert broken.value.retryable


async def test_typing_is_refreshed_until_stopped(fake: FakeSignalCli, tmp_path: Path) -> None:
    signal = adapter(fake, tmp_path)
    try:
        await signal.typing(Target("signal", f"group.{GROUP}"), True)
        await wait_until(lambda: len(fake.typing) == 1, 10)
        await signal.typing(Target("signal", f"group.{GROUP}"), False)
        await wait_until(lambda: len(fake.typing) == 2, 10)
    finally:
        await signal.close()
    start, stop = fake.typing
    assert start == {"groupId": GROUP, "at": start["at"]} and stop["stop"] is True


async def test_setup_check_names_what_is_wrong(fake: FakeSignalCli) -> None:
    good = {"SIGNAL_HTTP_URL": fake.base_url, "SIGNAL_ACCOUNT": ACCOUNT}
    assert await check(good) is None
    wrong = await check({**good, "SIGNAL_ACCOUNT": "+4915199999999"})
    assert wrong is not None and "has no account +4915199999999" in wrong
    down = await check({**good, "SIGNAL_HTTP_URL": "http://127.0.0.1:9"})
    assert down is not None and "could not reach signal-cli" in down
    bad = await check({**good, "SIGNAL_ACCOUNT": "015100"})
    assert bad is not None and "international form" in bad


def test_server_sent_events_are_parsed_and_keepalives_skipped() -> None:
    parser = SseParser()
    lines = [":", "event:receive", 'data:{"a":', "data: 1}", "", ":", ""]
    events = [e for e in (parser.feed(line) for line in lines) if e is not None]
    assert [(e.name, e.data) for e in events] == [("receive", '{"a":\n1}')]


def test_audio_is_recognised_by_magic_bytes() -> None:
    assert audio_mime(ADTS) == "audio/aac"
    assert audio_mime(b"\x00\x00\x00\x1cftypM4A \x00\x00") == "audio/mp4"
    assert audio_mime(b"OggS\x00\x02") == "audio/ogg"
    assert audio_mime(b"#!AMR\n") == "audio/amr"
    assert audio_mime(b"ID3\x04\x00") == "audio/mpeg"
    assert audio_mime(bytes([0xFF, 0xFB, 0x90, 0x64])) == "audio/mpeg"
    assert audio_mime(b"\x89PNG\r\n\x1a\n") is None
    assert audio_mime(b"\x00\x00\x00\x18ftypqt  ") is None


def test_approve_and_deny_buttons_get_thumbs() -> None:
    pressed = reactions([[Button("✅ Approve", "approve:x"), Button("❌ Deny", "deny:x")]])
    assert {e: b.data for e, b in pressed.items()} == {"👍": "approve:x", "👎": "deny:x"}
    assert json.loads(json.dumps(list(pressed)))  # plain text keys: storable
