"""Home Assistant: state changes the user chose become events the agent handles, and
its answers go out as notifications (`persistent_notification.create` or a
`notify.*` service).

Configured by `HASS_URL` and `HASS_TOKEN` (a long-lived access token). The adapter
keeps one WebSocket to `/api/websocket` (aiohttp, the `homeassistant` extra),
subscribes to `state_changed`, and hands each change of a watched entity
(`homeassistant.watch`: entity ids, domains or patterns) to the gateway as an
event in the chat `homeassistant:events`, at most one per entity per
`cooldown_seconds`. The event's id is the change's context id and entity, so a
change seen twice is answered once. Events come from Home Assistant itself,
authenticated with the owner's token, never from a person: the adapter is trusted
like the web chat (no allowlist or pairing applies), and only watched entities
produce events.

Replies are notifications: `homeassistant:events` goes to `notify_service`;
`homeassistant:DOMAIN.SERVICE` (e.g. `homeassistant:notify.mobile_app_phone`) is
a target of its own for cron results and `hermes send`. Notifications cannot be
edited and have no buttons: an approval request says `/approve ID`, decided with
`hermes approvals approve ID`, the web chat, or another platform.

Liveness: a `ping` every `ping_interval` seconds; no `pong` within that time and
the connection is rebuilt (the old session fully closed). A disconnect reconnects
with backoff and subscribes again; the states of watched entities are then read
(`get_states`) and changes missed while the connection was down are handed over
(their context ids dedupe any that did arrive). `auth_invalid` ends in
`failed: token rejected ...` with no retry loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hermes.aio import within
from hermes.gateway.events import Outbound
from hermes.platforms import homeassistant_wire as wire
from hermes.platforms.adapter import (
    Adapter,
    AdapterUnavailable,
    DeadLetters,
    MemoryDeadLetters,
    SendError,
    Sink,
    UpdateGuard,
    describe,
    one_line,
    require,
)
from hermes.platforms.homeassistant_socket import HassSocket, TokenRejected
from hermes.platforms.spec import Build, Capabilities, Platform, section
from hermes.providers.http import Backoff
from hermes.settings import bounded, each_matching
from hermes.tools.homeassistant_url import api_root, url_problem, websocket_url

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("hermes.gateway.homeassistant")
RECONNECT_CAP = 30.0
FIX = (
    "create a new long-lived access token (Home Assistant -> your profile -> Security -> "
    "Long-lived access tokens) and put it in HASS_TOKEN"
)


@dataclass
class HomeAssistantSettings:
    """The `homeassistant:` section of config.yaml."""

    # entity ids (lock.front_door), domains (binary_sensor) or patterns (sensor.*_temp)
    watch: list[str] = field(
        default_factory=list, metadata=each_matching(wire.WATCH_PATTERN, wire.WATCH_HINT)
    )
    cooldown_seconds: float = bounded(60.0, 0, 86400)  # per entity, after a handled change
    notify_service: str = field(
        default=wire.DEFAULT_SERVICE,
        metadata=each_matching(wire.SERVICE_PATTERN, wire.SERVICE_HINT),
    )
    title: str = "Hermes"  # the notifications' title
    ping_interval: float = bounded(30.0, 0.05, 3600)  # no pong within it: rebuilt


CAPABILITIES = Capabilities(
    max_length=4000,  # a phone's push payload stays well within its limit
    length_unit="chars",
    markup="plain",
    can_edit=False,
    buttons=False,
    threads=False,
)


def build(b: Build) -> HomeAssistantAdapter:
    env = b.profile.env
    settings: HomeAssistantSettings = section(b.profile.settings, PLATFORM)
    return HomeAssistantAdapter(
        url=env.get("HASS_URL", "").strip(),
        token=env.get("HASS_TOKEN", "").strip(),
        settings=settings,
        dead_letters=b.dead_letters,
    )


async def check(env: Mapping[str, str]) -> str | None:
    """`hermes gateway setup`: GET /api/ with the token; None when it answers."""
    import httpx

    url, token = env.get("HASS_URL", "").strip(), env.get("HASS_TOKEN", "").strip()
    problem = url_problem(url)
    if problem is not None:
        return problem
    root = api_root(url)
    try:
        async with httpx.AsyncClient(timeout=15) as client:
            answer = await client.get(f"{root}/", headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return f"could not reach Home Assistant at {root} ({describe(exc)}): check HASS_URL"
    if answer.status_code in (401, 403):
        return f"Home Assistant refused HASS_TOKEN (HTTP {answer.status_code}); {FIX}"
    if not answer.is_success:
        return f"Home Assistant answered HTTP {answer.status_code} at {root}/: check HASS_URL"
    return None


PLATFORM = Platform(
    name=wire.NAME,
    title="Home Assistant",
    required=("HASS_URL", "HASS_TOKEN"),
    how="set HASS_URL (e.g. http://homeassistant.local:8123) and HASS_TOKEN (a long-lived "
    "access token: your Home Assistant profile -> Security)",
    build=build,
    capabilities=CAPABILITIES,
    credentials=(),  # one Home Assistant may well serve several profiles
    settings=HomeAssistantSettings,
    extra="homeassistant",
    check=check,
)


class HomeAssistantAdapter(Adapter):
    name = wire.NAME
    capabilities = CAPABILITIES
    trusted = True  # events come from Home Assistant itself (see the module doc)

    def __init__(
        self,
        *,
        url: str,
        token: str,
        settings: HomeAssistantSettings | None = None,
        dead_letters: DeadLetters | None = None,
        backoff: Backoff | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        require("aiohttp", "homeassistant")
        problem = url_problem(url)
        if problem is not None:
            raise AdapterUnavailable(f"homeassistant: {problem}")
        self.url, self.token = url, token
        self.settings = settings or HomeAssistantSettings()
        self.dead_letters: DeadLetters = dead_letters or MemoryDeadLetters()
        self.backoff = backoff or Backoff(base=0.5, cap=RECONNECT_CAP)
        self.clock = clock
        self.state = "starting"
        self.version = ""
        self._session: aiohttp.ClientSession | None = None
        self._socket: HassSocket | None = None
        self._guard = UpdateGuard(self.name, self.dead_letters, wait=self.backoff)
        self._handled: dict[str, float] = {}  # entity -> when its last change was handed over
        self._known: dict[str, str] = {}  # watched entity -> the last state seen
        self.reconnects = 0

    @property
    def watch(self) -> list[str]:
        return self.settings.watch

    # -- receiving ------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        if not self.settings.watch:
            log.info("homeassistant: no `homeassistant.watch` entries: notifications only")
        attempt, down_since = 0, 0.0
        while True:
            try:
                await self._connect(sink)
                if self.state == "reconnecting":
                    log.info(
                        "homeassistant: connected again after %.0f s", time.time() - down_since
                    )
                    self.reconnects += 1
                self.state, attempt = "connected", 0
                reason = await self._serve(sink)
                log.warning("homeassistant: %s; reconnecting", reason)
                down_since = time.time()
                self.state = "reconnecting"
            except TokenRejected as exc:
                self.state = f"failed: token rejected ({exc}); {FIX}"
                await self._drop()
                raise AdapterUnavailable(
                    f"homeassistant: {self.state[len('failed: ') :]}"
                ) from None
            except Exception as exc:
                if self.state != "reconnecting":  # one line per outage, not per try
                    down_since = time.time()
                    log.warning("homeassistant: cannot connect (%s); reconnecting", describe(exc))
                self.state = "reconnecting"
            await self._drop()
            await self.backoff.sleep(self.backoff.delay(attempt))
            attempt += 1

    async def _connect(self, sink: Sink) -> None:
        """Open a session and socket, subscribe, then hand over what changed meanwhile."""
        import aiohttp

        limit = max(5.0, min(30.0, 4 * self.settings.ping_interval))
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        self._socket = await within(
            HassSocket.open(self._session, websocket_url(self.url), self.token, limit), limit
        )
        self.version = self._socket.version
        if not self.settings.watch:
            return
        await self._socket.command(
            {"type": "subscribe_events", "event_type": "state_changed"}, limit
        )
        states = await self._socket.command({"type": "get_states"}, limit)
        await self._catch_up(states if isinstance(states, list) else [], sink)

    async def _catch_up(self, states: list[Any], sink: Sink) -> None:
        """Changes of watched entities missed while the socket was down (none the
        first time: then the states are only remembered)."""
        first = not self._known
        for state in states:
            if not isinstance(state, dict):
                continue
            entity = state.get("entity_id")
            if not isinstance(entity, str) or not wire.watched(entity, self.settings.watch):
                continue
            now = str(state.get("state", ""))
            before = self._known.get(entity)
            if first or before is None or before == now:
                self._known[entity] = now
                continue
            old = {**state, "state": before}
            data = {"entity_id": entity, "old_state": old, "new_state": state}
            await self._deliver(data, sink)

    async def _serve(self, sink: Sink) -> str:
        """Events to the sink, a ping every ping_interval; returns why to reconnect."""
        sock = self._socket
        assert sock is not None
        pinger = asyncio.get_running_loop().create_task(self._pings(sock), name="hass-ping")
        try:
            while True:
                getter = asyncio.ensure_future(sock.events.get())
                done, _ = await asyncio.wait({getter, pinger}, return_when=asyncio.FIRST_COMPLETED)
                if pinger in done:
                    getter.cancel()
                    return pinger.result()
                item = getter.result()
                if item is None:
                    return "the WebSocket closed"
                event = item.get("event")
                if isinstance(event, dict) and event.get("event_type") == "state_changed":
                    await self._deliver(event.get("data"), sink)
        finally:
            pinger.cancel()

    async def _pings(self, sock: HassSocket) -> str:
        interval = self.settings.ping_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await sock.command({"type": "ping"}, interval)
            except TimeoutError:
                return f"no pong within {interval:g} s"
            except ConnectionError:
                return "the WebSocket closed"

    async def _deliver(self, data: Any, sink: Sink) -> None:
        """One state change through the guard: watched, out of its cooldown, new."""

        async def normalize() -> Any:
            change = wire.change(data)
            if change is None or not wire.watched(change.entity_id, self.watch):
                return None
            self._known[change.entity_id] = change.new or ""
            last = self._handled.get(change.entity_id)
            now = self.clock()
            if last is not None and now - last < self.settings.cooldown_seconds:
                log.info(
                    "homeassistant: %s changed to %s within its cooldown; not handed over",
                    change.entity_id,
                    change.new,
                )
                return None
            self._handled[change.entity_id] = now
            return wire.inbound(change)

        if isinstance(data, dict) and not wire.watched(str(data.get("entity_id")), self.watch):
            return  # the common case, without the guard's bookkeeping
        await self._guard.deliver(wire.update_key(data), {"data": data}, normalize, sink)

    async def _drop(self) -> None:
        sock, self._socket = self._socket, None
        session, self._session = self._session, None
        if sock is not None:
            await sock.close()
        if session is not None:
            await session.close()

    # -- sending --------------------------------------------------------------------

    async def send(self, message: Outbound) -> str:
        """A notification: POST /api/services/DOMAIN/SERVICE (REST: independent of the
        socket's state). A persistent notification's id is the text's digest, so a
        send retried after a lost answer replaces the same notification."""
        import aiohttp

        try:
            domain, service = wire.service_for(message.target.chat, self.settings.notify_service)
        except ValueError as exc:
            raise SendError(str(exc), retryable=False) from None
        data = wire.notification(message.text, self.settings.title)
        digest = hashlib.sha256(f"{message.target}\n{message.text}".encode()).hexdigest()[:16]
        if (domain, service) == ("persistent_notification", "create"):
            data["notification_id"] = f"hermes_{digest}"
        url = f"{api_root(self.url)}/services/{domain}/{service}"
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                session.post(url, json=data, headers=headers) as answer,
            ):
                body = await answer.text()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"homeassistant: {describe(exc)}", retryable=True) from None
        if status in (401, 403):
            raise SendError(
                f"homeassistant: HASS_TOKEN refused (HTTP {status}); {FIX}", retryable=False
            )
        if status == 400 or status == 404:
            raise SendError(
                f"homeassistant: {domain}.{service} refused the notification (HTTP {status}: "
                f"{one_line(body, 200)}); check homeassistant.notify_service",
                retryable=False,
            )
        if status >= 300:
            raise SendError(f"homeassistant: HTTP {status}", retryable=True)
        return f"{domain}.{service}:{digest}"

    async def close(self) -> None:
        await self._drop()
        if not self.state.startswith("failed"):
            self.state = "stopped"

    def details(self) -> dict[str, str | float | None]:
        found = super().details()
        found["watching"] = ", ".join(self.settings.watch) or "nothing (notifications only)"
        found["notify_service"] = self.settings.notify_service
        if self.version:
            found["ha_version"] = self.version
        return found
