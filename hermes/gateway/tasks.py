"""Tasks: background and walkaway runs (later delegated and cron ones), each
in its own agent session, reported back to the chat they came from.

A task is a row in state.db first (hermes/store/task_ops.py), then an owned
asyncio task under an explicit limit. It can suspend on an approval like a
chat turn (status waiting_approval; the Desk resumes it), and a gateway that
stops or crashes leaves it `running`, to be resumed at the next start. The
result or the error goes through the delivery ledger in the same transaction
that finishes the row, so it is delivered once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from hermes.agent.conversation import Conversation
from hermes.agent.events import AgentEvent, ToolStarted, ToolWaiting
from hermes.agent.loop import TurnResult, tool_call_summary
from hermes.approvals.gate import ApprovalGate
from hermes.errors import HermesError
from hermes.gateway.approvals import ChatAsker, rerun_rule
from hermes.gateway.delegation import child_tools
from hermes.gateway.events import Target
from hermes.gateway.ports import Services, Waker
from hermes.gateway.walkaway import WALKAWAY_BRIEF, Walkaways
from hermes.store import approval_ops, cron_ops, task_ops
from hermes.store.gateway_ops import NewDelivery
from hermes.store.task_ops import TaskRow
from hermes.tools.registry import default_tools

if TYPE_CHECKING:
    from hermes.context import ToolServices
    from hermes.gateway.approvals import Desk
    from hermes.gateway.delegation import Delegation

log = logging.getLogger("hermes.gateway")

TITLE = {
    "background": "Background task",
    "walkaway": "Walkaway task",
    "delegate": "Delegated task",
    "cron": "Cron job",
}
CRON_BRIEF = (
    "This is a scheduled job ({name}, {schedule}) running unattended; nobody is watching "
    "the conversation. Your final answer is the job's result: {where}. Do the job now:\n\n"
)


def cut_prompt(prompt: str, limit: int = 32) -> str:
    """The prompt on one line, cut at a word to about `limit` characters with '...'."""
    line = " ".join(prompt.split())
    if len(line) <= limit + 3:
        return line
    cut = line[: limit + 1]
    cut = cut[: cut.rfind(" ")] if " " in cut else line[:limit]
    return cut.rstrip(" ,.;:") + "..."


def started_text(row: TaskRow) -> str:
    if row.kind == "walkaway":
        return (
            f'🚶 Walkaway task started: "{cut_prompt(row.prompt)}"\nTask ID: {row.id}\n'
            "I will ping you at each milestone; reply here to steer me."
        )
    return f'🔄 Background task started: "{cut_prompt(row.prompt)}"\nTask ID: {row.id}'


def result_text(row: TaskRow, ok: bool, text: str, job: str | None = None) -> str:
    """What the task's chat is told at the end. `job`: the cron job's name."""
    title = TITLE.get(row.kind, "Task")
    if job is not None:
        return f"⏰ {job}\n{text or '(no answer)'}" if ok else f'❌ Cron job "{job}" failed\n{text}'
    if not ok:
        return f"❌ {title} failed\n{text}"
    icon = "🏁" if row.kind == "walkaway" else "✅"
    return f"{icon} {title} complete\n{text or '(no answer)'}"


def cancelled_text(row: TaskRow, by: str) -> str:
    return f"⏹ {TITLE.get(row.kind, 'Task')} {row.id} cancelled ({by})."


def to_origin(row: TaskRow, key: str, text: str) -> NewDelivery | None:
    """A message for the task's chat (None if it has none), for the ledger."""
    if not row.origin:
        return None
    target = Target.parse(row.origin)
    return NewDelivery(key, target.platform, target.chat, target.thread, text)


class TaskHost(Services, Protocol):
    """What the task runner uses of the gateway."""

    @property
    def desk(self) -> Desk: ...

    @property
    def scheduler(self) -> Waker: ...


