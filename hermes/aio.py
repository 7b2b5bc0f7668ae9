"""Small asyncio helpers the long-running parts share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(aw: Awaitable[T], seconds: float | None) -> T:
    """AW's result, or TimeoutError after SECONDS (None: no limit).

    Use this, not `asyncio.wait_for(aw, seconds)`: on Python 3.11 wait_for runs AW as a
    task of its own, and a cancellation that arrives as AW ends can be lost, so the
    cancelled caller waits forever (seen: a Matrix adapter that never stopped because
    its sync request swallowed the cancel). `asyncio.timeout` runs AW in the caller's
    own task, where a cancellation always arrives."""
    async with asyncio.timeout(seconds):
        return await aw


async def wait_event(event: asyncio.Event, seconds: float | None) -> bool:
    """Wait until EVENT is set, at most SECONDS (None: no limit); whether it is set.

    Not `asyncio.wait_for(event.wait(), seconds)`: on Python 3.11 a cancellation that
    arrives just as its timeout fires can be lost, and the task that was cancelled
    then never ends (a gateway that hangs on close). `asyncio.timeout` has no such race.
    """
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
