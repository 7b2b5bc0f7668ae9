"""A loopback fake of Meta's WhatsApp Cloud API, written from Meta's public docs: the
Graph API calls Hermes makes, and Meta's side of the webhook (it signs each body with
the app secret, like Meta, and POSTs it to the gateway's /webhooks/whatsapp).

Graph API (bearer token checked on every call; a revoked token answers 401 code 190):
    GET  /{version}/{phone-number-id}        -> the number's id (what Hermes probes)
    POST /{version}/{phone-number-id}/messages  text, interactive reply buttons, audio
    POST /{version}/{phone-number-id}/media     an upload (multipart: file, type,
                                                messaging_product) -> {id}
    GET  /{version}/{media-id}               -> {url, mime_type, file_size, ...}
    GET  /media-download/{media-id}          the bytes (the token again)

The webhook sender is Meta's: events queue in order and each is POSTed until the
gateway answers 200, tried again every 0.1 s (Meta retries for days), so what users
say while the gateway is down arrives once it is back. Set `webhook_url` after the
gateway is up (its port changes on a restart).

Failure injection: `fail("messages", 429)` (error code 130429) or 5xx, `revoke_token()`,
`fail("media", ...)` for uploads, `duplicate_next()` (the next event is delivered
twice), `replay(wamid)`, and
`close_window(user)`: interactive messages to that user are refused with 131047 as
outside the 24-hour window. (A simplification: Meta refuses every free-form message
there; the fake lets text through so the text fallback can be seen arriving.)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from typing import Any

import aiohttp

from tests.fakes.platform_base import JSON, Call, FakePlatform, Reply

VERSION = "v21.0"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
TOKEN = "EAAG-fake-permanent-token"
APP_SECRET = "0123456789abcdef-app-secret"
VERIFY_TOKEN = "hermes-verify-me"
USER = "+1 650 555 1234"  # how an owner writes their number in WHATSAPP_ALLOWED_USERS
WA_ID = "16505551234"  # the same number as WhatsApp gives it


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def graph_error(status: int, code: int, message: str, transient: bool = False) -> Reply:
    error: JSON = {"message": message, "type": "OAuthException", "code": code}
    error |= {"fbtrace_id": "AbCdEfGh", "is_transient": transient}
    return Reply(status, {"error": error})


class FakeWhatsAppCloud(FakePlatform):
    def __init__(self, token: str = TOKEN, app_secret: str = APP_SECRET) -> None:
        self.token, self.app_secret = token, app_secret
        self.phone_number_id = PHONE_NUMBER_ID
        self.webhook_url: str | None = None
        self.media: dict[str, tuple[bytes, str]] = {}
        self.uploads: list[JSON] = []  # {id, type, filename, content_type, data} per upload
        self.closed_windows: set[str] = set()  # wa_ids whose interactive messages get 131047
        self.refused: list[JSON] = []  # messages refused with 131047
        self.answered: list[tuple[str, int]] = []  # (what, status) of each webhook POST answered
        self.acked: list[str] = []  # wamids of events the gateway answered 200
        self.events: dict[str, JSON] = {}  # wamid -> the webhook body that carried it
        self._outbox: deque[tuple[str, JSON]] = deque()
        self._ids = itertools.count(1)
        self._sender: asyncio.Task[None] | None = None
        super().__init__()

    # -- the Graph API ------------------------------------------------------------------

    def routes(self) -> None:
        self.http("POST", "/{version}/{node}/messages", self.messages, name="messages")
        self.http("POST", "/{version}/{node}/media", self.upload, name="media")
        self.http("GET", "/media-download/{media}", self.download, name="download")
        self.http("GET", "/{version}/{node}", self.node, name="node")

    def error_body(self, status: int, name: str, retry_after: float | None) -> Any:
        if status == 429:
            return graph_error(429, 130429, "(#130429) Rate limit hit").body
        if status == 401:
            return graph_error(401, 190, "Error validating access token: revoked").body
        return graph_error(status, 2, "Service temporarily unavailable", True).body

    def _refused_token(self, call: Call) -> Reply | None:
        if call.headers.get("Authorization") != f"Bearer {self.token}":
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        return None

    def node(self, call: Call) -> Any:
        if (refused := self._refused_token(call)) is not None:
            return refused
        node = call.params["node"]
        if node == self.phone_number_id:
            return {"id": node}
        with self.cond:
            media = self.media.get(node)
        if media is None:
            return graph_error(400, 100, f"Unsupported get request. Object with ID '{node}'")
        _, mime = media
        url = f"{self.base_url}/media-download/{node}"
        return {"messaging_product": "whatsapp", "url": url, "mime_type": mime, "id": node}

    def download(self, call: Call) -> Any:
        if (refused := self._refused_token(call)) is not None:
            return refused
        with self.cond:
            data, _ = self.media[call.params["media"]]
        return Reply(200, data)

    def upload(self, call: Call) -> Any:
        """POST /{phone-number-id}/media: multipart with the file, its type and
        messaging_product, as Meta documents; the media id."""
        if (refused := self._refused_token(call)) is not None:
            return refused
        file, kind = call.data.get("file"), call.data.get("type")
        if call.data.get("messaging_product") != "whatsapp" or not hasattr(file, "file"):
            return graph_error(400, 100, "(#100) messaging_product and file are required")
        if kind not in ("audio/ogg", "audio/mpeg", "audio/aac", "audio/mp4", "image/jpeg"):
            return graph_error(400, 131053, f"(#131053) Media upload error: type {kind!r}")
        data = file.file.read()
        with self.cond:
            media_id = f"{next(self._ids) + 800_000_000_000}"
            self.media[media_id] = (data, str(kind))
            found = {"id": media_id, "type": kind, "filename": file.filename, "data": data}
            self.uploads.append({**found, "content_type": file.content_type})
            self.changed()
        return {"id": media_id}

    def audio_messages(self, wa_id: str = WA_ID) -> list[tuple[JSON, bytes, str]]:
        """Each audio message sent to WA_ID: (the message, the uploaded bytes, its type)."""
        with self.cond:
            found = [m for m in self.sent if m["to"] == wa_id and m["type"] == "audio"]
            return [(m, *self.media[m["audio"]["id"]]) for m in found]

    def messages(self, call: Call) -> Any:
        if (refused := self._refused_token(call)) is not None:
            return refused
        if call.params["node"] != self.phone_number_id:
            return graph_error(400, 100, "Unsupported post request")
        body = call.data
        with self.cond:
            problem = _invalid(body, self.media)
        if problem is not None:
            return graph_error(400, 131009, f"(#131009) Parameter value is not valid: {problem}")
        with self.cond:
            if body["type"] == "interactive" and body["to"] in self.closed_windows:
                self.refused.append(body)
                self.changed()
                return graph_error(400, 131047, "Re-engagement message")
            wamid = f"wamid.OUT{next(self._ids):06d}"
            self.sent.append({**body, "id": wamid})
            self.changed()
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": wamid}],
        }

    # -- what tests read ----------------------------------------------------------------

    def texts(self, wa_id: str = WA_ID) -> list[str]:
        """What the user sees, in order: each message's text (an interactive one's body)."""
        with self.cond:
            return [_shown(m) for m in self.sent if m["to"] == wa_id]

    def button_messages(self, wa_id: str = WA_ID) -> list[JSON]:
        with self.cond:
            return [m for m in self.sent if m["to"] == wa_id and m["type"] == "interactive"]

    def close_window(self, wa_id: str = WA_ID) -> None:
        with self.cond:
            self.closed_windows.add(wa_id)

    # -- Meta's side of the webhook -----------------------------------------------------

    def user_says(
        self,
        text: str,
        wa_id: str = WA_ID,
        *,
        name: str = "Sheena Nelson",
        at: float | None = None,
        reply_to: str | None = None,
    ) -> str:
        """The user writes TEXT: its webhook is queued; returns its wamid."""
        message: JSON = {"type": "text", "text": {"body": text}}
        if reply_to is not None:
            message["context"] = {"from": DISPLAY_NUMBER, "id": reply_to}
        return self.deliver(message, wa_id, name=name, at=at)

    def press_button(self, button_id: str, title: str, wa_id: str = WA_ID) -> str:
        """The user taps a reply button of an interactive message."""
        reply = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
        return self.deliver({"type": "interactive", "interactive": reply}, wa_id)

    def voice_note(self, data: bytes, wa_id: str = WA_ID, mime: str = "audio/ogg") -> str:
        """The user records a voice note: an `audio` message with voice true."""
        media_id = f"{next(self._ids) + 900_000_000_000}"
        with self.cond:
            self.media[media_id] = (data, mime)
        digest = hashlib.sha256(data).hexdigest()
        audio = {"mime_type": f"{mime}; codecs=opus", "sha256": digest, "id": media_id}
        return self.deliver({"type": "audio", "audio": {**audio, "voice": True}}, wa_id)

    def audio_file(
        self, data: bytes, mime: str, filename: str, wa_id: str = WA_ID, *, document: bool
    ) -> str:
        """The user sends an audio FILE: as a document (with its name), or as an `audio`
        message without `voice` (a shared or forwarded recording)."""
        media_id = f"{next(self._ids) + 900_000_000_000}"
        with self.cond:
            self.media[media_id] = (data, mime)
        if document:
            media = {"id": media_id, "mime_type": mime, "filename": filename}
            return self.deliver({"type": "document", "document": media}, wa_id)
        return self.deliver({"type": "audio", "audio": {"id": media_id, "mime_type": mime}}, wa_id)

    def deliver(
        self, message: JSON, wa_id: str, *, name: str = "Sheena Nelson", at: float | None = None
    ) -> str:
        wamid = f"wamid.IN{next(self._ids):06d}{hashlib.sha1(wa_id.encode()).hexdigest()[:6]}"
        stamp = str(int(at if at is not None else time.time()))
        full = {"from": wa_id, "id": wamid, "timestamp": stamp, **message}
        body = self.envelope({"contacts": [{"profile": {"name": name}, "wa_id": wa_id}]}, full)
        with self.cond:
            self.events[wamid] = body
            for _ in range(self.copies()):
                self._outbox.append((wamid, body))
        self._kick()
        return wamid

    def replay(self, wamid: str) -> None:
        """Meta delivers that event again (it may, for days)."""
        with self.cond:
            self._outbox.append((wamid, self.events[wamid]))
        self._kick()

    def status_update(self, wamid: str, status: str = "delivered") -> None:
        update = {"id": wamid, "status": status, "timestamp": str(int(time.time()))}
        body = self.envelope({"statuses": [{**update, "recipient_id": WA_ID}]})
        with self.cond:
            self._outbox.append(("status", body))
        self._kick()

    def envelope(self, value: JSON, message: JSON | None = None) -> JSON:
        meta = {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": self.phone_number_id}
        inner: JSON = {"messaging_product": "whatsapp", "metadata": meta, **value}
        if message is not None:
            inner["messages"] = [message]
        change = {"field": "messages", "value": inner}
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1029", "changes": [change]}],
        }

    def post_raw(self, body: bytes, headers: dict[str, str]) -> int:
        """One POST to the webhook as given (forged or unsigned); its status."""
        return int(self.run(self._post(body, headers)))

    def verify(self, mode: str, token: str, challenge: str) -> tuple[int, str]:
        """Meta's verification GET; (status, text)."""
        params = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
        return tuple(self.run(self._get(params)))  # type: ignore[return-value]

    def idle(self) -> bool:
        """Every queued event was answered 200."""
        with self.cond:
            return not self._outbox

    # -- the sender ---------------------------------------------------------------------

    def _kick(self) -> None:
        self.run(self._start_sender())

    async def _start_sender(self) -> None:
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_all())

    async def _send_all(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                with self.cond:
                    head = self._outbox[0] if self._outbox else None
                    url = self.webhook_url
                if head is None:
                    return
                status = 0
                if url is not None:
                    status = await self._post(json.dumps(head[1]).encode(), {}, session)
                if status == 200:
                    with self.cond:
                        self._outbox.popleft()
                        self.acked.append(head[0])
                        self.changed()
                else:
                    await asyncio.sleep(0.1)

    async def _post(
        self, body: bytes, headers: dict[str, str], session: aiohttp.ClientSession | None = None
    ) -> int:
        with self.cond:
            url = self.webhook_url
        assert url is not None, "set webhook_url first"
        sent = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(body, self.app_secret),
        }
        sent = {**sent, **headers}
        sent = {k: v for k, v in sent.items() if v}  # an empty value: the header left out
        own = session is None
        session = session or aiohttp.ClientSession()
        try:
            async with session.post(url, data=body, headers=sent) as answer:
                status = answer.status
        except (aiohttp.ClientError, OSError):
            status = 0
        finally:
            if own:
                await session.close()
        with self.cond:
            self.answered.append((hashlib.sha1(body).hexdigest()[:8], status))
            self.changed()
        return status

    async def _get(self, params: dict[str, str]) -> tuple[int, str]:
        assert self.webhook_url is not None, "set webhook_url first"
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.webhook_url, params=params) as answer,
        ):
            return answer.status, await answer.text()


