"""A spoken reply as Discord's native voice message.

Discord shows a voice message (a player with a waveform, not a file) when the OGG/Opus
file is uploaded with the message flag IS_VOICE_MESSAGE and its attachment carries
`duration_secs` and `waveform` (base64 of 256 amplitudes, 0-255). discord.py 2.x has
no parameter for these, so the multipart body (`payload_json` + `files[0]`) is built
here, as the API documents it, and sent through discord.py's HTTP client (which keeps
its rate limiting).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path
from typing import Any

from hermes.gateway.events import VoiceOut
from hermes.platforms.adapter import SendError
from hermes.platforms.discord_wire import VOICE_MESSAGE

log = logging.getLogger("hermes.gateway.discord")
JSON = dict[str, Any]
FILENAME = "voice-message.ogg"
POINTS = 256  # the waveform Discord's clients draw


def _read(path: Path) -> tuple[bytes, bytes]:
    """The file's bytes and its waveform (flat when ffmpeg cannot draw one: the
    message still plays)."""
    from hermes.voice.audio import waveform
    from hermes.voice.base import VoiceError

    data = path.read_bytes()
    try:
        shape = waveform(path, POINTS)
    except VoiceError as exc:
        log.warning("discord: no waveform for a voice message (%s)", exc)
        shape = bytes([128] * POINTS)
    return data, shape


async def voice_form(voice: VoiceOut) -> list[JSON]:
    """The multipart form of POST /channels/{id}/messages for VOICE (a voice message
    may carry no text). Raises SendError when the file cannot be read."""
    try:
        data, shape = await asyncio.to_thread(_read, Path(voice.path))
    except OSError as exc:
        raise SendError(f"cannot read the voice note to send: {exc}", retryable=False) from exc
    attachment = {
        "id": 0,
        "filename": FILENAME,
        "duration_secs": round(max(voice.duration, 0.1), 2),
        "waveform": base64.b64encode(shape).decode(),
    }
    payload: JSON = {
        "flags": VOICE_MESSAGE,
        "attachments": [attachment],
        "allowed_mentions": {"parse": [], "replied_user": False},
    }
    if voice.reply_to_message_id:
        payload["message_reference"] = {
            "message_id": voice.reply_to_message_id,
            "fail_if_not_exists": False,
        }
    return [
        {"name": "payload_json", "value": json.dumps(payload)},
        {"name": "files[0]", "value": data, "filename": FILENAME, "content_type": "audio/ogg"},
    ]
