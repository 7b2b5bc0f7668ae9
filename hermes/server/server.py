"""The gateway's HTTP server: one Starlette app, served by uvicorn in the gateway's loop.

Routes: `GET /health` (no auth, `{"status": "ok"}` and nothing else), the
OpenAI-compatible API under /v1 (openai_api.py), the web chat's page and
static files (webchat.py, when present), whatever else is mounted under /api,
and the routes a platform module declares (webhooks) under /webhooks/NAME,
which check the platform's signatures instead. Everything under /v1 and /api
needs `Authorization: Bearer $HERMES_API_KEY` or the web chat's login cookie
(auth.py); only the login route itself (`POST /api/web/login`, which receives
the key, and logout) is exempt.

Every error is JSON in OpenAI's shape `{"error": {"message", "type", "param",
"code"}}` (httpio.py), from every route and from the server itself: 401
without auth, 404 for unknown routes, 413/408 for bodies the limits refuse,
400 for a request uvicorn cannot parse, and a one-line 500 for a bug (the
traceback goes to the `hermes.gateway.http` log, never to the client). The one
exception is /mcp past the key check: it answers JSON-RPC errors, as the MCP
protocol (and every MCP client) expects.

What a client can make the gateway hold is bounded, whoever it is (before
auth: the public login route must not be a way in): request bodies, by size
and by time (http_body.py, a middleware around the app), and request heads,
open connections and how they are closed (http_conn.py, the protocol uvicorn
serves each connection with).

Serving: `HttpServer` binds the socket itself (so port 0 works and a busy
port is a clear HermesError), runs uvicorn without its signal handlers (the
gateway owns SIGINT/SIGTERM) and stops quickly. `serve()` wraps it for a
task that runs until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import socket
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hermes.errors import HermesError
from hermes.logs import reroute
from hermes.server import api_cron, api_hermes, api_send, api_skills, api_work, auth, openai_api
from hermes.server.http_body import BodyLimit, BodyLimiter, BodyRefused, body_limit
from hermes.server.http_conn import HEAD_TIMEOUT, KEEP_ALIVE, MAX_HEAD, connection_class
from hermes.server.httpio import clip, error_response
from hermes.server.openai_api import STOPPING

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway

log = logging.getLogger("hermes.gateway.http")

# Everything needs the key but these (the page, its files, the login that takes the
# key, and the health probe): a route added later is private unless listed here.
PUBLIC = frozenset({"/", "/health", "/favicon.ico", "/api/web/login", "/api/web/logout"})
# The login cookie counts only for the web page's routes: the chat's own (which check
# Origin) and the dashboard's /api/hermes (the Guard refuses a cookie-borne write from
# another origin); /v1 and /mcp take the bearer header only (no cross-site request can
# send one).
COOKIE_PREFIXES = ("/api/web/", "/api/hermes/")
# The platforms' own routes (webhooks, hermes/platforms/): each checks its platform's
# signature instead of the key.
PLATFORM_PREFIX = "/webhooks/"
AUTH_HINT = (
    "send the header `Authorization: Bearer $HERMES_API_KEY` (the key is in the home's .env)"
)


def build_app(gw: Gateway, *, limits: Callable[[str], BodyLimit] = body_limit) -> Starlette:
    """The whole HTTP surface of one gateway. `limits`: path -> its BodyLimit."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    sessions = auth.WebSessions(gw.api_key, gw.store)
    routes: list[BaseRoute] = [Route("/health", health, methods=["GET"])]
    routes += openai_api.routes(gw)
    routes += api_send.routes(gw)
    routes += api_work.routes(gw)
    routes += api_hermes.routes(gw)
    routes += api_cron.routes(gw)
    routes += api_skills.routes(gw)
    routes += _optional_routes("hermes.server.mcp_mount", "mcp_routes", gw)
    routes += _optional_routes("hermes.server.webchat", "web_routes", gw, sessions)
    routes += platform_routes(gw.adapters)
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error},
        middleware=[
            Middleware(BodyLimiter, limits=limits),
            Middleware(_Guard, api_key=gw.api_key, sessions=sessions),
        ],
    )


