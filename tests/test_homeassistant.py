"""Home Assistant as a user sees it: `hermes gateway run` as a real process, its
aiohttp WebSocket client against the fake Home Assistant
(tests/fakes/homeassistant_api.py), the scripted model. Watched changes become turns
whose answers are notifications; cooldown, unwatched entities, duplicates, a rejected
token, a dropped or silent socket, and the agent's tools with an approval."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.fakes.homeassistant_api import FakeHomeAssistant
from tests.gateway_helpers import GatewayProcess, make_home
from tests.tools_helpers import wait_until

DOOR, LOCK, LIGHT, NOISE = (
    "binary_sensor.front_door",
    "lock.front_door",
    "light.kitchen",
    "sensor.noise",
)


@pytest.fixture
def ha() -> Iterator[FakeHomeAssistant]:
    with FakeHomeAssistant() as fake:
        fake.add_entity(DOOR, "off", friendly_name="Front Door", device_class="door")
        fake.add_entity(LOCK, "locked", friendly_name="Front Door Lock")
        fake.add_entity(LIGHT, "off", friendly_name="Kitchen Light")
        fake.add_entity(NOISE, "31", friendly_name="Noise", unit_of_measurement="dB")
        yield fake


def ha_home(path: Path, model: ScriptedModel, ha: FakeHomeAssistant, **settings: Any) -> Path:
    """A home watching the door sensors and the lock; SETTINGS go to `homeassistant:`."""
    section = {
        "watch": ["binary_sensor", LOCK],
        "cooldown_seconds": 0,
        "ping_interval": 0.5,
        **settings,
    }
    return make_home(
        path,
        model,
        {"server": {"port": 0}, "homeassistant": section},
        {"HASS_URL": ha.url, "HASS_TOKEN": ha.token, "HERMES_API_KEY": "k"},
    )


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel, ha: FakeHomeAssistant) -> Path:
    return ha_home(tmp_path / "home", model, ha)


def platform_state(home: Path) -> str:
    return str(json.loads((home / "gateway.json").read_text())["platforms"]["homeassistant"])


async def connected(home: Path, ha: FakeHomeAssistant, subscribers: int = 1) -> GatewayProcess:
    gw = await GatewayProcess(home).ready()
    await wait_until(lambda: platform_state(home) == "connected", 20, why=gw.log)
    await wait_until(lambda: len(ha.subscriptions) == subscribers, 20, why=gw.log)
    return gw


def user_messages(home: Path) -> list[str]:
    with sqlite3.connect(home / "state.db") as conn:
        rows = conn.execute("SELECT content FROM messages WHERE role = 'user' ORDER BY id")
        return [str(r[0]) for r in rows]


async def test_a_watched_change_is_a_turn_answered_by_a_notification(
    home: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    gw = await connected(home, ha)
    model.reply("The front door just opened.")
    ha.set_state(NOISE, "80")  # not watched: nothing happens
    ha.set_state(DOOR, "on")
    await wait_until(lambda: ha.notifications() == ["The front door just opened."], 20, gw.log)
    call = ha.calls_of("persistent_notification", "create")[0]
    assert call["via"] == "rest" and call["data"]["title"] == "Hermes"
    assert call["data"]["notification_id"].startswith("hermes_")
    (seen,) = user_messages(home)
    assert "Front Door (binary_sensor.front_door) changed: off → on" in seen
    assert len(model.requests) == 1 and "noise" not in json.dumps(model.requests[0].messages)
    assert await gw.stop() == 0


async def test_a_chosen_notify_service_carries_the_answers(
    tmp_path: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    home = ha_home(tmp_path / "home", model, ha, notify_service="notify.mobile_app_phone")
    gw = await connected(home, ha)
    model.reply("Your lock was unlocked.")
    ha.set_state(LOCK, "unlocked")
    await wait_until(lambda: ha.calls_of("notify", "mobile_app_phone"), 20, gw.log)
    (call,) = ha.calls_of("notify", "mobile_app_phone")
    assert call["data"] == {"message": "Your lock was unlocked.", "title": "Hermes"}
    assert ha.calls_of("persistent_notification") == []
    # a target of its own for `hermes send` (and cron): homeassistant:DOMAIN.SERVICE
    sent = await asyncio.to_thread(
        run_hermes, home, "send", "homeassistant:notify.mobile_app_tablet", "dinner is ready"
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    await wait_until(lambda: ha.calls_of("notify", "mobile_app_tablet"), 20, gw.log)
    assert await gw.stop() == 0


async def test_changes_within_the_cooldown_are_not_handed_over(
    tmp_path: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    home = ha_home(tmp_path / "home", model, ha, cooldown_seconds=3600)
    gw = await connected(home, ha)
    model.reply("Door opened.").reply("Lock changed.")
    ha.set_state(DOOR, "on")
    await wait_until(lambda: ha.notifications() == ["Door opened."], 20, gw.log)
    ha.set_state(DOOR, "off")  # within the door's cooldown
    ha.set_state(DOOR, "on")
    ha.set_state(LOCK, "unlocked")  # another entity: its own cooldown
    await wait_until(lambda: ha.notifications() == ["Door opened.", "Lock changed."], 20, gw.log)
    assert await gw.stop() == 0
    assert len(model.requests) == 2
    assert sum("binary_sensor.front_door" in m for m in user_messages(home)) == 1


async def test_a_change_delivered_twice_is_answered_once(
    home: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    gw = await connected(home, ha)
    model.reply("Once.").reply("Lock.")
    ha.duplicate_next()
    event = ha.set_state(DOOR, "on")
    ha.resend(event)  # and once more, later
    ha.set_state(LOCK, "unlocked")  # a later change: the stream goes on
    await wait_until(lambda: ha.notifications() == ["Once.", "Lock."], 20, gw.log)
    assert await gw.stop() == 0
    assert len(model.requests) == 2
    assert sum("binary_sensor.front_door" in m for m in user_messages(home)) == 1


async def test_a_rejected_token_fails_in_the_status_without_a_retry_loop(
    tmp_path: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    home = ha_home(tmp_path / "home", model, ha)
    with (home / ".env").open("a") as env:
        env.write("HASS_TOKEN=not-the-token\n")
    gw = await GatewayProcess(home).ready()
    await wait_until(lambda: platform_state(home).startswith("failed"), 20, why=gw.log)
    shown = await asyncio.to_thread(run_hermes, home, "gateway", "status")
    assert "homeassistant failed: token rejected" in shown.stdout, shown.stdout
    assert "long-lived access token" in shown.stdout
    assert ha.refused == 1 and ha.authenticated == 0  # `status` took a while: no retries
    assert await gw.stop() == 0
    assert "not-the-token" not in gw.output()


async def test_a_token_revoked_while_connected_fails_too(
    home: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    gw = await connected(home, ha)
    ha.reject_token()
    await wait_until(lambda: platform_state(home).startswith("failed"), 20, why=gw.log)
    assert "token rejected" in platform_state(home)
    assert ha.refused == 1
    assert await gw.stop() == 0


async def test_a_dropped_socket_resubscribes_and_missed_changes_still_arrive(
    home: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    gw = await connected(home, ha)
    ha.fail("websocket", 503)  # Home Assistant restarts: no socket for a while
    ha.drop_sockets()
    await wait_until(lambda: platform_state(home) == "reconnecting", 20, gw.log)
    model.reply("While I was away the door opened.").reply("And now the lock.")
    ha.set_state(DOOR, "on")  # nobody is subscribed: no event goes out
    ha.recover()
    await wait_until(lambda: len(ha.subscriptions) == 1, 20, gw.log)
    await wait_until(lambda: ha.notifications() == ["While I was away the door opened."], 20)
    ha.set_state(LOCK, "unlocked")  # events flow on the new subscription
    await wait_until(lambda: len(ha.notifications()) == 2, 20, gw.log)
    assert await gw.stop() == 0
    assert ha.authenticated == 2


async def test_a_silent_socket_is_rebuilt_after_an_unanswered_ping(
    home: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    gw = await connected(home, ha)
    ha.silence_sockets()  # open, but answers no ping and sends no event
    await wait_until(lambda: ha.authenticated == 2 and len(ha.subscriptions) == 1, 20, gw.log)
    await wait_until(lambda: len(ha.sockets) == 1, 20, gw.log)  # the old one was closed
    model.reply("Door.")
    ha.set_state(DOOR, "on")
    await wait_until(lambda: ha.notifications() == ["Door."], 20, gw.log)
    assert await gw.stop() == 0
    assert "no pong within" in gw.log()


async def test_a_notification_refused_with_a_5xx_is_sent_again(
    home: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    gw = await connected(home, ha)
    ha.fail("services", 500, times=1)
    model.reply("Sent after a 500.")
    ha.set_state(DOOR, "on")
    await wait_until(lambda: ha.notifications() == ["Sent after a 500."], 30, gw.log)
    assert len(ha.calls_to("services")) == 2
    assert await gw.stop() == 0


async def test_the_agent_lists_reads_and_calls_services(
    home: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    gw = await connected(home, ha)
    model.tool_call("ha_list_entities", {"domain": "light"})
    model.tool_call("ha_get_state", {"entity_id": NOISE})
    model.tool_call(
        "ha_call_service", {"domain": "light", "service": "turn_on", "entity_id": LIGHT}
    )
    model.reply("Door opened, so I turned on the kitchen light.")
    ha.set_state(DOOR, "on")
    await wait_until(lambda: len(ha.notifications()) == 1, 20, gw.log)
    assert ha.notifications() == ["Door opened, so I turned on the kitchen light."]
    first = model.requests[0]
    assert {"ha_list_entities", "ha_get_state", "ha_call_service"} <= set(first.tool_names)
    results = [m["content"] for m in model.requests[-1].messages if m["role"] == "tool"]
    assert results[0] == "light.kitchen (Kitchen Light): off"
    assert '"state": "31"' in results[1] and "dB" in results[1]
    assert results[2].startswith("Called light.turn_on.")
    (call,) = ha.calls_of("light", "turn_on")
    assert call["data"] == {"entity_id": LIGHT}
    assert await gw.stop() == 0


async def test_an_unlock_waits_for_approval_and_runs_once_approved(
    home: Path, model: ScriptedModel, ha: FakeHomeAssistant
) -> None:
    gw = await connected(home, ha)
    model.tool_call("ha_call_service", {"domain": "lock", "service": "unlock", "entity_id": LOCK})
    model.reply("I unlocked the front door.")
    model.reply("The front door lock is unlocked now.")  # the lock is watched: its change
    ha.set_state(DOOR, "on")
    await wait_until(lambda: any("/approve" in n for n in ha.notifications()), 20, gw.log)
    prompt = next(n for n in ha.notifications() if "/approve" in n)
    assert "high risk" in prompt and "lock.unlock entity_id=lock.front_door" in prompt
    approval = re.search(r"/approve (\w+)", prompt).group(1)  # type: ignore[union-attr]
    assert ha.calls_of("lock") == []  # nothing ran before the decision
    decided = await asyncio.to_thread(run_hermes, home, "approvals", "approve", approval)
    assert decided.returncode == 0, decided.stdout + decided.stderr
    await wait_until(lambda: "I unlocked the front door." in ha.notifications(), 30, gw.log)
    (call,) = ha.calls_of("lock", "unlock")
    assert call["data"] == {"entity_id": LOCK}
    # the lock is watched: the change the call caused comes back as an event of its own
    await wait_until(lambda: "The front door lock is unlocked now." in ha.notifications(), 30)
    assert "locked → unlocked" in user_messages(home)[-1]
    assert await gw.stop() == 0


async def test_without_hass_variables_the_tools_are_not_offered(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model)
    model.reply("hi")
    done = await asyncio.to_thread(run_hermes, home, "-z", "hello")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not any(n.startswith("ha_") for n in model.requests[0].tool_names)


# -- the pure parts and `hermes gateway setup`'s check ----------------------------------


def test_the_watch_list_takes_entity_ids_domains_and_patterns() -> None:
    from hermes.platforms.homeassistant_wire import watched

    watch = [LOCK, "binary_sensor", "sensor.*_temperature"]
    assert watched(LOCK, watch) and watched(DOOR, watch)
    assert watched("sensor.hall_temperature", watch)
    assert not watched("lock.back_door", watch) and not watched(NOISE, watch)
    assert not watched("binary_sensor_x.y", watch)


def test_a_change_reads_as_old_to_new_with_its_name_and_unit() -> None:
    from hermes.platforms.homeassistant_wire import change

    def state(value: str, **attributes: Any) -> dict[str, Any]:
        context = {"id": "01JCTX", "parent_id": None, "user_id": None}
        stamp = "2026-12-03T11:06:00.071902+00:00"
        return {"state": value, "attributes": attributes, "context": context, "last_changed": stamp}

    data = {
        "entity_id": NOISE,
        "old_state": state("31", friendly_name="Noise", unit_of_measurement="dB"),
        "new_state": state("80", friendly_name="Noise", unit_of_measurement="dB"),
    }
    found = change(data)
    assert found is not None and found.key == f"01JCTX:{NOISE}"
    assert found.text().startswith(
        "[Home Assistant] Noise (sensor.noise) changed: 31 dB → 80 dB at 2026-12-03T11:06:00+00:00."
    )
    attributes_only = {**data, "new_state": state("31", friendly_name="Noisy")}
    assert change(attributes_only) is None
    removed = change({**data, "new_state": None})
    assert removed is not None and "was removed (it was 31 dB)" in removed.text()


def test_a_message_goes_to_the_chosen_service_or_the_one_its_target_names() -> None:
    from hermes.platforms.homeassistant_wire import service_for

    assert service_for("events", "notify.mobile_app_phone") == ("notify", "mobile_app_phone")
    assert service_for("notify.family", "persistent_notification.create") == ("notify", "family")
    with pytest.raises(ValueError, match=r"homeassistant:DOMAIN\.SERVICE"):
        service_for("kitchen", "persistent_notification.create")


async def test_setup_checks_the_url_and_the_token_with_get_api(ha: FakeHomeAssistant) -> None:
    from hermes.platforms.homeassistant import PLATFORM

    assert PLATFORM.check is not None
    assert await PLATFORM.check({"HASS_URL": ha.url, "HASS_TOKEN": ha.token}) is None
    refused = await PLATFORM.check({"HASS_URL": ha.url, "HASS_TOKEN": "wrong"})
    assert refused is not None and "refused HASS_TOKEN (HTTP 401)" in refused
    assert "Long-lived access tokens" in refused
    bad_url = await PLATFORM.check({"HASS_URL": "homeassistant.local:8123", "HASS_TOKEN": "t"})
    assert bad_url is not None and "must start with http://" in bad_url
    ha.fail("api", 503)
    down = await PLATFORM.check({"HASS_URL": ha.url, "HASS_TOKEN": ha.token})
    assert down is not None and "HTTP 503" in down
