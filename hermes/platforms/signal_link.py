"""The HTTP link to a signal-cli daemon (`signal-cli daemon --http HOST:PORT`).

Three endpoints: POST /api/v1/rpc (JSON-RPC 2.0), GET /api/v1/events (server-sent
events of received messages) and GET /api/v1/check (200 while the daemon runs).
Every call names the account (`account` param, `?account=` on the stream), which a
multi-account daemon needs and a single-account one ignores. httpx is a core
dependency: no SDK, no extra.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from hermes.platforms.signal_wire import RpcError, rpc_result

RPC, EVENTS, CHECK = "/api/v1/rpc", "/api/v1/events", "/api/v1/check"


class DaemonError(Exception):
    """The daemon answered an HTTP status instead of JSON-RPC (or the stream)."""

    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"signal-cli answered HTTP {status} to {what}")
        self.status = status

    @property
    def terminal(self) -> bool:
        """A 4xx: the request cannot work as configured (an unknown account, a Host
        header the daemon refuses); trying again will not help."""
        return 400 <= self.status < 500 and self.status != 429


def host_fix(url: str) -> str:
    return (
        f"signal-cli refuses requests for the host in SIGNAL_HTTP_URL ({url}): use the "
        "address it was started with (daemon --http 127.0.0.1:8080 -> http://127.0.0.1:8080)"
    )


class SignalLink:
    """One httpx client to the daemon; `close()` ends it and any open stream."""

    def __init__(self, url: str, account: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.account = account
        self.timeout = timeout
        self.client = httpx.AsyncClient(base_url=self.url, timeout=timeout)
        self._ids = itertools.count(1)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One JSON-RPC call; its result. RpcError for an error answer, DaemonError for
        an HTTP error status, httpx.HTTPError when the daemon cannot be reached."""
        body = {
            "jsonrpc": "2.0",
            "id": next(self._ids),
            "method": method,
            "params": {**(params or {}), "account": self.account},
        }
        response = await self.client.post(RPC, json=body)
        if response.status_code != 200:
            raise DaemonError(response.status_code, method)
        try:
            return rpc_result(response.json())
        except ValueError as exc:
            raise RpcError(-32700, f"signal-cli answered {method} with bad JSON") from exc

    async def health(self) -> None:
        """GET /api/v1/check: DaemonError unless 200."""
        response = await self.client.get(CHECK)
        if response.status_code != 200:
            raise DaemonError(response.status_code, "the health check")

    async def open_events(self) -> httpx.Response:
        """The event stream, open (headers read, status 200); the caller reads its lines
        and closes it. No read timeout: the adapter's watchdog watches it."""
        timeout = httpx.Timeout(self.timeout, read=None)
        request = self.client.build_request(
            "GET", EVENTS, params={"account": self.account}, timeout=timeout
        )
        response = await self.client.send(request, stream=True)
        if response.status_code != 200:
            await response.aclose()
            raise DaemonError(response.status_code, "the event stream")
        return response

    async def close(self) -> None:
        await self.client.aclose()
