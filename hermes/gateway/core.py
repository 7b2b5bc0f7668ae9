"""The gateway: adapters in, turns per chat, replies out through the ledger.

    adapter --Inbound--> Gateway.accept --(access, stored)--> Chats (a queue per chat)
        --> turns.run_inbound (Conversation turn, streamed draft)
        --> deliveries ledger --> Courier (per platform) --> adapter.send/edit

`accept` returns only once the message is committed to state.db, so an
adapter acknowledges nothing that could be lost. At start, messages left
pending or running by a crash are queued again (a running turn is resumed
from what was stored of it). In a cluster on PostgreSQL, a replica queues the
messages of the chats it claims instead (hermes/gateway/spread.py).

Profile routing (SPEC §9): a chat routed to another profile is served by a
Gateway of that profile (`routed`), built on the same adapters but with its
own profile, state.db, chats, couriers, approvals, tasks, scheduler and
processes. The gateway that listens checks the sender, then hands the event
over; everything after that happens under the routed profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any

from hermes.agent.client_tools import ClientTools
from hermes.agent.events import EventSink
from hermes.context import Profile
from hermes.cron.schedule import zone
from hermes.gateway import leftovers, turns, work
from hermes.gateway.access import Access
from hermes.gateway.approvals import Desk
from hermes.gateway.chats import Chat, Chats
from hermes.gateway.cluster import Replica
from hermes.gateway.delegation import Delegation, new_turn_text
from hermes.gateway.delivery import Courier
from hermes.gateway.events import Inbound, Target, session_key
from hermes.gateway.learning import Learning
from hermes.gateway.notify import ProcessNotifier
from hermes.gateway.replies import Replies
from hermes.gateway.routing import Routes
from hermes.gateway.scheduler import Scheduler
from hermes.gateway.services import GatewayTools
from hermes.gateway.spread import Spread
from hermes.gateway.tasks import TaskRunner
from hermes.gateway.voice_out import SpokenReplies
from hermes.logs import SERVING
from hermes.messages import Message
from hermes.platforms.adapter import Adapter
from hermes.store import Store, approval_ops, cluster_ops, task_ops
from hermes.store import gateway_ops as ops
from hermes.store.task_ops import TaskRow
from hermes.tools.process import ProcessManager
from hermes.voice.service import Voice

log = logging.getLogger("hermes.gateway")
KEEP_SECONDS = 30 * 86400  # finished inbound rows and sent deliveries are kept this long


class Gateway(Replies):
    def __init__(
        self,
        profile: Profile,
        store: Store,
        adapters: Sequence[Adapter],
        *,
        api_key: str = "",
        clock: Callable[[], float] = time.time,
        backoff_base: float = 1.0,
        ping_after: float = 600.0,
        notify_interval: float = 30.0,
        listen: bool = True,
    ) -> None:
        settings = profile.settings.gateway
        self.listen = listen  # False: a routed profile's gateway (the adapters are not its own)
        self.profile = profile
        self.store = store
        self.api_key = api_key
        self.clock = clock
        self.adapters: dict[str, Adapter] = {a.name: a for a in adapters}
        self.access = Access(store, profile.env, clock=clock)
        self.chats = Chats(settings.max_concurrent_turns)
        # tool processes are recorded in state.db: a killed gateway's are ended at start
        self.processes = ProcessManager(ledger=leftovers.StoredProcessLedger(store, clock))
        # voice notes in are transcribed, replies of chats in /voice mode spoken
        self.voice = Voice(profile.settings.voice, profile.env, profile.home)
        spoken = SpokenReplies(self.voice, profile.home / "voice" / "replies")
        self.couriers = {
            a.name: Courier(
                store,
                a,
                max_attempts=settings.delivery_max_attempts,
                clock=clock,
                backoff_base=backoff_base,
                spoken=spoken,
            )
            for a in adapters
        }
        self.started_at = clock()
        # session id -> the chat its turns answer in (process notifications, tasks)
        self.targets: dict[str, Target] = {}
        self.notifier = ProcessNotifier(self, notify_interval)
        self.desk = Desk(self)
        self.tasks = TaskRunner(self, settings.max_concurrent_tasks, ping_after=ping_after)
        self.desk.resumers["inbound"] = self._resume_inbound
        self.desk.resumers["task"] = self.tasks.resume
        self.delegation = Delegation(self.tasks, self.spawn, self._report_child)
        self.tasks.delegation = self.delegation
        self.tools = GatewayTools(self, self.delegation)  # for tools: ctx.services
        self.learning = Learning(self)  # skills review after turns, the daily curator
        self.tasks.services = self.tools
        self.scheduler = Scheduler(self, zone(profile.settings.cron.timezone))
        # parts that live beside the gateway (the /mcp endpoint) and stop with it
        self.on_close: list[Callable[[], Awaitable[None]]] = []
        self.routes = Routes()
        self.routed: dict[str, Gateway] = {}  # profile name -> its gateway (see routing.py)
        self._tasks: set[asyncio.Task[None]] = set()
        self._adapter_tasks: list[asyncio.Task[None]] = []
        # a cluster on PostgreSQL (hermes/gateway/cluster.py): a standby replica is
        # `passive` (no platform connections: it runs the plain turns of the chats it
        # claims, hermes/gateway/spread.py, and leaves the rest to the active one)
        self.replica: Replica | None = None
        self.spread: Spread | None = None  # which replica runs which chat (spread.py)
        self.passive = False
        self._queued: dict[int, str] = {}  # in a cluster: inbound rows queued here -> chat

    # ----- life cycle ----------------------------------------------------------

    async def start(self) -> None:
        """Requeue unfinished messages, then connect the platforms and couriers
        (the routed profiles' gateways first: they must be ready for the events)."""
        for routed in self.routed.values():
            await routed.start()
        with self._serving():
            await self._start()

    @contextlib.contextmanager
    def _serving(self) -> Iterator[None]:
        """A routed profile's work (and every task it spawns) logs to its own files."""
        token = SERVING.set(None if self.listen else self.profile.name)
        try:
            yield
        finally:
            SERVING.reset(token)

    async def _start(self) -> None:
        if self.spread is None:
            self.notifier.attach()
            await leftovers.end_processes(self)  # before any turn resumes (and could rerun them)
        else:  # a replica becoming active: the dead replicas' processes only
            alive = await self.store.run(cluster_ops.live_replicas, self.spread.lease)
            await leftovers.end_processes(self, [*alive, self.spread.replica.id])
        await self._recover()
        await self.delegation.recover()  # first: which children nobody waits for now
        await self.tasks.recover()
        self.spawn(self.desk.run(), "approvals")
        self.spawn(self.scheduler.run(), "scheduler")
        self.spawn(self.learning.curate(), "skills curator")
        for name, courier in self.couriers.items():
            self.spawn(courier.run(), f"courier {name}")
        if self.listen:
            for adapter in self.adapters.values():
                self._adapter_tasks.append(self.spawn(self._run_adapter(adapter), adapter.name))

    def route(self, target: Target) -> Gateway:
        """The gateway that serves this chat: a routed profile's, else this one."""
        name = self.routes.profile_for(target.platform, target.chat, target.thread)
        return self.routed.get(name, self) if name is not None else self

    def wake_schedulers(self) -> None:
        """Cron jobs changed somewhere (SIGUSR1 from another process): every profile looks."""
        self.scheduler.wake()
        for routed in self.routed.values():
            routed.scheduler.wake()

    async def run(self) -> None:
        """start(), then serve until cancelled (then close())."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def drain(self, seconds: float) -> bool:
        """Stop taking messages; give running turns `seconds` to finish.
        True if all finished (what is left is resumed at the next start)."""
        if self.spread is not None:
            self.spread.closing = True  # no new chats: the other replicas take them
        for task in self._adapter_tasks:
            task.cancel()
        await asyncio.gather(*self._adapter_tasks, return_exceptions=True)
        waits = [self.chats.wait_idle(seconds), *(r.drain(seconds) for r in self.routed.values())]
        finished = all(await asyncio.gather(*waits))
        if not finished:
            log.warning("stopping with turns still running; they resume at the next start")
        return finished

    async def close(self) -> None:
        for hook in self.on_close:
            try:
                await hook()
            except Exception:
                log.exception("stopping %s", getattr(hook, "__qualname__", hook))
        await self.tasks.close()
        await self.chats.close()
        if self.spread is not None:  # after its turns stopped: the chats are free now
            await self.spread.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for adapter in self.adapters.values():
            adapter.state = "stopped"
            try:
                await adapter.close()
            except Exception:
                log.exception("closing %s", adapter.name)
        await self.notifier.close()  # first: processes killed by the shutdown get no message
        await self.processes.shutdown()
        for routed in self.routed.values():
            await routed.close()
            await routed.store.close()  # opened for it by hermes/app.py attach_routes

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        """Run CORO as a task the gateway owns (cancelled when it closes)."""
        task = asyncio.get_running_loop().create_task(coro, name=what)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_adapter(self, adapter: Adapter) -> None:
        """An adapter that fails stops alone: the rest of the gateway goes on."""
        try:
            await adapter.run(self.accept)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not adapter.state.startswith("failed"):
                adapter.state = f"failed: {exc}"
            log.error("%s stopped: %s", adapter.name, exc, exc_info=not str(exc))

    def join(self, replica: Replica) -> None:
        """This gateway is a replica of a cluster (hermes/gateway/cluster.py): a
        standby until it holds the lease, running the turns of the chats it claims
        (hermes/gateway/spread.py) from now on."""
        self.replica = replica
        self.passive = True
        self.spread = Spread(self, replica, self.profile.settings.gateway.max_concurrent_turns)
        ledger = self.processes.ledger
        if isinstance(ledger, leftovers.StoredProcessLedger):
            ledger.owner = replica.id
        self.notifier.attach()
        self.spawn(self.spread.run(), "chats of this replica")

    def activate(self, replica: Replica) -> None:
        """This replica holds the cluster's lease now: its couriers send while it
        surely does (start() comes next)."""
        self.passive = False
        for courier in self.couriers.values():
            courier.may_send = replica.holds

    def on_cluster_note(self, kind: str) -> None:
        """A notification from another replica of this tenant."""
        if kind in ("inbound", "lease") and self.spread is not None:
            self.spread.wake()
        elif kind == "cron":
            self.wake_schedulers()
        elif kind == "approval" and not self.passive:
            self.desk.wake()
        elif kind == "delivery" and not self.passive:
            for courier in self.couriers.values():
                courier.wake()

    def is_queued(self, row_id: int) -> bool:
        return row_id in self._queued

    def forget_queued(self, key: str) -> None:
        """A cluster let chat KEY go: its rows are another replica's to queue."""
        for row_id in [r for r, k in self._queued.items() if k == key]:
            del self._queued[row_id]

    async def end_leftovers(self, alive: list[str]) -> None:
        await leftovers.end_processes(self, alive)

    async def _recover(self) -> None:
        # One gateway per home (the lock), so a row left "sending" was being sent by
        # a process that died: send it again now rather than after its lease.
        await self.store.run(ops.release_sending, self.clock())
        await self.store.run(ops.prune, self.clock() - KEEP_SECONDS)
        if self.spread is not None:  # a cluster: the chats no live replica holds
            await self.spread.sweep()
            return
        rows = await self.store.run(ops.open_inbound)
        await self.recover_rows(rows)
        if rows:
            log.info("requeued %d unfinished message(s)", len(rows))

    async def recover_rows(self, rows: list[ops.InboundRow]) -> None:
        """Queue stored messages (oldest first): new ones as they came, a turn cut
        mid-way resumed from what was stored of it, one suspended on an approval
        waiting (resumed now if it was decided meanwhile)."""
        for row in rows:
            if row.id in self._queued:
                continue
            event = Inbound.from_json(row.event)
            if row.status == "waiting":  # suspended on an approval: the chat waits with it
                if self.spread is not None:
                    self._queued[row.id] = row.session_key
                self.chats.get(row.session_key).waiting = row.id
                owned = await self.store.run(approval_ops.of_owner, f"inbound:{row.id}")
                if all(a.status != "pending" for a in owned):  # decided while we were down
                    await self._resume_inbound(str(row.id))
                continue
            resume = row.user_message_id if row.status == "running" else None
            if resume is not None:
                log.info("resuming message %d of %s after a restart", row.id, event.target)
            await self._queue(
                row.id, row.session_key, event, resume=resume, session_id=row.session_id
            )

    async def _resume_inbound(self, row_id: str) -> bool:
        """The approvals a chat turn waited on are decided: run it on, first in its
        chat. False while the turn is still suspending (it wakes the desk then)."""
        row = await self.store.run(ops.get_inbound, int(row_id))
        if row is None or row.status != "waiting":
            return row is None or row.status in ("done", "failed")
        if self.spread is not None and not self.spread.holds(row.session_key):
            return await self.spread.claim(row.session_key)  # resumed as it is taken
        event = Inbound.from_json(row.event)
        await self.store.run(ops.set_inbound_status, row.id, "running")

        async def job(chat: Chat) -> None:
            await turns.run_inbound(
                self, chat, row.id, event, row.user_message_id, row.session_id, decided=True
            )

        self.chats.resume(row.session_key, job)
        return True

    # ----- inbound ---------------------------------------------------------------

    async def accept(self, event: Inbound) -> None:
        """The adapters' sink: check the sender, store the message, queue it.
        Returns once it is committed (or refused): then the adapter may ack it."""
        adapter = self.adapters.get(event.platform)
        if adapter is not None:
            adapter.last_inbound = self.clock()  # liveness: the platform flows
        if adapter is not None and event.callback_id:
            self.spawn(adapter.acknowledge(event), "acknowledge")
        if not await self._allowed(event, adapter):
            return
        serving = self.route(event.target)
        with serving._serving():
            await serving.take(event)

    async def _allowed(self, event: Inbound, adapter: Adapter | None) -> bool:
        """Who may talk to the bot is the listening gateway's question, asked once."""
        if adapter is None or not adapter.trusted:
            decision = await self.access.check(event, trusted=False)
            if not decision.allowed:
                log.info("refused %s user %s (%s)", event.platform, event.user, event.user_name)
                if decision.reply:  # the same answer is given once, not per message
                    digest = hashlib.sha256(decision.reply.encode()).hexdigest()[:16]
                    await self.queue_reply(
                        f"pairing:{event.platform}:{event.user}:{digest}",
                        event.target,
                        decision.reply,
                    )
                return False
        return True

    async def _report_child(self, row: TaskRow) -> None:
        """A delegated result the parent did not wait for: a new turn in its chat
        (once: the task id is the message's external id)."""
        if not row.origin:
            return
        target = Target.parse(row.origin)
        text = new_turn_text(row)
        user = (row.requester or "").split(":", 1)[-1] or "hermes"
        event = Inbound(
            target.platform, target.chat, user, text, f"delegate:{row.id}", target.thread
        )
        await self.route(target).take(event)

    async def take(self, event: Inbound) -> None:
        """An allowed event of a chat this gateway serves: a button, or a message
        stored (committed before this returns) and queued."""
        if event.callback_data:
            self.spawn(work.run_button(self, event), "button")
            return
        key = event.session_key(self.profile.name)
        row_id = await self.store.run(
            ops.insert_inbound,
            event.platform,
            event.external_id,
            key,
            event.to_json(),
            self.clock(),
        )
        if row_id is None:
            log.info("dropped a redelivered %s message %s", event.platform, event.external_id)
            return
        if self.spread is not None:  # a cluster: the replica holding the chat runs it
            row = ops.InboundRow(
                row_id, event.platform, key, event.to_json(), "pending", None, None, self.clock()
            )
            await self.spread.offer(row)
            return
        await self._queue(row_id, key, event)

    async def _queue(
        self,
        row_id: int,
        key: str,
        event: Inbound,
        *,
        resume: int | None = None,
        session_id: str | None = None,
    ) -> None:
        if self.spread is not None:  # a cluster: the sweep looks here
            self._queued[row_id] = key
        chat = self.chats.get(key)
        if turns.is_immediate(event.text):  # /stop, /status...: answered even mid-turn
            self._command(chat, turns.run_immediate(self, chat, row_id, event))
            return
        steered = await self._steered(event) if resume is None else None
        if steered is not None and not event.text.startswith("/"):
            self._command(chat, work.run_steer(self, row_id, event, steered))
            return
        interrupt = (
            self.profile.settings.gateway.busy_input_mode == "interrupt"
            and resume is None
            and not event.text.startswith("/")
        )

        async def job(chat: Chat) -> None:
            await turns.run_inbound(self, chat, row_id, event, resume, session_id)

        if chat.waiting is not None and resume is None:
            self.spawn(work.held_notice(self, chat, row_id, event), "held")
        self.chats.submit(key, job, interrupt=interrupt)

    async def _steered(self, event: Inbound) -> str | None:
        """The walkaway task this chat's messages steer (a standby asks the store:
        the tasks run on the active replica)."""
        if not self.passive:
            return self.tasks.walkaway.steered_task(event.target)
        rows = await self.store.run(task_ops.listing, origin=str(event.target), open_only=True)
        return next((r.id for r in rows if r.kind == "walkaway"), None)

    def _command(self, chat: Chat, coro: Coroutine[Any, Any, None]) -> None:
        """Run a chat command beside the chat's turns; the chat is settled after it."""
        chat.commands += 1

        async def command() -> None:
            try:
                await coro
            finally:
                chat.commands -= 1
                if self.spread is not None:
                    self.spread.settle(chat)

        self.spawn(command(), "command")

    # ----- for the HTTP side -----------------------------------------------------

    async def api_turn(
        self,
        messages: list[Message],
        *,
        session: str | None,
        emit: EventSink,
        client: ClientTools | None = None,
    ) -> str:
        """One agent turn for the OpenAI-compatible API (see turns.api_turn)."""
        return await turns.api_turn(self, messages, session=session, emit=emit, client=client)

    async def current_session(self, target: Target, user: str | None = None) -> str | None:
        """The session a chat is in now (None before its first message)."""
        key = session_key(self.profile.name, target.platform, target.chat, target.thread, user)
        return await self.store.run(ops.chat_session, key)

    def platform_states(self) -> dict[str, str]:
        return {name: a.state for name, a in self.adapters.items()}

    def platform_details(self) -> dict[str, dict[str, str | float | None]]:
        """Per platform: state, last_inbound and last_sent (unix seconds or None)."""
        return {name: a.details() for name, a in self.adapters.items()}
