"""A spoken reply as a Matrix voice message.

The OGG/Opus file goes to the media repository, then an `m.audio` event names it with
`info` (mimetype, duration in ms, size) and the MSC3245 voice marker
(`org.matrix.msc3245.voice` with `org.matrix.msc1767.audio`), which Element shows as a
voice message (a player with a waveform) instead of a file. In a thread the event
carries the thread relation, as text replies do.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hermes.gateway.events import VoiceOut
from hermes.platforms.adapter import SendError
from hermes.platforms.matrix_link import Link

JSON = dict[str, Any]
FILENAME = "voice-message.ogg"
MIME = "audio/ogg"


async def content(link: Link, voice: VoiceOut) -> JSON:
    """Upload VOICE's file; the m.audio content that shows it as a voice message.
    Raises SendError (the file is unreadable) or MatrixError (the upload failed)."""
    try:
        data = await asyncio.to_thread(Path(voice.path).read_bytes)
    except OSError as exc:
        reason = f"matrix: cannot read the voice note to send: {exc}"
        raise SendError(reason, retryable=False) from exc
    url = await link.upload(data, MIME, FILENAME)
    return voice_content(url, len(data), voice)


def voice_content(url: str, size: int, voice: VoiceOut) -> JSON:
    """The m.audio event content of an uploaded voice note at URL (mxc://)."""
    millis = max(1, round(voice.duration * 1000))
    found: JSON = {
        "msgtype": "m.audio",
        "body": "Voice message",
        "filename": FILENAME,
        "url": url,
        "info": {"mimetype": MIME, "duration": millis, "size": size},
        "org.matrix.msc1767.audio": {"duration": millis},
        "org.matrix.msc3245.voice": {},
    }
    thread, reply_to = voice.target.thread, voice.reply_to_message_id
    if thread is not None:
        found["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread,
            "is_falling_back": reply_to is None,
            "m.in_reply_to": {"event_id": reply_to or thread},
        }
    elif reply_to is not None:
        found["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return found
