"""Hibernation when idle: a backend that can hibernate (`suspend`) is put to
sleep after `terminal.idle_seconds` without a command or file call, and woken
(`resume`) by the next one. The one timer task lives here; the backend owns it
and cancels it on close. Nothing is suspended while a command still runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class IdleTimer:
    """Calls `hibernate` once `seconds` passed since the last `use()` while
    `busy()` is false; the next `use()` calls `wake` first. `seconds` 0: never."""

    def __init__(
        self,
        seconds: float,
        hibernate: Callable[[], Awaitable[None]],
        wake: Callable[[], Awaitable[None]],
        busy: Callable[[], bool],
    ) -> None:
        self.seconds = seconds
        self._hibernate, self._wake, self._busy = hibernate, wake, busy
        self.asleep = False
        self.hibernations = 0  # for tests and the bench
        self._last = time.monotonic()
        self._lock = asyncio.Lock()  # a wake and a hibernation never overlap
        self._task: asyncio.Task[None] | None = None

    async def use(self) -> None:
        """Before every command or file call: wake when asleep, restart the clock."""
        async with self._lock:
            if self.asleep:
                await self._wake()
                self.asleep = False
        self.touch()

    def touch(self) -> None:
        self._last = time.monotonic()
        if self.seconds > 0 and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            left = self._last + self.seconds - time.monotonic()
            if left > 0:
                await asyncio.sleep(left)
                continue
            if self._busy():  # a command still runs: look again later
                self._last = time.monotonic()
                continue
            async with self._lock:
                if self._last + self.seconds > time.monotonic():
                    continue  # used while we waited for the lock
                try:
                    await self._hibernate()
                except Exception:
                    log.exception("could not hibernate the environment; it stays awake")
                    return
                self.asleep = True
                self.hibernations += 1
            return

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
