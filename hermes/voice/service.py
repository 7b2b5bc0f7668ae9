"""`Voice`: what the gateway and the CLI use to understand and make speech.

Providers are chosen from `voice.*` (built on first use, then kept: a local model
is loaded once per process). Every call runs in a worker thread under one
semaphore of `voice.max_concurrent`, so a 10-minute note takes a worker, never the
event loop, and other chats go on."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hermes.settings import VoiceSettings
from hermes.voice import audio
from hermes.voice.base import SpeechToText, Spoken, TextToSpeech, Transcript, VoiceError
from hermes.voice.speakable import cut, speakable

T = TypeVar("T")


@dataclass(frozen=True)
class ProviderStatus:
    role: str  # "speech to text" | "text to speech"
    name: str  # "local (faster-whisper, Whisper base, packaged)", "openai (https://...)"
    offline: bool
    ready: bool  # can work now (the package/binary/key is there)
    problem: str | None = None  # one line: what is missing and how to fix it


class Checked(Protocol):
    """What the status needs of a provider (every provider module has it)."""

    offline: bool

    @property
    def label(self) -> str: ...

    def problem(self) -> str | None: ...


class Listener(SpeechToText, Checked, Protocol): ...


class Speaker(TextToSpeech, Checked, Protocol): ...


def model_cache(env: Mapping[str, str], home: Path) -> Path:
    """Where the packaged model is joined: the user's cache (XDG_CACHE_HOME, else
    ~/.cache), shared by every profile on the machine; HOME/cache without either."""
    base = env.get("XDG_CACHE_HOME") or (f"{env['HOME']}/.cache" if env.get("HOME") else "")
    return Path(base) / "hermes" / "whisper-base" if base else home / "cache" / "whisper-base"


class Voice:
    def __init__(self, settings: VoiceSettings, env: Mapping[str, str], home: Path) -> None:
        self.settings = settings
        self.env = dict(env)
        self.home = home
        self._stt: Listener | None = None
        self._tts: Speaker | None = None
        self._limit = asyncio.Semaphore(settings.max_concurrent)

    # ----- the providers, built on first use -------------------------------------

    @property
    def stt(self) -> Listener:
        if self._stt is None:
            s = self.settings.stt
            if s.provider == "openai":
                from hermes.voice.stt_openai import OpenAITranscriber

                self._stt = OpenAITranscriber(s, self.env)
            else:
                from hermes.voice.stt_local import LocalWhisper

                self._stt = LocalWhisper(s.model, model_cache(self.env, self.home))
        return self._stt

    @property
    def tts(self) -> Speaker:
        if self._tts is None:
            s = self.settings.tts
            if s.provider == "openai":
                from hermes.voice.tts_openai import OpenAISpeech

                self._tts = OpenAISpeech(s, self.env)
            else:
                from hermes.voice.tts_espeak import Espeak

                self._tts = Espeak(s.voice, s.speed, s.timeout)
        return self._tts

    # ----- the work ---------------------------------------------------------------

    async def _run(self, work: Callable[[], T], role: str, what: str) -> T:
        """WORK in a worker thread under the limit, at most voice.ROLE.timeout
        seconds. A worker that outlives its timeout keeps its place under the limit
        until it ends."""
        timeout = self.settings.stt.timeout if role == "stt" else self.settings.tts.timeout
        await self._limit.acquire()
        job = asyncio.ensure_future(asyncio.to_thread(work))
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(job)
        except TimeoutError:
            raise VoiceError(
                f"{what} took longer than {timeout:.0f}s (voice.{role}.timeout)"
            ) from None
        finally:
            if job.done():
                self._limit.release()
            else:
                job.add_done_callback(self._released)

    def _released(self, job: asyncio.Future[Any]) -> None:
        self._limit.release()
        if not job.cancelled():
            job.exception()  # retrieved: a late failure is not logged as unhandled

    async def transcribe(self, audio: Path) -> Transcript:
        """The words of a voice note. Raises VoiceError (one line, what to do)."""
        stt, language = self.stt, self.settings.stt.language

        def work() -> Transcript:
            if not audio.is_file():
                raise VoiceError(f"no audio file at {audio}")
            return stt.transcribe(audio, language)

        return await self._run(work, "stt", "transcription")

    async def speak(self, text: str, out: Path) -> Spoken:
        """TEXT (markdown: made speakable first) spoken into the OGG/Opus file OUT.
        Raises VoiceError."""
        words = cut(speakable(text), self.settings.tts.max_chars)
        if not words:
            raise VoiceError("nothing to say: the text has no words to speak")
        tts = self.tts

        def work() -> Spoken:
            made = tts.synthesize(words, out)
            try:
                audio.to_ogg_opus(made, out)
            finally:
                if made != out:
                    made.unlink(missing_ok=True)
            return Spoken(path=out, duration=audio.duration(out))

        return await self._run(work, "tts", "speech synthesis")

    def status(self) -> list[ProviderStatus]:
        """The providers in use, whether they work offline and whether they are ready."""
        ffmpeg = None if shutil.which("ffmpeg") and shutil.which("ffprobe") else audio.MISSING
        rows: list[ProviderStatus] = []
        for role, provider in (("speech to text", self.stt), ("text to speech", self.tts)):
            problem = provider.problem() or ffmpeg
            rows.append(
                ProviderStatus(role, provider.label, provider.offline, problem is None, problem)
            )
        return rows
