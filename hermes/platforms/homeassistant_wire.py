"""Home Assistant's messages, as pure functions: URLs, the watch list, a state change
turned into an `Inbound`, and the service call that carries a notification.

Shapes follow Home Assistant's published WebSocket and REST API documentation
(developers.home-assistant.io, "WebSocket API" and "REST API"): a `state_changed`
event's data holds `entity_id`, `old_state` and `new_state` (state objects with
`state`, `attributes`, `last_changed`, `last_updated`, `context`), and the event
itself a `context` whose `id` names the change.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hermes.gateway.events import Inbound
from hermes.platforms.adapter import Malformed, json_object, one_line

NAME = "homeassistant"
CHAT = "events"  # the chat every watched change arrives in (one conversation)
USER = "homeassistant"  # the sender of a change: Home Assistant itself
DEFAULT_SERVICE = "persistent_notification.create"
STATE_CLIP = 200  # characters of a state shown (Home Assistant caps states at 255)
WATCH_PATTERN = r"[a-z0-9_*?]+(\.[a-z0-9_*?]+)?"
WATCH_HINT = (
    "each watch entry must be an entity id (lock.front_door), a domain (binary_sensor) "
    "or a pattern (sensor.*_temperature)"
)
SERVICE_PATTERN = r"[a-z0-9_]+\.[a-z0-9_]+"
SERVICE_HINT = "must be DOMAIN.SERVICE, e.g. notify.mobile_app_phone"


def watched(entity_id: str, watch: Sequence[str]) -> bool:
    """Whether ENTITY_ID is on the watch list: its id, its domain, or a pattern."""
    domain = entity_id.partition(".")[0]
    for item in watch:
        if item in (entity_id, domain):
            return True
        if any(c in item for c in "*?") and fnmatch.fnmatchcase(entity_id, item):
            return True
    return False


@dataclass(frozen=True)
class Change:
    """One state change of an entity, as the agent is told about it."""

    entity_id: str
    old: str | None  # None: the entity was just added
    new: str | None  # None: the entity was removed
    name: str  # friendly name (the entity id when it has none)
    unit: str  # unit of measurement ("" when none)
    context_id: str
    when: str  # last_changed as Home Assistant sent it

    @property
    def key(self) -> str:
        """The gateway's dedupe key: one context may change several entities at once."""
        return f"{self.context_id}:{self.entity_id}"

    def text(self) -> str:
        """What the agent reads."""

        def shown(state: str | None) -> str:
            if state is None:
                return "(none)"
            value = one_line(state, STATE_CLIP)
            return f"{value} {self.unit}" if self.unit and value else value

        label = self.name if self.name == self.entity_id else f"{self.name} ({self.entity_id})"
        if self.new is None:
            what = f"was removed (it was {shown(self.old)})"
        elif self.old is None:
            what = f"appeared with state {shown(self.new)}"
        else:
            what = f"changed: {shown(self.old)} → {shown(self.new)}"
        at = f" at {self.when}" if self.when else ""
        return (
            f"[Home Assistant] {label} {what}{at}.\n"
            "(An event from a watched entity, not a message from the user. Your reply is "
            "sent to the user as a notification.)"
        )


def change(data: Any) -> Change | None:
    """A `state_changed` event's data as a Change; None when the state itself did not
    change (only attributes did). Malformed when the shape is broken."""
    data = json_object(data, "event.data")
    entity_id = data.get("entity_id")
    if not isinstance(entity_id, str) or "." not in entity_id:
        raise Malformed("event.data.entity_id is missing or not DOMAIN.OBJECT_ID")
    old, new = _state(data.get("old_state"), "old_state"), _state(data.get("new_state"), "new")
    old_value = None if old is None else str(old.get("state", ""))
    new_value = None if new is None else str(new.get("state", ""))
    if old_value == new_value:
        return None  # an attribute update (or nothing at all)
    latest = new or old
    if latest is None:  # never: both None would have been equal
        return None
    attributes = _object(latest.get("attributes"))
    name = attributes.get("friendly_name")
    unit = attributes.get("unit_of_measurement")
    context_id = _object(latest.get("context")).get("id") or latest.get("last_updated") or ""
    if not context_id:
        raise Malformed(f"the change of {entity_id} carries no context id")
    return Change(
        entity_id=entity_id,
        old=old_value,
        new=new_value,
        name=one_line(name, 120) if isinstance(name, str) and name.strip() else entity_id,
        unit=unit if isinstance(unit, str) else "",
        context_id=str(context_id),
        when=_seconds(str(latest.get("last_changed") or "")),
    )


def _seconds(stamp: str) -> str:
    """An ISO time cut to whole seconds: 2026-12-03T11:06:00.0719+00:00 -> ...11:06:00+00:00."""
    head, dot, tail = stamp.partition(".")
    if not dot:
        return stamp
    zone = next((i for i, c in enumerate(tail) if not c.isdigit()), len(tail))
    return head + tail[zone:]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _state(value: Any, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    return json_object(value, f"event.data.{what}")


def update_key(data: Any) -> str:
    """A state change's id for the record of skipped updates (best effort: the data
    may be malformed): CONTEXT:ENTITY."""
    data = data if isinstance(data, dict) else {}
    state = data.get("new_state") or data.get("old_state")
    context = state.get("context") if isinstance(state, dict) else None
    context_id = context.get("id") if isinstance(context, dict) else None
    return f"{context_id or 'no-context'}:{data.get('entity_id') or 'no-entity'}"


def inbound(item: Change) -> Inbound:
    """The event the gateway handles for a change (one chat for all changes)."""
    return Inbound(
        platform=NAME,
        chat=CHAT,
        user=USER,
        text=item.text(),
        external_id=item.key,
        user_name="Home Assistant",
        chat_name="Home Assistant events",
    )


def service_for(chat: str, default: str) -> tuple[str, str]:
    """The service a message to CHAT goes through: `events` (replies to changes) uses
    the configured one; a chat that is DOMAIN.SERVICE (homeassistant:notify.mobile_app_x)
    names its own."""
    chosen = default if chat == CHAT else chat
    domain, dot, service = chosen.partition(".")
    if not (dot and domain and service):
        raise ValueError(
            f"homeassistant target {chat!r}: use homeassistant:events or "
            "homeassistant:DOMAIN.SERVICE (e.g. homeassistant:notify.mobile_app_phone)"
        )
    return domain, service


def notification(text: str, title: str) -> dict[str, Any]:
    """The service data of a notification: persistent_notification.create and every
    notify.* service take `message` and `title`."""
    data: dict[str, Any] = {"message": text}
    if title:
        data["title"] = title
    return data


def result_error(message: dict[str, Any]) -> str:
    """A failed `result` message as one line: 'CODE: MESSAGE'."""
    found = message.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    code, text = error.get("code") or "error", error.get("message") or "no message"
    return one_line(f"{code}: {text}")
