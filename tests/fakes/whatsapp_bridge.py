"""A loopback fake of a WhatsApp bridge that follows docs/whatsapp-bridge.md (what a
Baileys- or whatsmeow-based bridge serves):

    GET  /health                      {connected, phone, last_event_at, buttons}
    GET  /messages?after=C&timeout=S  long-poll -> {messages, cursor}
    POST /send {to, text, reply_to?}  -> {id}
    POST /send {to, audio: {data, mime, voice, seconds}, reply_to?}  a voice note -> {id}
    POST /probe {nonce}               the answer comes back through /messages
    POST /reconnect                   the bridge rebuilds its link to WhatsApp
    GET  /media/{id}                  a voice note's bytes

Messages stay until a poll's `after` passes them (at least once). `go_deaf()` makes
it the bridge users complain about: /health still says connected, but nothing
arrives (what users say waits on "WhatsApp's servers", `held`) and probes never come
back; a POST /reconnect heals it when `heal_on_reconnect`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import time
from typing import Any

from tests.fakes.platform_base import JSON, Call, FakePlatform, Reply

BOT_PHONE = "+15550001111"
USER = "+15557654321"
TOKEN = "bridge-secret"


class FakeWhatsAppBridge(FakePlatform):
    def __init__(self, token: str = TOKEN, phone: str = BOT_PHONE) -> None:
        self.token, self.phone = token, phone
        self.events: list[JSON] = []  # not yet passed by a poll's `after`, each with "seq"
        self.acked = 0  # the highest `after` a poll sent
        self.linked = True  # /health's connected
        self.deaf = False  # connected, but nothing flows
        self.heal_on_reconnect = True
        self.held: list[JSON] = []  # said while deaf: delivered after a reconnect heals it
        self.reconnects = 0
        self.probes: list[str] = []  # nonces asked
        self.media: dict[str, bytes] = {}
        self.last_event_at: float | None = None
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._pulse = asyncio.Event()
        super().__init__()

    def routes(self) -> None:
        self.http("GET", "/health", self.health, name="health")
        self.http("GET", "/messages", self.poll, name="messages")
        self.http("POST", "/send", self.send, name="send")
        self.http("POST", "/probe", self.probe, name="probe")
        self.http("POST", "/reconnect", self.reconnect, name="reconnect")
        self.http("GET", "/media/{media}", self.download, name="media")

    def error_body(self, status: int, name: str, retry_after: float | None) -> Any:
        body: JSON = {"error": f"injected HTTP {status}"}
        return body | ({"retry_after": retry_after} if retry_after is not None else {})

    def changed(self) -> None:
        super().changed()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._pulse.set()
        self._pulse = asyncio.Event()

    def _refused(self, call: Call) -> Reply | None:
        if self.token and call.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(401, {"error": "missing or wrong bearer token"})
        return None

    # -- the contract -------------------------------------------------------------------

    def health(self, call: Call) -> Any:
        if (refused := self._refused(call)) is not None:
            return refused
        with self.cond:
            return {
                "connected": self.linked,
                "phone": self.phone,
                "last_event_at": self.last_event_at,
                "buttons": False,
            }

    async def poll(self, call: Call) -> Any:
        if (refused := self._refused(call)) is not None:
            return refused
        after = int(call.data.get("after") or 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(float(call.data.get("timeout") or 0), 30.0)
        with self.cond:
            self.acked = max(self.acked, after)
            self.events = [e for e in self.events if e["seq"] > after]  # passed: forgotten
            self.changed()
        while True:
            with self.cond:
                ready = [e for e in self.events if e["seq"] > after]
                pulse = self._pulse
            left = deadline - loop.time()
            if ready or left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pulse.wait(), left)
        cursor = str(ready[-1]["seq"]) if ready else str(after)
        return {
            "messages": [{k: v for k, v in e.items() if k != "seq"} for e in ready],
            "cursor": cursor,
        }

    def send(self, call: Call) -> Any:
        if (refused := self._refused(call)) is not None:
            return refused
        body = call.data
        audio = body.get("audio")
        if audio is not None:
            try:
                data = base64.b64decode(str(audio.get("data")), validate=True)
            except (binascii.Error, ValueError, AttributeError):
                return Reply(400, {"error": "audio.data is not base64"})
            if not body.get("to") or not data or not str(audio.get("mime")).startswith("audio/"):
                return Reply(400, {"error": "to, audio.data and an audio/ mime are required"})
            body = {**body, "audio": {**audio, "data": data}}  # kept decoded
        elif not body.get("to") or not body.get("text"):
            return Reply(400, {"error": "to and text are required"})
        with self.cond:
            message_id = f"3EB0OUT{next(self._ids):06d}"
            self.sent.append({**body, "id": message_id})
            self.changed()
        return {"id": message_id}

    def probe(self, call: Call) -> Any:
        if (refused := self._refused(call)) is not None:
            return refused
        nonce = str(call.data.get("nonce") or "")
        with self.cond:
            self.probes.append(nonce)
            if not self.deaf and self.linked:  # the note to self comes back
                self._append(
                    {
                        "id": f"probe-{nonce}",
                        "probe": nonce,
                        "chat": self.phone,
                        "from": self.phone,
                        "from_me": True,
                    }
                )
            self.changed()
        return Reply(202, {"ok": True})

    def reconnect(self, call: Call) -> Any:
        if (refused := self._refused(call)) is not None:
            return refused
        with self.cond:
            self.reconnects += 1
            if self.deaf and self.heal_on_reconnect:
                self.deaf = False
                for message in self.held:
                    self._append(message)
                self.held.clear()
            self.changed()
        return Reply(202, {"ok": True})

    def download(self, call: Call) -> Any:
        if (refused := self._refused(call)) is not None:
            return refused
        with self.cond:
            data = self.media.get(call.params["media"])
        return Reply(404, {"error": "no such media"}) if data is None else Reply(200, data)

    # -- for tests ----------------------------------------------------------------------

    def user_says(self, text: str, user: str = USER, *, name: str = "Ann", **extra: Any) -> str:
        message_id = f"3EB0IN{next(self._ids):06d}"
        message = {
            "id": message_id,
            "chat": user,
            "from": user,
            "from_name": name,
            "is_group": False,
            "text": text,
            "timestamp": int(time.time()),
            **extra,
        }
        with self.cond:
            for _ in range(self.copies()):
                if self.deaf:
                    self.held.append(message)
                else:
                    self._append(message)
            self.changed()
        return message_id

    def voice_note(self, data: bytes, user: str = USER) -> str:
        media_id = f"media{next(self._ids)}"
        with self.cond:
            self.media[media_id] = data
        audio = {"id": media_id, "mime": "audio/ogg; codecs=opus", "voice": True, "seconds": 3}
        return self.user_says("", user, audio=audio)

    def go_deaf(self, heal_on_reconnect: bool = False) -> None:
        with self.cond:
            self.deaf, self.heal_on_reconnect = True, heal_on_reconnect
            self.changed()

    def texts(self, chat: str = USER) -> list[str]:
        with self.cond:
            return [str(m["text"]) for m in self.sent if m["to"] == chat and "text" in m]

    def voice_notes(self, chat: str = USER) -> list[JSON]:
        """Each audio message sent to CHAT (its `audio` with `data` decoded to bytes)."""
        with self.cond:
            return [m for m in self.sent if m["to"] == chat and "audio" in m]

    def _append(self, message: JSON) -> None:
        self.events.append({**message, "seq": next(self._seq)})
        self.last_event_at = time.time()
