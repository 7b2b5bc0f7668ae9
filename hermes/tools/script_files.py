"""The file transport of execute_code's RPC, for backends no unix socket here
can reach (singularity, modal, daytona): the same requests and responses as
script_rpc.py, one JSON file each, in RUN_DIR/rpc on the backend.

The script's client writes `req-ID.json` (to a dot-name first, then renamed, so
a request is never read half-written) and polls for `resp-ID.json`, then removes
both. This side polls the directory through the backend's own file methods
(listdir, read_many, write_bytes: on modal and daytona each is one exec in the
sandbox), runs each new request through the same `Dispatcher` as the socket
server, concurrently, and writes its response (write_bytes renames a temp file
over it: atomic too). Polls are 20 ms apart while requests come (for a second
after the last one), then back off to 200 ms."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from hermes.backends.base import Backend
from hermes.errors import ToolError
from hermes.tools.script_rpc import BAD_REQUEST, MAX_LINE, Call, Transport, parse

REQUEST = re.compile(r"req-([0-9A-Za-z_-]{1,64})\.json")
FAST, SLOW = 0.02, 0.2  # seconds between polls: while calls come, at most
BUSY = 1.0  # seconds after a request during which polls stay FAST (the next call is near)


class FileRpcServer(Transport):
    """Serves one script whose requests are files in FOLDER on BACKEND."""

    def __init__(
        self,
        backend: Backend,
        folder: Path,
        token: str,
        call: Call,
        allowed: Collection[str],
        max_calls: int,
    ) -> None:
        super().__init__(token, call, allowed, max_calls)
        self.backend = backend
        self.folder = folder
        self._seen: set[str] = set()
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.backend.mkdir(self.folder)
        self._poller = asyncio.create_task(self._poll())

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await self.cancel_calls()

    async def _poll(self) -> None:
        pause, last = FAST, time.monotonic()
        while True:
            new = await self._new_requests()
            if new:
                found = await self.backend.read_many(
                    [self.folder / f"req-{rid}.json" for rid in new], MAX_LINE
                )
                for rid, data in zip(new, found, strict=True):
                    self.spawn(self._answer(rid, data))
                pause, last = FAST, time.monotonic()
            elif time.monotonic() - last > BUSY:
                pause = min(pause * 2, SLOW)
            await asyncio.sleep(pause)

    async def _new_requests(self) -> list[str]:
        try:
            entries = await self.backend.listdir(self.folder)
        except (OSError, ToolError):  # the sandbox could not be reached: try again
            return []
        new = []
        for entry in entries:
            match = REQUEST.fullmatch(entry.path)
            if match and match.group(1) not in self._seen:
                self._seen.add(match.group(1))
                new.append(match.group(1))
        return new

    async def _answer(self, rid: str, data: bytes | None) -> None:
        request = None if data is None else parse(data)
        reply: dict[str, Any]
        if not self.dispatch.admit(request):
            reply = {"id": rid, "ok": False, "error": BAD_REQUEST}
        else:
            reply = await self.dispatch.answer(request)
            reply["id"] = rid
        with contextlib.suppress(OSError, ToolError):  # the script is gone: nobody waits
            await self.backend.write_bytes(
                self.folder / f"resp-{rid}.json", json.dumps(reply).encode("utf-8")
            )
