"""Request-body limits of the gateway's HTTP app: `BodyLimiter`, an ASGI
middleware around everything (server.py's build_app), outside the auth check,
so the public login route is bounded too.

`/api/web/login` and `/api/web/logout` take 4 KiB, `/v1/chat/completions`
16 MiB (stateless clients send the whole conversation each time), every
other route 1 MiB (chat sends of up to 100,000 characters, the /api/hermes
JSON, /mcp). A route that takes file uploads gets its own entry in
`BODY_LIMITS`: `/api/web/voice` (the web chat's voice notes) takes 25 MiB.
A `Content-Length` over the limit is a 413 before a byte of the body is read;
a body that grows past it (chunked) is a 413 as soon as it does. The whole
body must arrive within 10 s of the first read (60 s on /v1/chat/completions
and /api/web/voice), else 408. A request whose body was not read
to the end is answered with `Connection: close`, so the client cannot keep
the connection by trickling the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hermes.server.httpio import clip, error_response

log = logging.getLogger("hermes.gateway.http")

KIB, MIB = 1024, 1024 * 1024


@dataclass(frozen=True)
class BodyLimit:
    """How big a route's request body may be, and how long it may take to arrive."""

    max_bytes: int
    seconds: float


TINY = BodyLimit(4 * KIB, 10.0)
SMALL = BodyLimit(1 * MIB, 10.0)
LARGE = BodyLimit(16 * MIB, 60.0)
BODY_LIMITS: dict[str, BodyLimit] = {
    "/api/web/login": TINY,
    "/api/web/logout": TINY,
    "/v1/chat/completions": LARGE,
    "/api/web/voice": BodyLimit(25 * MIB, 60.0),
}


def body_limit(path: str) -> BodyLimit:
    """The limit of the route at `path` (SMALL unless listed in BODY_LIMITS)."""
    return BODY_LIMITS.get(path, SMALL)


class BodyRefused(Exception):
    """Raised into the app by a body read that the limits refuse; `BodyLimiter`
    answers the request itself (413 or 408)."""


class BodyLimiter:
    """Limits each request body to its route's BodyLimit (see the module docstring)."""

    def __init__(self, app: ASGIApp, limits: Callable[[str], BodyLimit]) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits(scope["path"])
        reading = _Reading(scope, limit, receive, send)
        if reading.declared is not None and reading.declared > limit.max_bytes:
            await _refusal(413, reading.too_large(), "body_too_large")(scope, receive, send)
            return
        try:
            await self.app(scope, reading.receive, reading.send)
        except BodyRefused:
            pass
        except Exception:
            if reading.refusal is None:
                raise
            # the app failed on the refused read in its own way: the refusal says why
            log.debug("%s %s: the app failed on a refused body", scope["method"], scope["path"])
        if reading.refusal is not None and not reading.started:
            await reading.refusal(scope, receive, send)


def _refusal(status: int, message: str, code: str) -> JSONResponse:
    """A refusal of a body we did not read to the end: the connection is closed after."""
    return error_response(status, message, code=code, headers={"Connection": "close"})


class _Reading:
    """One request's body as the app reads it: counted, timed, refused when over."""

    def __init__(self, scope: Scope, limit: BodyLimit, receive: Receive, send: Send) -> None:
        self.scope, self.limit, self._receive, self._send = scope, limit, receive, send
        self.declared: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length" and value.strip().isdigit():
                self.declared = int(value)
            elif name == b"transfer-encoding":
                chunked = True
        self.done = not chunked and not self.declared  # no body to read
        self.received = 0
        self.deadline: float | None = None
        self.refusal: JSONResponse | None = None
        self.started = False

    def too_large(self) -> str:
        size = _size(self.limit.max_bytes)
        where = f"{self.scope['method']} {clip(self.scope['path'])[1:-1]}"
        return f"the request body is over {size}, the limit of {where}: send a smaller one"

    async def receive(self) -> Message:
        if self.refusal is not None:
            raise BodyRefused
        if self.done:
            return await self._receive()
        if self.deadline is None:
            self.deadline = asyncio.get_running_loop().time() + self.limit.seconds
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            seconds = f"{self.limit.seconds:g} s"
            self.refusal = _refusal(
                408,
                f"the request body did not arrive within {seconds}: send it at once",
                "body_timeout",
            )
            raise BodyRefused from None
        if message["type"] != "http.request":  # the client left
            self.done = True
            return message
        self.received += len(message.get("body", b""))
        if self.received > self.limit.max_bytes:
            self.refusal = _refusal(413, self.too_large(), "body_too_large")
            raise BodyRefused
        self.done = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.refusal is not None:
            return  # the app's own answer to a refused read: the refusal replaces it
        if message["type"] == "http.response.start":
            self.started = True
            if not self.done:  # the rest of the body will not be read: do not wait for it
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await self._send(message)


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB and n % MIB == 0 else f"{n // KIB} KiB"
