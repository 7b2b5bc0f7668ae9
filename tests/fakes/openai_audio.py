"""A loopback OpenAI-compatible audio server: `/v1/audio/transcriptions` and
`/v1/audio/speech`, as OpenAI, Groq or a local whisper server answer them.

It records every request (`calls`, with the uploaded audio and form fields), answers
transcriptions with `transcript`, speaks with espeak-ng (real OGG/Opus, so ffmpeg can
read it), fails on demand (`fail("transcriptions", 500)`, 401...) and can `stall`
(answer nothing until `recover()` / close: a timeout without sleeping).

    with FakeOpenAIAudio() as fake:
        fake.transcript = "hello there"
        settings.stt.base_url = fake.url  # http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.platform_base import Call, FakePlatform, Reply
from tests.voice_helpers import spoken


class FakeOpenAIAudio(FakePlatform):
    def __init__(self) -> None:
        self.transcript = "hello from the fake server"
        self.uploads: list[tuple[str, bytes, dict[str, str]]] = []  # (filename, audio, fields)
        self.speeches: list[dict[str, Any]] = []  # the JSON bodies of /audio/speech
        self._stalled: asyncio.Event | None = None
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1"

    def routes(self) -> None:
        self.http("POST", "/v1/audio/transcriptions", self.transcribe, name="transcriptions")
        self.http("POST", "/v1/audio/speech", self.speech, name="speech")

    def error_body(self, status: int, name: str, retry_after: float | None) -> Any:
        return {"error": {"message": f"injected failure {status}", "type": "server_error"}}

    def stall(self) -> None:
        """Leave every request unanswered until recover() (or close)."""
        with self.cond:
            self._stalled = self._stalled or asyncio.Event()

    def recover(self) -> None:
        with self.cond:
            stalled, self._stalled = self._stalled, None
        if stalled is not None:
            self.run(_set(stalled))
        super().recover()

    def close(self) -> None:
        if self._loop is not None:
            self.recover()  # stalled handlers end before the server stops
        super().close()

    async def _wait_if_stalled(self) -> None:
        with self.cond:
            stalled = self._stalled
        if stalled is not None:
            await stalled.wait()

    async def transcribe(self, call: Call) -> Any:
        await self._wait_if_stalled()
        upload = call.data.get("file")
        if not isinstance(upload, web.FileField):
            return Reply(400, {"error": {"message": "file is required"}})
        fields = {k: str(v) for k, v in call.data.items() if k != "file"}
        with self.cond:
            self.uploads.append((upload.filename, upload.file.read(), fields))
            self.changed()
            return {"text": self.transcript}

    async def speech(self, call: Call) -> Any:
        await self._wait_if_stalled()
        text = str(call.data.get("input", ""))
        with self.cond:
            self.speeches.append(dict(call.data))
            self.changed()
        audio = await asyncio.to_thread(_speak, text)
        return web.Response(body=audio, content_type="audio/ogg")


async def _set(event: asyncio.Event) -> None:
    event.set()


def _speak(text: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return spoken(text, Path(tmp) / "speech.ogg").read_bytes()
