"""Shared plumbing of the HTTP providers: retries with backoff, SSE, one-line errors.

Each provider turns one HTTP try into either a result or an `AttemptFailed`
(retryable or not); `with_retries` runs the tries and turns the last failure
into a `ProviderError` the user can act on.

How long a model may keep us waiting:

- `model.timeout` bounds each read: a try whose server sends nothing for that
  long fails. Such a read timeout (the server had the request and went quiet)
  is retried once at most: a second silence means the model hangs, and five
  more tries would only multiply the wait. Connection failures, connect
  timeouts, 429 and 5xx keep their retries with backoff.
- `model.max_call_seconds` (a `CallBudget`) bounds one call, all its tries and
  backoff waits together, by the time it goes without progress: it counts from
  the start of the call, and any sign of life (streamed text, tool-call data,
  reasoning) starts it again. A hung model, or one that only keeps the
  connection alive, fails after that long with one line naming it; a reply that
  is streaming is never cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ipaddress
import json
import logging
import random
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hermes.errors import ProviderError
from hermes.providers.base import TextCallback

if TYPE_CHECKING:
    from hermes.providers.transport import Client

T = TypeVar("T")
log = logging.getLogger("hermes.provider")
Sleep = Callable[[float], Awaitable[None]]

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Backoff:
    """Delay before try n+1: base * 2**n (capped), with jitter; Retry-After wins (capped).

    Tests pass tiny values, or a `sleep` that records the delays instead of waiting.
    """

    base: float = 1.0
    cap: float = 30.0
    retry_after_cap: float = 60.0
    sleep: Sleep = _sleep
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_cap))
        raw = min(self.cap, self.base * (2.0**attempt))
        return raw * (0.5 + 0.5 * self.rng())


class AttemptFailed(Exception):
    """One try failed; `retryable` says whether another try may help."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        once: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.once = once  # retryable, but only once per call (a read timeout)


class CallBudget:
    """How long one model call may go without progress, its tries and waits together
    (`model.max_call_seconds`; None: no bound). The count starts with the call and
    starts again at each sign of life (`progress()`)."""

    def __init__(self, seconds: float | None, who: str) -> None:
        self.seconds = seconds
        self.who = who  # "the openrouter API (model x)", for the error
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._scope: asyncio.Timeout | None = None
        self.ran_out = False

    @property
    def deadline(self) -> float | None:
        """The event loop's time at which the call fails, unless progress comes first."""
        return None if self.seconds is None else self._last + self.seconds

    def remaining(self) -> float:
        deadline = self.deadline
        return float("inf") if deadline is None else deadline - self._loop.time()

    def progress(self) -> None:
        """The model showed a sign of life: the count starts again."""
        self._last = self._loop.time()
        if self._scope is not None and not self._scope.expired():
            self._scope.reschedule(self.deadline)

    @contextlib.asynccontextmanager
    async def bounded(self) -> AsyncIterator[None]:
        """Run one try within the budget; TimeoutError when it runs out (then
        `ran_out` is True)."""
        scope = asyncio.timeout_at(self.deadline)
        try:
            async with scope:
                self._scope = scope
                yield
        finally:
            self._scope = None
            self.ran_out = scope.expired()

    def exhausted(self, tries: int, last: str | None) -> ProviderError:
        after = f" ({_tries(tries)}; last: {last})" if last else ""
        return ProviderError(
            f"{self.who} sent no reply for {self.seconds:g}s{after}, the limit of "
            "model.max_call_seconds: it may be overloaded or down; try again later, "
            "raise the limit, or switch models with /model NAME",
            retryable=True,
        )


class StreamGuard:
    """Forwards text deltas to on_text and remembers whether any reached the user;
    tells `on_progress` of every sign of life of the stream (text or not)."""

    def __init__(
        self, on_text: TextCallback | None, on_progress: Callable[[], None] | None = None
    ) -> None:
        self._on_text = on_text
        self._on_progress = on_progress
        self.emitted = False

    def __call__(self, text: str) -> None:
        if not text:
            return
        self.emitted = True
        self.progress()
        if self._on_text is not None:
            self._on_text(text)

    def progress(self) -> None:
        """Data that is not text arrived (tool-call arguments, reasoning)."""
        if self._on_progress is not None:
            self._on_progress()


