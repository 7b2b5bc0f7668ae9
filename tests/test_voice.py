"""hermes/voice: the local model on real espeak-ng speech, the packaged model's
checksum, the OpenAI-compatible providers against a loopback fake, espeak-ng
round trips, speakable text and the concurrency limit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes.settings import VoiceSettings
from hermes.voice import audio, stt_local
from hermes.voice.base import Transcript, VoiceError
from hermes.voice.service import Voice
from hermes.voice.speakable import CODE, LINK, cut, speakable
from tests.fakes.openai_audio import FakeOpenAIAudio
from tests.tools_helpers import wait_until
from tests.voice_helpers import probe, spoken, words_right


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("voice-home")


@pytest.fixture(scope="module")
def local(home: Path) -> Voice:
    """One Voice with the default (local) providers: the model loads once here."""
    return Voice(VoiceSettings(), {}, home)


@pytest.fixture
def fake() -> Iterator[FakeOpenAIAudio]:
    with FakeOpenAIAudio() as server:
        yield server


# ----- local speech to text ---------------------------------------------------------


async def test_local_model_transcribes_a_voice_note(local: Voice, tmp_path: Path) -> None:
    sentence = "Please remind me to call my mother tomorrow morning."
    transcript = await local.transcribe(spoken(sentence, tmp_path / "note.ogg"))
    assert words_right(sentence, transcript.text) >= 0.8, transcript.text
    assert transcript.duration is not None and 2 < transcript.duration < 6
    # no language set: each note is heard in its own language, not translated
    german = "Guten Morgen, wie geht es dir heute?"
    heard = await local.transcribe(spoken(german, tmp_path / "de.ogg", lang="de"))
    assert words_right(german, heard.text) >= 0.8, heard.text


async def test_espeak_round_trip_makes_an_opus_voice_note(local: Voice, tmp_path: Path) -> None:
    out = tmp_path / "reply.ogg"
    said = await local.speak(
        "## Friday\n\nThe **meeting** is moved to [next week](http://x.y).", out
    )
    assert said.path == out and said.mime == "audio/ogg" and 1 < said.duration < 10
    stream = probe(out)
    assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("opus", "48000", 1)
    assert [p.name for p in list(tmp_path.iterdir())] == ["reply.ogg"]  # noqa: ASYNC240 - no leftovers
    heard = (await local.transcribe(out)).text
    assert words_right("Friday. The meeting is moved to next week.", heard) >= 0.8, heard


async def test_missing_audio_and_unreadable_audio_are_one_line_errors(
    local: Voice, tmp_path: Path
) -> None:
    with pytest.raises(VoiceError, match="no audio file"):
        await local.transcribe(tmp_path / "missing.ogg")
    junk = tmp_path / "junk.ogg"
    junk.write_bytes(b"not audio at all")
    with pytest.raises(VoiceError, match=r"cannot transcribe junk.ogg") as err:
        await local.transcribe(junk)
    assert "\n" not in str(err.value)


def test_packaged_model_is_reassembled_when_the_cache_is_corrupt(tmp_path: Path) -> None:
    cache = tmp_path / "whisper-base"
    stt_local.packaged_model(cache)
    model = cache / "model.bin"
    assert stt_local.sha256(model) == stt_local.SHA256
    size = model.stat().st_size
    with model.open("r+b") as f:  # same size, different bytes
        f.seek(size // 2)
        f.write(b"\0" * 64)
    assert stt_local.sha256(model) != stt_local.SHA256
    stt_local.packaged_model(cache)
    assert stt_local.sha256(model) == stt_local.SHA256
    assert sorted(p.name for p in cache.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]


def test_corrupt_packages_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n, name in enumerate(stt_local.PARTS, 1):
        data = tmp_path / name / "data"
        data.mkdir(parents=True)
        (data / f"model.bin.part{n}").write_bytes(b"broken" * 10)
        for side in stt_local.SIDE_FILES:
            (data / side).write_text("{}")
    monkeypatch.setattr(stt_local, "package_data", lambda name: tmp_path / name / "data")
    with pytest.raises(VoiceError, match=r"corrupt .* reinstall"):
        stt_local.packaged_model(tmp_path / "cache")
    assert not (tmp_path / "cache" / "model.bin").exists()
    monkeypatch.setattr(stt_local, "package_data", lambda name: None)
    with pytest.raises(VoiceError, match=r"not installed: pip install 'hermes\[voice\]'"):
        stt_local.packaged_model(tmp_path / "cache")


# ----- the OpenAI-compatible providers ----------------------------------------------


def openai_voice(fake: FakeOpenAIAudio, home: Path, env: dict[str, str] | None = None) -> Voice:
    settings = VoiceSettings()
    settings.stt.provider = settings.tts.provider = "openai"
    settings.stt.base_url = settings.tts.base_url = fake.url
    settings.stt.language = "en"
    return Voice(settings, {"OPENAI_API_KEY": "sk-test"} if env is None else env, home)


async def test_openai_stt_posts_the_note(fake: FakeOpenAIAudio, tmp_path: Path) -> None:
    note = spoken("hello", tmp_path / "note.ogg")
    voice = openai_voice(fake, tmp_path)
    fake.transcript = "  hello there  "
    assert await voice.transcribe(note) == Transcript("hello there", None, "en")
    [(filename, data, fields)] = fake.uploads
    assert (filename, data) == ("note.ogg", note.read_bytes())
    assert fields == {"model": "whisper-1", "response_format": "json", "language": "en"}
    [call] = fake.calls_to("transcriptions")
    assert call.headers["Authorization"] == "Bearer sk-test"
    assert [s.offline for s in voice.status()] == [False, False]


async def test_openai_stt_failures_say_what_to_do(fake: FakeOpenAIAudio, tmp_path: Path) -> None:
    note = spoken("hello", tmp_path / "note.ogg")
    voice = openai_voice(fake, tmp_path)
    fake.fail("transcriptions", 500, times=1)
    with pytest.raises(VoiceError, match=r"answered 500: .*injected failure 500.*try again"):
        await voice.transcribe(note)
    fake.fail("transcriptions", 401, times=1)
    with pytest.raises(VoiceError, match=r"refused the key \(401\): check it"):
        await voice.transcribe(note)
    voice.settings.stt.timeout = 1
    fake.stall()
    with pytest.raises(VoiceError, match=r"timed out|took longer"):
        await voice.transcribe(note)
    fake.recover()
    assert (await voice.transcribe(note)).text == fake.transcript


async def test_openai_keys(fake: FakeOpenAIAudio, tmp_path: Path) -> None:
    note = spoken("hello", tmp_path / "note.ogg")
    # a server of its own (base_url) and no key: sent without one
    keyless = openai_voice(fake, tmp_path, env={})
    assert (await keyless.transcribe(note)).text == fake.transcript
    assert "Authorization" not in fake.calls_to("transcriptions")[-1].headers
    # OpenAI itself (no base_url) needs the key: named, no request made
    settings = VoiceSettings()
    settings.stt.provider = "openai"
    nokey = Voice(settings, {}, tmp_path)
    with pytest.raises(VoiceError, match="OPENAI_API_KEY is not set"):
        await nokey.transcribe(note)
    assert nokey.status()[0].problem is not None and not nokey.status()[0].ready
    # a named key variable that is missing is reported even with a base_url
    named = openai_voice(fake, tmp_path, env={})
    named.settings.stt.api_key_env = "GROQ_API_KEY"
    with pytest.raises(VoiceError, match="GROQ_API_KEY is not set"):
        await named.transcribe(note)
    assert len(fake.calls_to("transcriptions")) == 1


async def test_openai_tts_speaks_speakable_text(fake: FakeOpenAIAudio, tmp_path: Path) -> None:
    voice = openai_voice(fake, tmp_path)
    said = await voice.speak(
        "# Hi\n\nRun `pip install -r requirements.txt now` first.", tmp_path / "r.ogg"
    )
    [body] = fake.speeches
    assert body == {
        "model": "tts-1",
        "input": f"Hi.\n\nRun {CODE} first.",
        "voice": "alloy",
        "speed": 1.0,
        "response_format": "opus",
    }
    assert probe(said.path)["codec_name"] == "opus" and said.duration > 0.5
    fake.fail("speech", 503, times=1)
    with pytest.raises(VoiceError, match=r"text to speech .* answered 503"):
        await voice.speak("again", tmp_path / "r2.ogg")
    assert not (tmp_path / "r2.ogg").exists()


# ----- text to speech details ---------------------------------------------------------


async def test_nothing_to_say_and_missing_binaries(
    local: Voice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(VoiceError, match="nothing to say"):
        await local.speak("```\ncode\n```"[:0] + "🎉 🎉\n---", tmp_path / "x.ogg")
    fresh = Voice(VoiceSettings(), {}, tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))  # neither espeak-ng nor ffmpeg
    with pytest.raises(VoiceError, match="install espeak-ng: apt install espeak-ng"):
        await fresh.speak("hello", tmp_path / "x.ogg")
    with pytest.raises(VoiceError, match=r"ffmpeg is not installed: run scripts/install"):
        audio.duration(tmp_path / "x.ogg")
    states = fresh.status()
    assert [s.ready for s in states] == [False, False]
    assert "espeak-ng" in (states[1].problem or "") and "ffmpeg" in (states[0].problem or "")


async def test_long_text_is_cut_at_a_sentence_end(fake: FakeOpenAIAudio, tmp_path: Path) -> None:
    voice = openai_voice(fake, tmp_path)
    voice.settings.tts.max_chars = 100
    text = "This is the first sentence of many. " * 10
    await voice.speak(text, tmp_path / "long.ogg")
    said = fake.speeches[0]["input"]
    assert len(said) <= 100 and said.endswith("many.")


def test_waveform_and_formats(tmp_path: Path) -> None:
    note = spoken("one two three", tmp_path / "n.ogg")
    wave = audio.waveform(note)
    assert len(wave) == 256 and max(wave) == 255 and min(wave) < 40
    assert len(audio.waveform(note, points=32)) == 32
    assert probe(audio.to_format(note, tmp_path / "n.wav"))["codec_name"] == "pcm_s16le"
    assert probe(audio.to_format(note, tmp_path / "n.mp3"))["codec_name"] == "mp3"
    assert 0.5 < audio.duration(note) < 3


# ----- the concurrency limit -----------------------------------------------------------


class GatedListener:
    """A speech-to-text provider that holds each call until `release` is set."""

    name, offline, label = "gated", True, "gated"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = self.entered = self.most = 0
        self.release = threading.Event()

    def problem(self) -> str | None:
        return None

    def transcribe(self, audio: Path, language: str | None) -> Transcript:
        with self.lock:
            self.active += 1
            self.entered += 1
            self.most = max(self.most, self.active)
        self.release.wait(10)
        with self.lock:
            self.active -= 1
        return Transcript(audio.name)


@pytest.mark.parametrize("limit", [1, 2])
async def test_transcriptions_respect_the_limit(limit: int, tmp_path: Path) -> None:
    settings = VoiceSettings(max_concurrent=limit)
    voice = Voice(settings, {}, tmp_path)
    gated = GatedListener()
    voice._stt = gated
    notes = [tmp_path / "a.ogg", tmp_path / "b.ogg"]
    for n in notes:
        n.write_bytes(b"x")
    jobs = [asyncio.create_task(voice.transcribe(n)) for n in notes]
    if limit == 1:  # the second waits for the limit while the first is in the provider
        await wait_until(lambda: gated.entered == 1 and bool(voice._limit._waiters))
        assert gated.entered == 1
    else:
        await wait_until(lambda: gated.entered == 2)
    gated.release.set()
    assert [t.text for t in await asyncio.gather(*jobs)] == ["a.ogg", "b.ogg"]
    assert gated.most == limit


# ----- speakable text (pure) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**Bold** and _italic_ and ~~gone~~.", "Bold and italic and gone."),
        ("# Title\nText", "Title.\nText"),
        ("See [the docs](https://example.com/docs).", "See the docs."),
        ("Go to https://example.com/a?b=1.", f"Go to {LINK}."),
        ("Mail <https://x.y/z> now", f"Mail {LINK} now"),
        ("Run `ls -la` here", "Run ls -la here"),
        ("Run `python -m pip install foo bar` here", f"Run {CODE} here"),
        ("Before\n```python\nprint('hi')\nx = 1\n```\nAfter", f"Before\n{CODE}\nAfter"),
        ("- one\n- two\n* three\n1. four", "one\ntwo\nthree\nfour"),
        ("| a | b |\n|---|:-:|\n| 1 | 2 |", "a, b.\n1, 2."),
        ("Done! 🎉\n🎉🎉 ✅\n> quoted", "Done! 🎉\nquoted"),
        ("![a chart](http://x/c.png) above", "a chart above"),
        ("---\n", ""),
        ("```\nmake test\n```", "make test"),
    ],
)
def test_speakable(markdown: str, expected: str) -> None:
    assert speakable(markdown) == expected


def test_cut() -> None:
    assert cut("One. Two. Three.", 100) == "One. Two. Three."
    assert cut("First sentence here. Second sentence here.", 30) == "First sentence here."
    assert cut("no sentence end in this long line at all", 20) == "no sentence end in"
