"""`openai` text to speech: any OpenAI-compatible `/audio/speech` endpoint."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from hermes.settings import TtsSettings
from hermes.voice.base import VoiceError
from hermes.voice.openai_http import DEFAULT_URL, endpoint, headers, key_problem, post


class OpenAISpeech:
    name = "openai"
    offline = False

    def __init__(self, settings: TtsSettings, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.env = env
        self.model = settings.model or "tts-1"
        self.voice = settings.voice or "alloy"
        self.url = endpoint(settings.base_url, "audio/speech")

    @property
    def label(self) -> str:
        return f"openai ({self.settings.base_url or DEFAULT_URL}, {self.model}, {self.voice})"

    def problem(self) -> str | None:
        return key_problem(self.settings.base_url, self.settings.api_key_env, self.env, "tts")

    def synthesize(self, text: str, out: Path) -> Path:
        s = self.settings
        auth = headers(s.base_url, s.api_key_env, self.env, "tts")
        body = {
            "model": self.model,
            "input": text,
            "voice": self.voice,
            "speed": s.speed,
            "response_format": "opus",
        }
        reply = post(self.url, "text to speech", s.timeout, headers=auth, json=body)
        if not reply.content:
            raise VoiceError(f"text to speech at {self.url} answered with no audio")
        path = out.with_name(f".{out.stem}.{os.getpid()}.speech.ogg")
        path.write_bytes(reply.content)
        return path