class TaskRunner:
    def __init__(self, gw: TaskHost, limit: int, *, ping_after: float = 600.0) -> None:
        self.gw = gw
        self.limit = asyncio.Semaphore(limit)
        self.running: dict[str, asyncio.Task[None]] = {}
        self.walkaway = Walkaways(gw, ping_after)
        self.delegation: Delegation | None = None  # set by the gateway
        self.services: ToolServices | None = None  # the gateway's, for the tasks' tools
        self._cancelled: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # ----- starting, resuming, cancelling ---------------------------------------

    async def create(
        self, kind: str, prompt: str, origin: Target | None, requester: str | None = None
    ) -> TaskRow:
        """Store a queued task (start it with `launch`, after announcing it).
        `requester`: PLATFORM:USER who started it from a chat (decides its approvals)."""
        if not prompt.strip():
            raise HermesError(f"/{kind} needs a prompt, e.g. /{kind} check the backups")
        row = await self.gw.store.run(
            task_ops.insert,
            kind,
            prompt.strip(),
            str(origin) if origin else None,
            self.gw.clock(),
            requester,
        )
        log.info("task %s queued: %s", row.id, row.prompt[:200])
        return row

    async def start(self, kind: str, prompt: str, origin: Target | None) -> TaskRow:
        row = await self.create(kind, prompt, origin)
        self.launch(row)
        return row

    async def recover(self) -> None:
        """At start: run what was queued, resume what was running, and what was
        waiting on approvals that are all decided by now."""
        for row in await self.gw.store.run(task_ops.open_tasks):
            if row.status == "waiting_approval":
                pending = [
                    a
                    for a in await self.gw.store.run(approval_ops.of_owner, f"task:{row.id}")
                    if a.status == "pending"
                ]
                if pending:
                    self.walkaway.note(row)
                    continue
            self.launch(row)

    async def resume(self, task_id: str) -> bool:
        """The Desk's resumer: the task's approvals are decided. False while the
        task is still suspending (it wakes the desk when it is done)."""
        if task_id in self.running:
            return False
        row = await self.gw.store.run(task_ops.get, task_id)
        if row is not None and not row.finished:
            self.launch(row)
        return True

    async def cancel(self, task_id: str, by: str) -> str:
        gw = self.gw
        row = await gw.store.run(task_ops.get, task_id)
        if row is None:
            return f"No task {task_id!r}; /tasks lists this chat's tasks."
        if row.finished:
            return f"Task {row.id} already {row.status}."
        if not await self.stop(row.id, "cancelled", f"cancelled by {by}", by=by):
            return f"Task {row.id} had just finished."
        return f"Cancelled {row.id}."

    async def stop(self, task_id: str, status: str, error: str, *, by: str = "") -> bool:
        """End an open task as `cancelled` or `timed_out`: its row (and message) first,
        then its approvals, its running turn, its processes and its children.
        False if it had finished already."""
        gw = self.gw
        row = await gw.store.run(task_ops.get, task_id)
        if row is None or row.finished:
            return False
        text = cancelled_text(row, by) if status == "cancelled" else f"⏱ {row.id}: {error}."
        finished = await gw.store.run(
            task_ops.finish,
            row.id,
            status,
            gw.clock(),
            error=error,
            delivery=to_origin(row, f"task:{row.id}:result", text),
            unless_waited=True,  # a waiting parent gets it as its tool's result
        )
        if not finished:
            return False
        await gw.store.run(approval_ops.cancel_owner, f"task:{row.id}", by or status, gw.clock())
        self.walkaway.forget(row.id)
        running = self.running.get(row.id)
        if running is not None:
            self._cancelled.add(row.id)
            running.cancel()
        if row.session_id is not None:
            await gw.processes.kill_session(row.session_id)
        if self.delegation is not None:
            if row.session_id is not None:
                await self.delegation.cancel_children(row.session_id, by or status)
            self.delegation.finished(replace(row, status=status))
        self._wake_origin(row)
        log.info("task %s %s: %s", row.id, status, error)
        return True

    async def close(self) -> None:
        """The gateway stops: running tasks stay `running`, resumed at the next start."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ----- running ---------------------------------------------------------------

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def launch_ids(self, task_ids: list[str]) -> None:
        """Launch tasks another transaction queued (cron runs just claimed)."""
        for row in await self.gw.store.run(task_ops.get_many, task_ids):
            self.launch(row)

    def launch(self, row: TaskRow) -> None:
        if row.id in self.running:
            return
        self.walkaway.note(row)
        task = self._spawn(self._run(row.id), f"task {row.id}")
        self.running[row.id] = task
        task.add_done_callback(lambda _: self.running.pop(row.id, None))

    async def _run(self, task_id: str) -> None:
        async with self.limit:
            row = await self.gw.store.run(task_ops.get, task_id)
            if row is None or row.finished:
                return
            try:
                if await self._run_row(row):  # suspended on an approval
                    self.running.pop(task_id, None)
                    self.gw.desk.wake()  # a decision may have come in meanwhile
            except asyncio.CancelledError:
                if task_id not in self._cancelled:
                    raise  # the gateway stops: the stored run resumes at the next start
                self._cancelled.discard(task_id)
            except Exception as exc:
                if not isinstance(exc, HermesError):
                    log.exception("task %s failed", task_id)
                await self._finish(row, False, f"{type(exc).__name__}: {exc}"[:2000])

    async def _run_row(self, row: TaskRow) -> bool:
        """Run (or resume) the task; True if it suspended on an approval."""
        gw = self.gw
        origin = Target.parse(row.origin) if row.origin else None
        job = await self._job(row)
        what = f'{TITLE.get(row.kind, "task").lower()} {row.id} "{job or cut_prompt(row.prompt)}"'
        asker = ChatAsker(gw.desk, f"task:{row.id}", origin, what, row.requester)
        tools = default_tools()
        if row.kind == "walkaway":
            tools.append(self.walkaway.progress_tool(row))
        if row.kind == "delegate":
            limit = gw.profile.settings.delegation.max_depth
            keep = child_tools([t.name for t in tools], row.depth, limit)
            tools = [t for t in tools if t.name in keep]
        conv = await Conversation.open(
            gw.profile,
            gw.store,
            gw.processes,
            source=row.kind,
            session_id=row.session_id,
            tools=tools,
            hooks=[ApprovalGate(gw.profile.settings.approvals, asker)],
        )
        if row.kind == "walkaway":
            conv.inbox = lambda: self.walkaway.steering(row.id)
        conv.origin, conv.services = row.origin, self.services
        if origin is not None:
            gw.targets[conv.session_id] = origin
        pinger = (
            self._spawn(self.walkaway.pings(row), f"pings {row.id}")
            if row.kind == "walkaway"
            else None
        )
        try:
            result = await self._turn(row, conv)
        finally:
            if pinger is not None:
                pinger.cancel()
            await conv.close()
        if result is None:
            await self._finish(row, False, "the task's session was changed; it cannot go on")
        elif result.suspended:
            await gw.store.run(task_ops.set_status, row.id, "waiting_approval")
            await gw.store.run(
                task_ops.add_event, row.id, "note", "; ".join(result.waiting), gw.clock()
            )
            return True
        else:
            await self._finish(row, True, result.text)
        return False

    async def _turn(self, row: TaskRow, conv: Conversation) -> TurnResult | None:
        gw = self.gw

        def emit(event: AgentEvent) -> None:
            if isinstance(event, ToolStarted | ToolWaiting):  # a step, run or waiting to
                self._event(row.id, "tool", tool_call_summary(event.call, 200))

        if row.status == "queued":
            text = await self._first_message(row)
            await conv.add_user(
                text,
                also=lambda conn, ids: task_ops.start(
                    conn, row.id, conv.session_id, ids[0], gw.clock()
                ),
                title=row.prompt,
            )
            log.info("task %s started in session %s", row.id, conv.session_id)
            return await conv.run_turn(emit)
        await gw.store.run(task_ops.set_status, row.id, "running")
        rerun = await rerun_rule(gw.store, f"task:{row.id}", row.status == "waiting_approval")
        assert row.user_message_id is not None
        log.info("task %s resumed", row.id)
        return await conv.resume(row.user_message_id, emit, rerun=rerun)

    async def _first_message(self, row: TaskRow) -> str:
        if row.kind == "walkaway":
            return WALKAWAY_BRIEF + row.prompt
        if row.kind != "cron":
            return row.prompt
        job = await self.gw.store.run(cron_ops.get, row.job_id or "")
        where = f"it is sent to {row.origin}" if row.origin else "it is kept in the job's history"
        name = job.name if job else cut_prompt(row.prompt)
        schedule = job.schedule if job else "run by hand"
        return CRON_BRIEF.format(name=name, schedule=schedule, where=where) + row.prompt

    async def _job(self, row: TaskRow) -> str | None:
        """A cron run's job name (its prompt cut short if the job was removed)."""
        if row.kind != "cron":
            return None
        job = await self.gw.store.run(cron_ops.get, row.job_id or "")
        return job.name if job else cut_prompt(row.prompt)

    async def _finish(self, row: TaskRow, ok: bool, text: str) -> None:
        job = await self._job(row)
        delivery = to_origin(row, f"task:{row.id}:result", result_text(row, ok, text, job))
        finished = await self.gw.store.run(
            task_ops.finish,
            row.id,
            "done" if ok else "failed",
            self.gw.clock(),
            result=text if ok else None,
            error=None if ok else text,
            delivery=delivery,
            unless_waited=True,  # a waiting parent gets it as its tool's result
        )
        log.info("task %s %s", row.id, "done" if ok else f"failed: {text[:200]}")
        self.walkaway.forget(row.id)
        if finished and self.delegation is not None:
            self.delegation.finished(replace(row, status="done" if ok else "failed"))
        self._wake_origin(row)

    def _wake_origin(self, row: TaskRow) -> None:
        if row.origin:
            self.gw.wake(Target.parse(row.origin).platform)

    def _event(self, task_id: str, kind: str, text: str) -> None:
        self._spawn(
            self.gw.store.run(task_ops.add_event, task_id, kind, text, self.gw.clock()),
            "task event",
        )
