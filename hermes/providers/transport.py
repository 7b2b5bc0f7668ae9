"""How the HTTP providers reach their servers: aiohttp, one session per event
loop shared by every provider on it, and a failed try as an `AttemptFailed`.

Why aiohttp and not httpx (which the rest of Hermes uses for its occasional
requests): the model call is the one request every turn makes, and the gateway
makes a thousand at once. httpx spends ~2 ms of CPU on one streamed request and
its connection pool scans every connection for each request it places, so a
thousand in flight cost ~9 ms each; aiohttp (C parser, a pool keyed by host)
spends ~0.6 ms (bench/gateway_load.py, docs/benchmarks.md).

What is kept from the httpx client this replaced: no redirects followed; each
read may wait `model.timeout`, a connection min(timeout, 15 s); idle connections
are kept 5 s; certificates are checked against the system's store (OpenSSL's
defaults, so SSL_CERT_FILE and SSL_CERT_DIR apply); HTTP(S)_PROXY, ALL_PROXY and
NO_PROXY are honoured, read once per session (never per request).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import urllib.request
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from hermes.providers.http import AttemptFailed, is_loopback

HEADERS = {"user-agent": "hermes-agent"}
KEEPALIVE_SECONDS = 5.0


@dataclass(frozen=True)
class Reply:
    """A whole reply: its status, headers and body."""

    status: int
    reason: str
    headers: Mapping[str, str]  # case-insensitive
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Streamed:
    """A reply whose body is read as it arrives."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.reason = response.reason or ""
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> Reply:
        """The rest of the body, as a whole reply (for an error status)."""
        body = await self._response.read()
        return Reply(self.status, self.reason, self.headers, body)

    async def lines(self) -> AsyncIterator[str]:
        """The body's lines as text (the line ending dropped; no limit on length)."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        rest = ""
        async for chunk in self._response.content.iter_any():
            text = rest + decoder.decode(chunk)
            *lines, rest = text.split("\n")
            for line in lines:
                yield line.removesuffix("\r")
        rest += decoder.decode(b"", final=True)
        if rest:
            yield rest.removesuffix("\r")


class Client:
    """The way one provider posts to its server, on the running loop's session."""

    def __init__(self, session: aiohttp.ClientSession, pool: _Pool, timeout: float) -> None:
        self._session = session
        self._pool = pool
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(timeout, 15.0), sock_read=timeout
        )

    async def post(self, url: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> Reply:
        async with self._session.post(url, **self._options(url, body, headers)) as response:
            data = await response.read()
            return Reply(response.status, response.reason or "", response.headers, data)

    @contextlib.asynccontextmanager
    async def stream(
        self, url: str, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> AsyncIterator[Streamed]:
        async with self._session.post(url, **self._options(url, body, headers)) as response:
            yield Streamed(response)

    def _options(
        self, url: str, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        return {
            "data": json.dumps(body).encode(),
            "headers": {"content-type": "application/json", **headers},
            "timeout": self._timeout,
            "allow_redirects": False,
            "proxy": self._pool.proxy_for(url),
        }


class _Pool:
    """One event loop's session, and what it needs to close with the loop."""

    def __init__(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_SECONDS),
            headers=HEADERS,
        )
        self.proxies = urllib.request.getproxies_environment()  # once, not per request
        self._proxy: dict[str, str | None] = {}
        self.closer: AsyncGenerator[None, None] | None = None

    def proxy_for(self, url: str) -> str | None:
        if not self.proxies:
            return None
        scheme, _, rest = url.partition("://")
        origin = f"{scheme}://{rest.split('/', 1)[0]}"
        if origin not in self._proxy:
            host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
            bypass = _no_proxy(host, self.proxies.get("no", ""))
            found = self.proxies.get(scheme.lower()) or self.proxies.get("all")
            self._proxy[origin] = None if bypass else found
        return self._proxy[origin]


def _no_proxy(host: str, names: str) -> bool:
    """Whether NO_PROXY (comma-separated host names and domain suffixes, or *)
    names HOST (host or host:port)."""
    host = host.lower()
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    for name in (n.strip().lstrip(".").lower() for n in names.split(",")):
        if name == "*" or (name and (name in (host, bare) or bare.endswith("." + name))):
            return True
    return False


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()


async def _close_with_loop(pool: _Pool) -> AsyncGenerator[None, None]:
    """Started once per session and left suspended: the loop finalizes its async
    generators as it ends (asyncio.run does), and that closes the session even
    when nobody called close_sessions()."""
    try:
        yield
    finally:
        loop = asyncio.get_running_loop()
        if _POOLS.get(loop) is pool:
            del _POOLS[loop]
        await pool.session.close()


async def client(read_timeout: float) -> Client:
    """A client on the running loop's shared session (made on first use). A
    session must not outlive or cross its loop; on it, providers reuse each
    other's connections: a new chat does not pay a TLS handshake, and 1,000
    sessions hold one pool, not 1,000."""
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None or pool.session.closed:
        pool = _POOLS[loop] = _Pool()
        pool.closer = _close_with_loop(pool)
        await pool.closer.asend(None)
    return Client(pool.session, pool, read_timeout)


async def close_sessions() -> None:
    """Close the running loop's shared session (long-lived processes call it as they stop)."""
    pool = _POOLS.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.session.close()
        if pool.closer is not None:
            await pool.closer.aclose()


def transport_failure(
    exc: aiohttp.ClientError, *, label: str, url: str, timeout: float | None = None
) -> AttemptFailed:
    """Map a connection-level error to a one-line failure (retryable where it may pass)."""
    detail = str(exc) or type(exc).__name__
    where = label if url in label else f"{label} at {url}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # the request was not sent
        return AttemptFailed(f"could not connect to {where} (timed out)", retryable=True)
    if isinstance(exc, aiohttp.ServerTimeoutError):  # sent (or half sent), then silence
        within = f"within {timeout:g}s" if timeout else "in time"
        return AttemptFailed(f"{label} did not answer {within}", retryable=True, once=True)
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return AttemptFailed(f"cannot reach {where} through the proxy: {detail}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        # On this machine a refused connection means no server: retrying only waits.
        return AttemptFailed(
            f"could not connect to {where} ({detail}); is the server running, "
            "and is model.base_url right?",
            retryable=not is_loopback(url),
        )
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return AttemptFailed(f"cannot reach {where}: {detail.rstrip('.')}; check model.base_url")
    return AttemptFailed(f"the connection to {label} broke ({detail})", retryable=True)
