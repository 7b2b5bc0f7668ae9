"""The risk of a Home Assistant service call (the agent's `ha_call_service`), for the
approval gate: pure, from the domain, the service and the call's target.

- high: what lets people in or leaves a home unguarded: `lock.unlock`, `lock.open`,
  `alarm_control_panel.alarm_disarm`;
- medium: opening covers (garage doors, gates, shutters), any change of an alarm's
  arming, turning off (or toggling) the whole house (`entity_id: all`, or no target
  at all) or everything of a domain that way, restarting or stopping Home Assistant,
  and opening, pressing or switching on what is named like a garage door or gate;
- low: running scripts and automations (what they do is not visible here), pressing
  buttons, opening valves;
- none: the rest (lights on, a scene, a notification, a thermostat, reading).

The table is data (`SERVICES`); what the target reaches (one entity, a whole area,
the whole house) is read from `entity_id`/`area_id`/... in the call's `target` or
service data, as Home Assistant reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hermes.risk.model import Assessment, Level, rank

# (domain, service) -> (risk, why); "*" as the service: every service of the domain
SERVICES: dict[tuple[str, str], tuple[Level, str]] = {
    ("lock", "unlock"): ("high", "unlocks a door"),
    ("lock", "open"): ("high", "opens a lock (unlatches the door)"),
    ("alarm_control_panel", "alarm_disarm"): ("high", "disarms the alarm"),
    ("alarm_control_panel", "*"): ("medium", "changes how the alarm is armed"),
    ("cover", "open_cover"): ("medium", "opens a cover (garage door, gate or shutter)"),
    ("cover", "open_cover_tilt"): ("medium", "opens a cover's tilt"),
    ("cover", "set_cover_position"): ("medium", "moves a cover (garage door, gate or shutter)"),
    ("cover", "toggle"): ("medium", "opens or closes a cover"),
    ("cover", "stop_cover"): ("low", "stops a moving cover"),
    ("homeassistant", "restart"): ("medium", "restarts Home Assistant"),
    ("homeassistant", "stop"): ("medium", "stops Home Assistant"),
    ("hassio", "host_shutdown"): ("medium", "shuts down the Home Assistant host"),
    ("hassio", "host_reboot"): ("medium", "reboots the Home Assistant host"),
    ("script", "*"): ("low", "runs a script (what it does is not shown here)"),
    ("automation", "trigger"): ("low", "runs an automation's actions"),
    ("button", "press"): ("low", "presses a button"),
    ("valve", "open_valve"): ("low", "opens a valve"),
}
OFF_SERVICES = {"turn_off", "toggle"}
EVERYTHING = "all"
TARGET_KEYS = ("entity_id", "device_id", "area_id", "floor_id", "label_id")
# entities named like an entrance: opening, pressing or switching them on lets people in
ENTRANCE = re.compile(r"garage|gate|door|entrance|portal", re.IGNORECASE)
OPENING = {"turn_on", "toggle", "press", "open_cover", "open", "open_valve", "trigger"}


def targets(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """The call's targets by kind (entity_id, area_id, ...): from `target` and from the
    service data itself, each as a list of ids."""
    found: dict[str, list[str]] = {}
    nested = data.get("target")
    for source in (nested if isinstance(nested, Mapping) else {}, data):
        for key in TARGET_KEYS:
            value = source.get(key)
            items = [value] if isinstance(value, str) else value
            if isinstance(items, list):
                ids = [
                    v.strip() for part in items if isinstance(part, str) for v in part.split(",")
                ]
                found.setdefault(key, []).extend(i for i in ids if i)
    return found


def classify_service(domain: str, service: str, data: Mapping[str, Any]) -> Assessment:
    """The risk of calling DOMAIN.SERVICE with DATA (service data plus `target`)."""
    domain, service = domain.strip().lower(), service.strip().lower()
    reach = targets(data)
    entities = reach.get("entity_id", [])
    found: list[Assessment] = []
    listed = SERVICES.get((domain, service)) or SERVICES.get((domain, "*"))
    if domain == "script" and service in ("turn_off", "reload"):
        listed = None  # stopping a script or reloading them changes nothing outside
    if listed is not None:
        found.append(Assessment(listed[0], f"{domain}.{service} {listed[1]}"))
    if service in OFF_SERVICES:
        if EVERYTHING in entities:
            found.append(Assessment("medium", f"{domain}.{service} on entity_id: all"))
        elif not any(reach.values()):
            found.append(
                Assessment("medium", f"{domain}.{service} without a target (the whole house)")
            )
    if service in OPENING:
        entrances = [e for e in entities if ENTRANCE.search(e)]
        if entrances:
            found.append(
                Assessment("medium", f"{domain}.{service} on {entrances[0]} (an entrance)")
            )
    best = Assessment("none", f"{domain}.{service} is not a risky service call")
    for item in found:
        if rank(item.risk) > rank(best.risk):
            best = item
    return best


def shown(domain: str, service: str, data: Mapping[str, Any]) -> str:
    """The call as the person deciding sees it: `lock.unlock entity_id=lock.front`
    plus any other data."""
    import json

    reach = targets(data)
    parts = [f"{domain}.{service}"]
    parts += [f"{key}={','.join(ids)}" for key, ids in reach.items() if ids]
    rest = {k: v for k, v in data.items() if k not in (*TARGET_KEYS, "target")}
    if rest:
        parts.append(json.dumps(rest, sort_keys=True, ensure_ascii=False))
    return " ".join(parts)
