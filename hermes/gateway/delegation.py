"""Delegation: the `delegate` tool's children, as task rows the TaskRunner runs.

A delegate call stores one `delegate` task per subtask in one transaction, tied to
the calling session and tool call (`tasks.parent`, `tasks.call_id`): the same call
run again after a restart finds its children instead of starting more. Each child
is a fresh session with a focused brief, the parent's model and its tools minus
delegate (unless `delegation.max_depth` allows one more level), memory, cron and
clarify. Its risky actions go to the parent's chat as approvals marked with the
child's task id (the TaskRunner's ChatAsker), decided like any other.

A child has a wall-clock deadline (`delegation.timeout_seconds`): a watchdog owned
here finishes it as `timed_out`, cancels its turn (which kills its command) and
kills its background processes. When the parent waits, the results are the tool's
result; /stop and /tasks cancel cancel its children. When it does not wait, or its
wait was cut short (the gateway stopped mid-turn: the turn's record then says the
call was interrupted), each result is delivered to the chat in the transaction that
finishes the child and then given to the parent's agent as a new turn in that chat;
a result not yet given (a restart in between) is given at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from hermes.errors import ToolError
from hermes.gateway.ports import Services
from hermes.store import task_ops
from hermes.store.task_ops import Child, TaskRow

if TYPE_CHECKING:
    from hermes.context import TurnContext

log = logging.getLogger("hermes.gateway")

NOT_FOR_CHILDREN = frozenset({"delegate", "memory", "cron", "clarify"})
BRIEF = (
    "You are a sub-agent: another agent gave you one focused task and waits for your "
    "result. Nobody else reads this conversation and nobody can answer questions: work "
    "with what you have, then answer with the result only, complete and self-contained "
    "(what you found or did, and anything that failed).\n\nTask: {goal}"
)
POLL_SECONDS = 1.0  # a waiting parent looks at its children's rows at least this often


def brief(goal: str, context: str | None) -> str:
    text = BRIEF.format(goal=goal.strip())
    if context and context.strip():
        text += f"\n\nContext from the other agent:\n{context.strip()}"
    return text


def child_tools(names: list[str], depth: int, max_depth: int) -> set[str]:
    """The tool names a child at DEPTH keeps of NAMES."""
    drop = set(NOT_FOR_CHILDREN)
    if depth < max_depth:
        drop.discard("delegate")
    return {n for n in names if n not in drop}


def said(row: TaskRow) -> tuple[str, str]:
    """A finished child as the parent's agent is told: (its status, its result or error)."""
    status = "succeeded" if row.status == "done" else row.status.replace("_", " ")
    body = row.result if row.status == "done" else row.error
    return status, (body or "(no answer)").strip()


def outcome(row: TaskRow) -> str:
    """A child's part of a waiting delegate call's result."""
    status, body = said(row)
    return f"## {row.id}: {status}\n{body}"


def new_turn_text(row: TaskRow) -> str:
    """A child's result for a parent that did not wait: the text of its new turn."""
    status, body = said(row)
    return (
        f"[the delegated task {row.id} you started {status}; the user has seen this result]\n{body}"
    )


def parse_tasks(raw: object, most: int) -> list[tuple[str, str | None]]:
    if not isinstance(raw, list) or not raw:
        raise ToolError("tasks must be a non-empty list of {goal, context?} objects")
    if len(raw) > most:
        raise ToolError(
            f"at most {most} tasks per delegate call (delegation.max_children); "
            "split the work or raise the limit"
        )
    found = []
    for item in raw:
        goal = item.get("goal") if isinstance(item, dict) else None
        if not isinstance(goal, str) or not goal.strip():
            raise ToolError('each task needs a non-empty goal, e.g. {"goal": "..."}')
        context = item.get("context")
        found.append((goal, context if isinstance(context, str) else None))
    return found


class Runner(Protocol):
    """What delegation uses of the task runner (hermes/gateway/tasks.py)."""

    @property
    def gw(self) -> Services: ...

    def launch(self, row: TaskRow) -> None: ...

    async def cancel(self, task_id: str, by: str) -> str: ...

    async def stop(self, task_id: str, status: str, error: str, *, by: str = "") -> bool: ...


