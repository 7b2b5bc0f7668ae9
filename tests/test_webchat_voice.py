"""Voice in the web chat: the microphone button records in headless Chromium (its fake
capture device plays a WAV of espeak-ng speech) and uploads a voice note the gateway
receives as one; the transcript replaces the note's bubble; a spoken reply becomes a
player whose file is served (with the login) byte for byte, also after a reload; an
upload that is not audio, and a browser without a microphone, get one clear line."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hermes.gateway.events import Inbound, Target, VoiceOut
from hermes.platforms.audio_sniff import HEAD, audio_mime
from hermes.testing import ScriptedModel
from tests import test_webchat as webchat
from tests.browser_helpers import chromium, fake_microphone, needs_chromium, record_voice
from tests.gateway_helpers import make_home
from tests.test_webchat import BEARER, Site, log_in, serving
from tests.tools_helpers import wait_until
from tests.voice_helpers import spoken, words_right

browser = webchat.browser  # a Chromium without a microphone
# speech-to-text that fails at once (a closed port): these tests stop at the upload
SENTENCE = "Hello Hermes, this is a voice note from the browser."
NO_STT = {"voice": {"stt": {"provider": "openai", "base_url": "http://127.0.0.1:9/v1"}}}


@pytest.fixture
async def site(tmp_path: Path, model: ScriptedModel) -> AsyncIterator[Site]:
    home = make_home(tmp_path / "home", model, config=NO_STT, env={"OPENAI_API_KEY": "sk-x"})
    async with serving(home, media=tmp_path / "media") as s:
        yield s


def microphone_wav(folder: Path) -> Path:
    """A known sentence as Chromium's fake microphone plays it (48 kHz 16-bit WAV)."""
    raw = spoken(SENTENCE, folder / "raw.ogg")
    wav = folder / "mic.wav"
    convert = ["-ar", "48000", "-ac", "1", "-c:a", "pcm_s16le", str(wav)]
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(raw), *convert], check=True)
    return wav


@pytest.fixture
async def mic_browser(tmp_path: Path) -> AsyncIterator[Any]:
    """A Chromium whose microphone says a known sentence."""
    async with chromium(fake_microphone(microphone_wav(tmp_path))) as b:
        yield b


def spy_inbound(site: Site) -> list[Inbound]:
    """The events the web routes hand the gateway (each still goes on to it)."""
    seen: list[Inbound] = []
    accept = site.gw.accept

    async def spy(event: Inbound) -> None:
        seen.append(event)
        await accept(event)

    site.gw.accept = spy  # type: ignore[method-assign]
    return seen


def recorded_streams(path: Path) -> list[tuple[str, str]]:
    """(type, codec) of each stream of a recording the browser uploaded, checking on
    the way that its first bytes are WebM audio."""
    assert audio_mime(path.read_bytes()[:HEAD]) == "audio/webm"
    shown = ["-show_entries", "stream=codec_type,codec_name", "-of", "json", str(path)]
    out = subprocess.run(
        ["ffprobe", "-v", "error", *shown], check=True, capture_output=True, text=True
    ).stdout
    return [(s["codec_type"], s["codec_name"]) for s in json.loads(out)["streams"]]


@needs_chromium
async def test_the_microphone_records_a_voice_note_the_gateway_receives_as_one(
    site: Site, mic_browser: Any
) -> None:
    from playwright.async_api import expect

    seen = spy_inbound(site)
    page = await mic_browser.new_page()
    await log_in(page, site.url)
    client_id = await record_voice(page, min_bytes=8000)
    await expect(page.locator(".msg.user.voice .bubble")).to_have_text("🎤 voice note…")

    await wait_until(lambda: any(e.external_id == client_id for e in seen))
    [event] = [e for e in seen if e.external_id == client_id]
    chat = await page.evaluate("localStorage.getItem('hermes.web.chat')")
    assert (event.platform, event.chat, event.text, event.message_id) == (
        "web",
        chat,
        "",
        client_id,
    )
    [note] = event.attachments
    assert (note.kind, note.voice, note.mime) == ("audio", True, "audio/webm")
    assert note.path is not None
    assert Path(note.path).parent == site.gw.profile.workspace / "inbox" and note.size
    assert recorded_streams(Path(note.path)) == [("audio", "opus")]

    # the gateway's transcript replaces the placeholder (the hook it calls)
    site.web.show_transcript(chat, client_id, "Hello Hermes, this is a voice note.")
    bubble = page.locator(f'.msg.user[data-client-id="{client_id}"] .bubble')
    await expect(bubble).to_have_text("Hello Hermes, this is a voice note.")
    await expect(page.locator(".msg.user")).to_have_count(1)


