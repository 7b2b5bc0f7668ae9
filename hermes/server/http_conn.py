"""Connection handling of the gateway's HTTP server: `_Connection`, uvicorn's h11
protocol with limits on request heads and connections and a lingering close.
server.py's HttpServer serves with `connection_class(...)`. The errors it
answers itself are JSON in the gateway's one error shape (httpio.py).

* Request heads (`_Connection`: uvicorn's H11Protocol, whose `conn`,
  `connections`, `app` and `send_400_response` it relies on, with limits): the
  request line and headers must arrive within `HEAD_TIMEOUT` (10 s) of the
  connection, or of the next request's first byte on a kept-alive
  connection, and fit in 16 KiB; else the connection is closed (with a 408
  when part of a head came, a 400 when it is too big or malformed). An idle
  kept-alive connection is closed after 5 s (uvicorn's timeout_keep_alive).
* Connections: at most `MAX_CONNECTIONS` (2048, or the process's open-file
  limit less 128 when that is lower) are served at once. A connection over
  the cap gets, once its request head is in (2 s at most), a 503 with
  `Retry-After: 5` and `Connection: close`; one more than 64 over the cap is
  closed at once. (uvicorn's own `limit_concurrency` is not used: it answers
  in plain text, and only to a finished head, so it never ends a connection
  that sends none.)
* Closing: when the gateway ends a connection the client may still be
  sending on, it shuts its side first and reads and drops for up to 2 s, so
  the client reads the answer (a 413) instead of a TCP reset.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from typing import Any

import h11
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from hermes.server.httpio import error_body, error_response

log = logging.getLogger("hermes.gateway.http")

KIB = 1024
HEAD_TIMEOUT = 10.0  # seconds for a request line and headers to arrive
MAX_HEAD = 16 * KIB  # request line + headers (h11's max incomplete event)
KEEP_ALIVE = 5  # seconds an idle kept-alive connection stays open
MAX_CONNECTIONS = 2048
FD_RESERVE = 128  # open files kept for state.db, logs, tools and outbound HTTP
OVERFLOW = 64  # connections over the cap that still get a 503 instead of a reset
OVER_CAP_HEAD_TIMEOUT = 2.0
LINGER = 2.0  # seconds to read and drop what a client still sends after our answer
WARN_EVERY = 60.0  # seconds between two warnings about the connection cap


def _raw_response(status: int, reason: str, message: str, code: str, *extra: str) -> bytes:
    """A whole JSON error response, written without h11 (the connection closes after)."""
    body = json.dumps(error_body(status, message, code=code)).encode()
    head = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _too_many(scope: Scope, receive: Receive, send: Send) -> None:
    """The app a connection over the cap gets instead of the gateway's."""
    message = "the Hermes gateway has too many open connections: retry in a few seconds"
    response = error_response(
        503,
        message,
        code="too_many_connections",
        headers={"Retry-After": "5", "Connection": "close"},
    )
    await response(scope, receive, send)


class _Lingering:
    """A connection's transport whose close() shuts our side first, then reads and
    drops what the client still sends (for up to LINGER seconds, or until it closes),
    so a client still uploading reads our answer instead of a reset."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport, self.loop = transport, loop
        self.lingering = False
        self.at_once = False  # the server is stopping: no lingering
        self._timer: asyncio.TimerHandle | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)

    def is_closing(self) -> bool:
        return self.lingering or self.transport.is_closing()

    def close(self) -> None:
        if self.transport.is_closing():
            return
        if self.at_once or not self.transport.can_write_eof():
            self.finish()
            return
        if self.lingering:
            return
        self.lingering = True
        try:
            self.transport.write_eof()  # after what is buffered: the answer goes first
            self.transport.resume_reading()
        except (OSError, RuntimeError):
            self.finish()
            return
        self._timer = self.loop.call_later(LINGER, self.finish)

    def finish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.transport.close()


class _Connection(H11Protocol):
    """uvicorn's h11 protocol with the gateway's limits (see the module docstring):
    a deadline for each request head, a cap on connections, lingering close, and
    JSON for the errors it answers itself."""

    max_connections = MAX_CONNECTIONS
    head_timeout = HEAD_TIMEOUT
    warned_at = -WARN_EVERY  # the last "over the cap" warning (loop time), per server

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False
        self._wrapped = _Lingering(transport, self.loop)
        self.transport = self._wrapped  # type: ignore[assignment]
        over = len(self.connections) - self.max_connections
        if over > 0:
            self._warn_over_cap()
        if over > OVERFLOW:
            transport.abort()
            return
        timeout = self.head_timeout
        if over > 0:
            self.app = _too_many
            timeout = min(timeout, OVER_CAP_HEAD_TIMEOUT)
        self._arm_head(timeout)

    def data_received(self, data: bytes) -> None:
        if self._wrapped.lingering:
            return  # after our answer: dropped
        if self.conn.their_state is h11.IDLE and not self._head_started:
            self._head_started = True  # the first bytes of a request head
            if self._head_timer is None:  # the next request on a kept-alive connection
                self._arm_head(self.head_timeout)
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in (or the request failed)
            self._head_started = False
            self._cancel_head()

    def eof_received(self) -> None:
        if self._wrapped.lingering:
            self._wrapped.finish()
        super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head()
        self._wrapped.finish()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        self._wrapped.at_once = True
        if self._wrapped.lingering:
            self._wrapped.finish()
        super().shutdown()

    def send_400_response(self, msg: str) -> None:
        self._cancel_head()
        message = (
            "malformed HTTP request, or its request line and headers are over "
            f"{MAX_HEAD // KIB} KiB: send a valid HTTP/1.1 request"
        )
        self.transport.write(_raw_response(400, "Bad Request", message, "bad_http"))
        self.transport.close()

    def _warn_over_cap(self) -> None:
        """A warning in the log, at most once every WARN_EVERY seconds (a flood of
        connections must not become a flood of log lines)."""
        now = self.loop.time()
        if now - self.warned_at >= WARN_EVERY:
            type(self).warned_at = now
            log.warning(
                "over %d open connections: new ones get a 503 (over %d more: closed at once)",
                self.max_connections,
                OVERFLOW,
            )

    def _arm_head(self, seconds: float) -> None:
        self._cancel_head()
        self._head_timer = self.loop.call_later(seconds, self._head_timed_out)

    def _cancel_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self._head_started:
            message = (
                f"the request line and headers did not arrive within {self.head_timeout:g} s: "
                "send the request at once"
            )
            self.transport.write(_raw_response(408, "Request Timeout", message, "head_timeout"))
        self.transport.close()


def connection_class(max_connections: int | None, head_timeout: float) -> type[H11Protocol]:
    """_Connection with this server's numbers."""
    cap = max_connections if max_connections is not None else default_max_connections()

    class Bound(_Connection):
        pass

    Bound.max_connections, Bound.head_timeout = cap, head_timeout
    return Bound


def default_max_connections() -> int:
    """MAX_CONNECTIONS, or less when the open-file limit would not allow as many."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft - FD_RESERVE))
