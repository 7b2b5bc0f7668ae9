"""The risk of Home Assistant service calls (hermes/risk/homeassistant.py), table-driven,
and the approval gate's reading of the agent's `ha_call_service` calls."""

from __future__ import annotations

from typing import Any

import pytest

from hermes.risk.homeassistant import classify_service, shown, targets

CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # the doors and the alarm: high
    ("lock", "unlock", {"entity_id": "lock.front_door"}, "high"),
    ("lock", "open", {"target": {"entity_id": "lock.front_door"}}, "high"),
    ("LOCK", " unlock ", {"entity_id": "lock.back"}, "high"),
    ("alarm_control_panel", "alarm_disarm", {"entity_id": "alarm_control_panel.home"}, "high"),
    # alarm arming changes, covers, garage doors, the whole house: medium
    ("alarm_control_panel", "alarm_arm_away", {"entity_id": "alarm_control_panel.home"}, "medium"),
    ("alarm_control_panel", "alarm_arm_night", {}, "medium"),
    ("cover", "open_cover", {"entity_id": "cover.garage_door"}, "medium"),
    ("cover", "set_cover_position", {"entity_id": "cover.shutter", "position": 100}, "medium"),
    ("cover", "toggle", {"entity_id": "cover.living_room_blinds"}, "medium"),
    ("switch", "turn_on", {"entity_id": "switch.garage_door_opener"}, "medium"),
    ("button", "press", {"entity_id": "button.front_gate"}, "medium"),
    ("homeassistant", "turn_off", {"entity_id": "all"}, "medium"),
    ("homeassistant", "turn_off", {}, "medium"),
    ("light", "turn_off", {"entity_id": "all"}, "medium"),
    ("light", "turn_off", {"target": {"entity_id": ["light.a", "all"]}}, "medium"),
    ("light", "turn_off", {}, "medium"),
    ("switch", "turn_off", {"entity_id": "all"}, "medium"),
    ("switch", "toggle", {}, "medium"),
    ("homeassistant", "restart", {}, "medium"),
    # scripts, buttons, valves: low
    ("script", "turn_on", {"entity_id": "script.goodnight"}, "low"),
    ("script", "goodnight", {}, "low"),
    ("automation", "trigger", {"entity_id": "automation.leave_home"}, "low"),
    ("button", "press", {"entity_id": "button.restart_printer"}, "low"),
    ("cover", "stop_cover", {"entity_id": "cover.shutter"}, "low"),
    # harmless: none
    ("light", "turn_on", {"entity_id": "light.kitchen", "brightness": 120}, "none"),
    ("light", "turn_off", {"entity_id": "light.kitchen"}, "none"),
    ("light", "turn_off", {"area_id": "living_room"}, "none"),
    ("homeassistant", "turn_off", {"target": {"floor_id": "upstairs"}}, "none"),
    ("lock", "lock", {"entity_id": "lock.front_door"}, "none"),
    ("cover", "close_cover", {"entity_id": "cover.garage_door"}, "none"),
    ("scene", "turn_on", {"entity_id": "scene.evening"}, "none"),
    ("notify", "mobile_app_phone", {"message": "hi"}, "none"),
    ("persistent_notification", "create", {"message": "hi"}, "none"),
    ("climate", "set_temperature", {"entity_id": "climate.hall", "temperature": 21}, "none"),
    ("script", "turn_off", {"entity_id": "script.goodnight"}, "none"),
    ("switch", "turn_off", {"entity_id": "switch.coffee"}, "none"),
]


@pytest.mark.parametrize(("domain", "service", "data", "risk"), CASES)
def test_each_service_call_gets_its_risk(
    domain: str, service: str, data: dict[str, Any], risk: str
) -> None:
    found = classify_service(domain, service, data)
    assert found.risk == risk, found.reason
    assert found.reason


def test_targets_are_read_from_target_and_from_the_data_comma_separated() -> None:
    data = {"entity_id": "light.a, light.b", "target": {"area_id": ["hall"], "entity_id": "c.d"}}
    assert targets(data) == {"entity_id": ["c.d", "light.a", "light.b"], "area_id": ["hall"]}


def test_the_call_is_shown_with_its_targets_and_its_other_fields() -> None:
    data = {"entity_id": "lock.front_door", "code": "1234"}
    assert shown("lock", "unlock", data) == 'lock.unlock entity_id=lock.front_door {"code": "1234"}'


async def test_the_gate_asks_for_an_unlock_and_lets_a_light_through(tmp_path: Any) -> None:
    from hermes.approvals.gate import assess
    from hermes.context import TurnContext
    from hermes.home import load_profile
    from hermes.messages import ToolCall
    from hermes.tools.process import ProcessManager

    profile = load_profile(None, env={"HERMES_HOME": str(tmp_path), "HOME": str(tmp_path)})
    ctx = TurnContext(profile, "s", None, ProcessManager())  # type: ignore[arg-type]

    def judged(args: dict[str, Any]) -> Any:
        return assess(ToolCall("c1", "ha_call_service", "{}"), args, ctx)

    unlock = judged({"domain": "lock", "service": "unlock", "entity_id": "lock.front_door"})
    assert unlock is not None and unlock.risk == "high"
    assert unlock.action == "ha_call_service lock.unlock entity_id=lock.front_door"
    light = judged({"domain": "light", "service": "turn_on", "entity_id": "light.kitchen"})
    assert light is not None and light.risk == "none"
    everything = judged({"domain": "homeassistant", "service": "turn_off", "data": {}})
    assert everything is not None and everything.risk == "medium"
    assert judged({"domain": "lock", "service": "unlock", "data": "bad"}) is None