def platform_routes(adapters: Mapping[str, Any]) -> list[BaseRoute]:
    """The routes of each configured platform that declares some (`Platform.routes`,
    called with its adapter: webhooks), under /webhooks/NAME: a route declared at "/"
    is /webhooks/NAME itself (no redirect: a platform POSTs to the URL it was given),
    "/events" is /webhooks/NAME/events. They take no bearer key (the platform's module
    checks the platform's signatures); the body limits apply as everywhere."""
    from hermes import platforms

    found: list[BaseRoute] = []
    for name, adapter in adapters.items():
        declared = platforms.find(name)
        if declared is None or declared.routes is None:
            continue
        for route in declared.routes(adapter):
            if not isinstance(route, Route):
                raise TypeError(f"platform {name} declares {route!r}: only HTTP routes")
            tail = "" if route.path == "/" else route.path
            methods = sorted(route.methods or ())
            found.append(Route(f"{PLATFORM_PREFIX}{name}{tail}", route.endpoint, methods=methods))
    return found


def _optional_routes(module: str, function: str, *args: Any) -> list[BaseRoute]:
    """The routes of a part that may be left out of a build (the web page, MCP)."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise  # the module exists but is broken: say so, do not hide it
        return []
    return list(getattr(found, function)(*args))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no route {request.method} {clip(request.url.path)[1:-1]}; see /health"
        return error_response(404, message, code="unknown_route")
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed on {clip(request.url.path)[1:-1]}"
        message += f"; use {allowed}" if allowed else ""
        return error_response(405, message, headers=dict(exc.headers or {}))
    return error_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))


class _Guard:
    """Checks auth for /v1 and /api, and turns any escaped exception into a JSON 500."""

    def __init__(self, app: ASGIApp, api_key: str, sessions: auth.WebSessions) -> None:
        self.app, self.api_key, self.sessions = app, api_key, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(scope) if self._needs_auth(scope["path"]) else None
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
                return
            status, message = refusal
            response = error_response(status, message)
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        started = finished = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, finished
            started = started or message["type"] == "http.response.start"
            finished = message["type"] == "http.response.body" and not message.get("more_body")
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            # Only the server's stop() cancels a request: answer it instead of
            # letting uvicorn log a traceback and send a plain-text 500.
            if scope["type"] != "http":
                raise
            if not started:
                await error_response(503, STOPPING)(scope, receive, send)
            elif not finished:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except BodyRefused:
            raise  # BodyLimiter answers it
        except Exception as exc:
            log.exception("%s %s failed", scope.get("method", "WS"), scope["path"])
            if scope["type"] == "http" and not started:
                # The exception's text may hold private details: it stays in the log.
                message = (
                    f"internal error in the Hermes gateway ({type(exc).__name__}); "
                    "the traceback is in its log"
                )
                await error_response(500, message)(scope, receive, send)

    @staticmethod
    def _needs_auth(path: str) -> bool:
        return path not in PUBLIC and not path.startswith(("/static/", PLATFORM_PREFIX))

    async def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        """None if the request may pass, else (status, message)."""
        conn = HTTPConnection(scope)
        if auth.bearer_ok(self.api_key, conn.headers.get("authorization")):
            return None
        unauthorized = (401, f"missing or wrong API key: {AUTH_HINT}")
        if not scope["path"].startswith(COOKIE_PREFIXES):
            return unauthorized
        if not await self.sessions.valid(conn.cookies.get(auth.cookie_name(scope))):
            return unauthorized
        if scope.get("method", "GET") not in ("GET", "HEAD") and not auth.same_origin(
            conn.headers.get("origin"), conn.headers.get("host")
        ):  # a page of another origin cannot act with the owner's cookie
            return 403, "cross-site request refused: use the page at this address"
        return None


# ----- serving ---------------------------------------------------------------------


class _QuietServer(uvicorn.Server):
    """uvicorn without its SIGINT/SIGTERM handlers: the gateway process owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """One ASGI app on HOST:PORT inside the running event loop.

        server = HttpServer(app, "127.0.0.1", 0)
        port = await server.start()    # listening now; the real port even for 0
        ...
        await server.stop()            # closes the socket; open requests get `grace` seconds

    `sockets`: already-bound listening sockets to serve instead of binding HOST:PORT.
    `max_connections` (default: http_conn.default_max_connections()) and
    `head_timeout`: the connection limits of http_conn.py.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sockets: list[socket.socket] | None = None,
        grace: float = 2.0,
        max_connections: int | None = None,
        head_timeout: float = HEAD_TIMEOUT,
    ) -> None:
        self.host, self.grace = host, grace
        self._port = port
        self._sockets = sockets
        config = uvicorn.Config(
            app,
            http=connection_class(max_connections, head_timeout),
            ws="none",  # no WebSocket routes: an upgrade is a plain request
            lifespan="off",  # the gateway starts and stops everything itself
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE,
            h11_max_incomplete_event_size=MAX_HEAD,
            timeout_graceful_shutdown=None,  # stop() applies `grace` itself
        )
        self._server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def open_connections(self) -> int:
        """Connections open now (those still being closed included)."""
        return len(self._server.server_state.connections)

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for); valid after start()."""
        return self._port

    async def start(self) -> int:
        """Bind and start serving; returns the port. HermesError if the address is busy."""
        reroute("uvicorn", log)
        sockets = self._sockets or [await self._bind()]
        name = sockets[0].getsockname()
        self._port = int(name[1]) if isinstance(name, tuple) else 0  # 0: a unix socket
        task = asyncio.create_task(self._server.serve(sockets=sockets), name="http-server")
        self._task = task
        try:
            while not self._server.started:  # uvicorn offers no event for this
                if task.done():  # failed while starting: raise its error
                    await task
                    raise HermesError("the HTTP server stopped while starting (see its log)")
                await asyncio.sleep(0.01)
        except BaseException:
            await self.stop()
            raise
        log.info("HTTP server listening on http://%s:%d", self.host, self._port)
        return self._port

    async def _bind(self) -> socket.socket:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                self.host, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            family, _, _, _, address = infos[0]
            sock = socket.create_server(address[:2], family=family)
        except OSError as exc:
            raise HermesError(
                f"cannot listen on {self.host}:{self._port} ({exc.strerror or exc}); "
                "is another gateway running? set server.port in config.yaml to a free port"
            ) from None
        # socket.create_server leaves proto 0, so asyncio would not set TCP_NODELAY
        # on accepted connections (it checks proto == TCP) and every keep-alive reply
        # would wait ~40 ms for a delayed ACK. Linux copies the option to them.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock

    async def wait(self) -> None:
        """Until the server stops (stop(), or an error, which is raised)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Stop listening and close idle connections; requests still running after
        `grace` seconds are cancelled (they answer 503). Safe to call twice."""
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        done, _ = await asyncio.wait({task}, timeout=self.grace)
        if not done:
            for request in list(self._server.server_state.tasks):
                request.cancel()
            done, _ = await asyncio.wait({task}, timeout=2.0)
        if not done:  # a connection that will not close: stop waiting for it
            self._server.force_exit = True
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def serve(
    app: Starlette,
    host: str,
    port: int,
    *,
    ready: asyncio.Event | None = None,
    sockets: list[socket.socket] | None = None,
) -> None:
    """Serve `app` until this task is cancelled (then stop cleanly and re-raise).

    Once listening, the bound port is in `app.state.port` and `ready` is set.
    """
    server = HttpServer(app, host, port, sockets=sockets)
    await server.start()
    app.state.port = server.port
    if ready is not None:
        ready.set()
    try:
        await server.wait()
    finally:
        await server.stop()