@needs_chromium
async def test_a_spoken_reply_plays_from_the_page_and_stays_after_a_reload(
    site: Site, browser: Any, model: ScriptedModel, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    page = await browser.new_page()
    await log_in(page, site.url)
    model.reply("Here is your answer.")
    await page.fill("#input", "say something")
    await page.press("#input", "Enter")
    await expect(page.locator(".msg.assistant .bubble")).to_have_text("Here is your answer.")

    chat = await page.evaluate("localStorage.getItem('hermes.web.chat')")
    ogg = spoken("Here is your answer.", tmp_path / "reply.ogg")
    message_id = await site.web.send_voice(VoiceOut(Target("web", chat), str(ogg), 1.5))
    player = page.locator(f'.msg.spoken[data-id="{message_id}"] audio')
    await expect(player).to_have_count(1)
    src = str(await player.get_attribute("src"))
    assert src.startswith("/api/web/audio/")
    fetched = await page.evaluate(
        """async (src) => {
          const r = await fetch(src, { credentials: "same-origin" });
          const digest = await crypto.subtle.digest("SHA-256", await r.arrayBuffer());
          const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0"));
          return [r.status, r.headers.get("content-type"), hex.join("")];
        }""",
        src,
    )
    assert fetched == [200, "audio/ogg", hashlib.sha256(ogg.read_bytes()).hexdigest()]
    async with httpx.AsyncClient(base_url=site.url) as anonymous:
        assert (await anonymous.get(src)).status_code == 401  # the login is needed
        missing = await anonymous.get("/api/web/audio/x/" + "0" * 32, headers=BEARER)
        assert missing.status_code == 404

    await page.reload()
    await expect(page.locator(".msg.assistant .bubble").first).to_have_text("Here is your answer.")
    await expect(page.locator(".msg.spoken audio")).to_have_attribute("src", src)


async def test_an_upload_that_is_not_audio_gets_one_clear_line(site: Site, tmp_path: Path) -> None:
    seen = spy_inbound(site)
    wav = spoken("one two three", tmp_path / "note.ogg", fmt="wav")
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:

        async def upload(body: bytes, chat: str = "c1", **kw: Any) -> httpx.Response:
            params = {"chat": chat, "client_id": "v1"}
            return await client.post("/api/web/voice", params=params, content=body, **kw)

        assert (await upload(wav.read_bytes())).status_code == 401  # the chat's login
        text = await upload(b"<html>not a recording</html>", headers=BEARER)
        assert text.status_code == 415
        message = text.json()["error"]["message"]
        assert "not audio" in message and "\n" not in message
        empty = await upload(b"", headers=BEARER)
        assert empty.status_code == 400 and "empty" in empty.json()["error"]["message"]
        bad_chat = await upload(wav.read_bytes(), chat="no chat", headers=BEARER)
        assert bad_chat.status_code == 400
        huge = await upload(b"RIFF" + bytes(26 * 1024 * 1024), headers=BEARER)
        assert huge.status_code == 413
        assert seen == []

        ok = await upload(wav.read_bytes(), headers=BEARER)
        assert ok.status_code == 202 and ok.json()["mime"] == "audio/wav"
        again = await upload(wav.read_bytes(), headers=BEARER)  # a retry: taken once
        assert again.status_code == 202
    [note] = seen[0].attachments
    assert note.voice and note.path and Path(note.path).name == "web-c1-v1-voice.wav"
    stored = await site.gw.store.run(
        lambda conn: conn.execute(
            "SELECT COUNT(*) FROM inbound WHERE platform = 'web' AND external_id = 'v1'"
        ).fetchone()[0]
    )
    assert stored == 1


@needs_chromium
async def test_a_browser_without_a_microphone_says_so(site: Site, browser: Any) -> None:
    from playwright.async_api import expect

    page = await browser.new_page()
    await log_in(page, site.url)
    await page.click("#mic")
    status = page.locator("#voice-status")
    await expect(status).to_be_visible()
    await expect(status).to_contain_text("microphone")
    await expect(page.locator("#mic")).to_have_attribute("data-state", "idle")
    assert "\n" not in await status.inner_text()


@needs_chromium
async def test_a_voice_note_from_the_browser_is_heard_shown_and_answered(
    tmp_path: Path, model: ScriptedModel, mic_browser: Any
) -> None:
    """The whole path with the local speech-to-text: the agent gets the words, the
    page shows them as the user's message, and the answer comes back."""
    from playwright.async_api import expect

    home = make_home(tmp_path / "home", model)
    model.reply("Hello! I heard your voice note.")
    async with serving(home, media=tmp_path / "media") as s:
        page = await mic_browser.new_page()
        await log_in(page, s.url)
        client_id = await record_voice(page, min_bytes=40_000)  # the whole sentence
        note = page.locator(f'.msg.user[data-client-id="{client_id}"]')
        await expect(note).to_have_attribute("data-transcribed", "1", timeout=60_000)
        bubble = note.locator(".bubble")
        heard = (await bubble.inner_text()).strip()
        # The fake microphone is real-time audio: on a loaded machine a few words come
        # out wrong; what is asserted is that the words heard are the ones shown.
        assert words_right(SENTENCE, heard) >= 0.5, heard
        reply = page.locator(".msg.assistant .bubble")
        await expect(reply).to_have_text("Hello! I heard your voice note.", timeout=30_000)
        await page.reload()  # the history shows what was heard, not the agent's marker
        mine = page.locator(".msg.user .bubble")
        await expect(mine).to_contain_text(f"🎤 {heard.rstrip('.')[:20]}")
        await expect(mine).not_to_contain_text("transcribed")
    said = model.last_request.messages[-1]["content"]
    assert said.startswith("[voice note, transcribed; audio: ")
    assert words_right(heard.rstrip("."), said) == 1.0
