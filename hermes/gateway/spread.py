"""Which replica runs which chat: the turns of one tenant spread over its replicas.

On PostgreSQL every `hermes gateway run` of a profile is a replica (see
cluster.py) and ANY replica runs turns. A replica runs a chat's turns only while
it holds the chat's claim, a row of ``chat_claims`` (hermes/store/cluster_ops.py):
the chat's lock across replicas, so its messages still run one at a time in
arrival order. A claim is good while its replica is alive (seen within
``cluster.lease_seconds``); a replica killed mid-turn loses its chats when its
beats stop, and another replica claims them and goes on from what was stored.

- A message stored here (``offer``) runs here if this replica holds its chat,
  or can claim it and has room (fewer chats in hand than
  ``gateway.max_concurrent_turns``). The active replica, which carries every
  chat's platform traffic besides, claims a new chat so only when it is alone;
  with others alive it holds at most its share of the limit. Otherwise the
  tenant's replicas are told
  ("inbound"), and the one holding the chat adopts it, or one with room claims
  it: each ``sweep`` locks the oldest unclaimed messages FOR UPDATE SKIP LOCKED,
  so replicas sweeping at once take different chats.
- A chat is let go when it has nothing left to run here (its conversation is
  closed: the next replica opens it from the store).
- The active replica (the lease holder) holds the platform connections, the
  couriers, the approvals desk, the scheduler and the tasks. So a standby takes
  on only chats whose open messages are all new and whose first one is a plain
  message (``standby_may_take``); attachments to download, task and approval
  commands, turns cut by a dead replica and chats waiting on approvals go to
  the active replica. A standby whose turn waits on an approval lets the chat
  go to the active replica, which resumes it when it is decided.

Every claim and release is one short transaction; a notification lost while a
listener reconnects costs a delay (the sweep every third of the lease finds the
message), never a message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from hermes.aio import wait_event
from hermes.gateway.chats import Chat, Chats
from hermes.gateway.events import Inbound
from hermes.gateway.work import COMMANDS as WORK_COMMANDS
from hermes.store import Store
from hermes.store import cluster_ops as ops
from hermes.store.gateway_ops import InboundRow

if TYPE_CHECKING:
    from hermes.gateway.cluster import Replica

log = logging.getLogger("hermes.gateway.spread")


def command_name(text: str) -> str:
    """`/approve@bot 12` -> "/approve" ("" for a message that is no command)."""
    word = text.strip().split(" ", 1)[0].lower()
    return word.split("@", 1)[0] if word.startswith("/") else ""


def for_the_active(event: Inbound) -> bool:
    """Whether only the active replica may run this message: it has attachments
    to download (the platform connection is there) or is a task or approval
    command (the task runner and the approvals desk are there)."""
    return bool(event.attachments or event.callback_data) or (
        command_name(event.text) in WORK_COMMANDS
    )


def standby_may_take(rows: list[InboundRow]) -> bool:
    """A standby takes a chat whose open messages are all new (none cut mid-turn
    by a dead replica, none waiting on an approval) and whose first is plain."""
    if not rows or any(r.status != "pending" for r in rows):
        return False
    return not for_the_active(Inbound.from_json(rows[0].event))


def anyone_may_take(rows: list[InboundRow]) -> bool:
    return bool(rows)


class SpreadHost(Protocol):
    """What the spread needs of the gateway."""

    @property
    def store(self) -> Store: ...

    @property
    def chats(self) -> Chats: ...

    @property
    def passive(self) -> bool: ...  # a standby replica

    async def recover_rows(self, rows: list[InboundRow]) -> None: ...  # queue them here

    def is_queued(self, row_id: int) -> bool: ...

    def forget_queued(self, key: str) -> None: ...  # the chat's rows are not ours now

    async def end_leftovers(self, alive: list[str]) -> None: ...


class Spread:
    def __init__(self, gw: SpreadHost, replica: Replica, limit: int) -> None:
        self.gw = gw
        self.replica = replica
        self.limit = limit  # chats in hand at most (gateway.max_concurrent_turns)
        self.others = 0  # the other live replicas, as last seen
        self.held: set[str] = set()  # chats this replica holds
        self.handing: set[str] = set()  # held chats whose next message is the active's
        self.closing = False  # draining: no new chats
        self._woken = asyncio.Event()
        self._sweeping = asyncio.Lock()
        self._releasing: dict[str, asyncio.Event] = {}  # chat -> set once let go
        self._tasks: set[asyncio.Task[None]] = set()
        self._count_at = 0.0  # when to count the live replicas again
        gw.chats.on_settled = self.settle
        replica.holding = lambda: bool(self.held)

    @property
    def lease(self) -> float:
        return self.replica.lease_seconds

    def holds(self, key: str) -> bool:
        return key in self.held

    @property
    def may_take(self) -> Callable[[list[InboundRow]], bool]:
        """Which chats this replica takes on, by their open messages."""
        return standby_may_take if self.gw.passive else anyone_may_take

    @property
    def room(self) -> int:
        """How many chats this replica may hold: the limit; the active replica,
        which carries every chat's platform traffic besides, its share of it."""
        if self.gw.passive or not self.others:
            return self.limit
        return max(1, self.limit // (self.others + 1))

    # ----- a message stored here ----------------------------------------------------

    async def offer(self, row: InboundRow) -> None:
        """Run a message this replica stored, if its chat is or can be ours; else
        tell the replicas (the chat's holder adopts it, or one with room claims it)."""
        key = row.session_key
        released = self._releasing.get(key)
        if released is not None:
            await released.wait()
        if key in self.held:
            adopted = self._adoptable([row])
            await self.gw.recover_rows(adopted)
            self.replica.turns += len(adopted)
            if not adopted:  # the active replica's to run (now, or once we let go)
                await self.replica.announce("inbound")
            return
        # the active replica carries every chat's platform traffic: while others are
        # alive it leaves new chats to whoever claims them first (the least busy)
        mine = self.gw.passive or not self.others
        if mine and not self.closing and len(self.held) < self.room:
            rows = await self.gw.store.run(
                ops.claim_chat, key, self.replica.id, self.lease, self.may_take
            )
            if rows is not None:
                await self._took(key, rows)
                return
        await self.replica.announce("inbound")

    async def claim(self, key: str) -> bool:
        """Claim chat KEY now, whatever its messages (the active replica resuming a
        decided approval); False if a live replica holds it."""
        rows = await self.gw.store.run(
            ops.claim_chat, key, self.replica.id, self.lease, anyone_may_take
        )
        if rows is None:
            return False
        await self._took(key, rows)
        return True

    # ----- sweeping -----------------------------------------------------------------

    def wake(self) -> None:
        """Look for work now (a notification came, or room was made)."""
        self._woken.set()

    async def run(self) -> None:
        """Sweep at every wake-up and every third of the lease, until cancelled."""
        while True:
            self._woken.clear()
            try:
                if time.monotonic() >= self._count_at:
                    alive = await self.gw.store.run(ops.live_replicas, self.lease)
                    self.others = len([r for r in alive if r != self.replica.id])
                    self._count_at = time.monotonic() + self.lease / 3
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: the next sweep tries again
                log.warning("could not look for chats to run: %s", exc)
            await wait_event(self._woken, self.lease / 3)

    async def sweep(self) -> None:
        """Adopt new messages of the chats held here (task and approval commands
        stay for the active replica), run pending commands (the active replica),
        then claim chats while there is room."""
        async with self._sweeping:
            store, me = self.gw.store, self.replica.id
            if self.held:
                new = [
                    r
                    for r in await store.run(ops.held_rows, me)
                    if r.session_key in self.held and not self.gw.is_queued(r.id)
                ]
                adopted = self._adoptable(new)
                self.replica.turns += len(adopted)
                await self.gw.recover_rows(adopted)
            if not self.gw.passive and self.others:  # only standbys leave commands
                commands = [
                    r
                    for r in await store.run(ops.pending_commands)
                    if not self.gw.is_queued(r.id)
                    and command_name(Inbound.from_json(r.event).text) in WORK_COMMANDS
                ]
                await self.gw.recover_rows(commands)
            room = self.room - len(self.held)
            if self.closing or room <= 0:
                return
            claimed = await store.run(ops.claim_chats, me, self.lease, room, self.may_take)
            for key, rows in claimed.items():
                await self._took(key, rows)

    def _adoptable(self, rows: list[InboundRow]) -> list[InboundRow]:
        """On a standby: the rows up to the first one the active replica must run
        (the chat is let go to it once what runs here is done)."""
        if not self.gw.passive:
            return rows
        kept: list[InboundRow] = []
        for row in rows:
            key = row.session_key
            if key in self.handing:
                continue
            event = Inbound.from_json(row.event)
            if command_name(event.text) in WORK_COMMANDS:
                continue  # the active replica runs it (sweep, pending_commands)
            if for_the_active(event):
                self.handing.add(key)
                continue
            kept.append(row)
        return kept

    async def _took(self, key: str, rows: list[InboundRow]) -> None:
        """Chat KEY is ours now: queue its open messages (a turn a dead replica was
        running resumes; its processes are ended first)."""
        self.held.add(key)
        if any(r.status == "running" for r in rows):
            alive = await self.gw.store.run(ops.live_replicas, self.lease)
            await self.gw.end_leftovers(alive)
        adopted = [r for r in self._adoptable(rows) if not self.gw.is_queued(r.id)]
        self.replica.turns += sum(1 for r in adopted if r.status != "waiting")
        await self.gw.recover_rows(adopted)
        chat = self.gw.chats.find(key)
        if chat is None or not chat.busy:
            self._spawn(self._let_go(key))

    # ----- letting chats go ---------------------------------------------------------

    def settle(self, chat: Chat) -> None:
        """The chat has no work running here (Chats.on_settled, or a command ended):
        let it go if it is idle, or (a standby) if it waits on an approval."""
        waits = chat.waiting is not None and self.gw.passive
        if chat.key in self.held and (not chat.busy or waits):
            self._spawn(self._let_go(chat.key))

    async def _let_go(self, key: str) -> None:
        chat = self.gw.chats.find(key)
        if key not in self.held or key in self._releasing:
            return
        waiting = chat is not None and chat.waiting is not None
        if chat is not None and chat.busy and not (waiting and self.gw.passive):
            return  # work came meanwhile
        if waiting:
            if not self.gw.passive:
                return  # the active replica keeps a chat that waits on an approval
            if chat is not None and (chat.current is not None or chat.commands):
                return  # settled again when that ends
            # the active replica resumes the turn, and what queued behind it, from
            # the store
            assert chat is not None
            chat.waiting = None
            chat.jobs.clear()
        gone = self._releasing[key] = asyncio.Event()
        try:
            if not await self.gw.chats.forget(key):
                return
            self.gw.forget_queued(key)
            self.handing.discard(key)
            try:
                await self.gw.store.run(ops.release_chat, key, self.replica.id)
            except Exception as exc:  # still ours: the sweeps adopt what comes, and it
                log.warning("could not let chat %s go: %s", key, exc)  # goes when idle
                return
            self.held.discard(key)
            try:
                more = await self.gw.store.run(ops.has_open, key)
            except Exception:
                more = True  # whoever may, looks
        finally:
            del self._releasing[key]
            gone.set()
        if waiting:
            await self.replica.announce("approval")
        if more:  # what came meanwhile (or waits for the active): whoever may, takes it
            await self.replica.announce("inbound")
        self.wake()  # room was made

    async def close(self) -> None:
        """A clean stop: every chat held here is free for the others at once."""
        self.closing = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.gw.store.run(ops.release_all, self.replica.id)
            self.held.clear()
            await self.replica.announce("inbound")
        except Exception as exc:  # the database is gone: the claims lapse with the beats
            log.warning("could not let this replica's chats go: %s", exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
