"""A fake Home Assistant on loopback, written from its published API documentation
(developers.home-assistant.io: "WebSocket API" and "REST API").

WebSocket `/api/websocket`: `auth_required` -> `auth` -> `auth_ok` | `auth_invalid`
(then closed); commands with ids: `subscribe_events` (state_changed),
`unsubscribe_events`, `get_states`, `call_service`, `ping` (-> `pong`); answers are
`result` messages with `success` and `result` or `error {code, message}`; events
arrive as `{"id": SUBSCRIPTION, "type": "event", "event": {...}}`.
REST (Authorization: Bearer TOKEN, else 401): `GET /api/`, `GET /api/states`,
`GET /api/states/ENTITY` (404 when unknown), `POST /api/services/DOMAIN/SERVICE`
(the states it changed).

Tests change states with `set_state` (subscribers get a state_changed event);
services a few domains know (light, switch, lock, cover, alarm_control_panel)
change states like Home Assistant would. Failures: `reject_token()` (auth_invalid,
REST 401), `drop_sockets()`, `silence_sockets()` (no pong, no events), `fail(...)`
(5xx on a route: "api", "states", "state", "services", "websocket").
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tests.fakes.platform_base import JSON, Call, FakePlatform, FakeSocket, Reply

TOKEN = "hass-long-lived-token-0123456789"
VERSION = "2026.11.2"
SERVICE_STATES = {
    ("light", "turn_on"): "on",
    ("light", "turn_off"): "off",
    ("switch", "turn_on"): "on",
    ("switch", "turn_off"): "off",
    ("lock", "unlock"): "unlocked",
    ("lock", "lock"): "locked",
    ("lock", "open"): "open",
    ("cover", "open_cover"): "open",
    ("cover", "close_cover"): "closed",
    ("alarm_control_panel", "alarm_disarm"): "disarmed",
    ("alarm_control_panel", "alarm_arm_away"): "armed_away",
}


def _now() -> str:
    return datetime.now(UTC).isoformat()


class FakeHomeAssistant(FakePlatform):
    def __init__(self) -> None:
        self.token = TOKEN
        self.token_ok = True
        self.states: dict[str, JSON] = {}
        self.service_calls: list[JSON] = []  # {"domain", "service", "data", "via"}
        self.subscriptions: list[tuple[FakeSocket, int]] = []  # state_changed subscribers
        self.authenticated = 0  # sockets that got auth_ok
        self.refused = 0  # sockets that got auth_invalid
        self.pings = 0
        super().__init__()

    # -- routes ---------------------------------------------------------------------

    def routes(self) -> None:
        self.ws("/api/websocket", self.socket, name="websocket")
        self.http("GET", "/api/", self.api_root, name="api")
        self.http("GET", "/api/states", self.all_states, name="states")
        self.http("GET", "/api/states/{entity_id}", self.one_state, name="state")
        self.http("POST", "/api/services/{domain}/{service}", self.rest_service, name="services")

    def error_body(self, status: int, name: str, retry_after: float | None) -> Any:
        return {"message": f"{status}: injected failure"}

    @property
    def url(self) -> str:
        return self.base_url  # HASS_URL

    def _authorized(self, call: Call) -> bool:
        return self.token_ok and call.headers.get("Authorization") == f"Bearer {self.token}"

    def api_root(self, call: Call) -> Any:
        if not self._authorized(call):
            return Reply(401, {"message": "401: Unauthorized"})
        return {"message": "API running."}

    def all_states(self, call: Call) -> Any:
        if not self._authorized(call):
            return Reply(401, {"message": "401: Unauthorized"})
        with self.cond:
            return list(self.states.values())

    def one_state(self, call: Call) -> Any:
        if not self._authorized(call):
            return Reply(401, {"message": "401: Unauthorized"})
        with self.cond:
            found = self.states.get(call.params["entity_id"])
        return found if found is not None else Reply(404, {"message": "Entity not found."})

    async def rest_service(self, call: Call) -> Any:
        if not self._authorized(call):
            return Reply(401, {"message": "401: Unauthorized"})
        data = {k: v for k, v in call.data.items()}
        return await self._service(call.params["domain"], call.params["service"], data, "rest")

    # -- the WebSocket --------------------------------------------------------------

    async def socket(self, sock: FakeSocket, call: Call) -> None:
        await sock.send({"type": "auth_required", "ha_version": VERSION})
        auth = await sock.receive()
        if not isinstance(auth, dict) or auth.get("type") != "auth":
            return
        if not self.token_ok or auth.get("access_token") != self.token:
            await sock.send({"type": "auth_invalid", "message": "Invalid access token"})
            with self.cond:
                self.refused += 1
                self.changed()
            return
        await sock.send({"type": "auth_ok", "ha_version": VERSION})
        with self.cond:
            self.authenticated += 1
            self.changed()
        try:
            async for message in sock:
                if isinstance(message, dict):
                    await self._command(sock, message)
        finally:
            with self.cond:
                self.subscriptions = [(s, i) for s, i in self.subscriptions if s is not sock]
                self.changed()

    async def _command(self, sock: FakeSocket, msg: JSON) -> None:
        ident, kind = msg.get("id"), msg.get("type")
        if kind == "ping":
            with self.cond:
                self.pings += 1
            await sock.send({"id": ident, "type": "pong"})
            return
        if kind == "subscribe_events":
            if msg.get("event_type") == "state_changed":
                with self.cond:
                    self.subscriptions.append((sock, int(ident or 0)))
                    self.changed()
            await sock.send(_result(ident, None))
        elif kind == "get_states":
            with self.cond:
                states = list(self.states.values())
            await sock.send(_result(ident, states))
        elif kind == "call_service":
            data = {**(msg.get("service_data") or {}), **(msg.get("target") or {})}
            result = await self._service(
                str(msg.get("domain")), str(msg.get("service")), data, "ws"
            )
            if isinstance(result, Reply):
                error = {"code": "not_found", "message": str(result.body.get("message"))}
                await sock.send({"id": ident, "type": "result", "success": False, "error": error})
            else:
                await sock.send(_result(ident, {"context": _context(), "response": None}))
        else:
            error = {"code": "unknown_command", "message": "Unknown command."}
            await sock.send({"id": ident, "type": "result", "success": False, "error": error})

    # -- services and states --------------------------------------------------------

    async def _service(self, domain: str, service: str, data: JSON, via: str) -> Any:
        if domain not in {"persistent_notification", "notify", *(d for d, _ in SERVICE_STATES)}:
            return Reply(400, {"message": f"Service {domain}.{service} not found."})
        with self.cond:
            self.service_calls.append(
                {"domain": domain, "service": service, "data": data, "via": via}
            )
            self.changed()
        new = SERVICE_STATES.get((domain, service))
        changed: list[JSON] = []
        if new is not None:
            ids = data.get("entity_id") or []
            for entity in [ids] if isinstance(ids, str) else ids:
                if entity in self.states:
                    changed.append(self._change(entity, new, {}))
        for state in changed:
            await self._publish(state["_event"])
        return [{k: v for k, v in s.items() if k != "_event"} for s in changed]

    def _change(self, entity: str, state: str, attributes: JSON) -> JSON:
        with self.cond:
            old = self.states.get(entity)
            attrs = {**(old or {}).get("attributes", {}), **attributes}
            now = _now()
            new = {
                "entity_id": entity,
                "state": state,
                "attributes": attrs,
                "last_changed": now
                if old is None or old["state"] != state
                else old["last_changed"],
                "last_updated": now,
                "context": _context(),
            }
            self.states[entity] = new
            event = {
                "event_type": "state_changed",
                "data": {"entity_id": entity, "old_state": old, "new_state": new},
                "origin": "LOCAL",
                "time_fired": now,
                "context": new["context"],
            }
            self.changed()
        return {**new, "_event": event}

    async def _publish(self, event: JSON) -> None:
        with self.cond:
            subscribers = list(self.subscriptions)
        copies = self.copies()
        for sock, ident in subscribers:
            for _ in range(copies):
                await sock.send({"id": ident, "type": "event", "event": event})

    # -- for tests ------------------------------------------------------------------

    def add_entity(self, entity: str, state: str, **attributes: Any) -> None:
        """An entity that exists from the start (no event)."""
        self._change(entity, state, attributes)

    def set_state(self, entity: str, state: str, **attributes: Any) -> JSON:
        """The entity changes; subscribers get the state_changed event (returned)."""
        event = self._change(entity, state, attributes)["_event"]
        self.run(self._publish(event))
        return dict(event)

    def resend(self, event: JSON) -> None:
        """Deliver an event again (what a flaky link or a replay looks like)."""
        self.run(self._publish(event))

    def reject_token(self) -> None:
        """The token is revoked: sockets get auth_invalid, REST calls 401."""
        with self.cond:
            self.token_ok = False
        self.drop_sockets(1000)

    def calls_of(self, domain: str, service: str | None = None) -> list[JSON]:
        with self.cond:
            return [
                c
                for c in self.service_calls
                if c["domain"] == domain and (service is None or c["service"] == service)
            ]

    def notifications(self) -> list[str]:
        """The messages of every notification Hermes sent, in order."""
        with self.cond:
            return [
                str(c["data"].get("message"))
                for c in self.service_calls
                if c["domain"] in ("persistent_notification", "notify")
            ]


def _result(ident: Any, result: Any) -> JSON:
    return {"id": ident, "type": "result", "success": True, "result": result}


def _context() -> JSON:
    return {"id": uuid.uuid4().hex.upper()[:26], "parent_id": None, "user_id": None}
