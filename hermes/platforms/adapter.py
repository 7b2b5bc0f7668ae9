"""The one interface every platform adapter implements.

An adapter connects to its platform, turns each update into an `Inbound`
and hands it to the gateway's sink, and sends or edits messages. It never
decides anything: access, sessions, retries and splitting are the
gateway's. The SDK of a platform is imported lazily inside its adapter, so
a missing extra is a clear error only when that platform is configured.

Acknowledging: `sink(event)` returns once the event is committed to
state.db (or refused). An adapter must not acknowledge an update to its
platform (e.g. advance Telegram's getUpdates offset) before that.

One bad update never stops a platform: an adapter that reads a stream of
updates hands each one to `UpdateGuard.deliver`, which normalizes it and
calls the sink. A failure of the gateway itself (storage busy or down, the
network: `transient`) is retried until it passes, so nothing is lost. An
update that cannot be read (`Malformed`), or whose normalizing or handling
keeps failing the same way, is recorded through a `DeadLetters` sink (state.db
in the gateway: `hermes doctor` and the dashboard show it) and skipped, and
the updates after it flow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hermes.errors import HermesError
from hermes.gateway.events import Inbound, Outbound, Target, VoiceOut
from hermes.platforms.spec import Capabilities

if TYPE_CHECKING:
    from hermes.providers.http import Backoff

Sink = Callable[[Inbound], Awaitable[None]]
RAW_CLIP = 2000  # characters of a skipped update kept for the record
ERROR_CLIP = 300


class SendError(HermesError):
    """Sending failed. `retryable`: the platform is down, slow or rate-limiting
    (try again later, after `retry_after` seconds if given); otherwise the
    message can never be sent as it is (chat gone, bot blocked, bad request)."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Adapter(ABC):
    name: str  # "telegram", "web", ...
    capabilities: Capabilities = Capabilities()

    @abstractmethod
    async def run(self, sink: Sink) -> None:
        """Connect and deliver inbound events to `sink` until cancelled.
        Reconnects by itself after outages (with backoff); sets `state`."""

    @abstractmethod
    async def send(self, message: Outbound) -> str:
        """Send one message (already within max_length); return the platform's
        message id. Raises SendError."""

    async def edit(self, target: Target, message_id: str, text: str) -> None:
        """Replace the text of a message sent before. Raises SendError."""
        raise SendError(f"{self.name} cannot edit messages", retryable=False)

    async def send_voice(self, voice: VoiceOut) -> str:
        """Send a spoken reply (an OGG/Opus file): as the platform's native voice note
        where it has one, else as an audio file. Returns the message id. Called only
        when `capabilities.audio_out`. Raises SendError."""
        raise SendError(f"{self.name} cannot send audio", retryable=False)

    def show_transcript(self, chat: str, message_id: str | None, text: str) -> None:  # noqa: B027
        """The voice note MESSAGE_ID in CHAT was heard as TEXT. A platform that draws
        the user's own messages (the web chat) shows the words; the others already
        show the note itself. Default: nothing."""

    async def fetch(self, event: Inbound) -> Inbound:
        """The event with its attachments downloaded (`Attachment.path` set). Called
        only for accepted messages, just before the turn; never raises."""
        return event

    async def acknowledge(self, event: Inbound, text: str | None = None) -> None:  # noqa: B027
        """Acknowledge a button press (callback_id) on the platform, if it needs that."""

    async def typing(self, target: Target, on: bool) -> None:  # noqa: B027
        """Show (on) or stop showing (off) that the bot is typing in TARGET while an
        agent turn runs. Returns at once (an adapter refreshes the indicator itself
        until told to stop); never raises. Default: the platform shows nothing."""

    async def close(self) -> None:  # noqa: B027
        """Release connections. Called once, after run() was cancelled."""

    # True when whoever reaches the adapter already proved to be the owner (the web
    # chat logs in with HERMES_API_KEY): no allowlist or pairing applies.
    trusted: bool = False
    state: str = "starting"  # starting | connected | reconnecting | failed: REASON | stopped
    # Liveness from what flows (unix seconds, None: not yet): the gateway sets
    # last_inbound when an event reaches its sink and last_sent when a send succeeds.
    last_inbound: float | None = None
    last_sent: float | None = None

    def details(self) -> dict[str, str | float | None]:
        """The state and what flowed last (the status API, gateway.json, doctor)."""
        return {"state": self.state, "last_inbound": self.last_inbound, "last_sent": self.last_sent}


