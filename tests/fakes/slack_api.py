"""FakeSlack: a loopback fake of Slack's Web API, Socket Mode and incoming webhook,
written from Slack's public docs and answering what slack_sdk / slack-bolt send.

- Web API at `api_url` (`{base_url}/api/{method}`; point `slack.base_url` or
  SLACK_API_BASE_URL there): `auth.test`, `apps.connections.open` (the app-level
  token; answers the Socket Mode URL of this fake), `chat.postMessage`,
  `chat.update`, `conversations.info`, `users.info`, and files: `files.getUploadURLExternal`
  -> the upload at `/upload/v1/{id}` (route "upload") -> `files.completeUploadExternal`
  (what slack_sdk's files_upload_v2 sends), `files.info`, private downloads at
  `/files-pri/{id}/{name}` with the bot token. The token comes in the
  Authorization header (or a `token` field). Errors are Slack's: HTTP 200 with
  `{"ok": false, "error": CODE}`, 429 with Retry-After and `ratelimited`.
- Socket Mode at `/socket`: `hello` on connect, then envelopes
  (`events_api` for messages, `interactive` for button presses) that the app
  acknowledges with `{"envelope_id": ...}`. An envelope not acknowledged within
  `ack_timeout` seconds is sent again with `retry_attempt`/`retry_reason` (at most
  `max_retries` times), as Slack does for a slow app; one that could not be sent (no
  open socket) waits for the next connection. `request_refresh()` sends `disconnect`.
- Incoming webhook at `webhook_url` (`/services/T.../B.../...`): JSON `{"text"}` ->
  "ok" (text/plain), failures as plain-text codes (`no_service`, `rate_limited`).

User side: `user_says`, `user_shares_file`, `press_button`; what the bot did: `sent`,
`edits`, `shown`, `uploads`, `webhook_posts`, `acks`. Failure injection from the base
(tests/fakes/platform_base.py):
`fail(method, status, times, retry_after)`, `silence_sockets`, `drop_sockets`,
`revoke_token` (every call: `token_revoked`), `duplicate_next` (an event delivered
twice: a second envelope with the same event, as Slack's retry).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import uuid
from typing import Any

from tests.fakes.platform_base import Call, FakePlatform, FakeSocket, Reply

JSON = dict[str, Any]
TEAM = "T0FAKE001"
APP = "A0FAKE001"
BOT_ID = "B0FAKE001"
SECTION_MAX = 3000
MAX_TEXT = 40_000


class FakeSlack(FakePlatform):
    def __init__(
        self,
        bot_token: str = "xoxb-test-bot",
        app_token: str = "xapp-1-test-app",
        *,
        bot_user: str = "U0BOT0001",
        ack_timeout: float = 3.0,
        max_retries: int = 3,
    ) -> None:
        self.bot_token, self.app_token, self.bot_user = bot_token, app_token, bot_user
        self.ack_timeout, self.max_retries = ack_timeout, max_retries
        self.messages: dict[tuple[str, str], JSON] = {}  # (channel, ts) -> message
        self.acks: list[str] = []  # envelope ids acknowledged, in order
        self.envelopes: list[JSON] = []  # every envelope sent, retries too
        self.webhook_posts: list[JSON] = []
        self.files: dict[str, JSON] = {}  # file id -> file object (+ "data" once uploaded)
        self.uploads: list[JSON] = []  # files the bot shared: {channel, thread_ts, file, data}
        self._pending: dict[str, JSON] = {}  # event key -> {envelope, sent_at, attempt}
        self._ts = itertools.count(1)
        self._tickets = itertools.count(1)
        self._ticker: asyncio.Task[None] | None = None
        super().__init__()

    # -- routes ---------------------------------------------------------------------

    def routes(self) -> None:
        self.http("POST", "/api/{method}", self.api)
        self.http("GET", "/api/{method}", self.api)
        self.ws("/socket", self.socket, name="socket")
        self.http("POST", "/services/{team}/{bot}/{secret}", self.webhook, name="webhook")
        self.http("POST", "/upload/v1/{file}", self.upload, name="upload")
        self.http("GET", "/files-pri/{file}/{name}", self.download, name="download")

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/services/{TEAM}/B0HOOK001/fakesecret"

    def start(self) -> FakeSlack:
        super().start()
        if self._ticker is None:
            self.run(self._start_ticker())
        return self

    def close(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(ticker.cancel)
        super().close()

    def error_body(self, status: int, name: str, retry_after: float | None) -> Any:
        if name == "webhook":
            return b"rate_limited" if status == 429 else b"internal_error"
        code = "ratelimited" if status == 429 else "service_unavailable"
        return {"ok": False, "error": code}

    def revoked_reply(self, call: Call) -> Reply:
        if call.name == "webhook":
            return Reply(404, b"no_service")
        return Reply(200, {"ok": False, "error": "token_revoked"})

    def api(self, call: Call) -> Any:
        method = call.name
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        token = _token(call)
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != wanted:
            return {"ok": False, "error": "invalid_auth"}
        try:
            result: JSON = handler(call.data)
        except _ApiError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, **result}

    async def socket(self, sock: FakeSocket, call: Call) -> None:
        await sock.send(
            {
                "type": "hello",
                "num_connections": len(self.sockets),
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP},
            }
        )
        await self._flush()  # what waited for a connection
        async for data in sock:
            if isinstance(data, dict) and isinstance(data.get("envelope_id"), str):
                with self.cond:
                    self.acks.append(data["envelope_id"])
                    for key, p in list(self._pending.items()):
                        if data["envelope_id"] in p["ids"]:
                            del self._pending[key]
                    self.changed()

    def webhook(self, call: Call) -> Any:
        with self.cond:
            self.webhook_posts.append(dict(call.data))
            self.changed()
        return Reply(200, b"ok")

    async def upload(self, call: Call) -> Any:
        """Step 2 of files_upload_v2: the bytes, raw or as a multipart `file` part."""
        if call.request.content_type == "multipart/form-data":
            part = call.data.get("file") or call.data.get("filename")
            data = part.file.read() if hasattr(part, "file") else b""
        else:
            data = await call.request.read()
        with self.cond:
            file = self.files.get(call.params["file"])
            if file is None or file.get("length") != len(data):
                return Reply(400, b"invalid upload")
            file["data"] = data
        return Reply(200, f"OK - {len(data)}".encode())

    def download(self, call: Call) -> Any:
        with self.cond:
            file = self.files.get(call.params["file"])
        if _token(call) != self.bot_token or file is None or "data" not in file:
            return Reply(404, b"<html>sign in</html>")  # Slack answers its sign-in page
        return Reply(200, file["data"], {"Content-Type": file["mimetype"]})

    # -- Web API methods --------------------------------------------------------------

    def _api_files_getUploadURLExternal(self, p: JSON) -> JSON:
        name, length = str(p.get("filename") or ""), int(p.get("length") or 0)
        if not name or length <= 0:
            raise _ApiError("invalid_arguments")
        file_id = f"F{next(self._ts):08d}"
        with self.cond:
            self.files[file_id] = {"id": file_id, "name": name, "length": length}
        return {"upload_url": f"{self.base_url}/upload/v1/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, p: JSON) -> JSON:
        listed = json.loads(p["files"]) if isinstance(p.get("files"), str) else p.get("files")
        channel = _channel({"channel": p.get("channel_id")})
        thread = p.get("thread_ts") or None
        done = []
        with self.cond:
            for item in listed or []:
                file = self.files.get(str(item.get("id")))
                if file is None or "data" not in file:
                    raise _ApiError("file_not_found")
                file.update(self._file_object(file["id"], file["name"], file["data"]))
                file["title"] = item.get("title") or file["name"]
                self.uploads.append(
                    {"channel": channel, "thread_ts": thread, "file": file, "data": file["data"]}
                )
                done.append({"id": file["id"], "title": file["title"]})
            self.changed()
        return {"files": done}

    def _api_files_info(self, p: JSON) -> JSON:
        with self.cond:
            file = self.files.get(str(p.get("file") or ""))
        if file is None:
            raise _ApiError("file_not_found")
        return {"file": {k: v for k, v in file.items() if k != "data"}}

    def _file_object(self, file_id: str, name: str, data: bytes, mime: str | None = None) -> JSON:
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
        types = {"ogg": "audio/ogg", "webm": "audio/webm", "mp3": "audio/mpeg", "m4a": "audio/mp4"}
        url = f"{self.base_url}/files-pri/{file_id}/{name}"
        return {
            "id": file_id,
            "name": name,
            "mimetype": mime or types.get(ext, "application/octet-stream"),
            "filetype": ext,
            "size": len(data),
            "url_private": url,
            "url_private_download": url,
            "data": data,
        }

    def _api_auth_test(self, p: JSON) -> JSON:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": "hermes",
            "team_id": TEAM,
            "user_id": self.bot_user,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_apps_connections_open(self, p: JSON) -> JSON:
        ticket = next(self._tickets)
        return {"url": f"{self.base_url.replace('http', 'ws', 1)}/socket?ticket={ticket}"}

    def _api_chat_postMessage(self, p: JSON) -> JSON:
        channel = _channel(p)
        blocks = _blocks(p.get("blocks"))
        text = p.get("text") or ""
        if not text and not blocks:
            raise _ApiError("no_text")
        if len(text) > MAX_TEXT:
            raise _ApiError("msg_too_long")
        ts = self._new_ts()
        message: JSON = {"type": "message", "user": self.bot_user, "bot_id": BOT_ID}
        message.update({"text": text, "ts": ts, "channel": channel})
        if p.get("thread_ts"):
            message["thread_ts"] = str(p["thread_ts"])
        if blocks:
            message["blocks"] = blocks
        with self.cond:
            self.messages[(channel, ts)] = message
            self.sent.append(dict(message))
            self.changed()
        return {"channel": channel, "ts": ts, "message": message}

    def _api_chat_update(self, p: JSON) -> JSON:
        channel, ts = _channel(p), str(p.get("ts") or "")
        with self.cond:
            message = self.messages.get((channel, ts))
            if message is None:
                raise _ApiError("message_not_found")
            if message.get("user") != self.bot_user:
                raise _ApiError("cant_update_message")
            text = p.get("text") or ""
            if len(text) > MAX_TEXT:
                raise _ApiError("msg_too_long")
            message["text"] = text
            if "blocks" in p:
                message["blocks"] = _blocks(p.get("blocks"))
            self.edits.append({"channel": channel, "ts": ts, "text": text})
            self.changed()
        return {"channel": channel, "ts": ts, "text": text}

    def _api_conversations_info(self, p: JSON) -> JSON:
        channel = _channel(p)
        return {"channel": {"id": channel, "is_im": channel.startswith("D"), "name": channel}}

    def _api_users_info(self, p: JSON) -> JSON:
        user = str(p.get("user") or "")
        return {"user": {"id": user, "name": user.lower(), "real_name": f"User {user}"}}

    # -- the user's side --------------------------------------------------------------

    def user_says(
        self,
        channel: str,
        text: str,
        user: str = "U0ADA0001",
        thread_ts: str | None = None,
    ) -> JSON:
        """A person posts TEXT in CHANNEL (D...: a DM, C...: a channel), in a thread if
        `thread_ts`. Sent as a `message` event (and an `app_mention` too when a channel
        message mentions the bot, as Slack does). Returns the message."""
        ts = self._new_ts()
        kind = {"D": "im", "G": "group"}.get(channel[:1], "channel")
        message: JSON = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": kind,
            "client_msg_id": str(uuid.uuid4()),
            "team": TEAM,
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self.cond:
            self.messages[(channel, ts)] = dict(message)
        self.deliver("events_api", self._callback(message))
        if kind != "im" and f"<@{self.bot_user}>" in text:
            mention = {k: v for k, v in message.items() if k not in ("channel_type",)}
            mention["type"] = "app_mention"
            self.deliver("events_api", self._callback(mention))
        return message

    def user_shares_file(
        self,
        channel: str,
        data: bytes,
        name: str,
        mime: str,
        *,
        clip: bool = False,
        user: str = "U0ADA0001",
    ) -> JSON:
        """A person shares a file in CHANNEL (`clip`: an audio clip recorded in Slack,
        file subtype `slack_audio`): a `message` event with subtype `file_share`."""
        file_id = f"F{next(self._ts):08d}"
        file = self._file_object(file_id, name, data, mime)
        if clip:
            file.update(subtype="slack_audio", media_display_type="audio")
        with self.cond:
            self.files[file_id] = file
        ts = self._new_ts()
        kind = {"D": "im", "G": "group"}.get(channel[:1], "channel")
        shown = {k: v for k, v in file.items() if k != "data"}
        message: JSON = {"type": "message", "subtype": "file_share", "channel": channel}
        message.update(user=user, text="", ts=ts, event_ts=ts, channel_type=kind, team=TEAM)
        message["files"] = [shown]
        with self.cond:
            self.messages[(channel, ts)] = dict(message)
        self.deliver("events_api", self._callback(message))
        return message

    def press_button(self, channel: str, ts: str, value: str, user: str = "U0ADA0001") -> JSON:
        """A person presses the button whose value is VALUE under the bot's message TS."""
        with self.cond:
            message = self.messages.get((channel, ts))
        assert message is not None, f"no message {ts} in {channel}"
        for block in message.get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("type") == "button" and element.get("value") == value:
                    break
            else:
                continue
            break
        else:
            raise AssertionError(f"no button with value {value!r} under message {ts}")
        container: JSON = {"type": "message", "message_ts": ts, "channel_id": channel}
        container["is_ephemeral"] = False
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
            "api_app_id": APP,
            "token": "verification-token",
            "container": container,
            "trigger_id": f"{next(self._tickets)}.{uuid.uuid4().hex[:12]}",
            "team": {"id": TEAM, "domain": "fake"},
            "channel": {"id": channel, "name": channel.lower()},
            "message": message,
            "response_url": f"{self.base_url}/actions/{uuid.uuid4().hex}",
            "actions": [
                {
                    "action_id": element["action_id"],
                    "block_id": block.get("block_id", ""),
                    "text": element["text"],
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        self.deliver("interactive", payload, key=payload["trigger_id"])
        return payload

    def deliver(self, kind: str, payload: JSON, key: str | None = None) -> str:
        """Send an envelope of KIND with PAYLOAD (kept until acknowledged); its event key."""
        key = key or str(payload.get("event_id"))
        for copy in range(self.copies()):
            envelope = {
                "envelope_id": str(uuid.uuid4()),
                "type": kind,
                "accepts_response_payload": kind == "interactive",
                "payload": payload,
            }
            if kind == "events_api":
                envelope["retry_attempt"] = copy
                envelope["retry_reason"] = "timeout" if copy else ""
            with self.cond:
                self._pending[key if not copy else f"{key}#dup"] = {
                    "envelope": envelope,
                    "sent_at": None,
                    "attempt": copy,
                    "ids": {envelope["envelope_id"]},
                }
        self.run(self._flush())
        return key

    def request_refresh(self) -> int:
        """Slack asks the app to reconnect (`disconnect`, reason refresh_requested)."""
        return self.push({"type": "disconnect", "reason": "refresh_requested"})

    # -- reading what happened --------------------------------------------------------

    def shown(self, channel: str, thread_ts: str | None = None) -> list[str]:
        """The bot's messages in CHANNEL (top level, or in the thread), current texts."""
        with self.cond:
            return [
                m["text"]
                for (c, _), m in self.messages.items()
                if c == channel and m.get("user") == self.bot_user
                if m.get("thread_ts") == thread_ts
            ]

    def pending(self) -> int:
        """Envelopes not acknowledged yet."""
        with self.cond:
            return len(self._pending)

    # -- internals --------------------------------------------------------------------

    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _callback(self, event: JSON) -> JSON:
        return {
            "token": "verification-token",
            "team_id": TEAM,
            "api_app_id": APP,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": TEAM, "user_id": self.bot_user, "is_bot": True},
            ],
            "is_ext_shared_channel": False,
        }

    async def _flush(self) -> None:
        """Send envelopes never sent, and re-send those unacknowledged for too long."""
        now = time.monotonic()
        with self.cond:
            live = [s for s in self.sockets if not s.deaf and not s.ws.closed]
            due = []
            for p in self._pending.values():
                if p["sent_at"] is None or now - p["sent_at"] >= self.ack_timeout:
                    due.append(p)
        if not live:
            return
        for p in due:
            envelope = dict(p["envelope"])
            if p["sent_at"] is not None:  # a retry: Slack's new envelope, same payload
                if p["attempt"] >= self.max_retries:
                    continue
                p["attempt"] += 1
                envelope["envelope_id"] = str(uuid.uuid4())
                envelope["retry_attempt"] = p["attempt"]
                envelope["retry_reason"] = "timeout"
                with self.cond:
                    p["envelope"] = envelope
                    p["ids"].add(envelope["envelope_id"])
            p["sent_at"] = now
            if await live[-1].send(envelope):
                with self.cond:
                    self.envelopes.append(envelope)
                    self.changed()

    async def _start_ticker(self) -> None:
        async def tick() -> None:
            while True:
                await asyncio.sleep(min(0.1, self.ack_timeout / 4))
                await self._flush()

        self._ticker = asyncio.get_running_loop().create_task(tick())


class _ApiError(Exception):
    """A Web API error code."""


def _token(call: Call) -> str:
    auth = call.headers.get("Authorization") or call.headers.get("authorization") or ""
    if auth.startswith("Bearer "):
        return auth[len("Bearer ") :].strip()
    return str(call.data.get("token") or "")


def _channel(p: JSON) -> str:
    channel = str(p.get("channel") or "")
    if not re.fullmatch(r"[CDG][A-Z0-9]{2,}", channel):
        raise _ApiError("channel_not_found")
    return channel


def _blocks(raw: Any) -> list[JSON]:
    """Blocks as sent (a JSON string in form posts), checked like Slack checks them."""
    if raw is None or raw == "":
        return []
    blocks = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(blocks, list) or len(blocks) > 50:
        raise _ApiError("invalid_blocks")
    for block in blocks:
        if block.get("type") == "section":
            text = (block.get("text") or {}).get("text") or ""
            if not text or len(text) > SECTION_MAX:
                raise _ApiError("invalid_blocks")
        elif block.get("type") == "actions":
            elements = block.get("elements") or []
            if not elements or len(elements) > 25:
                raise _ApiError("invalid_blocks")
            for e in elements:
                if e.get("type") == "button" and len(e.get("value") or "") > 2000:
                    raise _ApiError("invalid_blocks")
    return blocks