def _shown(message: JSON) -> str:
    if message["type"] == "audio":
        return f"[audio {message['audio']['id']}]"
    if message["type"] == "interactive":
        return str(message["interactive"]["body"]["text"])
    return str(message["text"]["body"])


def _invalid(body: JSON, media: dict[str, tuple[bytes, str]]) -> str | None:
    """What Meta would refuse in a message, or None."""
    if body.get("messaging_product") != "whatsapp" or not str(body.get("to", "")).isdigit():
        return "messaging_product and a digits-only `to` are required"
    if body.get("type") == "text":
        text = (body.get("text") or {}).get("body") or ""
        return None if 0 < len(text) <= 4096 else f"text.body has {len(text)} characters"
    if body.get("type") == "interactive":
        inner = body.get("interactive") or {}
        buttons = (inner.get("action") or {}).get("buttons") or []
        text = (inner.get("body") or {}).get("text") or ""
        if inner.get("type") != "button" or not 1 <= len(buttons) <= 3:
            return "an interactive button message has 1 to 3 buttons"
        if not 0 < len(text) <= 1024:
            return f"interactive.body.text has {len(text)} characters"
        for b in buttons:
            reply = b.get("reply") or {}
            if not 0 < len(reply.get("title") or "") <= 20 or len(reply.get("id") or "") > 256:
                return f"button {reply!r}: title 1-20 characters, id at most 256"
        return None
    if body.get("type") == "audio":
        audio = body.get("audio") or {}
        if set(audio) != {"id"} or audio["id"] not in media:
            return f"audio {audio!r} is not the id of an uploaded file"
        return None
    return f"type {body.get('type')!r} is not one the fake knows"