def _tries(n: int) -> str:
    return "1 try" if n == 1 else f"{n} tries"


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    backoff: Backoff,
    guard: StreamGuard | None = None,
    budget: CallBudget | None = None,
) -> T:
    """Run `attempt` until it succeeds, fails for good, or the tries run out.

    Never retries once streamed text has reached the user (it cannot be unsaid);
    a failure marked `once` (a read timeout) is retried once at most; with a
    `budget`, the tries and waits together stay within it (see CallBudget).
    """
    tries = max(0, max_retries) + 1
    once_used = False
    last: str | None = None
    for n in range(tries):
        try:
            if budget is None:
                return await attempt()
            async with budget.bounded():
                return await attempt()
        except TimeoutError:
            if budget is None or not budget.ran_out:
                raise
            error = budget.exhausted(n + 1, last)
            log.error("%s", error)
            raise error from None
        except AttemptFailed as exc:
            if not exc.retryable:
                log.error("%s", exc.message)
                raise ProviderError(exc.message, status=exc.status) from None
            if guard is not None and guard.emitted:
                raise ProviderError(
                    f"{exc.message} (the reply broke off mid-stream; ask again)",
                    status=exc.status,
                    retryable=True,
                ) from None
            last = exc.message
            give_up = n + 1 >= tries or (exc.once and once_used)
            once_used = once_used or exc.once
            delay = 0.0 if give_up else backoff.delay(n, exc.retry_after)
            if not give_up and budget is not None and delay >= budget.remaining():
                raise ProviderError(
                    f"{exc.message}; gave up after {_tries(n + 1)}: another try would pass "
                    f"model.max_call_seconds ({budget.seconds:g}s)",
                    status=exc.status,
                    retryable=True,
                ) from None
            if give_up:
                raise ProviderError(
                    f"{exc.message}; gave up after {_tries(n + 1)}",
                    status=exc.status,
                    retryable=True,
                ) from None
            log.warning("%s; retrying in %.1fs (try %d of %d)", exc.message, delay, n + 2, tries)
            await backoff.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_text(body: bytes | str, fallback: str = "") -> str:
    """The provider's own error message from a response body, as one short line."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    message = text
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            found = err.get("message") or err.get("detail") or err.get("type")
            message = str(found) if found else text
        elif isinstance(err, str):
            message = err
        elif isinstance(data.get("message"), str):
            message = data["message"]
    line = " ".join(message.split())
    if not line:
        line = fallback
    return line if len(line) <= 300 else line[:297] + "..."


def missing_key_message(provider: str, key_env: str, home: Path | None) -> str:
    env_file = f"{home}/.env" if home is not None else "~/.hermes/.env"
    return f"no API key for {provider}: set {key_env} in {env_file} or run `hermes setup`"


def status_failure(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    reason: str,
    label: str,
    key_env: str | None,
    model: str,
) -> AttemptFailed:
    """Map an HTTP error reply (body read, headers case-insensitive) to a one-line failure."""
    message = error_text(body, fallback=reason)
    retry_after = parse_retry_after(headers.get("retry-after"))
    # OpenAI-style servers may tell us not to retry (the scripted test model does).
    no_retry = headers.get("x-should-retry", "").lower() == "false"
    if status in (401, 403):
        if key_env:
            text = f"{label} rejected the key in {key_env} ({status}): {message}"
        else:
            text = (
                f"{label} refused the request ({status}): {message}; "
                "set model.api_key_env to the variable that holds its key"
            )
        return AttemptFailed(text, status=status)
    if status == 404:
        return AttemptFailed(
            f"model '{model}' not found at {label} (404): {message}; "
            "choose another with /model NAME or `hermes config set model.model NAME`",
            status=status,
        )
    if status == 429:
        text = f"{label} is rate-limiting requests (429): {message}"
    elif status == 529:
        text = f"{label} is overloaded (529): {message}"
    elif status >= 500:
        text = f"{label} failed with HTTP {status}: {message}"
    else:
        text = f"{label} refused the request ({status}): {message}"
    retryable = status in RETRYABLE_STATUS and not no_retry
    return AttemptFailed(text, status=status, retryable=retryable, retry_after=retry_after)


def is_loopback(url: str) -> bool:
    """True when URL names this machine (localhost, 127.0.0.0/8, ::1)."""
    try:
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class SSEEvent:
    event: str  # "message" when the server named none
    data: str


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """Server-sent events from a stream of lines (comments and ids ignored)."""
    event = ""
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SSEEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field_name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field_name == "event":
            event = value
        elif field_name == "data":
            data.append(value)
    if data:
        yield SSEEvent(event or "message", "\n".join(data))


async def close_shared_clients() -> None:
    """Close the running loop's shared provider session, if one was made
    (hermes/providers/transport.py; long-lived processes call it as they stop)."""
    transport = sys.modules.get("hermes.providers.transport")
    if transport is not None:
        await transport.close_sessions()


class ClientHolder:
    """A provider's way to the shared session (hermes/providers/transport.py,
    imported on first use: aiohttp is not loaded by whoever only needs Backoff)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    async def get(self) -> Client:
        from hermes.providers.transport import client

        return await client(self.timeout)
