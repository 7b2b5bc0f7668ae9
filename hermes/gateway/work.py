"""Chat commands for work that outlives a turn: approvals (/approve, /deny,
the buttons), tasks (/background, /walkaway, /tasks), and what happens to a
message that arrives while its chat waits on an approval or is steering a
walkaway task. All are answered at once, even while a turn runs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from hermes.commands import clip
from hermes.gateway.approvals import Decider
from hermes.gateway.chats import Chat
from hermes.gateway.events import Inbound
from hermes.gateway.ports import Services
from hermes.gateway.tasks import TITLE, started_text
from hermes.store import approval_ops, task_ops, task_tree
from hermes.store import gateway_ops as ops

if TYPE_CHECKING:
    from hermes.gateway.approvals import Desk
    from hermes.gateway.chats import Chats
    from hermes.gateway.tasks import TaskRunner

HELP = {
    "/background": "run PROMPT as a separate task; the result comes back here",
    "/walkaway": "a long task that pings you at milestones; reply here to steer it",
    "/tasks": "this chat's tasks (/tasks cancel ID stops one)",
    "/approve": "approve a pending action (/approve ID)",
    "/deny": "deny a pending action (/deny ID)",
}
COMMANDS = set(HELP)
STOPPED = "[not run: the user stopped this turn before approving it]"


class WorkHost(Services, Protocol):
    """What these commands use of the gateway: its chats, approvals desk and tasks."""

    @property
    def chats(self) -> Chats: ...

    @property
    def desk(self) -> Desk: ...

    @property
    def tasks(self) -> TaskRunner: ...


def _by(event: Inbound) -> str:
    return f"{event.platform}:{event.user_name or event.user}"


def requester(event: Inbound) -> str:
    """Who asked for the work, as approvals record it (PLATFORM:USER id)."""
    return f"{event.platform}:{event.user}"


def _decider(gw: WorkHost, event: Inbound) -> Decider:
    adapter = gw.adapters.get(event.platform)
    return Decider(event.platform, event.user, trusted=adapter is not None and adapter.trusted)


def _age(since: float) -> str:
    seconds = max(0, int(time.time() - since))
    if seconds < 120:
        return f"{seconds}s"
    return f"{seconds // 60}m" if seconds < 7200 else f"{seconds // 3600}h"


async def run_command(gw: WorkHost, chat: Chat, row_id: int, event: Inbound) -> None:
    name, _, rest = event.text.strip().partition(" ")
    name, rest = name.lower(), rest.strip()
    if name in ("/background", "/walkaway"):
        kind = name[1:]
        if kind == "walkaway" and gw.tasks.walkaway.steered_task(event.target):
            busy = gw.tasks.walkaway.steered_task(event.target)
            await gw.finish_inbound(row_id, event, f"A walkaway task ({busy}) already runs here.")
            return
        if not rest:
            await gw.finish_inbound(
                row_id, event, f"Usage: {name} PROMPT, e.g. {name} check the backups"
            )
            return
        row = await gw.tasks.create(kind, rest, event.target, requester(event))
        await gw.finish_inbound(row_id, event, started_text(row))  # queued before any result
        gw.tasks.launch(row)
        return
    if name == "/tasks":
        await gw.finish_inbound(row_id, event, await _tasks_text(gw, event, rest))
        return
    await gw.finish_inbound(row_id, event, await _decide_text(gw, event, name == "/approve", rest))


async def _tasks_text(gw: WorkHost, event: Inbound, rest: str) -> str:
    words = rest.split()
    if len(words) == 2 and words[0].lower() == "cancel":
        return await gw.tasks.cancel(words[1], _by(event))
    rows = await gw.store.run(task_ops.listing, origin=str(event.target), limit=10)
    if not rows:
        return "No tasks in this chat yet. Start one with /background PROMPT."
    parents = await gw.store.run(task_ops.in_sessions, [r.parent for r in rows if r.parent])
    lines = [_task_line(line) for line in task_tree.nest(rows, parents)]
    return "\n".join([*lines, "Details: hermes tasks show ID · stop one: /tasks cancel ID"])


ICONS = {"done": "✅", "failed": "❌", "cancelled": "⏹", "timed_out": "⏱", "waiting_approval": "⏸"}


def _task_line(line: task_tree.Line) -> str:
    """One task of /tasks; a delegated child is "↳", under its parent task when listed."""
    r, about = line.row, task_tree.headline(line.row)
    text = (
        f"{ICONS.get(r.status, '🔄')} {r.id} {r.status.replace('_', ' ')}, {_age(r.created_at)}"
        f' ago — "{about[:40]}{"…" if len(about) > 40 else ""}"'
    )
    if not line.child:
        return text
    if line.level == 0:
        text += f" ({task_tree.delegated_by(line, 'the agent in this chat')})"
    return "   " * max(0, line.level - 1) + "↳ " + text


async def _decide_text(gw: WorkHost, event: Inbound, approve: bool, rest: str) -> str:
    decider = _decider(gw, event)
    if rest:
        return await gw.desk.decide(rest.split()[0], approve, _by(event), decider)
    here = [
        a
        for a in await gw.store.run(approval_ops.listing, status="pending")
        if a.origin == str(event.target) and gw.desk.may_decide(a, decider)
    ]
    if not here:
        return "No approvals are pending in this chat that you may decide."
    if len(here) == 1:
        return await gw.desk.decide(here[0].id, approve, _by(event), decider)
    verb = "/approve" if approve else "/deny"
    return "Several are pending; say which:\n" + "\n".join(
        f"{verb} {a.id} — {a.risk}: {clip(a.action)}" for a in here
    )


async def run_button(gw: WorkHost, event: Inbound) -> None:
    """An inline button was pressed: approve:ID or deny:ID."""
    verb, _, approval_id = (event.callback_data or "").partition(":")
    if verb not in ("approve", "deny") or not approval_id:
        return
    text = await gw.desk.decide(approval_id, verb == "approve", _by(event), _decider(gw, event))
    key = f"button:{event.platform}:{event.callback_id or event.external_id}"
    await gw.queue_reply(key, event.target, text)


async def stop_waiting(gw: WorkHost, chat: Chat) -> bool:
    """/stop in a chat whose turn waits on an approval: withdraw the request, end
    the turn (its calls get a result saying they were not run), go on with the
    queue. True if there was such a turn."""
    if chat.waiting is None:
        return False
    row = await gw.store.run(ops.get_inbound, chat.waiting)
    if row is not None and row.status == "waiting":
        await gw.store.run(approval_ops.cancel_owner, f"inbound:{row.id}", "/stop", gw.clock())
        if chat.conv is not None and row.user_message_id is not None:
            calls = chat.conv.unanswered(row.user_message_id)
            await chat.conv.answer_unanswered(STOPPED, calls)
        await gw.finish_inbound(row.id, Inbound.from_json(row.event), "⏹ Stopped before it ran.")
    gw.chats.resume(chat.key, None)
    return True


async def run_steer(gw: WorkHost, row_id: int, event: Inbound, task_id: str) -> None:
    """A message in a chat with a walkaway task goes to that task."""
    await gw.tasks.walkaway.steer(task_id, event.agent_text())
    title = TITLE["walkaway"].lower()
    await gw.finish_inbound(row_id, event, f"↪ Passed to the {title} {task_id}; it reads it next.")


async def held_notice(gw: WorkHost, chat: Chat, row_id: int, event: Inbound) -> None:
    """Tell the sender why their message does not run yet."""
    if chat.waiting is None:
        return
    pending = [
        a
        for a in await gw.store.run(approval_ops.of_owner, f"inbound:{chat.waiting}")
        if a.status == "pending"
    ]
    if not pending:
        return
    ids = ", ".join(a.id for a in pending)
    await gw.queue_reply(
        f"held:{row_id}",
        event.target,
        f"⏸ This waits until approval {ids} is decided: /approve {pending[0].id} or "
        f"/deny {pending[0].id} (or /stop).",
    )
