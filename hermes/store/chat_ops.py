"""The chats table: every chat a message came from, with the name its platform
gives it (a Telegram group's title, a user's name). A trigger on ``inbound``
keeps it current (hermes/store/schema.py, step 0010); only the chat's /voice mode
(step 0011) is written here.

Synchronous functions for ``await store.run(chat_ops.fn, ...)``.
"""

from __future__ import annotations

from typing import Any, Protocol

from hermes.store.db import Conn, transaction


class _Place(Protocol):
    @property
    def platform(self) -> str: ...

    @property
    def chat(self) -> str: ...


def exists(conn: Conn, platform: str, chat: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM chats WHERE platform = ? AND chat = ?", (platform, chat)
    ).fetchone()
    return row is not None


def missing_web_chat(conn: Conn, target: _Place) -> str | None:
    """Why a message to this web chat would reach nobody, or None. A web chat exists
    once a message was sent in it (its id is made by the page); other platforms'
    chats are checked by the platform when sending."""
    if target.platform != "web" or exists(conn, "web", target.chat):
        return None
    return (
        f"no web chat {target.chat!r}: a web chat exists once a message was sent in it "
        "(`hermes send` can only answer one)"
    )


def names(conn: Conn) -> dict[str, str]:
    """PLATFORM:CHAT -> the chat's name, for the chats that have one."""
    rows = conn.execute("SELECT platform, chat, name FROM chats WHERE name IS NOT NULL")
    return {f"{p}:{c}": str(n) for p, c, n in rows.fetchall()}


def listing(conn: Conn, limit: int = 500) -> list[dict[str, Any]]:
    """The chats seen, most recent first."""
    rows = conn.execute(
        "SELECT platform, chat, name, last_seen FROM chats ORDER BY last_seen DESC LIMIT ?",
        (limit,),
    ).fetchall()
    keys = ("platform", "chat", "name", "last_seen")
    return [dict(zip(keys, r, strict=True)) for r in rows]


VOICE_MODES = ("off", "on", "only")


def voice_mode(conn: Conn, platform: str, chat: str) -> str:
    """The chat's /voice mode: off (text), on (text and a voice note), only (the note)."""
    row = conn.execute(
        "SELECT voice FROM chats WHERE platform = ? AND chat = ?", (platform, chat)
    ).fetchone()
    return str(row[0]) if row else "off"


def set_voice_mode(conn: Conn, platform: str, chat: str, mode: str, now: float) -> None:
    if mode not in VOICE_MODES:
        raise ValueError(f"voice mode {mode!r}: expected one of {', '.join(VOICE_MODES)}")
    with transaction(conn):
        conn.execute(
            "INSERT INTO chats(platform, chat, last_seen, voice) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(platform, chat) DO UPDATE SET voice = excluded.voice",
            (platform, chat, now, mode),
        )
