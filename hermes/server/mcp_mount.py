"""/mcp in the gateway: the Hermes MCP server (hermes/mcp_server.py) over
streamable HTTP (SPEC §8).

Nothing of the MCP SDK is imported until the first request to /mcp, so a
gateway nobody asks for MCP does not carry it (and pydantic) in memory. That
request builds the server, whose tools call this gateway's own app
in-process (httpx's ASGI transport: no network hop, the same Guard and key
as any API client), and starts the SDK's session manager. The manager is an
async context normally entered by a Starlette lifespan, which our uvicorn
does not run: it lives in a task owned by this endpoint until `close()`,
which the gateway calls when it closes.

The server is stateless and answers in JSON: each call is one POST, with no
session to keep or stream to hold open, which is all these tools need.
The bearer key is checked before this (server.py's Guard); the SDK's
DNS-rebinding check allows the loopback names and the configured host.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from hermes.logs import reroute
from hermes.server.auth import LOOPBACK

if TYPE_CHECKING:
    import httpx
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings

    from hermes.gateway.core import Gateway

log = logging.getLogger("hermes.gateway.mcp")
PATH = "/mcp"
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def mcp_routes(gw: Gateway) -> list[BaseRoute]:
    """/mcp for build_app; the endpoint stops with the gateway (its close() hooks)."""
    endpoint = McpEndpoint(gw)
    gw.on_close.append(endpoint.close)
    return [Route(PATH, endpoint)]


class McpEndpoint:
    """The ASGI app at /mcp; see the module docstring."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self._lock = asyncio.Lock()
        self._manager: StreamableHTTPSessionManager | None = None
        self._runner: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None  # the tools' way to the API

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager = await self._started(scope["app"])
        await manager.handle_request(scope, receive, send)

    async def _started(self, app: Any) -> StreamableHTTPSessionManager:
        """The running session manager, built and started by the first request.
        `app` is the gateway's whole Starlette app (Starlette puts it in the scope),
        which the tools call in-process."""
        async with self._lock:
            if self._manager is None:
                self._manager = await self._start(app)
            return self._manager

    async def _start(self, app: Any) -> StreamableHTTPSessionManager:
        import httpx

        # Importing the SDK takes a second or more: not on the loop, which serves chats.
        await asyncio.to_thread(importlib.import_module, "hermes.mcp_server")
        from hermes.mcp_server import build_server

        reroute("mcp", log)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway.internal",
            headers={"Authorization": f"Bearer {self.gw.api_key}"},
            timeout=60,
        )
        self._client = client
        server = build_server(client, where="this gateway")
        server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            transport_security=_security(self.gw.profile.settings.server.host),
        )
        manager = server.session_manager
        ready = asyncio.Event()
        runner = asyncio.create_task(self._run(manager, ready), name="mcp sessions")
        self._runner = runner
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():  # it failed while starting: raise its error
            waiter.cancel()
            await runner
            raise RuntimeError("the MCP session manager stopped while starting")
        log.info("MCP server started at %s", PATH)
        return manager

    @staticmethod
    async def _run(manager: StreamableHTTPSessionManager, ready: asyncio.Event) -> None:
        async with manager.run():
            ready.set()
            await asyncio.Event().wait()  # until close() cancels it

    async def close(self) -> None:
        """Stop the session manager (ending calls still in flight) and close the
        API client. Safe to call twice, and when /mcp was never used."""
        runner, self._runner = self._runner, None
        self._manager = None  # a request after this starts a new one
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _security(host: str) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding check: Host and Origin must name this machine by a
    loopback name or by the configured host (any port: it may be chosen at start).
    A client that reaches a wildcard bind (0.0.0.0) by another name is refused."""
    from mcp.server.transport_security import TransportSecuritySettings

    names = {"127.0.0.1", "localhost", "[::1]"}
    if host not in WILDCARD_HOSTS and host not in LOOPBACK:
        names.add(f"[{host}]" if ":" in host else host)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=sorted(names | {f"{name}:*" for name in names}),
        allowed_origins=sorted(f"http://{name}:*" for name in names),
    )