class Delegation:
    def __init__(
        self,
        runner: Runner,
        spawn: Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]],
        report: Callable[[TaskRow], Awaitable[None]],
    ) -> None:
        self.runner = runner
        self.gw = runner.gw
        self._spawn = spawn
        self._report = report  # gives a not-waited-for result to the parent's chat
        self._changed = asyncio.Event()  # some child finished
        self._watched: set[str] = set()

    # ----- the tool's side -------------------------------------------------------

    async def delegate(self, ctx: TurnContext, raw: object, wait: bool) -> str:
        settings = ctx.profile.settings.delegation
        tasks = parse_tasks(raw, settings.max_children)
        store, now = self.gw.store, self.gw.clock()
        depth = await self._depth(ctx.session_id) + 1
        if depth > settings.max_depth:
            raise ToolError("a delegated task cannot delegate further (delegation.max_depth)")
        call_id = ctx.call_id or f"{ctx.session_id}:{time.monotonic_ns()}"
        children = [
            Child(
                brief(goal, context),
                ctx.origin,
                None,
                ctx.session_id,
                call_id,
                depth,
                now + settings.timeout_seconds,
                wait,
            )
            for goal, context in tasks
        ]
        rows = await store.run(task_ops.insert_children, children, now)
        for row in rows:
            self.start(row)
        if not wait:
            listed = ", ".join(r.id for r in rows)
            return (
                f"Started {len(rows)} delegated task(s): {listed}. Each result comes to this "
                "chat as a new message when it is done; /tasks shows their progress."
            )
        ids = [r.id for r in rows]
        try:
            done = await self._wait(ids)
        except asyncio.CancelledError:
            # The turn stops: its record says this call was interrupted, so nobody
            # waits any more. The children go on (a stopping gateway resumes them at
            # its next start) and their results come to the chat as new turns; /stop
            # cancels them itself (turns.run_immediate), with no new turn.
            await asyncio.shield(store.run(task_ops.set_unwaited, ids))
            raise
        return "\n\n".join(outcome(r) for r in done)

    async def _depth(self, session_id: str) -> int:
        rows = await self.gw.store.run(task_ops.of_session, session_id)
        return max((r.depth for r in rows if r.kind == "delegate"), default=0)

    async def _wait(self, ids: list[str]) -> list[TaskRow]:
        while True:
            self._changed.clear()
            rows = await self.gw.store.run(task_ops.get_many, ids)
            if all(r.finished for r in rows):
                return rows
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await self._changed.wait()

    # ----- the runner's side -----------------------------------------------------

    def start(self, row: TaskRow) -> None:
        """Run a child (or resume it) and watch its deadline."""
        if not row.finished:
            self.runner.launch(row)
        self.watch(row)

    def watch(self, row: TaskRow) -> None:
        if row.finished or row.deadline is None or row.id in self._watched:
            return
        self._watched.add(row.id)
        self._spawn(self._watchdog(row), f"deadline {row.id}")

    async def _watchdog(self, row: TaskRow) -> None:
        try:
            await asyncio.sleep(max(0.0, (row.deadline or 0) - self.gw.clock()))
            seconds = row.deadline - row.created_at if row.deadline else 0
            await self.runner.stop(row.id, "timed_out", f"timed out after {seconds:.0f} s")
        finally:
            self._watched.discard(row.id)

    def finished(self, row: TaskRow) -> None:
        """A child ended (any way): wake waiting parents, report an unwaited result."""
        self._changed.set()
        if row.kind == "delegate":  # (whether a parent still waits is the row's, now)
            self._spawn(self.report_pending(), f"report {row.id}")

    async def report_pending(self) -> None:
        for row in await self.gw.store.run(task_ops.unreported):
            if row.status != "cancelled":  # cancelled by the user: no turn to answer it
                await self._report(row)
            await self.gw.store.run(task_ops.mark_reported, [row.id], self.gw.clock())

    async def cancel_children(self, session_id: str, by: str) -> int:
        """Cancel the open children (and theirs) of SESSION_ID; how many."""
        count = 0
        for row in await self.gw.store.run(task_ops.children_of, session_id):
            if not row.finished:
                await self.runner.cancel(row.id, by)
                count += 1
        return count

    async def recover(self) -> None:
        """At start: nobody waits for a child any more (the process that waited is
        gone), so results not given yet become new turns; watch the open children's
        deadlines; give the results that are ready."""
        orphans = await self.gw.store.run(task_ops.orphaned_waits)
        if orphans:
            await self.gw.store.run(task_ops.set_unwaited, orphans)
        for row in await self.gw.store.run(task_ops.open_tasks):
            if row.kind == "delegate":
                self.watch(row)
        await self.report_pending()
