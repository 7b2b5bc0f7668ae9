"""The Discord adapter: discord.py's Gateway WebSocket and REST client; Hermes reads the JSON.

The platform's declaration (settings, capabilities, PLATFORM) is hermes/platforms/discord.py.

discord.py carries the connection: login, the Gateway session (IDENTIFY/RESUME,
heartbeats, zlib), REST with its rate-limit buckets and 429 retries. We run our own
connect loop around `DiscordWebSocket` instead of `Client.connect` so that

- the place in the stream survives restarts: the session id, the sequence number of
  the last event handed to the sink (committed) and the resume URL live in a Cursor
  (state.db); the next start RESUMEs and Discord replays what came while we were down
  (replays of stored messages are dropped by the gateway's (platform, external_id)
  dedupe, and by the adapter's memory of recent ids before that);
- outages are retried every few seconds (our Backoff, capped at RECONNECT_CAP),
  not discord.py's exponential minutes;
- terminal errors (a rejected token: HTTP 401 or close code 4004; a missing intent:
  4014) end in `failed: REASON` without a reconnect loop.

Events are taken from discord.py's dispatch table as plain JSON, in order, onto one
queue that a single consumer hands to the sink through UpdateGuard (one bad event
never stops the rest). A connection that stays open but goes silent is torn down by
discord.py's heartbeat watchdog after `discord.heartbeat_timeout` seconds without a
frame (no HEARTBEAT_ACK) and resumed.

`discord.base_url` (or DISCORD_API_BASE_URL) moves discord.py's REST root, which is a
class attribute (`Route.BASE`): it is process-wide, so one Discord bot per process.
The Gateway URL is the one GET /gateway/bot names, as Discord asks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes.aio import within
from hermes.gateway.events import Attachment, Inbound, Outbound, Target, VoiceOut
from hermes.platforms import discord_voice
from hermes.platforms import discord_wire as wire
from hermes.platforms.adapter import (
    Adapter,
    AdapterUnavailable,
    DeadLetters,
    MemoryCursor,
    MemoryDeadLetters,
    SendError,
    Sink,
    UpdateGuard,
    beside,
    require,
)
from hermes.platforms.discord import API, CAPABILITIES
from hermes.platforms.spec import Cursor
from hermes.providers.http import Backoff

if TYPE_CHECKING:
    import discord
    from discord.gateway import DiscordWebSocket

log = logging.getLogger("hermes.gateway.discord")
JSON = dict[str, Any]
MAX_DOWNLOAD = 25 * 1024 * 1024
RECONNECT_CAP = 3.0  # seconds between tries while Discord is unreachable, at most
RECENT = 2048  # message ids remembered to drop replays before they reach the gateway
WATCHED = ("MESSAGE_CREATE", "INTERACTION_CREATE", "READY", "RESUMED")
CHANNELS = ("GUILD_CREATE", "CHANNEL_CREATE", "THREAD_CREATE", "THREAD_UPDATE")


@dataclass
class _Event:
    name: str
    data: Any
    session: str | None
    seq: int | None
    resume_url: str | None


class DiscordAdapter(Adapter):
    name = "discord"
    capabilities = CAPABILITIES

    def __init__(
        self,
        token: str,
        *,
        downloads: Path,
        base_url: str = API,
        require_mention: bool = False,
        heartbeat_timeout: float = 60.0,
        cursor: Callable[[str], Cursor] | None = None,
        dead_letters: DeadLetters | None = None,
        backoff: Backoff | None = None,
        retry: Backoff | None = None,
    ) -> None:
        require("discord", "discord")
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.downloads = downloads
        self.require_mention = require_mention
        self.heartbeat_timeout = heartbeat_timeout
        self.cursors = cursor  # key -> Cursor; the key names the bot (known after login)
        self.cursor: Cursor = MemoryCursor()
        self.dead_letters: DeadLetters = dead_letters or MemoryDeadLetters()
        self.backoff = backoff or Backoff(base=0.5, cap=RECONNECT_CAP)
        self.retry = retry
        self.state = "starting"
        self.bot_id: str | None = None
        self._client: discord.Client | None = None
        self._ws: DiscordWebSocket | None = None
        self._gateway_url: str | None = None
        self._resume: JSON | None = None  # {"session", "seq", "gateway"} to RESUME with
        self._queue: asyncio.Queue[_Event] = asyncio.Queue()
        self._parents: dict[str, str | None] = {}  # channel id -> parent (threads)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._login_lock = asyncio.Lock()
        self._down_since: float | None = None  # when the current outage began

    # -- connecting -----------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        guard = UpdateGuard(self.name, self.dead_letters, retry=self.retry, wait=self.backoff)
        await beside(self._consume(guard, sink), "discord-events", self._connect_forever())

    async def _connect_forever(self) -> None:
        import aiohttp
        from discord import errors
        from discord.gateway import ReconnectWebSocket

        attempt = 0
        while True:
            try:
                await self._logged_in()
                await self._session()
            except ReconnectWebSocket as exc:  # RECONNECT, INVALID_SESSION, silent or lost
                self._after_socket(resume=exc.resume)
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    how = "resuming the session" if exc.resume else "with a new session"
                    log.info("discord: the connection ended; reconnecting %s", how)
                continue
            except errors.LoginFailure as exc:
                self._fail(f"Discord rejected the bot token (HTTP 401): {wire.TOKEN_FIX}", exc)
            except errors.ConnectionClosed as exc:
                if exc.code in wire.FATAL_CLOSE:
                    self._fail(wire.FATAL_CLOSE[exc.code], exc)
                self._after_socket(resume=True)
                problem: BaseException = exc
            except (
                OSError,
                TimeoutError,
                aiohttp.ClientError,
                errors.HTTPException,
                errors.GatewayNotFound,
            ) as exc:
                if isinstance(exc, errors.HTTPException) and exc.status == 401:
                    self._fail(f"Discord rejected the bot token (HTTP 401): {wire.TOKEN_FIX}", exc)
                if self._ws is not None:
                    self._after_socket(resume=True)
                problem = exc
            else:  # the session ended by itself: go again at once
                continue
            if self._down_since is None:  # one line per outage, not per try
                self._down_since = time.monotonic()
                log.warning("discord: connection lost (%s); reconnecting", _describe(problem))
                attempt = 0
            self.state = "reconnecting"
            await self.backoff.sleep(self.backoff.delay(attempt))
            attempt += 1

    def _fail(self, reason: str, exc: BaseException) -> None:
        self.state = f"failed: {reason}"
        raise AdapterUnavailable(f"discord: {reason}") from exc

    async def _logged_in(self) -> discord.Client:
        """The logged-in client (REST works before the Gateway connects: the courier
        may send, and `hermes send` does, without run())."""
        async with self._login_lock:
            if self._client is None or self._gateway_url is None:
                await self._login()
        assert self._client is not None
        return self._client

    async def _login(self) -> None:
        """A fresh client: log in (GET /users/@me), find the Gateway, load the cursor."""
        import discord
        from discord.http import Route

        Route.BASE = self.base_url  # process-wide: see the module docstring
        await self._close_client()
        # Hermes joins no voice channels: discord.py's warning about voice libraries
        # would only puzzle the reader of gateway.log
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents(
            guilds=True, guild_messages=True, dm_messages=True, message_content=True
        )
        client = discord.Client(
            intents=intents,
            heartbeat_timeout=self.heartbeat_timeout,
            max_ratelimit_timeout=30.0,
            max_messages=None,
            chunk_guilds_at_startup=False,
        )
        self._client = client
        await client.login(self.token)
        assert client.user is not None
        self.bot_id = str(client.user.id)
        if self.cursors is not None:
            self.cursor = self.cursors(f"discord.session.{self.bot_id}")
        self._resume = _parse_cursor(await self.cursor.load())
        _shards, url, _limit = await client.http.get_bot_gateway()
        self._gateway_url = url
        parsers = client._connection.parsers
        for name in (*WATCHED, *CHANNELS):
            parsers[name] = self._tap(name, parsers[name])

    async def _session(self) -> None:
        """One Gateway connection: HELLO, IDENTIFY or RESUME, then events until it ends."""
        import yarl
        from discord.gateway import DiscordWebSocket

        assert self._client is not None and self._gateway_url is not None
        resume = self._resume
        params: dict[str, Any] = {
            "initial": self._ws is None,
            "gateway": yarl.URL(self._gateway_url),
        }
        if resume:
            params.update(
                gateway=yarl.URL(resume["gateway"]),
                session=resume["session"],
                sequence=resume["seq"],
                resume=True,
            )
        coro = DiscordWebSocket.from_client(self._client, **params)
        self._ws = await within(coro, 60.0)
        self._client.ws = self._ws
        while True:
            await self._ws.poll_event()

    def _after_socket(self, *, resume: bool) -> None:
        """What the next connection resumes: where this one got to (all of it is queued
        in order, so nothing is lost within this process), unless Discord said no."""
        ws = self._ws
        if resume and ws is not None and ws.session_id and ws.sequence is not None:
            self._resume = {
                "session": ws.session_id,
                "seq": ws.sequence,
                "gateway": str(ws.gateway),
            }
        elif not resume:
            self._resume = None
        if self.state == "connected":
            self.state = "reconnecting"

    def _tap(self, name: str, parse: Callable[[Any], Any]) -> Callable[[Any], None]:
        """A dispatch-table entry that queues the raw event (in order) and lets
        discord.py's own parser keep its caches; the parser failing harms nothing."""

        def tapped(data: Any) -> None:
            ws = self._ws
            if name in CHANNELS:
                self._learn(name, data)
            if name in WATCHED and ws is not None:
                if name in ("READY", "RESUMED"):
                    self._connected(name)
                self._queue.put_nowait(
                    _Event(name, data, ws.session_id, ws.sequence, _resume_url(ws, name, data))
                )
            try:
                parse(data)
            except Exception as exc:  # their object model, not our problem
                log.debug("discord.py could not parse a %s event: %s", name, exc)

        return tapped

    def _connected(self, how: str) -> None:
        kind = "resumed the session" if how == "RESUMED" else "new session"
        if self._down_since is not None:
            down = time.monotonic() - self._down_since
            log.info("discord: connected again after %.0f s (%s)", down, kind)
        elif self.state != "connected":
            log.info("discord: connected (%s)", kind)
        self.state, self._down_since = "connected", None

    def _learn(self, name: str, data: Any) -> None:
        if not isinstance(data, dict):
            return
        if name == "GUILD_CREATE":
            for key in ("channels", "threads"):
                self._parents.update(wire.parents(data.get(key) or []))
        else:
            self._parents.update(wire.parents(data))

    # -- receiving --------------------------------------------------------------------

    async def _consume(self, guard: UpdateGuard, sink: Sink) -> None:
        while True:
            event = await self._queue.get()
            if event.name in ("MESSAGE_CREATE", "INTERACTION_CREATE"):
                key = _event_id(event)
                if key not in self._recent:
                    await guard.deliver(key, event.data, self._normalizer(event), sink)
                    self._recent[key] = None
                    while len(self._recent) > RECENT:
                        self._recent.popitem(last=False)
            await self._save(event)

    async def _save(self, event: _Event) -> None:
        """Everything up to this event was handed to the sink: a restart resumes here.
        A lost save only means a replay after a restart (dropped as duplicates)."""
        if not (event.session and event.seq is not None and event.resume_url):
            return
        value = {"session": event.session, "seq": event.seq, "gateway": event.resume_url}
        try:
            await self.cursor.save(json.dumps(value))
        except Exception as exc:
            log.warning("discord: could not save the session cursor (%s)", exc)

    def _normalizer(self, event: _Event) -> Callable[[], Awaitable[Inbound | None]]:
        async def normalize() -> Inbound | None:
            if event.name == "INTERACTION_CREATE":
                return wire.button_press(wire.check_interaction(event.data))
            message = wire.check_message(event.data)
            parent = None
            if message.get("guild_id") is not None:
                parent = await self._parent(str(message["channel_id"]))
            return wire.message_event(
                message,
                bot_id=self.bot_id,
                parent=parent,
                require_mention=self.require_mention,
            )

        return normalize

    async def _parent(self, channel_id: str) -> str | None:
        """The parent channel of a thread (None for a channel): from the events seen,
        else GET /channels/{id}. Discord down is transient (retried), a channel we may
        not read is no thread."""
        from discord import errors

        if channel_id in self._parents:
            return self._parents[channel_id]
        assert self._client is not None
        channel: Any
        try:
            channel = await self._client.http.get_channel(int(channel_id))
        except errors.DiscordServerError as exc:
            raise ConnectionError(f"Discord is unavailable (HTTP {exc.status})") from exc
        except errors.HTTPException:
            channel = {"id": channel_id}
        self._parents.update(wire.parents(channel))
        return self._parents.get(channel_id)

    async def fetch(self, event: Inbound) -> Inbound:
        """Download the attachments of an accepted message into the downloads dir (only
        accepted senders get here). Too big, refused or unreachable: left undownloaded."""
        files: list[Attachment] = []
        for a in event.attachments:
            if a.path is not None or a.platform_file_id is None or self._client is None:
                files.append(a)
                continue
            path, size = None, a.size
            if size is None or size <= MAX_DOWNLOAD:
                try:
                    data = await self._client.http.get_from_cdn(a.platform_file_id)
                    if len(data) <= MAX_DOWNLOAD:
                        base = wire.safe(a.name or ("voice-message.ogg" if a.voice else a.kind))
                        target = self.downloads / f"discord-{event.chat}-{event.message_id}-{base}"
                        self.downloads.mkdir(parents=True, exist_ok=True)
                        await asyncio.to_thread(target.write_bytes, data)
                        path, size = str(target), len(data)
                except Exception as exc:
                    log.warning("discord: could not download a %s: %s", a.kind, _describe(exc))
            files.append(dataclasses.replace(a, path=path, size=size))
        return dataclasses.replace(event, attachments=tuple(files))

    # -- sending ----------------------------------------------------------------------

    async def send(self, message: Outbound) -> str:
        channel = _snowflake(message.target.thread or message.target.chat)
        payload = wire.message_payload(message)
        path = "/channels/{channel_id}/messages"
        sent = await self._request("POST", path, payload, channel_id=channel)
        return str(sent["id"])

    async def send_voice(self, voice: VoiceOut) -> str:
        """A native voice message (hermes/platforms/discord_voice.py)."""
        form = await discord_voice.voice_form(voice)
        channel = _snowflake(voice.target.thread or voice.target.chat)
        path = "/channels/{channel_id}/messages"
        sent = await self._request("POST", path, None, form=form, channel_id=channel)
        return str(sent["id"])

    async def edit(self, target: Target, message_id: str, text: str) -> None:
        channel = _snowflake(target.thread or target.chat)
        path = "/channels/{channel_id}/messages/{message_id}"
        ids = {"channel_id": channel, "message_id": _snowflake(message_id)}
        await self._request("PATCH", path, {"content": text}, **ids)

    async def acknowledge(self, event: Inbound, text: str | None = None) -> None:
        from discord import errors

        if not event.callback_id:
            return
        interaction_id, _, token = event.callback_id.partition(":")
        path = "/interactions/{interaction_id}/{interaction_token}/callback"
        ids = {"interaction_id": _snowflake(interaction_id), "interaction_token": token}
        try:
            await self._request("POST", path, wire.ack_payload(text), **ids)
        except SendError as exc:
            cause = exc.__cause__
            if isinstance(cause, errors.HTTPException) and cause.status in (400, 404):
                return  # expired (3 s) or acknowledged already: nothing left to do
            raise

    async def _request(
        self, method: str, path: str, payload: JSON | None, form: Any = None, **ids: Any
    ) -> Any:
        """One REST call (a JSON body, or a multipart FORM). The Route is made after
        login: its URL is built from Route.BASE, which login points at `base_url`."""
        from discord.http import Route

        try:
            client = await self._logged_in()
            route = Route(method, path, **ids)
            if form is not None:
                return await client.http.request(route, form=form)
            return await client.http.request(route, json=payload)
        except Exception as exc:
            raise wire.send_error(exc) from exc

    async def close(self) -> None:
        await self._close_client()
        if not self.state.startswith("failed"):
            self.state = "stopped"

    async def _close_client(self) -> None:
        client, self._client, self._ws = self._client, None, None
        if client is not None:
            try:
                await client.close()
            except Exception as exc:
                log.debug("discord: closing the client: %s", exc)


def _snowflake(value: str) -> int:
    if not value.isdigit():
        raise SendError(f"bad Discord id {value!r}: expected digits", retryable=False)
    return int(value)


def _event_id(event: _Event) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    prefix = "interaction:" if event.name == "INTERACTION_CREATE" else ""
    return f"{prefix}{data.get('id')}" if data.get("id") else f"no-id-seq-{event.seq}"


def _resume_url(ws: DiscordWebSocket, name: str, data: Any) -> str | None:
    if name == "READY" and isinstance(data, dict) and data.get("resume_gateway_url"):
        return str(data["resume_gateway_url"])
    return str(ws.gateway) if ws.gateway else None


def _parse_cursor(raw: str | None) -> JSON | None:
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(value, dict) or not {"session", "seq", "gateway"} <= value.keys():
        return None
    return value if isinstance(value["seq"], int) else None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