class Terminal(Exception):
    """Trying again cannot help (a token refused for good, settings that are wrong): the
    adapter stops with state "failed: ..." instead of reconnecting."""


async def beside(consumer: Coroutine[Any, Any, None], name: str, main: Awaitable[None]) -> None:
    """Await MAIN with CONSUMER running as a task named NAME; it is cancelled after."""
    task = asyncio.create_task(consumer, name=name)
    try:
        await main
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class AdapterUnavailable(HermesError):
    """The adapter's SDK is not installed or its configuration is missing."""


class MemoryCursor:
    """A Cursor (hermes/platforms/spec.py) that forgets on restart: tests, or an
    adapter built without a store."""

    def __init__(self, value: str | None = None) -> None:
        self.value = value

    async def load(self) -> str | None:
        return self.value

    async def save(self, value: str) -> None:
        self.value = value


def require(module: str, extra: str) -> None:
    """Fail with a one-line fix if an adapter's SDK is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise AdapterUnavailable(
            f"the {extra} adapter needs the {module!r} package: "
            f"pip install 'hermes[{extra}]' (or scripts/install)"
        )


# ----- one bad update never stops a platform -------------------------------------------


class Malformed(HermesError):
    """The update breaks its platform's documented shape (a message without a chat, an
    id that is not a number, ...): no retry can help, it is recorded and skipped."""


def json_object(value: Any, what: str) -> dict[str, Any]:
    """VALUE as a JSON object, else Malformed naming WHAT ("message.chat") and why."""
    if not isinstance(value, dict):
        raise Malformed(f"{what} is {'missing' if value is None else 'not an object'}")
    return value


class GatewayUnavailable(HermesError):
    """A sink may raise this when the gateway itself cannot take events now (storage
    down, shutting down): the update is kept and tried again, never skipped."""


# Failures of the gateway or the network, not of the update: retried until they pass.
# (sqlite3: a locked, full, read-only or damaged database; the other DatabaseError
# subclasses - bad parameters, constraints - can come from what an update holds.)
_TRANSIENT: tuple[type[BaseException], ...] = (
    GatewayUnavailable,
    OSError,  # ConnectionError, TimeoutError, disk errors
    MemoryError,
    sqlite3.OperationalError,
    sqlite3.InternalError,
)


def transient(exc: BaseException) -> bool:
    """Is this a failure of the gateway itself (retry forever) rather than of the update?"""
    return isinstance(exc, _TRANSIENT) or type(exc) is sqlite3.DatabaseError


class DeadLetters(Protocol):
    """Where skipped updates are recorded (the gateway passes state.db's; see
    hermes/gateway/skipped.py). Recording the same (platform, update_id) twice keeps
    the first record. Raises when it cannot record: then nothing is skipped."""

    async def record(
        self, platform: str, update_id: str, error: str, raw: str, attempts: int, at: float
    ) -> None: ...


@dataclass(frozen=True)
class SkippedUpdate:
    platform: str
    update_id: str
    error: str  # one line
    raw: str  # the update as JSON, cut to RAW_CLIP characters
    attempts: int
    at: float  # unix seconds


class MemoryDeadLetters:
    """DeadLetters kept in memory (tests, or an adapter built without a store)."""

    def __init__(self) -> None:
        self.skipped: list[SkippedUpdate] = []

    async def record(
        self, platform: str, update_id: str, error: str, raw: str, attempts: int, at: float
    ) -> None:
        if not any(s.platform == platform and s.update_id == update_id for s in self.skipped):
            self.skipped.append(SkippedUpdate(platform, update_id, error, raw, attempts, at))


def one_line(text: str, limit: int = ERROR_CLIP) -> str:
    """Text for a record or a log line: one line, cut, without lone surrogates."""
    clean = " ".join(text.split()).encode("utf-8", "backslashreplace").decode("utf-8")
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def clip_raw(raw: Any) -> str:
    """The update as JSON (ASCII, so any string is storable), cut to RAW_CLIP."""
    try:
        text = json.dumps(raw, default=repr, sort_keys=True)
    except (TypeError, ValueError):  # circular or exotic: never from a platform's JSON
        text = repr(raw)
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= RAW_CLIP else text[: RAW_CLIP - 1] + "…"


def describe(exc: BaseException) -> str:
    """An error, as one line for the record."""
    if isinstance(exc, HermesError):
        return one_line(str(exc) or type(exc).__name__)
    text = str(exc)
    return one_line(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


class UpdateGuard:
    """Delivers a platform's updates one at a time so that none can stop the rest.

    `deliver(update_id, raw, normalize, sink)` runs `normalize()` (raw update ->
    Inbound, or None for what the gateway does not handle) and `sink(event)`:

    - a transient failure (`transient`: the gateway or the network is down) is
      retried with `wait` (the adapter's reconnect backoff) until it passes: an update
      is never skipped because the gateway itself is down;
    - a `Malformed` update, or one whose normalizing or handling fails `tries` times
      in a row with the same kind of error (or 3 x `tries` times in all), is recorded
      in `dead_letters` and skipped. Tries are spaced by `retry`. If it cannot be
      recorded, it is not skipped: recording is retried like a transient failure.

    Returns True when the update was handled (or ignored), False when it was skipped.
    The caller acknowledges the update to its platform in both cases. Each update
    logs at most one traceback.
    """

    def __init__(
        self,
        platform: str,
        dead_letters: DeadLetters,
        *,
        tries: int = 3,
        retry: Backoff | None = None,
        wait: Backoff | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from hermes.providers.http import Backoff

        self.platform = platform
        self.dead_letters = dead_letters
        self.tries = max(1, tries)
        self.retry = retry or Backoff(base=0.2, cap=1.0)
        self.wait = wait or Backoff(base=0.5, cap=3.0)
        self.clock = clock
        self.log = logging.getLogger(f"hermes.gateway.{platform}")
        self._skipped: OrderedDict[str, None] = OrderedDict()  # recently skipped ids

    async def deliver(
        self,
        update_id: str,
        raw: Any,
        normalize: Callable[[], Awaitable[Inbound | None]],
        sink: Sink,
    ) -> bool:
        if update_id in self._skipped:  # seen again (e.g. its offset was not saved)
            return False
        failures = total = waits = 0
        kind: type[BaseException] | None = None
        while True:
            try:
                event = await normalize()
                if event is not None:
                    await sink(event)
                if waits or total:
                    self.log.info(
                        "%s: update %s handled after %d retries",
                        self.platform,
                        update_id,
                        waits + total,
                    )
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if transient(exc):
                    if not waits:
                        self.log.warning(
                            "%s: cannot take update %s now (%s); retrying until it works",
                            self.platform,
                            update_id,
                            describe(exc),
                        )
                    failures, kind = 0, None
                    await self.wait.sleep(self.wait.delay(waits))
                    waits += 1
                    continue
                total += 1
                failures = failures + 1 if type(exc) is kind else 1
                kind = type(exc)
                malformed = isinstance(exc, Malformed)
                if malformed or failures >= self.tries or total >= 3 * self.tries:
                    await self._skip(update_id, raw, exc, total)
                    return False
                if total == 1:  # the one traceback of this update
                    self.log.warning(
                        "%s: update %s failed (%s); trying again",
                        self.platform,
                        update_id,
                        describe(exc),
                        exc_info=exc,
                    )
                await self.retry.sleep(self.retry.delay(total - 1))

    async def _skip(self, update_id: str, raw: Any, exc: BaseException, attempts: int) -> None:
        error, clipped, at = describe(exc), clip_raw(raw), self.clock()
        waits = 0
        while True:
            try:
                await self.dead_letters.record(
                    self.platform, update_id, error, clipped, attempts, at
                )
                break
            except asyncio.CancelledError:
                raise
            except Exception as failure:  # never skip what could not be recorded
                if not waits:
                    self.log.warning(
                        "%s: cannot record skipped update %s (%s); retrying",
                        self.platform,
                        update_id,
                        describe(failure),
                    )
                await self.wait.sleep(self.wait.delay(waits))
                waits += 1
        self._skipped[update_id] = None
        while len(self._skipped) > 1000:
            self._skipped.popitem(last=False)
        tries = "1 try" if attempts == 1 else f"{attempts} tries"
        self.log.error(
            "%s: skipped update %s after %s: %s (recorded; `hermes doctor` lists it)",
            self.platform,
            update_id,
            tries,
            error,
        )
