"""Small asyncio helpers the long-running parts share."""

from __future__ import annotations

import asyncio


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
