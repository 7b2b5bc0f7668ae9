"""What the Matrix adapter knows about its rooms, from the state events it syncs. Pure.

The first /sync of every client asks for the full state of each joined room, and the
later ones bring the changes (state events in `state` and in the timeline), so this
book knows who is in a room (a DM is the bot and one other member), their display
names, the room's name, and whether the room is end-to-end encrypted. Below it, the
small readers of a raw /sync answer the adapter walks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


@dataclass
class Room:
    members: dict[str, str | None] = field(default_factory=dict)  # joined user -> name
    name: str | None = None
    encrypted: bool = False
    complete: bool = False  # full state seen: the member count is right


class Rooms:
    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}

    def get(self, room: str) -> Room | None:
        return self.rooms.get(room)

    def forget_state(self) -> None:
        """A new client's full-state sync follows: counts are rebuilt from it."""
        for room in self.rooms.values():
            room.complete = False
            room.members.clear()

    def apply(self, room_id: str, events: list[Any], *, full: bool = False) -> list[str]:
        """Apply ROOM_ID's state EVENTS; returns what became known (\"encrypted\")."""
        room = self.rooms.setdefault(room_id, Room())
        news: list[str] = []
        for event in events:
            if not isinstance(event, dict) or not isinstance(event.get("state_key"), str):
                continue
            kind, content = event.get("type"), event.get("content")
            content = content if isinstance(content, dict) else {}
            if kind == "m.room.member":
                user = event["state_key"]
                if content.get("membership") == "join":
                    name = content.get("displayname")
                    room.members[user] = name if isinstance(name, str) else None
                else:
                    room.members.pop(user, None)
            elif kind == "m.room.name":
                name = content.get("name")
                room.name = name if isinstance(name, str) and name else None
            elif kind == "m.room.encryption" and not room.encrypted:
                room.encrypted = True
                news.append("encrypted")
        if full:
            room.complete = True
        return news

    def is_group(self, room_id: str) -> bool | None:
        """More than the bot and one other member; None while the members are unknown."""
        room = self.rooms.get(room_id)
        if room is None or not room.complete:
            return None
        return len(room.members) > 2

    def user_name(self, room_id: str, user: str) -> str | None:
        room = self.rooms.get(room_id)
        return room.members.get(user) if room is not None else None

    def room_name(self, room_id: str) -> str | None:
        room = self.rooms.get(room_id)
        return room.name if room is not None else None


def entries(value: Any) -> list[tuple[str, JSON]]:
    """The (room id, room) pairs of a sync's rooms.join / rooms.invite."""
    if not isinstance(value, dict):
        return []
    return [(k, v) for k, v in value.items() if isinstance(k, str) and isinstance(v, dict)]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def since_invited(events: list[JSON], bot: str) -> list[JSON]:
    """The events of a room just joined that came after the bot was invited (or joined):
    what was said before is the room's history, not for the bot to answer."""
    for n in range(len(events) - 1, -1, -1):
        event = events[n]
        content = event.get("content") if isinstance(event.get("content"), dict) else {}
        if (
            event.get("type") == "m.room.member"
            and event.get("state_key") == bot
            and (content or {}).get("membership") == "invite"
        ):
            return events[n + 1 :]
    for n, event in enumerate(events):
        if event.get("type") == "m.room.member" and event.get("state_key") == bot:
            return events[n + 1 :]
    return []


def section_events(room: JSON, section: str) -> list[Any]:
    """room[section].events, or [] when the sync says otherwise."""
    found = room.get(section)
    return as_list(found.get("events")) if isinstance(found, dict) else []
