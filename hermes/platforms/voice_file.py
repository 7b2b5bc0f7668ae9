"""The bytes of a spoken reply (VoiceOut.path), read off the event loop, for adapters
that upload them (WhatsApp, Signal, email). A missing or oversized file is a
SendError that no retry fixes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hermes.gateway.events import VoiceOut
from hermes.platforms.adapter import SendError

VOICE_MIME = "audio/ogg"  # what hermes/voice makes: OGG/Opus, 48 kHz mono
VOICE_NAME = "voice.ogg"


async def voice_bytes(voice: VoiceOut, platform: str, limit: int) -> bytes:
    """The file's bytes; SendError(retryable=False) when it is gone, empty or over LIMIT."""
    path = Path(voice.path)
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise SendError(
            f"{platform}: cannot read the spoken reply {path} ({exc.strerror or exc})",
            retryable=False,
        ) from None
    if not data or len(data) > limit:
        raise SendError(
            f"{platform}: the spoken reply {path} has {len(data)} bytes "
            f"(1 to {limit} are accepted)",
            retryable=False,
        )
    return data
