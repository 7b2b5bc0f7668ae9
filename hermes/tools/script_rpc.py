"""The RPC server of execute_code: a script's tool calls arrive on a unix socket
(or, where no socket reaches the script, as files: script_files.py).

The wire is newline-delimited JSON. A request is
`{"id": N, "token": T, "tool": NAME, "args": {...}}`, its response
`{"id": N, "ok": true, "result": TEXT}` or `{"id": N, "ok": false, "error": TEXT}`,
in whatever order the calls finish (they run concurrently). Every request must
carry the script's token: a wrong one gets an error without an id and the
connection is closed. Only the tools in `allowed` are called; after `max_calls`
calls each further one gets an error. `Dispatcher` is that checking and
calling, shared by both transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Coroutine
from pathlib import Path
from typing import Any, TypeGuard

Call = Callable[[str, dict[str, Any]], Awaitable[tuple[str, bool]]]
MAX_LINE = 32 * 1024 * 1024  # one request (a write_file's content)
BAD_REQUEST = "refused: bad request or wrong token"


class Dispatcher:
    """One script's tool calls: the token, the allowed tools, the limit, the counts."""

    def __init__(self, token: str, call: Call, allowed: Collection[str], max_calls: int) -> None:
        self.token = token
        self.call = call
        self.allowed = frozenset(allowed)
        self.max_calls = max_calls
        self.calls = 0  # tool calls admitted (run)
        self.refused = 0  # requests refused: a bad token, over the limit, not allowed

    def admit(self, request: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
        """Whether REQUEST is one with the right token (a refusal is counted)."""
        token = None if request is None else request.get("token")
        if isinstance(token, str) and hmac.compare_digest(token, self.token):
            return True
        self.refused += 1
        return False

    async def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The response to an admitted REQUEST (its tool run through `call`)."""
        rid, tool, args = request.get("id"), request.get("tool"), request.get("args", {})
        if not isinstance(tool, str) or tool not in self.allowed:
            self.refused += 1
            known = ", ".join(sorted(self.allowed))
            return {"id": rid, "ok": False, "error": f"no tool {tool!r} here; use {known}"}
        if not isinstance(args, dict):
            return {"id": rid, "ok": False, "error": f"{tool}: args must be an object"}
        if self.calls >= self.max_calls:
            self.refused += 1
            error = (
                f"Not run: this script used its limit of {self.max_calls} tool calls "
                "(execute_code.max_tool_calls); do the rest in another step"
            )
            return {"id": rid, "ok": False, "error": error}
        self.calls += 1
        text, is_error = await self.call(tool, args)
        if is_error:
            return {"id": rid, "ok": False, "error": text}
        return {"id": rid, "ok": True, "result": text}


class Transport(ABC):
    """How one script's requests arrive; `start()`, then `close()` when it ended."""

    def __init__(self, token: str, call: Call, allowed: Collection[str], max_calls: int) -> None:
        self.dispatch = Dispatcher(token, call, allowed, max_calls)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def calls(self) -> int:
        return self.dispatch.calls

    @property
    def refused(self) -> int:
        return self.dispatch.refused

    @abstractmethod
    async def start(self) -> None: ...

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run WORK (one request) concurrently; close() cancels it."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_calls(self) -> None:
        """Cancel the tool calls still running."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @abstractmethod
    async def close(self) -> None:
        """Stop taking requests and cancel the tool calls still running."""


class RpcServer(Transport):
    """Serves one script over a unix socket at PATH."""

    def __init__(
        self,
        path: Path,
        token: str,
        call: Call,
        allowed: Collection[str],
        max_calls: int,
    ) -> None:
        super().__init__(token, call, allowed, max_calls)
        self.path = path
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await _listen(self.path, self._serve)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.cancel_calls()
        with contextlib.suppress(OSError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lock = asyncio.Lock()

        async def send(message: dict[str, Any]) -> None:
            async with lock:
                writer.write((json.dumps(message) + "\n").encode("utf-8"))
                with contextlib.suppress(ConnectionError):
                    await writer.drain()

        async def answer(request: dict[str, Any]) -> None:
            await send(await self.dispatch.answer(request))

        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, ConnectionError):  # longer than MAX_LINE, or reset
                    break
                if not line:
                    break
                request = parse(line)
                if not self.dispatch.admit(request):
                    await send({"ok": False, "error": BAD_REQUEST})
                    break
                self.spawn(answer(request))
        finally:
            writer.close()


def parse(line: bytes) -> dict[str, Any] | None:
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
