"""The two small interfaces behind `service.Voice`, and what they return.

Providers are synchronous and may block for seconds (a model decoding a long
note, a subprocess, an HTTP call): the service runs them in a worker thread under
its concurrency limit, never on the event loop."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hermes.errors import HermesError


def transcribed(audio: str, text: str, extra: str = "") -> str:
    """How a transcribed voice note reads to the agent: marked as one, with where its
    audio is kept (the agent may process the file further) and its words."""
    return f"[voice note, transcribed; audio: {audio}{extra}]\n{text or '(no speech heard)'}"


_MARK = re.compile(r"^\[voice note, transcribed; audio: [^\n]*\]\n", re.M)


def as_heard(text: str) -> str:
    """TEXT for a person to read: each transcribed voice note as "🎤 " and its words."""
    return _MARK.sub("🎤 ", text)


class VoiceError(HermesError):
    """Speech could not be made or understood. The message is one line that says
    what to do (install an extra, set a key, check a URL)."""


@dataclass(frozen=True)
class Transcript:
    text: str  # "" when the audio held no speech
    duration: float | None = None  # seconds of audio, when the provider says
    language: str | None = None  # detected or configured


@dataclass(frozen=True)
class Spoken:
    path: Path  # an OGG/Opus file (48 kHz mono): every platform's voice-note format
    duration: float  # seconds
    mime: str = "audio/ogg"


class SpeechToText(Protocol):
    name: str  # "local", "openai"
    offline: bool  # works with no network at all

    def transcribe(self, audio: Path, language: str | None) -> Transcript:
        """The words in AUDIO (any format ffmpeg reads). Raises VoiceError."""
        ...


class TextToSpeech(Protocol):
    name: str  # "local", "openai", ...
    offline: bool

    def synthesize(self, text: str, out: Path) -> Path:
        """Speak TEXT (already speakable: no markdown) into an audio file next to OUT
        (any format ffmpeg reads; the service converts it). Returns its path.
        Raises VoiceError."""
        ...
