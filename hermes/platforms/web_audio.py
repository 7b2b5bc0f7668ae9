"""The web chat's spoken replies on disk: one OGG/Opus file per reply with a small
JSON note beside it (when, how long, which chat), in a directory per chat. The page
plays them from an authenticated route (hermes/server/webchat_voice.py), and the
history of a chat lists them again after a reload or a gateway restart. The oldest
ones are forgotten past KEEP per chat.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEEP = 200  # spoken replies kept per chat
SAFE_CHAT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
AUDIO_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class SpokenReply:
    """One stored spoken reply of a chat."""

    id: str  # the file's id (32 hex digits)
    message_id: str  # the id send_voice returned (the page's bubble id)
    chat: str
    at: float  # unix seconds
    duration: float

    def item(self) -> dict[str, Any]:
        """As the page shows it (an event, or an entry of the history)."""
        return {
            "id": self.message_id,
            "audio": audio_url(self.chat, self.id),
            "duration": round(self.duration, 1),
            "at": self.at,
        }


def audio_url(chat: str, audio_id: str) -> str:
    return f"/api/web/audio/{chat_dir(chat)}/{audio_id}"


def chat_dir(chat: str) -> str:
    """The directory name of a chat (a page's chat id as it is; anything else hashed)."""
    if SAFE_CHAT.match(chat):
        return chat
    return "h" + hashlib.sha256(chat.encode()).hexdigest()[:32]


class AudioShelf:
    """The spoken replies under ROOT/CHAT/ID.ogg (+ ID.json). Blocking file I/O: call
    from a worker thread."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, chat: str, source: Path, message_id: str, duration: float) -> SpokenReply:
        """Copy SOURCE (an OGG/Opus file) onto the shelf; raises OSError."""
        folder = self.root / chat_dir(chat)
        folder.mkdir(parents=True, exist_ok=True)
        reply = SpokenReply(uuid.uuid4().hex, message_id, chat, time.time(), duration)
        shutil.copyfile(source, folder / f"{reply.id}.ogg")
        note = {"message_id": message_id, "chat": chat, "at": reply.at, "duration": duration}
        (folder / f"{reply.id}.json").write_text(json.dumps(note), encoding="utf-8")
        for old in self.listed(chat)[:-KEEP]:
            (folder / f"{old.id}.ogg").unlink(missing_ok=True)
            (folder / f"{old.id}.json").unlink(missing_ok=True)
        return reply

    def file(self, folder: str, audio_id: str) -> Path | None:
        """The audio file at FOLDER/ID (as in its URL), None if there is none."""
        if not SAFE_CHAT.match(folder) or not AUDIO_ID.match(audio_id):
            return None
        path = self.root / folder / f"{audio_id}.ogg"
        return path if path.is_file() else None

    def listed(self, chat: str) -> list[SpokenReply]:
        """The chat's spoken replies, oldest first."""
        folder = self.root / chat_dir(chat)
        if not folder.is_dir():
            return []
        found: list[SpokenReply] = []
        for note in folder.glob("*.json"):
            try:
                data = json.loads(note.read_text(encoding="utf-8"))
                found.append(
                    SpokenReply(
                        note.stem,
                        str(data["message_id"]),
                        chat,
                        float(data["at"]),
                        float(data["duration"]),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError):
                continue  # a half-written or foreign file: not a reply
        return sorted(found, key=lambda r: r.at)
