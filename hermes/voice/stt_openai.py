"""`openai` speech to text: any OpenAI-compatible `/audio/transcriptions`
endpoint (OpenAI, Groq, a local whisper server)."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from pathlib import Path

from hermes.settings import SttSettings
from hermes.voice.base import Transcript, VoiceError
from hermes.voice.openai_http import DEFAULT_URL, endpoint, headers, key_problem, post


class OpenAITranscriber:
    name = "openai"
    offline = False

    def __init__(self, settings: SttSettings, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.env = env
        self.model = settings.model or "whisper-1"
        self.url = endpoint(settings.base_url, "audio/transcriptions")

    @property
    def label(self) -> str:
        return f"openai ({self.settings.base_url or DEFAULT_URL}, {self.model})"

    def problem(self) -> str | None:
        return key_problem(self.settings.base_url, self.settings.api_key_env, self.env, "stt")

    def transcribe(self, audio: Path, language: str | None) -> Transcript:
        s = self.settings
        auth = headers(s.base_url, s.api_key_env, self.env, "stt")
        try:
            data = audio.read_bytes()
        except OSError as exc:
            raise VoiceError(f"cannot read {audio}: {exc.strerror}") from None
        mime = mimetypes.guess_type(audio.name)[0] or "application/octet-stream"
        fields = {"model": self.model, "response_format": "json"}
        if language:
            fields["language"] = language
        reply = post(
            self.url,
            "speech to text",
            s.timeout,
            headers=auth,
            data=fields,
            files={"file": (audio.name, data, mime)},
        )
        try:
            body = reply.json()
            text = body["text"]
        except (ValueError, KeyError, TypeError):
            raise VoiceError(f"speech to text at {self.url} answered without a text") from None
        if not isinstance(text, str):
            raise VoiceError(f"speech to text at {self.url} answered without a text")
        duration = body.get("duration")
        return Transcript(
            text=text.strip(),
            duration=float(duration) if isinstance(duration, int | float) else None,
            language=body.get("language") if isinstance(body.get("language"), str) else language,
        )
