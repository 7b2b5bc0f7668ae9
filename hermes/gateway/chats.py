"""One line of work per chat: turns run one at a time in arrival order, chats
run side by side up to an explicit limit.

Each chat (a session key) has a queue of jobs and, while it has work, one
worker task. A job is a coroutine function taking the Chat. `stop()` cancels
the running job on the user's behalf (`/stop`, or a new message in
`interrupt` mode): the job sees `chat.stopping` and ends the turn cleanly.
A chat whose turn is suspended on an approval is `waiting`: its later jobs
stay queued (no worker runs them) until `resume()` puts the suspended turn
back at the head of the line.
Cancelling the workers themselves (gateway shutdown) leaves the job's stored
state as it is, to be resumed at the next start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hermes.aio import wait_event

if TYPE_CHECKING:
    from hermes.agent.conversation import Conversation
    from hermes.gateway.approvals import ChatAsker

log = logging.getLogger("hermes.gateway")

Job = Callable[["Chat"], Coroutine[object, object, None]]


@dataclass
class Chat:
    key: str  # profile:platform:chat:thread[:user]
    jobs: deque[tuple[Job, bool]] = field(default_factory=deque)  # (job, is a user turn)
    worker: asyncio.Task[None] | None = None
    current: asyncio.Task[None] | None = None
    current_is_turn: bool = False
    stopping: bool = False  # the running job is being stopped by the user
    conv: Conversation | None = None
    asker: ChatAsker | None = None  # the approval gate's asker of `conv`
    waiting: int | None = None  # the inbound row suspended on an approval
    opening: asyncio.Lock = field(default_factory=asyncio.Lock)  # guards opening `conv`
    last_used: float = field(default_factory=time.monotonic)
    renew: bool = False  # the profile was reloaded: reopen `conv` once the chat is idle
    commands: int = 0  # immediate commands (/stop, /status...) of this chat running now

    @property
    def busy(self) -> bool:
        return (
            self.worker is not None
            or self.current is not None
            or bool(self.jobs)
            or self.waiting is not None
            or self.commands > 0
        )


class Chats:
    def __init__(self, limit: int, max_open: int = 64) -> None:
        self.limit = asyncio.Semaphore(limit)
        self.max_open = max_open  # idle conversations kept open (LRU beyond that)
        self._chats: dict[str, Chat] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        # called when a chat's worker stops: it has no work left, or it waits on an
        # approval (a cluster lets the chat go then: hermes/gateway/spread.py)
        self.on_settled: Callable[[Chat], None] | None = None

    def get(self, key: str) -> Chat:
        chat = self._chats.get(key)
        if chat is None:
            chat = self._chats[key] = Chat(key)
        return chat

    def find(self, key: str) -> Chat | None:
        return self._chats.get(key)

    def submit(self, key: str, job: Job, *, turn: bool = True, interrupt: bool = False) -> None:
        """Queue a job for the chat. interrupt: stop the running turn first."""
        chat = self.get(key)
        if interrupt and chat.current_is_turn:
            self.stop(chat)
        chat.jobs.append((job, turn))
        self._start(chat)

    def resume(self, key: str, job: Job | None) -> None:
        """The chat's suspended turn goes on: `job` runs first, then what queued up
        meanwhile (job None: the turn was dropped; just go on with the queue)."""
        chat = self.get(key)
        chat.waiting = None
        if job is not None:
            chat.jobs.appendleft((job, True))
        self._start(chat)

    def _start(self, chat: Chat) -> None:
        chat.last_used = time.monotonic()
        if chat.worker is None and chat.waiting is None and chat.jobs:
            self._idle.clear()
            chat.worker = asyncio.get_running_loop().create_task(self._work(chat))
            self._tasks.add(chat.worker)
            chat.worker.add_done_callback(self._tasks.discard)

    def stop(self, chat: Chat) -> bool:
        """Stop the chat's running turn; True if there was one."""
        if chat.current is None or not chat.current_is_turn or chat.current.done():
            return False
        if chat.stopping:
            return True  # already being stopped: a second cancel would cut its clean-up
        chat.stopping = True
        chat.current.cancel()
        return True

    async def _work(self, chat: Chat) -> None:
        try:
            while chat.jobs and chat.waiting is None:
                job, is_turn = chat.jobs.popleft()
                async with self.limit:
                    chat.current = asyncio.get_running_loop().create_task(job(chat))
                    chat.current_is_turn = is_turn
                    try:
                        await chat.current
                    except asyncio.CancelledError:
                        task = asyncio.current_task()
                        if task is not None and task.cancelling():
                            raise  # the gateway is stopping
                    except Exception:
                        log.exception("a job of chat %s failed", chat.key)
                    finally:
                        chat.current, chat.current_is_turn, chat.stopping = None, False, False
                        chat.last_used = time.monotonic()
        finally:
            chat.worker = None
            if all(c.worker is None for c in self._chats.values()):
                self._idle.set()
        if self.on_settled is not None:
            self.on_settled(chat)
        await self._evict()

    async def forget(self, key: str) -> bool:
        """Close an idle chat's conversation and forget it (another replica may run
        its next turns, from the store). False if it is busy."""
        chat = self._chats.get(key)
        if chat is None:
            return True
        if chat.busy or chat.opening.locked():
            return False
        del self._chats[key]
        if chat.conv is not None:
            conv, chat.conv = chat.conv, None
            await conv.close()
        return True

    async def renew(self) -> None:
        """The profile's settings were reloaded: each chat's next turn opens its
        conversation again (from state.db) under them; a busy chat's once it is idle."""
        for chat in self._chats.values():
            chat.renew = True
        await self._evict()

    async def _evict(self) -> None:
        """Close the conversations of idle chats to renew, and the least recently
        used idle conversations beyond max_open."""
        idle = [c for c in self._chats.values() if not c.busy and not c.opening.locked()]
        for chat in idle:
            if chat.renew:
                conv, chat.conv, chat.renew = chat.conv, None, False
                if conv is not None:
                    await conv.close()
        idle.sort(key=lambda c: c.last_used)
        for chat in idle[: max(0, len(idle) - self.max_open)]:
            conv, chat.conv = chat.conv, None
            del self._chats[chat.key]
            if conv is not None:
                await conv.close()

    async def wait_idle(self, seconds: float) -> bool:
        """Wait until no chat has work; False on timeout."""
        return await wait_event(self._idle, seconds)

    def running(self) -> int:
        return sum(1 for c in self._chats.values() if c.current is not None)

    async def close(self) -> None:
        """Cancel all work (stored state stays for the next start); close conversations."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for chat in self._chats.values():
            if chat.current is not None:
                chat.current.cancel()
        for chat in list(self._chats.values()):
            if chat.conv is not None:
                conv, chat.conv = chat.conv, None
                try:
                    await conv.close()
                except Exception:
                    log.exception("closing the conversation of %s", chat.key)
        self._chats.clear()
