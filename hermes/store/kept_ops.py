"""Cron results kept because their target could not be reached when the run was
claimed (no home channel yet, a platform not connected): the ``cron_runs``
rows with ``undelivered`` set and no ``late_at``.

Nothing is dropped: the result stays in the run's task, `hermes doctor` and
the dashboard count these runs, and hermes/gateway/kept.py delivers them late
once the target can be reached (a chat ran /sethome, the platform connected).

Synchronous functions for ``await store.run(kept_ops.fn, ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hermes.store.db import Conn, transaction
from hermes.store.gateway_ops import NewDelivery, _insert_delivery

_KEPT = "r.undelivered IS NOT NULL AND r.late_at IS NULL"


@dataclass(frozen=True)
class KeptRun:
    task_id: str
    job_id: str
    status: str  # the task's: done | failed | cancelled
    result: str | None
    error: str | None
    claimed_at: float
    undelivered: str  # why it could not be delivered then


def finished(conn: Conn, limit: int = 1000) -> list[KeptRun]:
    """Kept runs whose task has finished, oldest first."""
    rows = conn.execute(
        "SELECT r.task_id, r.job_id, t.status, t.result, t.error, r.claimed_at, r.undelivered"
        f" FROM cron_runs r JOIN tasks t ON t.id = r.task_id WHERE {_KEPT}"
        " AND t.status IN ('done', 'failed', 'cancelled') ORDER BY r.claimed_at LIMIT ?",
        (limit,),
    ).fetchall()
    return [KeptRun(*r) for r in rows]


def settle(conn: Conn, deliveries: list[NewDelivery], task_ids: list[str], now: float) -> None:
    """In one transaction: queue the late deliveries and mark those runs handled
    (delivered late, or given up: too old, cancelled, job removed)."""
    with transaction(conn):
        for d in deliveries:
            _insert_delivery(conn, d, now)
        conn.executemany(
            "UPDATE cron_runs SET late_at = ? WHERE task_id = ?", [(now, t) for t in task_ids]
        )


def per_job(conn: Conn) -> dict[str, dict[str, Any]]:
    """job id -> {"count": kept runs, "reason": the newest one's} (for the API)."""
    rows = conn.execute(
        "SELECT r.job_id, COUNT(*), (SELECT r2.undelivered FROM cron_runs r2"
        " WHERE r2.job_id = r.job_id AND r2.undelivered IS NOT NULL AND r2.late_at IS NULL"
        f" ORDER BY r2.claimed_at DESC LIMIT 1) FROM cron_runs r WHERE {_KEPT}"
        " GROUP BY r.job_id"
    ).fetchall()
    return {str(j): {"count": int(n), "reason": str(why)} for j, n, why in rows}


def summary(conn: Conn) -> tuple[int, str | None]:
    """(kept runs, the newest one's reason) for `hermes doctor`."""
    row = conn.execute(f"SELECT COUNT(*) FROM cron_runs r WHERE {_KEPT}").fetchone()
    newest = conn.execute(
        f"SELECT r.undelivered FROM cron_runs r WHERE {_KEPT} ORDER BY r.claimed_at DESC LIMIT 1"
    ).fetchone()
    return int(row[0]), (str(newest[0]) if newest else None)


def reasons(conn: Conn, task_ids: list[str]) -> dict[str, tuple[str, str]]:
    """task id -> (job id, why its result is kept), for the runs among `task_ids` kept."""
    if not task_ids:
        return {}
    marks = ",".join("?" * len(task_ids))
    rows = conn.execute(
        f"SELECT task_id, job_id, undelivered FROM cron_runs WHERE task_id IN ({marks})"
        " AND undelivered IS NOT NULL",
        task_ids,
    ).fetchall()
    return {str(t): (str(j), str(why)) for t, j, why in rows}
