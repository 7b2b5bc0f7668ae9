"""The Signal adapter: signal-cli's HTTP daemon, events in, JSON-RPC out.

The declaration is hermes/platforms/signal.py, the HTTP link signal_link.py, the JSON
signal_wire.py.

Receiving. signal-cli pushes each received message to every open event stream
(server-sent events) and keeps no backlog per client, so there is no place in a
stream to resume from. What is read is handed to the sink (stored in state.db)
at once, one event at a time, through UpdateGuard; duplicates (the same
SENDER:TIMESTAMP from two streams) are dropped here and by the gateway's dedupe.
What can be lost: an event signal-cli wrote into a connection that died before
Hermes read it, or one read but not yet stored when Hermes is killed (a few
milliseconds). With `--receive-mode=on-connection` (README) the daemon fetches from
Signal's servers only while a stream is open, so messages that arrive while Hermes
is down wait on Signal's servers instead of being printed to the daemon's stdout.

Liveness. A stream can stay open and carry nothing while the daemon has messages (a
half-dead connection, a stalled daemon-side handler). After `probe_interval`
seconds without an event the adapter probes (GET /api/v1/check and the `version`
RPC): if that fails, the link is dropped and rebuilt with backoff; if it works, the
stream is renewed make-before-break (the new stream is open before the old one is
closed, so no event falls between them). An unknown account (the daemon answers
"Specified account does not exist", or 400 for the stream), a single-account daemon
whose events name another account, or a refused Host header is `failed: REASON`,
with no retry loop.

Sending. No edits on Signal: replies are sent once (can_edit False). A spoken reply
is an OGG/Opus attachment (a data URI) without a file name. A JSON-RPC
rate-limit error (-5) is a retryable SendError with signal-cli's retryAfterSeconds.
Approvals: the request's text gets "React 👍 to approve, 👎 to deny."; the emoji ->
button map is kept in state.db under `signal.request.ACCOUNT.TIMESTAMP`, so a
reaction after a restart still decides. The typing indicator is refreshed every
few seconds while a turn runs (Signal clients drop it after about 15 s).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from hermes.gateway.events import Attachment, Button, Inbound, Outbound, Target, VoiceOut
from hermes.platforms import signal_wire as wire
from hermes.platforms.adapter import (
    Adapter,
    AdapterUnavailable,
    DeadLetters,
    Malformed,
    MemoryDeadLetters,
    SendError,
    Sink,
    Terminal,
    UpdateGuard,
    beside,
    one_line,
)
from hermes.platforms.audio_sniff import EXTENSIONS, HEAD, audio_mime
from hermes.platforms.render_split import size
from hermes.platforms.signal import ACCOUNT_FIX, CAPABILITIES
from hermes.platforms.signal_link import DaemonError, SignalLink, host_fix
from hermes.platforms.signal_wire import RpcError, SseEvent, SseParser
from hermes.platforms.spec import Cursor
from hermes.platforms.voice_file import voice_bytes
from hermes.providers.http import Backoff

log = logging.getLogger("hermes.gateway.signal")
RECONNECT_CAP = 5.0  # seconds between tries while the daemon is unreachable, at most
RECENT = 4096  # event keys and sent timestamps remembered
TYPING_REFRESH = 10.0  # Signal clients drop a typing indicator after about 15 s
TYPING_MAX = 900.0  # a turn that runs longer stops showing it
MAX_DOWNLOAD = 50 * 1024 * 1024


class SignalAdapter(Adapter):
    name = "signal"
    capabilities = CAPABILITIES

    def __init__(
        self,
        url: str,
        account: str,
        *,
        allowed: Callable[[], frozenset[str] | None] = lambda: frozenset(),
        require_mention: bool = False,
        probe_interval: float = 60.0,
        request_timeout: float = 30.0,
        downloads: Path | None = None,
        cursor: Callable[[str], Cursor] | None = None,
        dead_letters: DeadLetters | None = None,
        backoff: Backoff | None = None,
        retry: Backoff | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.account = account
        self.allowed = allowed
        self.require_mention = require_mention
        self.probe_interval = probe_interval
        self.request_timeout = request_timeout
        self.downloads = downloads
        self.cursors = cursor
        self.dead_letters: DeadLetters = dead_letters or MemoryDeadLetters()
        self.backoff = backoff or Backoff(base=0.5, cap=RECONNECT_CAP)
        self.retry = retry
        self.state = "starting"
        self.link = SignalLink(self.url, account, request_timeout)
        self.renewals = 0  # streams renewed after a quiet probe (details, tests)
        self._queue: asyncio.Queue[SseEvent] = asyncio.Queue()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._sent: OrderedDict[int, None] = OrderedDict()  # our messages' timestamps
        self._requests: dict[int, tuple[str, dict[str, Button]]] = {}
        self._typing: dict[Target, asyncio.Task[None]] = {}
        self._side: set[asyncio.Task[None]] = set()
        self._last_event = time.monotonic()
        self._down_since: float | None = None
        self._wrong_account: asyncio.Event | None = None  # set: the daemon serves another

    def details(self) -> dict[str, str | float | None]:
        return {**super().details(), "stream_renewals": float(self.renewals)}

    # -- connecting -------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        guard = UpdateGuard(self.name, self.dead_letters, retry=self.retry, wait=self.backoff)
        self._wrong_account = asyncio.Event()
        await beside(self._consume(guard, sink), "signal-events", self._connect_forever())

    async def _connect_forever(self) -> None:
        attempt = 0
        while True:
            try:
                stream = await self._open()
                attempt = 0
                await self._follow(stream)
                problem = "the event stream ended"
            except Terminal as exc:
                self.state = f"failed: {exc}"
                raise AdapterUnavailable(f"signal: {exc}") from None
            except (httpx.HTTPError, OSError, DaemonError, RpcError) as exc:
                problem = _describe(exc)
            if self._down_since is None:  # one line per outage, not per try
                self._down_since = time.monotonic()
                log.warning("signal: lost the daemon at %s (%s); reconnecting", self.url, problem)
            if self.state != "starting":
                self.state = "reconnecting"
            await self.backoff.sleep(self.backoff.delay(attempt))
            attempt += 1

    async def _open(self) -> httpx.Response:
        """A new event stream (Terminal when the daemon refuses it for good)."""
        try:
            stream = await self.link.open_events()
        except DaemonError as exc:
            if exc.status == 421:
                raise Terminal(host_fix(self.url)) from exc
            if exc.terminal:
                what = f"signal-cli has no account {self.account} ({exc})"
                raise Terminal(f"{what}: {ACCOUNT_FIX}") from exc
            raise
        self._last_event = time.monotonic()
        if self.state != "connected":
            if self._down_since is not None:
                down = time.monotonic() - self._down_since
                log.info("signal: connected again after %.0f s", down)
            else:
                log.info("signal: connected to %s as %s", self.url, self.account)
        self.state, self._down_since = "connected", None
        return stream

    async def _follow(self, stream: httpx.Response) -> None:
        """Read STREAM; after `probe_interval` quiet seconds, probe, and renew it (the
        new one opened before the old one closes). Returns when a stream ends; raises
        when a probe or a renewal fails."""
        reader = asyncio.create_task(self._read(stream), name="signal-stream")
        try:
            while True:
                quiet = time.monotonic() - self._last_event
                wait = max(0.05, self.probe_interval - quiet)
                assert self._wrong_account is not None
                wrong = asyncio.create_task(self._wrong_account.wait())
                done, _ = await asyncio.wait(
                    {reader, wrong}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                wrong.cancel()
                if self._wrong_account.is_set():
                    raise Terminal(
                        f"the daemon at {self.url} serves another account, not SIGNAL_ACCOUNT "
                        f"{self.account}: start it with -a {self.account} (or without -a)"
                    )
                if done:
                    reader.result()  # raises what ended it
                    return
                if time.monotonic() - self._last_event < self.probe_interval:
                    continue
                await self._probe()
                fresh = await self._open()
                self.renewals += 1  # counted before the fresh stream can deliver anything
                old, stream = stream, fresh
                reader, previous = asyncio.create_task(self._read(fresh)), reader
                previous.cancel()
                await asyncio.gather(previous, return_exceptions=True)
                await old.aclose()
                log.debug("signal: quiet for %.0f s; the event stream was renewed", quiet)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await stream.aclose()

    async def _read(self, stream: httpx.Response) -> None:
        parser = SseParser()
        async for line in stream.aiter_lines():
            event = parser.feed(line)
            if event is not None and event.name == "receive":
                self._last_event = time.monotonic()
                self._queue.put_nowait(event)

    async def _probe(self) -> None:
        """GET /api/v1/check and the `version` RPC (which names the account)."""
        try:
            await self.link.health()
            await self.link.call("version")
        except RpcError as exc:
            if exc.account_missing:
                raise Terminal(f"signal-cli has no account {self.account}: {ACCOUNT_FIX}") from exc
            raise
        except DaemonError as exc:
            if exc.status == 421:
                raise Terminal(host_fix(self.url)) from exc
            raise

    # -- receiving --------------------------------------------------------------------

    async def _consume(self, guard: UpdateGuard, sink: Sink) -> None:
        while True:
            event = await self._queue.get()
            try:
                payload = json.loads(event.data)
                env = wire.envelope(payload)
            except (ValueError, Malformed) as exc:
                key = f"bad-{uuid.uuid4().hex[:12]}"
                await guard.deliver(key, event.data, _raiser(exc), sink)
                continue
            if env is None or env.key in self._recent:
                continue
            await guard.deliver(env.key, payload, self._normalizer(env), sink)
            self._recent[env.key] = None
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)

    def _normalizer(self, env: wire.Envelope) -> Callable[[], Awaitable[Inbound | None]]:
        async def normalize() -> Inbound | None:
            if env.account and env.account != self.account:
                log.error("signal: the daemon serves %s, not %s", env.account, self.account)
                if self._wrong_account is not None:
                    self._wrong_account.set()
                return None
            if env.number == self.account:  # our own, from another device of the account
                return None
            user = env.user(self.allowed())
            found = wire.reaction(env)
            if found is not None:
                return await self._press(env, user, found)
            return wire.message_event(
                env,
                user,
                account=self.account,
                sent=self._sent,
                require_mention=self.require_mention,
            )

        return normalize

    async def _press(self, env: wire.Envelope, user: str, found: dict[str, Any]) -> Inbound | None:
        """A reaction on one of our approval requests, as the button it presses."""
        author = found.get("targetAuthorNumber")
        if author and author != self.account:
            return None  # a reaction on someone else's message
        request = await self._request(int(found["targetSentTimestamp"]))
        if request is None or request[0] != wire.chat_of(env, user):
            return None
        button = request[1].get(wire.base_emoji(str(found.get("emoji") or "")))
        return wire.button_press(env, user, button) if button else None

    async def _request(self, timestamp: int) -> tuple[str, dict[str, Button]] | None:
        found = self._requests.get(timestamp)
        if found is None and self.cursors is not None:
            found = wire.parse_request(await self._record(timestamp).load())
        return found

    def _record(self, timestamp: int) -> Cursor:
        assert self.cursors is not None
        return self.cursors(f"signal.request.{self.account}.{timestamp}")

    async def fetch(self, event: Inbound) -> Inbound:
        """Each attachment of an accepted message from the daemon (getAttachment) into
        the downloads dir; audio is recognised by its first bytes."""
        files = []
        for a in event.attachments:
            try:
                files.append(await self._download(event, a))
            except Exception as exc:
                log.warning("signal: could not fetch a %s: %s", a.kind, one_line(str(exc)))
                files.append(a)
        return dataclasses.replace(event, attachments=tuple(files))

    async def _download(self, event: Inbound, a: Attachment) -> Attachment:
        if a.path is not None or not a.platform_file_id or self.downloads is None:
            return a
        if a.size is not None and a.size > MAX_DOWNLOAD:
            return a
        params = {**wire.recipient(event.chat), "id": a.platform_file_id}
        found = await self.link.call("getAttachment", params)
        encoded = found.get("data") if isinstance(found, dict) else None
        if not isinstance(encoded, str):
            raise ValueError("getAttachment answered without data")
        try:
            data = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError("getAttachment answered data that is not base64") from exc
        mime = audio_mime(data[:HEAD])
        if mime is not None:  # audio, whatever its label says
            voice = a.voice or not a.name  # a named file is a file, whatever its label
            a = dataclasses.replace(a, kind="audio", mime=mime, voice=voice)
        name = (
            a.name or f"{'voice-note' if a.voice else a.kind}.{EXTENSIONS.get(a.mime or '', 'bin')}"
        )
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
        target = self.downloads / f"signal-{uuid.uuid4().hex[:12]}-{safe}"
        self.downloads.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(target.write_bytes, data)
        return dataclasses.replace(a, path=str(target), size=len(data))

    # -- sending ----------------------------------------------------------------------

    async def send(self, message: Outbound) -> str:
        pressed = wire.reactions(message.buttons) if message.buttons else {}
        text = message.text
        if pressed:
            line = wire.reaction_line(pressed)
            joined = f"{text}\n\n{line}" if text.strip() else line
            if size(joined, "bytes") <= self.capabilities.max_length:
                text, line = joined, ""
        else:
            line = ""
        timestamp = await self._send(message, text)
        stamps = [timestamp]
        if line:  # too long to carry the line: it follows on its own
            stamps.append(
                await self._send(dataclasses.replace(message, reply_to_message_id=None), line)
            )
        if pressed:
            for stamp in stamps:
                await self._remember(stamp, message.target.chat, pressed)
        return str(timestamp)

    async def send_voice(self, voice: VoiceOut) -> str:
        data = await voice_bytes(voice, self.name, MAX_DOWNLOAD)
        return str(await self._send_params(wire.voice_params(voice, data)))

    async def _send(self, message: Outbound, text: str) -> int:
        return await self._send_params(wire.send_params(message, text))

    async def _send_params(self, params: dict[str, Any]) -> int:
        result = await self._call("send", params)
        timestamp = result.get("timestamp") if isinstance(result, dict) else None
        if not isinstance(timestamp, int):
            raise SendError("signal-cli answered send without a timestamp", retryable=False)
        self._sent[timestamp] = None
        while len(self._sent) > RECENT:
            self._sent.popitem(last=False)
        return timestamp

    async def _remember(self, timestamp: int, chat: str, pressed: dict[str, Button]) -> None:
        self._requests[timestamp] = (chat, pressed)
        if self.cursors is not None:
            try:
                await self._record(timestamp).save(wire.request_record(pressed, chat))
            except Exception as exc:  # in memory it still works until a restart
                log.warning("signal: could not store an approval request (%s)", exc)

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        if self.state.startswith("failed"):
            raise SendError(f"signal is {self.state}", retryable=False)
        try:
            return await self.link.call(method, params)
        except RpcError as exc:
            raise wire.send_error(exc) from exc
        except DaemonError as exc:
            raise SendError(f"signal: {exc}", retryable=not exc.terminal) from exc
        except (httpx.HTTPError, OSError) as exc:
            raise SendError(
                f"signal: the daemon is unreachable ({_describe(exc)})", retryable=True
            ) from exc

    async def typing(self, target: Target, on: bool) -> None:
        """Show (or stop showing) that the bot is typing in TARGET's chat; returns at once."""
        running = self._typing.pop(target, None)
        if running is not None:
            running.cancel()
        if on:
            self._typing[target] = asyncio.create_task(self._keep_typing(target))
        elif running is not None:
            self._spawn(self._typing_call(target, stop=True))

    async def _keep_typing(self, target: Target) -> None:
        started = time.monotonic()
        while time.monotonic() - started < TYPING_MAX:
            await self._typing_call(target, stop=False)
            await asyncio.sleep(TYPING_REFRESH)

    async def _typing_call(self, target: Target, *, stop: bool) -> None:
        params = {**wire.recipient(target.chat), **({"stop": True} if stop else {})}
        try:
            await self._call("sendTyping", params)
        except SendError as exc:
            log.debug("signal: typing indicator: %s", exc)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._side.add(task)
        task.add_done_callback(self._side.discard)

    async def close(self) -> None:
        tasks = [*self._typing.values(), *self._side]
        self._typing.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.link.close()
        if not self.state.startswith("failed"):
            self.state = "stopped"


def _raiser(exc: Exception) -> Callable[[], Awaitable[Inbound | None]]:
    async def normalize() -> Inbound | None:
        raise Malformed(f"unreadable event: {exc}")

    return normalize


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
