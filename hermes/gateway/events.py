"""What adapters hand to the gateway, and where the gateway sends replies.

Every platform's update becomes one `Inbound`; every reply goes to a
`Target`. Both are plain data: they are stored in state.db as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hermes.voice.base import transcribed


@dataclass(frozen=True)
class Target:
    """A place to deliver to: PLATFORM:CHAT[:THREAD]."""

    platform: str
    chat: str
    thread: str | None = None

    def __str__(self) -> str:
        tail = f":{self.thread}" if self.thread else ""
        return f"{self.platform}:{self.chat}{tail}"

    @classmethod
    def parse(cls, text: str) -> Target:
        """'telegram:-100123:6' -> Target. Raises ValueError with what is expected.
        A chat id may itself start with '-' (Telegram groups). A Matrix room id keeps
        its colons (!opaque:server[:port]); a thread after it is an event id, which
        starts with '$': 'matrix:!abc:example.org:$root'."""
        name, _, rest = text.strip().partition(":")
        if rest.startswith("!") and name.strip():
            room, dollar, event = rest.partition(":$")
            if room.strip() != "!" and (not dollar or event.strip()):
                thread_id = f"${event.strip()}" if dollar else None
                return cls(name.strip().lower(), room.strip(), thread_id)
        parts = text.strip().split(":")
        if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
            shown = text if len(text) <= 80 else text[:80] + "…"
            raise ValueError(
                f"bad target {shown!r}: expected PLATFORM:CHAT or PLATFORM:CHAT:THREAD, "
                "e.g. telegram:123456789 or telegram:-1001234567890:6"
            )
        thread = parts[2] if len(parts) == 3 else None
        return cls(parts[0].strip().lower(), parts[1].strip(), thread)


def session_key(
    profile: str, platform: str, chat: str, thread: str | None = None, user: str | None = None
) -> str:
    """Which conversation a message belongs to: profile + platform + chat + thread,
    and the sender too in group chats (each member has their own session)."""
    parts = [profile, platform, chat, thread or ""]
    if user is not None:
        parts.append(user)
    return ":".join(parts)


@dataclass(frozen=True)
class Attachment:
    kind: str  # "audio" (voice notes too), "image", "video", "file"
    path: str | None = None  # local copy once downloaded, else None
    mime: str | None = None
    name: str | None = None
    size: int | None = None
    duration: float | None = None  # seconds (audio/video)
    voice: bool = False  # a voice note recorded in the app
    platform_file_id: str | None = None
    transcript: str | None = None  # a voice note's words (hermes/gateway/voice_in.py)


@dataclass(frozen=True)
class Inbound:
    """One normalized message (or button press) from a platform."""

    platform: str  # "telegram", "web", "api", ...
    chat: str  # chat id as text
    user: str  # sender id as text
    text: str
    external_id: str  # unique per platform: dedupes redelivered updates
    thread: str | None = None  # forum topic / thread id
    user_name: str | None = None  # display name
    chat_name: str | None = None
    is_group: bool = False  # group chat: the session key includes the user
    message_id: str | None = None  # the platform's id of this message (for replies)
    reply_to: str | None = None  # text of the message this one replies to (cut)
    attachments: tuple[Attachment, ...] = ()
    mentions_bot: bool = False  # mentions the bot or replies to one of its messages
    callback_data: str | None = None  # a button press (the text is then the button label)
    callback_id: str | None = None  # to acknowledge the press on the platform

    @property
    def target(self) -> Target:
        return Target(self.platform, self.chat, self.thread)

    def session_key(self, profile: str) -> str:
        user = self.user if self.is_group else None
        return session_key(profile, self.platform, self.chat, self.thread, user)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Inbound:
        data = dict(data)
        data["attachments"] = tuple(Attachment(**a) for a in data.get("attachments") or ())
        return cls(**data)

    def agent_text(self) -> str:
        """The text the agent sees: the message plus what the platform adds."""
        lines: list[str] = []
        if self.is_group and self.user_name:
            lines.append(f"[{self.user_name}]")
        if self.reply_to:
            lines.append(f'(in reply to: "{self.reply_to}")')
        for a in self.attachments:
            what = "voice note" if a.voice else a.kind
            where = a.path or "(not downloaded)"
            extra = f", {a.duration:.0f} s" if a.duration else ""
            if a.transcript is not None:
                lines.append(transcribed(where, a.transcript, extra))
                continue
            lines.append(f"[{what}: {where}{extra}]")
        if self.text:
            lines.append(self.text)
        return "\n".join(lines)


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # sent back as Inbound.callback_data when pressed (<= 64 bytes on Telegram)


@dataclass
class Outbound:
    """One message to send (a reply is split into several when too long)."""

    target: Target
    text: str
    buttons: list[list[Button]] = field(default_factory=list)  # rows of buttons
    reply_to_message_id: str | None = None
    # the ledger's name for this part ("DELIVERY_ID.PART"), the same on every try: a
    # platform that can recognise a resend (email: its Message-ID) derives its id from it
    key: str | None = None


@dataclass(frozen=True)
class VoiceOut:
    """One spoken reply to send: an OGG/Opus file (48 kHz mono, hermes/voice)."""

    target: Target
    path: str
    duration: float  # seconds
    reply_to_message_id: str | None = None
    key: str | None = None  # the ledger's name for this part, as Outbound.key
