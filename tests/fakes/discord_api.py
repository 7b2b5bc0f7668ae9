"""A loopback Discord: the REST API (v10) and the Gateway WebSocket, written from
Discord's public API docs, answering what discord.py really sends.

REST under `api_url` (point discord.base_url / DISCORD_API_BASE_URL there):
GET /users/@me, GET /oauth2/applications/@me, GET /gateway/bot (names the WebSocket
below), GET /channels/{id}, POST /channels/{id}/messages, PATCH
/channels/{id}/messages/{id}, POST /interactions/{id}/{token}/callback; attachments
at /attachments/...; errors as Discord shapes them ({"message", "code"}; a 429 with
"retry_after" in the body, Retry-After and Via headers, which discord.py requires).

The Gateway: HELLO (op 10) with `heartbeat_interval`; HEARTBEAT (op 1) -> ACK (op 11);
IDENTIFY (op 2) -> READY then GUILD_CREATE; RESUME (op 6) of a known session ->
the events after its `seq`, then RESUMED; an unknown session -> INVALID_SESSION
(op 9, false); a wrong token closes with 4004. Events go to the newest session and
are kept in its log, so a RESUME replays what a dropped connection missed.

User side: `user_says`, `user_sends_file`, `press_button`, `add_thread`, `dm`; what the
bot did: `sent`, `edits`, `callbacks`, `messages_in`. Failure injection from the
base (tests/fakes/platform_base.py): `fail(route, status, times, retry_after)`,
`silence_sockets`, `drop_sockets`, `revoke_token`, `duplicate_next`. The JSON objects
themselves are built in tests/fakes/discord_shapes.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import discord_shapes as shapes
from tests.fakes.discord_shapes import (
    APP_ID,
    BOT_ID,
    CHANNEL,
    GUILD,
    MAX_CONTENT,
    USER,
    user,
)
from tests.fakes.platform_base import Call, FakePlatform, FakeSocket, Reply

JSON = dict[str, Any]
API = "/api/v10"


@dataclass
class Session:
    id: str
    log: list[JSON] = field(default_factory=list)  # dispatches, seq = index + 1
    delivered: int = 0  # log entries sent on the current socket
    socket: FakeSocket | None = None
    wake: asyncio.Event | None = None
    valid: bool = True


class FakeDiscord(FakePlatform):
    def __init__(self, token: str, *, heartbeat_ms: int = 1000) -> None:
        self.token = token
        self.heartbeat_ms = heartbeat_ms
        self.bot = {**user(BOT_ID, "Hermes"), "bot": True}
        self._ids = itertools.count(1_200_000_000_000_000_000)
        self.channels: dict[str, JSON] = {
            CHANNEL: {
                "id": CHANNEL,
                "type": 0,
                "guild_id": GUILD,
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
            }
        }
        self.messages: dict[str, JSON] = {}  # every message, the users' and the bot's
        self.callbacks: list[JSON] = []  # interaction callbacks: {"id", "type", "data"}
        self.interactions: dict[str, str] = {}  # id -> token (unanswered)
        self.files: dict[str, bytes] = {}
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.identified = 0
        self.resumed = 0
        self.heartbeats = 0
        self.app_flags = 1 << 19  # GATEWAY_MESSAGE_CONTENT_LIMITED: the intent is on
        super().__init__()

    # -- routes -----------------------------------------------------------------------

    def routes(self) -> None:
        self._app.middlewares.append(shapes.via)
        self.http("GET", API + "/users/@me", self.me, "users/@me")
        self.http("GET", API + "/oauth2/applications/@me", self.application, "applications/@me")
        self.http("GET", API + "/gateway/bot", self.gateway_bot, "gateway/bot")
        self.http("GET", API + "/channels/{channel}", self.get_channel, "getChannel")
        self.http("POST", API + "/channels/{channel}/messages", self.create, "createMessage")
        self.http("PATCH", API + "/channels/{channel}/messages/{message}", self.edit, "editMessage")
        self.http("POST", API + "/interactions/{id}/{token}/callback", self.callback, "callback")
        self.http("GET", "/attachments/{key}/{name}", self.attachment, "attachment")
        self.ws("/gateway", self.gateway, "gateway")

    @property
    def api_url(self) -> str:
        return self.base_url + API

    def error_body(self, status: int, name: str, retry_after: float | None) -> Any:
        if status == 429:
            return {
                "message": "You are being rate limited.",
                "retry_after": retry_after or 1.0,
                "global": False,
            }
        messages = {401: "401: Unauthorized", 403: "Missing Access", 404: "404: Not Found"}
        return {"message": messages.get(status, f"{status}: Server Error"), "code": 0}

    def _authorized(self, call: Call) -> Reply | None:
        if call.headers.get("Authorization") != f"Bot {self.token}":
            return Reply(401, {"message": "401: Unauthorized", "code": 0})
        return None

    def me(self, call: Call) -> Any:
        return self._authorized(call) or dict(self.bot)

    def application(self, call: Call) -> Any:
        return self._authorized(call) or shapes.application(self.app_flags)

    def gateway_bot(self, call: Call) -> Any:
        return self._authorized(call) or {
            "url": self.ws_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http") + "/gateway"

    def get_channel(self, call: Call) -> Any:
        if denied := self._authorized(call):
            return denied
        with self.cond:
            channel = self.channels.get(call.params["channel"])
        return (
            dict(channel) if channel else Reply(404, {"message": "Unknown Channel", "code": 10003})
        )

    def create(self, call: Call) -> Any:
        if denied := self._authorized(call):
            return denied
        body, channel_id = call.data, call.params["channel"]
        files: dict[str, tuple[str, str, bytes]] = {}
        if "payload_json" in body:  # multipart: the message and its files[n]
            files = {
                k: (v.filename, v.content_type, v.file.read())
                for k, v in body.items()
                if k.startswith("files[")
            }
            body = json.loads(body["payload_json"])
        with self.cond:
            channel = self.channels.get(channel_id)
            if channel is None:
                return Reply(404, {"message": "Unknown Channel", "code": 10003})
            if problem := shapes.invalid_upload(body, files) if files else shapes.invalid(body):
                return Reply(400, {"message": problem, "code": 50035})
            message = self._message(channel, self.bot, body.get("content") or "")
            message["components"] = body.get("components") or []
            message["flags"] = int(body.get("flags") or 0)
            message["attachments"] = [self._stored(a, files) for a in body.get("attachments", [])]
            if ref := body.get("message_reference"):
                message["message_reference"] = ref
            uploads = {name: data for name, _type, data in files.values()}
            sent = {**body, "channel_id": channel_id, "id": message["id"], "files": uploads}
            self.sent.append(sent)
            self.changed()
            return dict(message)

    def _stored(self, item: JSON, files: dict[str, tuple[str, str, bytes]]) -> JSON:
        """An uploaded attachment, kept to be downloaded from its url."""
        name, ctype, data = files[f"files[{item['id']}]"]
        key = str(next(self._ids))
        self.files[f"{key}/{name}"] = data
        url = f"{self.base_url}/attachments/{key}/{name}"
        extra = {k: item[k] for k in ("duration_secs", "waveform") if k in item}
        fields = {"filename": name, "size": len(data), "content_type": ctype, **extra}
        return {"id": key, "url": url, "proxy_url": url, **fields}

    def edit(self, call: Call) -> Any:
        if denied := self._authorized(call):
            return denied
        body = call.data
        with self.cond:
            message = self.messages.get(call.params["message"])
            if message is None or message["channel_id"] != call.params["channel"]:
                return Reply(404, {"message": "Unknown Message", "code": 10008})
            if message["author"]["id"] != BOT_ID:
                return Reply(
                    403,
                    {"message": "Cannot edit a message authored by another user", "code": 50005},
                )
            if "content" in body:
                if len(body["content"] or "") > MAX_CONTENT:
                    return Reply(400, {"message": "Invalid Form Body", "code": 50035})
                message["content"] = body["content"]
            if "components" in body:
                message["components"] = body["components"]
            self.edits.append({**body, "id": message["id"], "channel_id": message["channel_id"]})
            self.changed()
            return dict(message)

    def callback(self, call: Call) -> Any:
        with self.cond:
            token = self.interactions.get(call.params["id"])
            if token is None or token != call.params["token"]:
                return Reply(404, {"message": "Unknown interaction", "code": 10062})
            if call.data.get("type") not in (4, 5, 6, 7):
                return Reply(400, {"message": "Invalid Form Body", "code": 50035})
            del self.interactions[call.params["id"]]
            self.callbacks.append({"id": call.params["id"], **call.data})
            self.changed()
        return web.Response(status=204)

    def attachment(self, call: Call) -> Any:
        data = self.files.get(f"{call.params['key']}/{call.params['name']}")
        return Reply(200, data) if data is not None else Reply(404, {"message": "Not Found"})

    # -- the Gateway ------------------------------------------------------------------

    async def gateway(self, sock: FakeSocket, call: Call) -> None:
        await sock.send(
            {"op": 10, "d": {"heartbeat_interval": self.heartbeat_ms}, "s": None, "t": None}
        )
        session: Session | None = None
        pump: asyncio.Task[None] | None = None
        try:
            async for frame in sock:
                op = frame.get("op") if isinstance(frame, dict) else None
                data = frame.get("d") if isinstance(frame, dict) else None
                if op == 1:
                    with self.cond:
                        self.heartbeats += 1
                    await sock.send({"op": 11, "d": None, "s": None, "t": None})
                elif op in (2, 6) and session is None:
                    if not isinstance(data, dict) or data.get("token") != self.token:
                        await sock.close(4004, b"Authentication failed.")
                        return
                    session = self._identify() if op == 2 else self._resume(data)
                    if session is None:
                        await sock.send({"op": 9, "d": False, "s": None, "t": None})
                        continue
                    session.wake = asyncio.Event()
                    session.socket = sock
                    pump = asyncio.create_task(self._pump(session, sock))
        finally:
            if pump is not None:
                pump.cancel()
            if session is not None and session.socket is sock:
                session.socket = None

    def _identify(self) -> Session:
        with self.cond:
            session = Session(f"session-{next(self._ids)}")
            self.sessions[session.id] = session
            self.current = session
            self.identified += 1
            session.log.append(
                self._frame(
                    "READY",
                    {
                        "v": 10,
                        "user": self.bot,
                        "guilds": [{"id": GUILD, "unavailable": True}],
                        "session_id": session.id,
                        "resume_gateway_url": self.ws_url,
                        "application": {"id": APP_ID, "flags": 0},
                        "private_channels": [],
                        "relationships": [],
                    },
                )
            )
            session.log.append(self._frame("GUILD_CREATE", self._guild()))
            self.changed()
            return session

    def _resume(self, data: JSON) -> Session | None:
        with self.cond:
            session = self.sessions.get(str(data.get("session_id")))
            if session is None or not session.valid:
                return None
            seq = data.get("seq") or 0
            session.delivered = min(int(seq), len(session.log))
            session.log.append(self._frame("RESUMED", {}))
            self.resumed += 1
            self.changed()
            return session

    async def _pump(self, session: Session, sock: FakeSocket) -> None:
        """Send the session's log from `delivered` on, in order, as it grows."""
        assert session.wake is not None
        while True:
            with self.cond:
                frames = [
                    {**f, "s": i + 1} for i, f in enumerate(session.log) if i >= session.delivered
                ]
                session.delivered = len(session.log)
            for frame in frames:
                await sock.send(frame)  # dropped while deaf: a RESUME replays it
            await session.wake.wait()
            session.wake.clear()

    def _frame(self, name: str, data: JSON) -> JSON:
        return {"op": 0, "t": name, "d": data}

    def _guild(self) -> JSON:
        return shapes.guild([c for c in self.channels.values() if c.get("guild_id") == GUILD])

    def dispatch(self, name: str, data: JSON) -> None:
        """An event for the bot: into the newest session's log (twice while
        `duplicate_next` is armed), sent at once if it is connected."""
        copies = self.copies()
        with self.cond:
            session = self.current
            if session is None:
                return
            for _ in range(copies):
                session.log.append(self._frame(name, data))
            wake, loop = session.wake, self._loop
            self.changed()
        if wake is not None and loop is not None:
            loop.call_soon_threadsafe(wake.set)

    def invalidate_sessions(self) -> None:
        """Sessions can no longer be resumed (as after Discord's resume window)."""
        with self.cond:
            for session in self.sessions.values():
                session.valid = False

    # -- the user side ----------------------------------------------------------------

    def dm(self, user_id: str) -> str:
        """The DM channel between the bot and user_id."""
        with self.cond:
            for channel in self.channels.values():
                if channel["type"] == 1 and channel["recipients"][0]["id"] == user_id:
                    return str(channel["id"])
            channel_id = str(next(self._ids))
            self.channels[channel_id] = {
                "id": channel_id,
                "type": 1,
                "recipients": [user(user_id)],
            }
            return channel_id

    def add_thread(self, parent: str = CHANNEL, *, announce: bool = True) -> str:
        """A public thread under `parent`; `announce`: send THREAD_CREATE."""
        with self.cond:
            thread_id = str(next(self._ids))
            thread = shapes.thread(thread_id, parent)
            self.channels[thread_id] = thread
        if announce:
            self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread_id

    def _message(self, channel: JSON, author: JSON, content: str) -> JSON:
        message_id = str(next(self._ids))
        message = shapes.message(message_id, channel["id"], author, content)
        if channel.get("guild_id"):
            message["guild_id"] = channel["guild_id"]
        self.messages[message_id] = message
        return message

    def user_says(
        self,
        channel: str,
        text: str,
        user_id: str = USER,
        *,
        mention: bool = False,
        reply_to: str | None = None,
        attachments: list[JSON] | None = None,
        flags: int = 0,
        name: str | None = None,
    ) -> JSON:
        """A user writes `text` in `channel` (a channel, thread or DM id): MESSAGE_CREATE.
        `mention`: it starts with the bot's <@id>; `reply_to`: it replies to that message."""
        author = user(user_id, name)
        with self.cond:
            where = self.channels[channel]
            content = f"<@{BOT_ID}> {text}" if mention else text
            message = self._message(where, author, content)
            message["flags"] = flags
            message["attachments"] = attachments or []
            if mention:
                message["mentions"] = [self.bot]
            if reply_to is not None:
                original = self.messages[reply_to]
                message["type"] = 19
                message["referenced_message"] = dict(original)
                message["message_reference"] = {
                    "message_id": reply_to,
                    "channel_id": original["channel_id"],
                }
            if where.get("guild_id"):
                message["member"] = {"nick": None, "roles": [], "joined_at": message["timestamp"]}
            data = dict(message)
        self.dispatch("MESSAGE_CREATE", data)
        return data

    def user_sends_file(
        self,
        channel: str,
        data: bytes,
        filename: str,
        content_type: str,
        user_id: str = USER,
        *,
        text: str = "",
        voice: bool = False,
    ) -> JSON:
        """A file (or, with `voice`, a voice message: flag IS_VOICE_MESSAGE, OGG/Opus)."""
        key = str(next(self._ids))
        with self.cond:
            self.files[f"{key}/{filename}"] = data
        item: JSON = {
            "id": key,
            "filename": filename,
            "size": len(data),
            "url": f"{self.base_url}/attachments/{key}/{filename}",
            "proxy_url": f"{self.base_url}/attachments/{key}/{filename}",
            "content_type": content_type,
        }
        if voice:
            item.update(duration_secs=3.5, waveform="AAAA")
        return self.user_says(
            channel, text, user_id, attachments=[item], flags=(1 << 13) if voice else 0
        )

    def press_button(self, message_id: str, custom_id: str, user_id: str = USER) -> str:
        """A user presses the button `custom_id` under the bot's message: INTERACTION_CREATE.
        Returns the interaction id."""
        with self.cond:
            message = dict(self.messages[message_id])
            channel = self.channels[message["channel_id"]]
            interaction_id, token = str(next(self._ids)), f"token-{next(self._ids)}"
            self.interactions[interaction_id] = token
        data = shapes.interaction(interaction_id, token, channel, message, custom_id, user_id)
        self.dispatch("INTERACTION_CREATE", data)
        return interaction_id

    # -- what the bot did -------------------------------------------------------------

    def messages_in(self, channel: str) -> dict[str, str]:
        """The bot's messages in `channel` (id -> current text), oldest first."""
        with self.cond:
            return {
                m["id"]: m["content"]
                for m in self.messages.values()
                if m["channel_id"] == channel and m["author"]["id"] == BOT_ID
            }

    def live_sockets(self) -> int:
        with self.cond:
            return len(self.sockets)
