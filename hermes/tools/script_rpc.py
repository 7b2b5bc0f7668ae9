"""The RPC server of execute_code: a script's tool calls arrive on a unix socket.

The wire is newline-delimited JSON. A request is
`{"id": N, "token": T, "tool": NAME, "args": {...}}`, its response
`{"id": N, "ok": true, "result": TEXT}` or `{"id": N, "ok": false, "error": TEXT}`,
in whatever order the calls finish (they run concurrently). Every request must
carry the script's token: a wrong one gets an error without an id and the
connection is closed. Only the tools in `allowed` are called; after `max_calls`
calls each further one gets an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

Call = Callable[[str, dict[str, Any]], Awaitable[tuple[str, bool]]]
MAX_LINE = 32 * 1024 * 1024  # one request (a write_file's content)


class RpcServer:
    """Serves one script: call `start()`, then `close()` when the script ended."""

    def __init__(
        self,
        path: Path,
        token: str,
        call: Call,
        allowed: Collection[str],
        max_calls: int,
    ) -> None:
        self.path = path
        self.token = token
        self.call = call
        self.allowed = frozenset(allowed)
        self.max_calls = max_calls
        self.calls = 0  # tool calls admitted (run)
        self.refused = 0  # requests refused: a bad token, over the limit, not allowed
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await _listen(self.path, self._serve)

    async def close(self) -> None:
        """Stop listening and cancel the tool calls still running."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(OSError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lock = asyncio.Lock()

        async def send(message: dict[str, Any]) -> None:
            async with lock:
                writer.write((json.dumps(message) + "\n").encode("utf-8"))
                with contextlib.suppress(ConnectionError):
                    await writer.drain()

        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, ConnectionError):  # longer than MAX_LINE, or reset
                    break
                if not line:
                    break
                request = _parse(line)
                if request is None or not self._token_ok(request.get("token")):
                    self.refused += 1
                    await send({"ok": False, "error": "refused: bad request or wrong token"})
                    break
                task = asyncio.create_task(self._answer(request, send))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            writer.close()

    def _token_ok(self, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(token, self.token)

    async def _answer(
        self, request: dict[str, Any], send: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> None:
        rid, tool, args = request.get("id"), request.get("tool"), request.get("args", {})
        if not isinstance(tool, str) or tool not in self.allowed:
            self.refused += 1
            known = ", ".join(sorted(self.allowed))
            await send({"id": rid, "ok": False, "error": f"no tool {tool!r} here; use {known}"})
            return
        if not isinstance(args, dict):
            await send({"id": rid, "ok": False, "error": f"{tool}: args must be an object"})
            return
        if self.calls >= self.max_calls:
            self.refused += 1
            error = (
                f"Not run: this script used its limit of {self.max_calls} tool calls "
                "(execute_code.max_tool_calls); do the rest in another step"
            )
            await send({"id": rid, "ok": False, "error": error})
            return
        self.calls += 1
        text, is_error = await self.call(tool, args)
        if is_error:
            await send({"id": rid, "ok": False, "error": text})
        else:
            await send({"id": rid, "ok": True, "result": text})


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        request = json.loads(line)
    except ValueError:
        return None
    return request if isinstance(request, dict) else None


async def _listen(
    path: Path,
    serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> asyncio.Server:
    """A unix server at PATH, only for this user (a path longer than a socket
    address may be is bound through /proc/self/fd)."""
    if len(str(path).encode()) < 100:
        server = await asyncio.start_unix_server(serve, path=str(path), limit=MAX_LINE)
    else:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            short = f"/proc/self/fd/{fd}/{path.name}"
            server = await asyncio.start_unix_server(serve, path=short, limit=MAX_LINE)
        finally:
            os.close(fd)
    os.chmod(path, 0o600)
    return server
