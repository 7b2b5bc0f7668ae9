"""What a killed gateway leaves behind, dealt with at the next start.

- Tool processes: the ProcessManager records each process group a tool starts
  in state.db (`StoredProcessLedger`) and removes the record when it ends. At
  start, before any turn resumes, `end_processes` kills the groups still
  recorded (SIGTERM, SIGKILL after a short grace; a recycled pid is left
  alone), logs each, and keeps the record until the resumed turn of its
  session reports it: `report_killed` gives the interrupted call the result
  "its process (pid, command) was killed at the restart" instead of the
  generic one, so the agent knows, and the call is not run a second time.
  A background process killed this way stays known to the `process` tool.
- The streamed draft: its message id is stored on the inbound row as soon as
  it is sent (`draft_recorder`); a turn resumed after a crash edits its stray
  draft (`⚙ terminal: ...` forever, otherwise) into a short note
  (`clean_stray_draft`) before the work goes on in a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING

from hermes.agent.conversation import Conversation
from hermes.gateway.events import Target
from hermes.platforms.adapter import Adapter, SendError
from hermes.store import Store, gateway_ops, leftover_ops
from hermes.store.leftover_ops import ToolProcessRow
from hermes.tools.proc_ledger import ProcRecord, end_leftover

if TYPE_CHECKING:
    from hermes.gateway.ports import Services

log = logging.getLogger("hermes.gateway")

STRAY_DRAFT_NOTE = "⏹ Interrupted by a restart; continued below."


class StoredProcessLedger:
    """The ProcessLedger (hermes/tools/proc_ledger.py) in a home's state.db."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.owner: str | None = None  # this cluster replica's id (set when it joins)

    async def started(self, record: ProcRecord) -> int:
        r = record
        return await self.store.run(
            leftover_ops.add_process,
            r.pid,
            r.pid,  # started in a new session: the shell leads its own group
            r.start_ticks,
            r.boot_id,
            r.command,
            r.cwd,
            r.kind,
            r.proc_id,
            r.session_id,
            self.clock(),
            self.owner,
        )

    async def ended(self, key: int) -> None:
        await self.store.run(leftover_ops.end_process, key)


def _what(row: ToolProcessRow) -> str:
    name = f"background process {row.proc_id}" if row.proc_id else "process"
    return f"{name} (pid {row.pid}, `{_clip(row.command)}`)"


def _clip(command: str, limit: int = 200) -> str:
    line = " ".join(command.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


_OUTCOMES = {
    "killed": "was still running and was killed at the restart",
    "gone": "had already ended by the restart; its output is lost",
    "unknown": "may still be running (this system cannot tell it from another process "
    "with that pid): check with ps before starting it again",
}


async def end_processes(gw: Services, alive: Collection[str] = ()) -> None:
    """At start, before turns resume: end the process groups a dead run of this
    gateway left, and keep their records for the turns that will report them.
    ALIVE: the cluster's live replicas, whose processes are theirs to end."""
    rows = await gw.store.run(leftover_ops.running_processes, alive)
    if rows:
        states = await asyncio.gather(
            *(end_leftover(r.pgid, r.start_ticks, r.boot_id) for r in rows)
        )
        for row, state in zip(rows, states, strict=True):
            outcome = f"{_what(row)} {_OUTCOMES[state]}"
            await gw.store.run(leftover_ops.mark_leftover, row.id, state, outcome, gw.clock())
            where = f"session {row.session_id}" if row.session_id else "no session"
            log.warning("left by the previous run (%s): %s", where, outcome)
            if row.proc_id is not None:
                gw.processes.remember(
                    row.proc_id,
                    row.command,
                    row.cwd,
                    row.pid,
                    row.started_at,
                    row.session_id,
                    f"[the gateway restarted: this process {_OUTCOMES[state]}]",
                )
    # Keep the records a resumed turn will report; forget the rest (logged above).
    open_rows = await gw.store.run(gateway_ops.open_inbound)
    keep = {r.session_id for r in open_rows if r.session_id and r.status != "pending"}
    await gw.store.run(leftover_ops.drop_leftovers, keep)


async def report_killed(gw: Services, conv: Conversation, user_message_id: int) -> None:
    """Before a turn resumes: its calls that were running when the gateway died get
    a result naming what became of their process (a foreground `terminal` call by
    its command, a `process` call by the background process's id)."""
    rows = await gw.store.run(leftover_ops.take_leftovers, conv.session_id)
    if not rows:
        return
    left = list(rows)
    for call in conv.unanswered(user_message_id):
        try:
            args = call.parsed_arguments()
        except ValueError:
            continue
        match = None
        for row in left:
            if row.kind == "foreground" and call.name == "terminal":
                found = args.get("command") == row.command and not args.get("background")
            else:
                found = call.name == "process" and args.get("id") == row.proc_id
            if found:
                match = row
                break
        if match is None:
            continue
        left.remove(match)
        text = (
            f"[not finished: the gateway restarted while this ran; its {match.outcome}. "
            "Check the state before repeating it]"
        )
        await conv.answer_unanswered(text, [call])


def draft_recorder(store: Store, row_id: int) -> Callable[[str], Awaitable[None]]:
    """Stores a turn's draft message id on its inbound row (see DraftStreamer.on_draft)."""

    async def record(message_id: str) -> None:
        await store.run(leftover_ops.set_draft, row_id, message_id)

    return record


async def forget_draft(store: Store, row_id: int) -> None:
    """The turn's draft is not stray (the turn suspended, leaving it on purpose)."""
    await store.run(leftover_ops.set_draft, row_id, None)


async def clean_stray_draft(
    store: Store, adapter: Adapter | None, target: Target, row_id: int
) -> None:
    """A turn cut by a crash left its draft in the chat: edit it into a short note
    (once; a failed edit is logged, not retried: the draft is only a preview)."""
    draft = await store.run(leftover_ops.get_draft, row_id)
    if draft is None:
        return
    if adapter is not None and adapter.capabilities.can_edit:
        try:
            await adapter.edit(target, draft, STRAY_DRAFT_NOTE)
        except SendError as exc:
            log.info("could not edit the stray draft %s in %s: %s", draft, target, exc)
        except Exception:
            log.exception("editing the stray draft %s in %s failed", draft, target)
    await store.run(leftover_ops.set_draft, row_id, None)
