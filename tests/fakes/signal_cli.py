"""A loopback signal-cli daemon (`signal-cli daemon --http`), written from its man page
signal-cli-jsonrpc(5) and the JSON it documents.

POST /api/v1/rpc: JSON-RPC 2.0 (send, sendReaction, sendTyping, getAttachment,
version, listGroups, listAccounts, listDevices), errors as signal-cli shapes them
({"code", "message", "data"}: -1 user error, -3 I/O, -5 rate limit with the send
results' retryAfterSeconds, -32602 for an account the daemon does not have).
GET /api/v1/events: server-sent events `event:receive` / `data:{"account", "envelope"}`
to every open stream; while no stream is open, events wait (like
`--receive-mode=on-connection`, where they stay on Signal's servers) and flow to the
next stream. GET /api/v1/check: 200. `single_account=True` is a daemon started with
`-a ACCOUNT`: it ignores the account a client names.

User side: `user_says` (DM or group, mentions, quotes), `react`, `send_audio`;
what the bot did: `sent`, `texts_to(chat)`, `attachments_to(chat)` (each `send`
attachment, a data URI or a path, decoded as signal-cli does), `typing`, `reactions`.
Failures:
`rpc_error(method, code, times, retry_after)`, `silence_stream()` (open streams stay
open but carry nothing; held events flow to the next stream), `fail(route, ...)`
and `drop_streams()` from the base (tests/fakes/platform_base.py), `duplicate_next`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.platform_base import Call, FakePlatform, Reply

JSON = dict[str, Any]
ACCOUNT = "+4915100000001"  # the bot
USER = "+4915100000002"
USER_UUID = "a1b2c3d4-0000-4000-8000-000000000002"
GROUP = "Z3JvdXAtb25lLWZvci10aGUtdGVzdHM9PT09PT09PT0="


@dataclass
class Stream:
    queue: asyncio.Queue[JSON | None] = field(default_factory=asyncio.Queue)
    silent: bool = False


@dataclass
class _RpcFailure:
    code: int
    message: str
    times: int | None
    retry_after: int | None


class FakeSignalCli(FakePlatform):
    def __init__(
        self, account: str = ACCOUNT, *, keepalive: float = 15.0, single_account: bool = False
    ) -> None:
        self.account = account
        self.single_account = single_account  # `-a ACCOUNT daemon`: the account param is ignored
        self.keepalive = keepalive
        self.streams: list[Stream] = []
        self.held: list[JSON] = []  # events no open stream took yet
        self.typing: list[JSON] = []  # sendTyping params, in order
        self.reactions: list[JSON] = []  # sendReaction params
        self.files: dict[str, bytes] = {}
        self.streams_opened = 0
        self._clock = itertools.count(int(time.time() * 1000))
        self._rpc_failures: dict[str, list[_RpcFailure]] = {}
        super().__init__()

    def routes(self) -> None:
        self.http("POST", "/api/v1/rpc", self.rpc, name="rpc")
        self.http("GET", "/api/v1/events", self.events, name="events")
        self.http("GET", "/api/v1/check", lambda call: Reply(200, b""), name="check")

    # -- the daemon ---------------------------------------------------------------------

    def now(self) -> int:
        return next(self._clock)

    def rpc(self, call: Call) -> Any:
        request = call.data
        method, rid = request.get("method"), request.get("id")
        params = dict(request.get("params") or {})
        account = params.pop("account", None)
        if account is not None and account != self.account and not self.single_account:
            return _error(rid, -32602, "Specified account does not exist")
        with self.cond:
            queue = self._rpc_failures.get(str(method)) or []
            failure = queue[0] if queue else None
            if failure is not None and failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    queue.pop(0)
        if failure is not None:
            data = None
            if failure.retry_after is not None:
                results = [{"type": "RATE_LIMIT_FAILURE", "retryAfterSeconds": failure.retry_after}]
                data = {"response": {"timestamp": self.now(), "results": results}}
            return _error(rid, failure.code, failure.message, data)
        handler = getattr(self, f"_rpc_{method}", None)
        if handler is None:
            return _error(rid, -32601, "Method not implemented")
        try:
            result = handler(params)
        except ValueError as exc:  # what signal-cli answers a bad argument with
            return _error(rid, -1, str(exc))
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    def _rpc_send(self, params: JSON) -> JSON:
        timestamp = self.now()
        chat = f"group.{params['groupId']}" if params.get("groupId") else params["recipient"][0]
        files = [_attachment(a) for a in params.get("attachments") or []]
        if not params.get("message") and not files:
            raise ValueError("Sending empty message is not allowed")
        with self.cond:
            self.sent.append({**params, "chat": chat, "timestamp": timestamp, "files": files})
            self.changed()
        return {"timestamp": timestamp, "results": [{"type": "SUCCESS"}]}

    def _rpc_sendTyping(self, params: JSON) -> JSON:
        with self.cond:
            self.typing.append({**params, "at": time.monotonic()})
            self.changed()
        return {"timestamp": self.now(), "results": []}

    def _rpc_sendReaction(self, params: JSON) -> JSON:
        with self.cond:
            self.reactions.append(params)
            self.changed()
        return {"timestamp": self.now(), "results": []}

    def _rpc_getAttachment(self, params: JSON) -> JSON:
        data = self.files[str(params["id"])]
        return {"data": base64.b64encode(data).decode()}

    def _rpc_version(self, params: JSON) -> JSON:
        return {"version": "0.13.99-fake"}

    def _rpc_listAccounts(self, params: JSON) -> list[JSON]:
        return [{"number": self.account}]

    def _rpc_listDevices(self, params: JSON) -> list[JSON]:
        return [{"id": 1, "name": "phone"}, {"id": 2, "name": "hermes"}]

    def _rpc_listGroups(self, params: JSON) -> list[JSON]:
        return [{"id": GROUP, "name": "Team", "isMember": True, "members": [self.account, USER]}]

    async def events(self, call: Call) -> web.StreamResponse:
        if call.data.get("account") not in (None, self.account) and not self.single_account:
            return web.Response(status=400)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(call.request)
        stream = Stream()
        with self.cond:
            self.streams.append(stream)
            self.streams_opened += 1
            waiting, self.held = self.held, []
            self.changed()
        for event in waiting:
            stream.queue.put_nowait(event)
        try:
            while True:
                try:
                    event = await asyncio.wait_for(stream.queue.get(), self.keepalive)
                except TimeoutError:
                    if not stream.silent:
                        await response.write(b":\n")
                    continue
                if event is None:
                    break
                if stream.silent:  # it never arrives here: the next stream gets it
                    with self.cond:
                        self.held.append(event)
                    continue
                line = json.dumps({"account": self.account, "envelope": event})
                try:
                    await response.write(f"event:receive\ndata:{line}\n\n".encode())
                except ConnectionError:  # the client is gone: the next stream gets it
                    with self.cond:
                        self.held.append(event)
                    break
        except ConnectionError:
            pass
        finally:
            with self.cond:
                self.streams.remove(stream)
                self.changed()
        return response

    # -- pushing events -----------------------------------------------------------------

    def push_envelope(self, envelope: JSON) -> None:
        """Deliver ENVELOPE (twice while `duplicate_next` is armed) to every open,
        non-silent stream; held for the next stream when there is none."""
        for _ in range(self.copies()):
            with self.cond:
                live = [s for s in self.streams if not s.silent]
                if not live:
                    self.held.append(envelope)
                    continue
            for stream in live:
                self.run(_put(stream, envelope))

    def silence_stream(self) -> None:
        """Open streams stay open but carry nothing (keep-alives neither); what comes
        meanwhile waits for the next stream."""
        with self.cond:
            for stream in self.streams:
                stream.silent = True

    def drop_streams(self) -> None:
        with self.cond:
            streams = list(self.streams)
        for stream in streams:
            self.run(_put(stream, None))

    def close(self) -> None:
        if self._loop is not None:
            self.drop_streams()  # end the stream handlers: the server stops at once
        super().close()

    def rpc_error(
        self,
        method: str,
        code: int,
        message: str = "error",
        *,
        times: int | None = 1,
        retry_after: int | None = None,
    ) -> None:
        """Answer METHOD with a JSON-RPC error `times` times (None: until recover())."""
        with self.cond:
            failure = _RpcFailure(code, message, times, retry_after)
            self._rpc_failures.setdefault(method, []).append(failure)

    def recover(self) -> None:
        with self.cond:
            self._rpc_failures.clear()
        super().recover()

    # -- the user side --------------------------------------------------------------------

    def envelope(self, data: JSON, sender: str = USER, uuid: str | None = USER_UUID) -> JSON:
        timestamp = self.now()
        return {
            "source": sender,
            "sourceNumber": sender,
            "sourceUuid": uuid,
            "sourceName": "Ada",
            "sourceDevice": 1,
            "timestamp": timestamp,
            "serverReceivedTimestamp": timestamp + 5,
            "serverDeliveredTimestamp": timestamp + 9,
            "dataMessage": {"timestamp": timestamp, "expiresInSeconds": 0, **data},
        }

    def user_says(
        self,
        text: str,
        *,
        sender: str = USER,
        group: str | None = None,
        mention: bool = False,
        quote: JSON | None = None,
        attachments: list[JSON] | None = None,
        uuid: str | None = USER_UUID,
    ) -> int:
        """SENDER writes TEXT (in GROUP, if given); the message's timestamp."""
        data: JSON = {"message": text}
        if mention:
            data["message"] = "\ufffc " + text
            data["mentions"] = [
                {"name": self.account, "number": self.account, "start": 0, "length": 1}
            ]
        if group is not None:
            data["groupInfo"] = {
                "groupId": group,
                "groupName": "Team",
                "revision": 3,
                "type": "DELIVER",
            }
        if quote is not None:
            data["quote"] = quote
        if attachments is not None:
            data["attachments"] = attachments
        envelope = self.envelope(data, sender, uuid)
        self.push_envelope(envelope)
        return int(envelope["timestamp"])

    def react(
        self, emoji: str, target: int, *, sender: str = USER, group: str | None = None
    ) -> int:
        data: JSON = {
            "reaction": {
                "emoji": emoji,
                "targetAuthor": self.account,
                "targetAuthorNumber": self.account,
                "targetAuthorUuid": None,
                "targetSentTimestamp": target,
                "isRemove": False,
            }
        }
        if group is not None:
            data["groupInfo"] = {
                "groupId": group,
                "groupName": "Team",
                "revision": 3,
                "type": "DELIVER",
            }
        envelope = self.envelope(data, sender)
        self.push_envelope(envelope)
        return int(envelope["timestamp"])

    def send_audio(
        self,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        filename: str | None = None,
        sender: str = USER,
    ) -> str:
        """SENDER sends a file holding DATA (a voice note: no file name); its id."""
        file_id = f"att{len(self.files) + 1}.bin"
        self.files[file_id] = data
        attachment = {
            "contentType": content_type,
            "filename": filename,
            "id": file_id,
            "size": len(data),
        }
        self.user_says("", sender=sender, attachments=[attachment])
        return file_id

    def texts_to(self, chat: str) -> list[str]:
        with self.cond:
            return [str(s.get("message")) for s in self.sent if s["chat"] == chat]

    def attachments_to(self, chat: str) -> list[JSON]:
        """Each attachment sent to CHAT: {mime, filename, data, quote} (quote: the
        send's quoteTimestamp, if any)."""
        with self.cond:
            return [
                {**f, "quote": s.get("quoteTimestamp")}
                for s in self.sent
                if s["chat"] == chat
                for f in s["files"]
            ]

    def sent_to(self, chat: str) -> list[JSON]:
        with self.cond:
            return [s for s in self.sent if s["chat"] == chat]


def _attachment(value: str) -> JSON:
    """A `send` attachment as signal-cli reads it: a file path, or an RFC 2397 data URI
    `data:MIME[;filename=NAME];base64,DATA`. Raises ValueError."""
    if not value.startswith("data:"):
        path = Path(value)  # a file on the daemon's machine
        return {"mime": None, "filename": path.name, "data": path.read_bytes()}
    head, comma, data = value[5:].partition(",")
    parts = head.split(";")
    if not comma or parts[-1] != "base64":
        raise ValueError("Invalid data URI: only base64 data is supported")
    names = [p.removeprefix("filename=") for p in parts[1:-1] if p.startswith("filename=")]
    try:
        decoded = base64.b64decode(data, validate=True)
    except ValueError as exc:
        raise ValueError(f"Invalid data URI: {exc}") from None
    return {"mime": parts[0] or None, "filename": names[0] if names else None, "data": decoded}


def _error(rid: Any, code: int, message: str, data: Any = None) -> JSON:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message, "data": data}}


async def _put(stream: Stream, event: JSON | None) -> None:
    stream.queue.put_nowait(event)
