"""One authenticated connection to Home Assistant's WebSocket API (aiohttp).

The documented exchange: the server says `auth_required`, the client answers
`{"type": "auth", "access_token": TOKEN}`, the server says `auth_ok` (or
`auth_invalid` and closes). Then every command carries an `id`; the server answers
with a `result` (or a `pong` for a `ping`) under that id, and events of a
subscription arrive as `{"id": SUB, "type": "event", "event": {...}}`.

`HassSocket` reads in a task of its own: answers resolve the waiting command,
events go to a queue the adapter drains. When the socket closes every waiting
command fails with ConnectionError and the queue ends with None.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from typing import TYPE_CHECKING, Any

from hermes.aio import within
from hermes.errors import HermesError
from hermes.platforms.homeassistant_wire import result_error

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("hermes.gateway.homeassistant")


class TokenRejected(HermesError):
    """Home Assistant answered `auth_invalid`: the token is wrong or was revoked."""


class CommandFailed(HermesError):
    """A command's `result` said `success: false`."""


class HassSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.version = ""
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, session: aiohttp.ClientSession, url: str, token: str, seconds: float
    ) -> HassSocket:
        """Connect to URL and authenticate; TokenRejected when the token is refused."""
        ws = await session.ws_connect(url, timeout=_timeout(seconds), autoping=True)
        sock = cls(ws)
        try:
            first = await sock._read(seconds)
            if first.get("type") != "auth_required":
                raise ConnectionError(f"expected auth_required, got {first.get('type')!r}")
            await ws.send_str(json.dumps({"type": "auth", "access_token": token}))
            answer = await sock._read(seconds)
            kind = answer.get("type")
            if kind == "auth_invalid":
                raise TokenRejected(str(answer.get("message") or "invalid access token"))
            if kind != "auth_ok":
                raise ConnectionError(f"expected auth_ok, got {kind!r}")
            sock.version = str(answer.get("ha_version") or "")
        except BaseException:
            await ws.close()
            raise
        sock._reader = asyncio.get_running_loop().create_task(sock._read_all(), name="hass-ws")
        return sock

    async def _read(self, seconds: float) -> dict[str, Any]:
        from aiohttp import WSMsgType

        msg = await within(self.ws.receive(), seconds)
        if msg.type != WSMsgType.TEXT:
            raise ConnectionError(f"the WebSocket closed during authentication ({msg.type.name})")
        data = json.loads(msg.data)
        if not isinstance(data, dict):
            raise ConnectionError("Home Assistant sent a message that is not a JSON object")
        return data

    async def _read_all(self) -> None:
        from aiohttp import WSMsgType

        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    log.warning("homeassistant: a message that is not JSON was ignored")
                    continue
                for item in data if isinstance(data, list) else [data]:  # coalesced messages
                    if isinstance(item, dict):
                        self._dispatch(item)
        except Exception as exc:  # a broken connection ends the socket like a close
            log.debug("homeassistant: reading the socket: %s", exc)
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("the WebSocket closed"))
            self._waiting.clear()
            self.events.put_nowait(None)

    def _dispatch(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "event":
            self.events.put_nowait(item)
            return
        ident = item.get("id")
        future = self._waiting.pop(ident, None) if isinstance(ident, int) else None
        if future is None or future.done():
            return
        if kind == "pong":
            future.set_result(None)
        elif kind == "result" and item.get("success") is False:
            future.set_exception(CommandFailed(result_error(item)))
        elif kind == "result":
            future.set_result(item.get("result"))

    async def command(self, payload: dict[str, Any], seconds: float) -> Any:
        """Send a command (an id is added); its result. ConnectionError when the socket
        closes first, TimeoutError when no answer comes within SECONDS."""
        if self.ws.closed:
            raise ConnectionError("the WebSocket is closed")
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        try:
            await self.ws.send_str(json.dumps({**payload, "id": ident}))
            return await within(future, seconds)
        finally:
            self._waiting.pop(ident, None)

    @property
    def closed(self) -> bool:
        return self.ws.closed or (self._reader is not None and self._reader.done())

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader


def _timeout(seconds: float) -> Any:
    from aiohttp import ClientWSTimeout

    return ClientWSTimeout(ws_receive=None, ws_close=seconds)
