"""WhatsApp through a bridge that speaks the contract of docs/whatsapp-bridge.md.

The bridge (Baileys, whatsmeow, ...) holds a linked WhatsApp account; Hermes talks to
it over plain HTTP (httpx) at WHATSAPP_BRIDGE_URL, with `Authorization: Bearer
WHATSAPP_BRIDGE_TOKEN` when that is set:

- receive: GET /messages?after=CURSOR&timeout=S, a long-poll. The messages of an
  answer go through the guard to the gateway's sink (committed) first; only then is
  the answer's cursor saved in state.db (`whatsapp.bridge.URL`) and sent as the next
  `after`, which tells the bridge it may forget them. So a crash re-reads them
  (at least once), and the gateway keeps one message per id (never twice).
- send: POST /send {to, text, reply_to?, buttons?} -> {id}. Buttons only when the
  bridge's /health says it can show them; approval prompts say /approve ID anyway.
  A spoken reply: POST /send {to, reply_to?, audio: {data (base64), mime, voice:
  true, seconds}}, which the bridge sends as a voice note (Baileys: `ptt: true`).
- health: GET /health -> {connected, phone, last_event_at, buttons?}.

A bridge saying "connected" is not trusted alone: before `connected`, and whenever
nothing came for `probe_interval`, Hermes asks POST /probe {nonce}; the bridge makes
a round trip through WhatsApp's servers and the answer must come back through the
long-poll as a message {"probe": nonce} within `probe_timeout`. When it does not,
the state says so (`reconnecting`, with the reason in details), Hermes asks the
bridge to rebuild its link (POST /reconnect), drops its own HTTP client and starts
over. A refused bridge token ends in `failed: ...` without a retry loop.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from hermes.gateway.events import Inbound, Outbound, VoiceOut
from hermes.platforms import whatsapp_wire as wire
from hermes.platforms.adapter import (
    Adapter,
    AdapterUnavailable,
    DeadLetters,
    MemoryCursor,
    MemoryDeadLetters,
    SendError,
    Sink,
    UpdateGuard,
)
from hermes.platforms.spec import Cursor
from hermes.platforms.voice_file import VOICE_MIME, voice_bytes
from hermes.providers.http import Backoff

log = logging.getLogger("hermes.gateway.whatsapp")

CAPABILITIES = dataclasses.replace(wire.CAPABILITIES, buttons=False)
MAX_DOWNLOAD = 64 * 1024 * 1024


class Down(Exception):
    """The bridge cannot serve now (not linked, deaf, erroring): reconnect."""


class BridgeAdapter(Adapter):
    name = "whatsapp"
    capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        url: str,
        token: str = "",
        probe_interval: float = 60.0,
        probe_timeout: float = 20.0,
        poll_timeout: float = 25.0,
        require_mention: bool = False,
        downloads: Path | None = None,
        cursor: Callable[[str], Cursor] | None = None,
        dead_letters: DeadLetters | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.url, self.token = url.rstrip("/"), token
        self.probe_interval, self.probe_timeout = probe_interval, probe_timeout
        self.poll_timeout = poll_timeout
        self.require_mention = require_mention
        self.downloads = downloads or Path("inbox")
        self.place: Cursor = cursor(f"whatsapp.bridge.{self.url}") if cursor else MemoryCursor()
        self.dead_letters: DeadLetters = dead_letters or MemoryDeadLetters()
        self.backoff = backoff or Backoff(base=0.5, cap=10.0)
        self.state = "starting"
        self.phone: str | None = None  # the linked account's number (/health)
        self.problem: str | None = None  # why it is not connected
        self.buttons = False  # the bridge says it can show reply buttons
        self.probes = 0  # probes answered
        self._client: httpx.AsyncClient | None = None
        self._fatal: str | None = None

    def details(self) -> dict[str, str | float | None]:
        found = {**super().details(), "via": "bridge", "bridge": self.url, "phone": self.phone}
        return {**found, "problem": self.problem} if self.problem else found

    # -- HTTP ---------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._client = httpx.AsyncClient(
                base_url=self.url, headers=headers, timeout=httpx.Timeout(30.0, connect=10.0)
            )
        return self._client

    async def _call(self, method: str, path: str, seconds: float = 30.0, **kw: Any) -> Any:
        """One call to the bridge; its JSON. Raises Down, or AdapterUnavailable when
        the bridge refuses our token."""
        try:
            answer = await self._http().request(method, path, timeout=seconds, **kw)
        except httpx.HTTPError as exc:
            raise Down(f"the bridge at {self.url} is unreachable ({type(exc).__name__})") from None
        if answer.status_code >= 400:
            error = wire.bridge_error(answer.status_code, _json(answer))
            if isinstance(error, wire.BadToken):
                self._fatal = str(error)
                raise AdapterUnavailable(f"whatsapp: {error}")
            raise Down(f"{method} {path}: {error}")
        return _json(answer)

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # -- receiving ----------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        guard = UpdateGuard(self.name, self.dead_letters, wait=self.backoff)
        attempt = 0
        while True:
            try:
                health = await self._call("GET", "/health")
                if not isinstance(health, dict) or not health.get("connected"):
                    said = health.get("error") if isinstance(health, dict) else None
                    raise Down(f"the bridge is not linked to WhatsApp ({said or 'its /health'})")
                self.phone = wire.phone(str(health.get("phone") or "")) or None
                self.buttons = bool(health.get("buttons"))
                await self._listen(sink, guard)
            except AdapterUnavailable:
                self.state = f"failed: {self._fatal}"
                log.error("whatsapp: %s", self._fatal)
                await self._drop_client()
                raise
            except Down as exc:
                if self.state != "reconnecting":
                    log.warning("whatsapp: %s; reconnecting", exc)
                attempt = 0 if self.state == "connected" else attempt
                self.state, self.problem = "reconnecting", str(exc)
            await self._reconnect()
            await self.backoff.sleep(self.backoff.delay(attempt))
            attempt += 1

    async def _listen(self, sink: Sink, guard: UpdateGuard) -> None:
        """Long-poll until the link must be rebuilt (raises Down)."""
        place = await self.place.load()
        nonce: str | None = await self._probe()
        due = time.monotonic() + self.probe_timeout  # the probe's answer by then
        heard = time.monotonic()
        while True:
            now = time.monotonic()
            until = due if nonce else heard + self.probe_interval
            wait = max(0.0, min(self.poll_timeout, until - now))
            params = {"timeout": f"{wait:.2f}", **({"after": place} if place else {})}
            batch = await self._call("GET", "/messages", seconds=wait + 15.0, params=params)
            found = batch.get("messages") if isinstance(batch, dict) else None
            if not isinstance(found, list):
                raise Down("GET /messages answered without a messages list")
            for message in found:
                heard = time.monotonic()
                probe = message.get("probe") if isinstance(message, dict) else None
                if probe is not None:
                    if nonce is not None and str(probe) == nonce:
                        nonce = None
                        self._answered()
                    continue
                ident = str(message.get("id")) if isinstance(message, dict) else "?"
                await guard.deliver(ident, message, self._normalizer(message), sink)
            after = batch.get("cursor")
            if after is not None and str(after) != place:  # all of it committed
                place = str(after)
                await self.place.save(place)
            now = time.monotonic()
            if nonce is not None and now >= due:
                raise Down(
                    f"the bridge says it is connected, but a probe did not come back through "
                    f"WhatsApp within {self.probe_timeout:g} s"
                )
            if nonce is None and now - heard >= self.probe_interval:
                nonce, due = await self._probe(), now + self.probe_timeout

    def _normalizer(self, message: Any) -> Callable[[], Any]:
        async def normalize() -> Inbound | None:
            event = wire.bridge_inbound(message)
            if event is None or not event.is_group or not self.require_mention:
                return event
            return event if event.mentions_bot or event.callback_data else None

        return normalize

    async def _probe(self) -> str:
        nonce = secrets.token_hex(8)
        await self._call("POST", "/probe", json={"nonce": nonce})
        return nonce

    def _answered(self) -> None:
        self.probes += 1
        if self.state != "connected":
            log.info("whatsapp: the bridge answered a probe through WhatsApp: connected")
        self.state, self.problem = "connected", None

    async def _reconnect(self) -> None:
        """Ask the bridge to rebuild its link to WhatsApp; a new HTTP client of ours."""
        try:
            await self._call("POST", "/reconnect", seconds=10.0)
        except (Down, AdapterUnavailable) as exc:
            log.debug("whatsapp: POST /reconnect: %s", exc)
        await self._drop_client()

    # -- sending ------------------------------------------------------------------------

    async def send(self, message: Outbound) -> str:
        body: dict[str, Any] = {"to": message.target.chat, "text": message.text}
        if message.reply_to_message_id:
            body["reply_to"] = message.reply_to_message_id
        if message.buttons and self.buttons:
            flat = [b for row in message.buttons for b in row][: wire.MAX_BUTTONS]
            body["buttons"] = [{"id": b.data, "title": wire.title(b)} for b in flat]
        elif message.buttons:
            body["text"] = wire.typed_commands(message.text, message.buttons)
        return await self._send(body)

    async def send_voice(self, voice: VoiceOut) -> str:
        """The OGG/Opus file as a voice note: POST /send with `audio` (base64)."""
        data = await voice_bytes(voice, self.name, wire.MAX_AUDIO)
        audio = {
            "data": base64.b64encode(data).decode("ascii"),
            "mime": f"{VOICE_MIME}; codecs=opus",
            "voice": True,
            "seconds": round(voice.duration, 1),
        }
        body: dict[str, Any] = {"to": voice.target.chat, "audio": audio}
        if voice.reply_to_message_id:
            body["reply_to"] = voice.reply_to_message_id
        return await self._send(body)

    async def _send(self, body: dict[str, Any]) -> str:
        """POST /send; the sent message's id. Raises SendError."""
        try:
            answer = await self._http().post("/send", json=body)
        except httpx.HTTPError as exc:
            what = type(exc).__name__
            raise SendError(
                f"the WhatsApp bridge is unreachable ({what})", retryable=True
            ) from None
        if answer.status_code >= 400:
            raise wire.bridge_error(
                answer.status_code, _json(answer), answer.headers.get("retry-after")
            )
        sent = _json(answer)
        if not isinstance(sent, dict) or not sent.get("id"):
            raise SendError("the WhatsApp bridge answered /send without an id", retryable=True)
        return str(sent["id"])

    async def fetch(self, event: Inbound) -> Inbound:
        """Voice notes and audio: GET /media/{id} into the downloads dir; never raises."""
        files = []
        for a in event.attachments:
            if a.path is not None or a.platform_file_id is None:
                files.append(a)
                continue
            path, size = None, a.size
            try:
                answer = await self._http().get(f"/media/{a.platform_file_id}")
                if answer.status_code >= 400:
                    raise OSError(f"HTTP {answer.status_code}")
                if len(answer.content) <= MAX_DOWNLOAD:
                    unique = wire.safe(f"whatsapp-{event.message_id or event.external_id}")
                    target = self.downloads / f"{unique}-{wire.file_name(a)}"
                    self.downloads.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(answer.content)
                    path, size = str(target), len(answer.content)
            except Exception as exc:  # the turn goes on without the file
                log.warning("whatsapp: could not download a %s from the bridge: %s", a.kind, exc)
            files.append(dataclasses.replace(a, path=path, size=size))
        return dataclasses.replace(event, attachments=tuple(files))

    async def close(self) -> None:
        await self._drop_client()
        if not self.state.startswith("failed"):
            self.state = "stopped"


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


async def check_bridge(env: Mapping[str, str]) -> str | None:
    """GET /health: None when the bridge is linked to WhatsApp, else what is wrong."""
    url = env.get("WHATSAPP_BRIDGE_URL", "").strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        return "WHATSAPP_BRIDGE_URL must be the bridge's http(s):// URL"
    token = env.get("WHATSAPP_BRIDGE_TOKEN", "").strip()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(f"{url}/health", headers=headers)
    except httpx.HTTPError as exc:
        return f"could not reach the bridge at {url} ({type(exc).__name__}); is it running?"
    if answer.status_code >= 400:
        return str(wire.bridge_error(answer.status_code, _json(answer)))
    health = _json(answer)
    if not isinstance(health, dict) or not health.get("connected"):
        said = health.get("error") if isinstance(health, dict) else None
        return f"the bridge runs but is not linked to WhatsApp ({said or 'link it first'})"
    return None
