"""Cron results that could not be delivered when their run was claimed (no chat
had run /sethome, or the job's platform was not connected) are kept, never
dropped: the run row says why, the result stays in its task, the log warns,
and `hermes doctor` and the dashboard count them.

Once the target can be reached, they are delivered late, each with a note
saying when it ran: the scheduler looks after every round (so within a minute
of a run finishing), and /sethome wakes it. To one target at most LATE_MAX
results go at once, the newest; older ones are summed up in one line (they
stay in `hermes tasks list --all`). A run whose job was removed, whose target
is now "none", or that was cancelled is marked handled without a message.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from hermes.gateway.events import Target
from hermes.gateway.tasks import result_text
from hermes.store import cron_ops, kept_ops, task_ops
from hermes.store.cron_ops import JobRow
from hermes.store.gateway_ops import NewDelivery
from hermes.store.kept_ops import KeptRun

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from hermes.gateway.ports import Services

log = logging.getLogger("hermes.gateway")
LATE_MAX = 5


async def warn_kept(gw: Services, task_ids: list[str]) -> None:
    """Log a warning for each run just claimed whose result will be kept."""
    kept = await gw.store.run(kept_ops.reasons, task_ids)
    for task_id, (job_id, why) in kept.items():
        log.warning(
            "cron: run %s of job %s cannot be delivered (%s); its result is kept and "
            "delivered once the target can be reached (hermes doctor lists such runs)",
            task_id,
            job_id,
            why,
        )


async def deliver_kept(gw: Services, tz: ZoneInfo) -> int:
    """Queue the kept results whose target can be reached now; how many were queued."""
    runs = await gw.store.run(kept_ops.finished)
    if not runs:
        return 0
    ready = set(gw.adapters)
    handled: list[str] = []
    to: dict[str, list[tuple[KeptRun, JobRow]]] = {}
    for run in runs:
        job = await gw.store.run(cron_ops.get, run.job_id)
        if job is None or run.status == "cancelled" or job.deliver == "none":
            handled.append(run.task_id)
            continue
        target, _why = await gw.store.run(cron_ops.route, job, ready)
        if target is not None:
            to.setdefault(target, []).append((run, job))
    deliveries: list[NewDelivery] = []
    for target, items in to.items():
        deliveries += await _late(gw, tz, Target.parse(target), items)
        handled += [run.task_id for run, _ in items]
    if not handled:
        return 0
    await gw.store.run(kept_ops.settle, deliveries, handled, gw.clock())
    for target in to:
        gw.wake(Target.parse(target).platform)
    if to:
        log.info("cron: %d kept result(s) queued for late delivery", len(deliveries))
    return len(deliveries)


async def _late(
    gw: Services, tz: ZoneInfo, target: Target, items: list[tuple[KeptRun, JobRow]]
) -> list[NewDelivery]:
    older, newest = items[:-LATE_MAX], items[-LATE_MAX:]
    rows = {r.id: r for r in await gw.store.run(task_ops.get_many, [k.task_id for k, _ in newest])}
    out: list[NewDelivery] = []
    if older:
        text = (
            f"⚠️ {len(older)} older cron result(s) for this chat could not be delivered when "
            "they ran; they are kept: hermes tasks list --all"
        )
        out.append(_to(target, f"kept:{older[-1][0].task_id}:older", text))
    for run, job in newest:
        row = rows.get(run.task_id)
        if row is None:
            continue
        when = datetime.fromtimestamp(run.claimed_at, tz).strftime("%Y-%m-%d %H:%M %Z")
        ok = run.status == "done"
        body = result_text(row, ok, (run.result if ok else run.error) or "", job.name)
        why = run.undelivered
        note = f"⚠️ Delivered late: this ran at {when}, when it could not be delivered ({why})."
        out.append(_to(target, f"task:{run.task_id}:late", f"{note}\n\n{body}"))
    return out


def _to(target: Target, key: str, text: str) -> NewDelivery:
    return NewDelivery(key, target.platform, target.chat, target.thread, text)
