"""The WhatsApp adapters alone, in this process: the bridge adapter against the fake
bridge (its cursor moves only after the sink committed), and the Cloud API adapter
behind its real webhook route (the 24-hour window survives a restart)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from hermes.gateway.events import Inbound, Target, VoiceOut
from hermes.platforms import whatsapp
from hermes.platforms import whatsapp_wire as wire
from hermes.platforms.adapter import MemoryCursor, SendError
from hermes.platforms.whatsapp_bridge import BridgeAdapter
from hermes.platforms.whatsapp_cloud import CloudAdapter
from tests.fakes import whatsapp_bridge as bridge_fake
from tests.fakes import whatsapp_cloud as cloud_fake
from tests.fakes.whatsapp_bridge import FakeWhatsAppBridge
from tests.fakes.whatsapp_cloud import WA_ID, FakeWhatsAppCloud
from tests.gateway_helpers import running_adapter
from tests.tools_helpers import wait_until


@pytest.fixture
def cloud() -> Iterator[FakeWhatsAppCloud]:
    with FakeWhatsAppCloud() as fake:
        yield fake


@pytest.fixture
def bridge() -> Iterator[FakeWhatsAppBridge]:
    with FakeWhatsAppBridge() as fake:
        yield fake


async def test_the_bridge_cursor_moves_only_after_the_sink_committed(
    bridge: FakeWhatsAppBridge,
) -> None:
    place = MemoryCursor()
    adapter = BridgeAdapter(
        url=bridge.base_url,
        token=bridge_fake.TOKEN,
        poll_timeout=1.0,
        cursor=lambda key: place,
    )
    gate, got = asyncio.Event(), []

    async def sink(event: Inbound) -> None:
        got.append(event)
        await gate.wait()  # committing takes a while

    async with running_adapter(adapter, sink):
        await wait_until(lambda: adapter.state == "connected" and place.value is not None, 10)
        before = place.value
        bridge.user_says("one")
        await wait_until(lambda: got != [], 10)
        assert place.value == before and bridge.acked == int(before or 0)  # not yet
        gate.set()
        await wait_until(lambda: place.value != before, 10)
        await wait_until(lambda: bridge.acked == int(place.value or 0), 10)
    assert [e.text for e in got] == ["one"]


async def test_the_24_hour_window_is_kept_in_the_store_across_restarts(
    cloud: FakeWhatsAppCloud,
) -> None:
    kept: dict[str, MemoryCursor] = {}
    now = [time.time()]

    def build() -> CloudAdapter:
        return CloudAdapter(
            token=cloud_fake.TOKEN,
            phone_number_id=cloud_fake.PHONE_NUMBER_ID,
            app_secret=cloud_fake.APP_SECRET,
            verify_token=cloud_fake.VERIFY_TOKEN,
            graph_url=cloud.base_url,
            cursor=lambda key: kept.setdefault(key, MemoryCursor()),
            clock=lambda: now[0],
        )

    first, got = build(), []

    async def sink(event: Inbound) -> None:
        got.append(event)

    body = json.dumps(
        cloud.envelope(
            {},
            {
                "from": WA_ID,
                "id": "wamid.W",
                "timestamp": str(int(now[0])),
                "type": "text",
                "text": {"body": "hi"},
            },
        )
    ).encode()
    async with running_adapter(first, sink):
        await wait_until(lambda: first.state == "connected", 10)
        app = Starlette(routes=whatsapp.routes(first))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hermes") as client:
            headers = {"X-Hub-Signature-256": cloud_fake.sign(body)}
            assert (await client.post("/", content=body, headers=headers)).status_code == 200
    assert [e.text for e in got] == ["hi"]
    second = build()  # a restart: nothing in memory
    assert await second.window_open("+16505551234")
    now[0] += 24 * 3600
    assert not await build().window_open("+16505551234")


# -- voice: spoken replies out, voice notes in ---------------------------------------------


async def read(path: str | None) -> bytes:
    assert path is not None
    return await asyncio.to_thread(Path(path).read_bytes)


def cloud_adapter(cloud: FakeWhatsAppCloud, downloads: Path | None = None) -> CloudAdapter:
    return CloudAdapter(
        token=cloud_fake.TOKEN,
        phone_number_id=cloud_fake.PHONE_NUMBER_ID,
        app_secret=cloud_fake.APP_SECRET,
        verify_token=cloud_fake.VERIFY_TOKEN,
        graph_url=cloud.base_url,
        downloads=downloads,
    )


def bridge_adapter(bridge: FakeWhatsAppBridge, downloads: Path | None = None) -> BridgeAdapter:
    return BridgeAdapter(
        url=bridge.base_url, token=bridge_fake.TOKEN, poll_timeout=1.0, downloads=downloads
    )


async def test_a_spoken_reply_goes_to_the_cloud_api_as_an_uploaded_ogg_voice_note(
    cloud: FakeWhatsAppCloud, voice_ogg: Path, voice_bytes: bytes
) -> None:
    adapter = cloud_adapter(cloud)
    assert adapter.capabilities.audio_out
    voice = VoiceOut(Target("whatsapp", "+16505551234"), str(voice_ogg), 1.4, "wamid.Q", "d1.v")
    try:
        wamid = await adapter.send_voice(voice)
    finally:
        await adapter.close()
    ((message, data, mime),) = cloud.audio_messages()
    assert message["id"] == wamid and message["context"] == {"message_id": "wamid.Q"}
    assert message["audio"] == {"id": cloud.uploads[0]["id"]}  # the uploaded file
    assert (data, mime) == (voice_bytes, "audio/ogg") and data.startswith(b"OggS")
    (upload,) = cloud.uploads
    assert (upload["filename"], upload["content_type"]) == ("voice.ogg", "audio/ogg")


async def test_a_failed_voice_upload_or_send_is_retryable(
    cloud: FakeWhatsAppCloud, voice_ogg: Path
) -> None:
    adapter = cloud_adapter(cloud)
    voice = VoiceOut(Target("whatsapp", "+16505551234"), str(voice_ogg), 1.4)
    try:
        cloud.fail("media", 429, times=1)
        with pytest.raises(SendError) as limited:
            await adapter.send_voice(voice)
        cloud.fail("messages", 503, times=1)
        with pytest.raises(SendError) as down:
            await adapter.send_voice(voice)
        missing = VoiceOut(voice.target, str(voice_ogg.with_name("gone.ogg")), 1.0)
        with pytest.raises(SendError) as gone:
            await adapter.send_voice(missing)
        await adapter.send_voice(voice)  # the retry goes through
    finally:
        await adapter.close()
    assert limited.value.retryable and "130429" in str(limited.value)
    assert down.value.retryable and not gone.value.retryable
    assert len(cloud.audio_messages()) == 1


async def test_a_cloud_voice_note_is_voice_and_an_audio_file_is_not(
    cloud: FakeWhatsAppCloud, voice_bytes: bytes, tmp_path: Path
) -> None:
    note = voice_bytes
    wamid = cloud.voice_note(note)
    song = cloud.audio_file(b"ID3 an mp3", "audio/mpeg", "song.mp3", document=True)
    plain = cloud.audio_file(b"ID3 an mp3", "audio/mpeg", "song.mp3", document=False)
    adapter = cloud_adapter(cloud, tmp_path / "inbox")
    try:
        events = [await adapter.fetch(_inbound(cloud, w)) for w in (wamid, song, plain)]
    finally:
        await adapter.close()
    (voice,), (document,), (audio,) = (e.attachments for e in events)
    assert (voice.kind, voice.voice) == ("audio", True)
    assert await read(voice.path) == note
    assert (document.kind, document.voice, document.name) == ("file", False, "song.mp3")
    assert (audio.kind, audio.voice) == ("audio", False)  # an audio file, not recorded
    assert document.path is not None and audio.path is not None


def _inbound(cloud: FakeWhatsAppCloud, wamid: str) -> Inbound:
    (value,) = wire.changes(cloud.events[wamid])
    ((_, message),) = wire.messages(value)
    event = wire.cloud_inbound(message, wire.names(value))
    assert event is not None
    return event


async def test_a_spoken_reply_goes_through_the_bridge_as_a_voice_note(
    bridge: FakeWhatsAppBridge, voice_ogg: Path, voice_bytes: bytes
) -> None:
    adapter = bridge_adapter(bridge)
    assert adapter.capabilities.audio_out
    voice = VoiceOut(Target("whatsapp", bridge_fake.USER), str(voice_ogg), 1.44, "3EB0IN1", "k")
    try:
        sent_id = await adapter.send_voice(voice)
        bridge.fail("send", 503, times=1)
        with pytest.raises(SendError) as down:
            await adapter.send_voice(voice)
        bridge.fail("send", 429, times=1, retry_after=2)
        with pytest.raises(SendError) as limited:
            await adapter.send_voice(voice)
    finally:
        await adapter.close()
    (note,) = bridge.voice_notes()
    assert note["id"] == sent_id and note["reply_to"] == "3EB0IN1" and "text" not in note
    assert note["audio"]["data"] == voice_bytes
    assert note["audio"] | {"data": b""} == {
        "data": b"",
        "mime": "audio/ogg; codecs=opus",
        "voice": True,
        "seconds": 1.4,
    }
    assert down.value.retryable and limited.value.retryable
    assert limited.value.retry_after == 2


async def test_a_bridge_voice_note_is_downloaded_as_voice_and_an_audio_file_is_not(
    bridge: FakeWhatsAppBridge, voice_bytes: bytes, tmp_path: Path
) -> None:
    adapter, got = bridge_adapter(bridge, tmp_path / "inbox"), []

    async def sink(event: Inbound) -> None:
        got.append(await adapter.fetch(event))

    bridge.voice_note(voice_bytes)
    with bridge.cond:
        bridge.media["song"] = b"ID3 an mp3 file"
    audio = {"id": "song", "mime": "audio/mpeg", "voice": False, "seconds": 200}
    bridge.user_says("", audio=audio)
    async with running_adapter(adapter, sink):
        await wait_until(lambda: len(got) == 2, 10)
    (voice,), (song,) = (e.attachments for e in got)
    assert (voice.kind, voice.voice) == ("audio", True)
    assert await read(voice.path) == voice_bytes
    assert (song.kind, song.voice) == ("audio", False) and song.path is not None
