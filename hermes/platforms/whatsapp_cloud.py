"""WhatsApp through Meta's Cloud API: the webhook in, the Graph API out (httpx).

In: Meta POSTs events to /webhooks/whatsapp (hermes/platforms/whatsapp.py declares
the route). The raw body must carry `X-Hub-Signature-256` made with the app secret:
a forged or missing one is answered 401 and nothing of it is kept. Each message is
handed to the gateway's sink (committed to state.db) before the answer is 200, so a
crash before that makes Meta deliver it again; the gateway keeps one message per
wamid, so a replayed delivery is answered once (a button press's answer is kept
under its wamid too). Status updates are only logged when a message failed. A GET
is Meta's verification handshake (WHATSAPP_VERIFY_TOKEN).

Out: POST /{version}/{phone-number-id}/messages. A spoken reply is uploaded first
(POST /{phone-number-id}/media, multipart, audio/ogg) and sent as an `audio` message
of that media id: OGG/Opus audio shows as a voice note. Approvals are reply buttons, but
only inside the 24-hour customer service window: the last time each chat wrote is
kept in state.db (`whatsapp.window.PHONE_ID.CHAT`); outside it, or when Meta answers
131047, the prompt goes as text with its /approve ID. (Meta refuses any free-form
message outside the window: such a reply fails and is sent late, once the user
writes again.) No edits, so no streaming drafts.

Liveness: when no webhook came for `probe_interval`, GET /{phone-number-id} asks the
Graph API (the token still works, Meta answers). Unreachable or 5xx: `reconnecting`,
tried again with backoff. A refused token (190, 401): `failed: ...`, no retry loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from hermes.aio import within
from hermes.gateway.events import Button, Inbound, Outbound, VoiceOut
from hermes.platforms import whatsapp_wire as wire
from hermes.platforms.adapter import (
    Adapter,
    AdapterUnavailable,
    DeadLetters,
    Malformed,
    MemoryCursor,
    MemoryDeadLetters,
    SendError,
    Sink,
    UpdateGuard,
)
from hermes.platforms.spec import Cursor
from hermes.platforms.voice_file import VOICE_MIME, VOICE_NAME, voice_bytes
from hermes.providers.http import Backoff

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger("hermes.gateway.whatsapp")

MAX_DOWNLOAD = 64 * 1024 * 1024
WINDOW_MARGIN = 120.0  # seconds short of 24 h: a window about to close counts as closed
CHOOSE = "Choose one:"  # the body of buttons sent after a text too long for one


class CloudAdapter(Adapter):
    name = "whatsapp"
    capabilities = wire.CAPABILITIES

    def __init__(
        self,
        *,
        token: str,
        phone_number_id: str,
        app_secret: str,
        verify_token: str,
        graph_url: str = wire.DEFAULT_GRAPH_URL,
        graph_version: str = wire.GRAPH_VERSION,
        probe_interval: float = 60.0,
        downloads: Path | None = None,
        cursor: Callable[[str], Cursor] | None = None,
        dead_letters: DeadLetters | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token, self.phone_number_id = token, phone_number_id
        self.app_secret, self.verify_token = app_secret, verify_token
        self.root = f"{graph_url.rstrip('/')}/{graph_version.strip('/')}"
        self.probe_interval = probe_interval
        self.downloads = downloads or Path("inbox")
        self._cursor = cursor or (lambda key: MemoryCursor())
        self.dead_letters: DeadLetters = dead_letters or MemoryDeadLetters()
        self.backoff = backoff or Backoff(base=0.5, cap=max(1.0, min(30.0, probe_interval)))
        self.clock = clock
        self.state = "starting"
        self._client: httpx.AsyncClient | None = None
        self._sink: Sink | None = None
        self._guard: UpdateGuard | None = None
        self._heard = time.monotonic()  # the last signed webhook
        self._failed = asyncio.Event()  # set when Meta refused the token for good
        self._windows: dict[str, float] = {}  # chat -> when it last wrote (unix seconds)
        self._in_order = asyncio.Lock()  # webhooks reach the sink one at a time
        self._refused = 0  # webhooks refused for their signature (logged sparingly)

    def details(self) -> dict[str, str | float | None]:
        return {**super().details(), "via": "cloud api", "phone_number_id": self.phone_number_id}

    # -- the Graph API --------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(30.0, connect=10.0),
                headers={"Authorization": f"Bearer {self.token}"},
            )
        return self._client

    async def _graph(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        """One Graph API call; its JSON answer. Raises SendError (BadToken: for good)."""
        try:
            url = f"{self.root}/{path}"
            answer = await self._http().request(method, url, json=body, **kw)
        except httpx.HTTPError as exc:
            what = type(exc).__name__
            raise SendError(f"WhatsApp is unreachable: {what}", retryable=True) from None
        if answer.status_code >= 400:
            error = wire.graph_error(
                answer.status_code, _json(answer), answer.headers.get("retry-after")
            )
            if isinstance(error, wire.BadToken):
                self._fail(str(error))
            raise error
        return _json(answer)

    def _fail(self, reason: str) -> None:
        if not self.state.startswith("failed"):
            log.error("whatsapp: %s", reason)
        self.state = f"failed: {reason}"
        self._failed.set()

    # -- liveness -------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        self._sink = sink  # webhooks are taken even while the Graph API is down
        self._guard = UpdateGuard(self.name, self.dead_letters, wait=self.backoff)
        attempt = 0
        while not self._failed.is_set():
            try:
                await self._graph("GET", f"{self.phone_number_id}?fields=id")
                if self.state == "reconnecting":
                    log.info("whatsapp: the Graph API answers again")
                self.state, attempt = "connected", 0
                await self._quiet()
                continue
            except SendError as exc:
                if not exc.retryable:
                    self._fail(str(exc))
                    break
                if self.state != "reconnecting":
                    log.warning("whatsapp: cannot reach the Graph API (%s); retrying", exc)
                self.state = "reconnecting"
            await self.backoff.sleep(self.backoff.delay(attempt))
            attempt += 1
        raise AdapterUnavailable(f"whatsapp: {self.state.removeprefix('failed: ')}")

    async def _quiet(self) -> None:
        """Returns once no webhook came for probe_interval (or the token failed)."""
        probed = time.monotonic()
        while not self._failed.is_set():
            left = max(self._heard, probed) + self.probe_interval - time.monotonic()
            if left <= 0:
                return
            try:
                await within(self._failed.wait(), left)
            except TimeoutError:
                continue

    # -- the webhook ----------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        from starlette.responses import PlainTextResponse

        if request.method in ("GET", "HEAD"):
            echo = wire.challenge(request.query_params, self.verify_token)
            if echo is None:
                log.warning("whatsapp: a webhook verification with a wrong verify token")
                return PlainTextResponse("hub.verify_token is not WHATSAPP_VERIFY_TOKEN", 403)
            log.info("whatsapp: Meta verified the webhook")
            return PlainTextResponse(echo)
        body = await request.body()
        signature = request.headers.get("x-hub-signature-256")
        if not wire.signature_ok(body, signature, self.app_secret):
            self._refused += 1
            if self._refused in (1, 10, 100) or self._refused % 1000 == 0:
                log.warning(
                    "whatsapp: refused %d webhook POST(s) with a %s X-Hub-Signature-256 "
                    "(is WHATSAPP_APP_SECRET the app's secret?)",
                    self._refused,
                    "wrong" if signature else "missing",
                )
            return PlainTextResponse("X-Hub-Signature-256 is missing or wrong", 401)
        sink, guard = self._sink, self._guard
        if sink is None or guard is None:  # still starting: Meta delivers it again
            return PlainTextResponse("starting", 503)
        self._heard = time.monotonic()
        async with self._in_order:
            await self._take(body, sink, guard)
        return PlainTextResponse("ok")

    async def _take(self, body: bytes, sink: Sink, guard: UpdateGuard) -> None:
        """Every message of a signed body through the guard to the sink."""
        try:
            values = list(wire.changes(json.loads(body)))
        except (ValueError, Malformed) as exc:
            problem = exc if isinstance(exc, Malformed) else Malformed(f"not JSON: {exc}")

            async def broken() -> Inbound | None:
                raise problem

            digest = hashlib.sha256(body).hexdigest()[:16]
            await guard.deliver(f"body-{digest}", body.decode(errors="replace"), broken, sink)
            return
        for value in values:
            contacts = wire.names(value)
            for wamid, message in wire.messages(value):
                await self._one(wamid, message, contacts, sink, guard)
            for status in value.get("statuses") or []:
                if isinstance(status, dict) and status.get("status") == "failed":
                    errors = json.dumps(status.get("errors"))[:300]
                    log.warning("whatsapp: Meta could not deliver %s: %s", status.get("id"), errors)

    async def _one(
        self,
        wamid: str,
        message: wire.JSON,
        contacts: dict[str, str],
        sink: Sink,
        guard: UpdateGuard,
    ) -> None:
        handed: list[Inbound] = []

        async def normalize() -> Inbound | None:
            event = wire.cloud_inbound(message, contacts)
            handed[:] = [event] if event is not None else []
            return event

        if await guard.deliver(wamid, message, normalize, sink):
            for event in handed:  # it wrote: its 24-hour window (re)opens
                await self._wrote(event.chat, wire.sent_at(message) or self.clock())

    # -- the 24-hour window -----------------------------------------------------------

    def _window_cursor(self, chat: str) -> Cursor:
        return self._cursor(f"whatsapp.window.{self.phone_number_id}.{chat}")

    async def _wrote(self, chat: str, at: float) -> None:
        """CHAT wrote at AT: its window is open for 24 h from then (kept in state.db)."""
        if at > await self._last_wrote(chat):
            self._windows[chat] = at
            await self._window_cursor(chat).save(f"{at:.0f}")

    async def _last_wrote(self, chat: str) -> float:
        if chat not in self._windows:
            saved = await self._window_cursor(chat).load()
            try:
                self._windows[chat] = float(saved) if saved else 0.0
            except ValueError:
                self._windows[chat] = 0.0
        return self._windows[chat]

    async def window_open(self, chat: str) -> bool:
        return self.clock() - await self._last_wrote(chat) < wire.WINDOW - WINDOW_MARGIN

    # -- sending ----------------------------------------------------------------------

    async def send(self, message: Outbound) -> str:
        chat, reply = message.target.chat, message.reply_to_message_id
        if not wire.digits(chat):
            raise SendError(f"whatsapp: {chat!r} is not a phone number", retryable=False)
        text = message.text
        if message.buttons:
            sent_text = False
            if await self.window_open(chat):
                try:
                    if len(text) > wire.MAX_BODY:  # the text first, then the buttons
                        await self._post(wire.text_payload(chat, text, reply))
                        sent_text, text, reply = True, CHOOSE, None
                    return await self._post(
                        wire.buttons_payload(chat, text, message.buttons, reply)
                    )
                except wire.OutsideWindow:
                    log.info("whatsapp: %s is outside the 24-hour window: a text prompt", chat)
            else:
                log.info("whatsapp: %s wrote over 24 hours ago: a text prompt, no buttons", chat)
            typed = _typed(message.text, message.buttons, sent_text)
            return await self._post(wire.text_payload(chat, typed, reply))
        return await self._post(wire.text_payload(chat, text, reply))

    async def send_voice(self, voice: VoiceOut) -> str:
        """Upload the OGG/Opus file, then send it as an audio message (a voice note)."""
        chat = voice.target.chat
        if not wire.digits(chat):
            raise SendError(f"whatsapp: {chat!r} is not a phone number", retryable=False)
        data = await voice_bytes(voice, self.name, wire.MAX_AUDIO)
        uploaded = await self._graph(
            "POST",
            f"{self.phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": VOICE_MIME},
            files={"file": (VOICE_NAME, data, VOICE_MIME)},
        )
        media = wire.media_id(uploaded)
        return await self._post(wire.audio_payload(chat, media, voice.reply_to_message_id))

    async def _post(self, payload: wire.JSON) -> str:
        answer = await self._graph("POST", f"{self.phone_number_id}/messages", payload)
        return wire.message_id(answer)

    async def fetch(self, event: Inbound) -> Inbound:
        """Download media (GET /{media-id} -> a URL, then the URL with the token) into
        the downloads dir. A failure leaves the attachment undownloaded; never raises."""
        import dataclasses

        files = []
        for a in event.attachments:
            if a.path is not None or a.platform_file_id is None:
                files.append(a)
                continue
            path, size = None, a.size
            try:
                meta = await self._graph("GET", a.platform_file_id)
                url, size = str(meta["url"]), int(meta.get("file_size") or 0) or None
                if (size or 0) <= MAX_DOWNLOAD:
                    data = await _download(self._http(), url)
                    unique = wire.safe(f"whatsapp-{event.message_id or event.external_id}")
                    target = self.downloads / f"{unique}-{wire.file_name(a)}"
                    self.downloads.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                    path, size = str(target), len(data)
            except Exception as exc:  # the turn goes on without the file
                log.warning("whatsapp: could not download a %s: %s", a.kind, exc)
            files.append(dataclasses.replace(a, path=path, size=size))
        return dataclasses.replace(event, attachments=tuple(files))

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        if not self.state.startswith("failed"):
            self.state = "stopped"


def _typed(text: str, rows: list[list[Button]], sent_text: bool) -> str:
    """The prompt as text, saying the commands to type; just those if the text went."""
    if not sent_text:
        return wire.typed_commands(text, rows)
    commands = [
        f"/{verb} {ident}" for verb, _, ident in (b.data.partition(":") for r in rows for b in r)
    ]
    return "\n".join(c for c in commands if c.split()[0] in ("/approve", "/deny")) or CHOOSE


async def _download(client: httpx.AsyncClient, url: str) -> bytes:
    async with client.stream("GET", url) as answer:
        if answer.status_code >= 400:
            raise OSError(f"HTTP {answer.status_code} for the media URL")
        chunks, total = [], 0
        async for chunk in answer.aiter_bytes():
            total += len(chunk)
            if total > MAX_DOWNLOAD:
                raise OSError(f"the file is over {MAX_DOWNLOAD // 2**20} MiB")
            chunks.append(chunk)
    return b"".join(chunks)


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


async def check_cloud(env: Mapping[str, str]) -> str | None:
    """GET /{phone-number-id} with the token: None when Meta answers, else what is wrong."""
    root = env.get("WHATSAPP_GRAPH_URL", "").strip() or wire.DEFAULT_GRAPH_URL
    number = env.get("WHATSAPP_PHONE_NUMBER_ID", "").strip()
    url = f"{root.rstrip('/')}/{wire.GRAPH_VERSION}/{number}"
    headers = {"Authorization": f"Bearer {env.get('WHATSAPP_TOKEN', '').strip()}"}
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(url, headers=headers, params={"fields": "id"})
    except httpx.HTTPError as exc:
        return f"could not reach the Graph API at {root} ({type(exc).__name__}); check the network"
    if answer.status_code < 400:
        return None
    error = wire.graph_error(answer.status_code, _json(answer))
    if answer.status_code == 404 or "(code 100)" in str(error):
        return f"{error}; check WHATSAPP_PHONE_NUMBER_ID (WhatsApp -> API Setup in the app)"
    return str(error)
