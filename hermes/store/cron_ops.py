"""The cron tables: jobs, and the claim that turns a due job into one task.

Exactly once: `claim_due` runs in ONE `BEGIN IMMEDIATE` transaction that
finds the due jobs, inserts each run's task (kind ``cron``) and its
``cron_runs`` row (``(job_id, due_at)`` unique) and moves ``next_run_at`` on
with a compare-and-set. Two processes claiming at once are serialized by
SQLite: the second finds nothing due. A crash after the commit leaves a
queued or running task, which the next start resumes like any task; a crash
before it leaves the job due, claimed at the next start. So a due run is
claimed exactly once, and missed runs coalesce into one (the caller's
`next_of` answers the next due time strictly after now).

Synchronous functions for ``await store.run(cron_ops.fn, ...)``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, fields
from typing import Any

from hermes.store import task_ops
from hermes.store.db import Conn, transaction

HOME_KEY = "home_channel"  # kv: the chat /sethome chose (see hermes/gateway/turns.py)
STATUSES = ("active", "paused", "done")
_COLS = (
    "id, name, schedule, prompt, deliver, origin, profile, status, next_run_at,"
    " last_run_at, last_task_id, runs, created_by, created_at, updated_at"
)
EDITABLE = ("name", "schedule", "prompt", "deliver", "next_run_at")


@dataclass(frozen=True)
class NewJob:
    name: str
    schedule: str  # canonical text (hermes/cron/schedule.py)
    prompt: str
    deliver: str  # origin | home | none | PLATFORM:CHAT[:THREAD]
    origin: str | None  # the chat the job was created in
    profile: str
    next_run_at: float | None
    created_by: str  # agent | api | cli | mcp | dashboard


@dataclass(frozen=True)
class JobRow:
    id: str
    name: str
    schedule: str
    prompt: str
    deliver: str
    origin: str | None
    profile: str
    status: str  # active | paused | done
    next_run_at: float | None
    last_run_at: float | None
    last_task_id: str | None
    runs: int
    created_by: str
    created_at: float
    updated_at: float

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _select(conn: Conn, where: str, args: tuple[Any, ...] = ()) -> list[JobRow]:
    rows = conn.execute(f"SELECT {_COLS} FROM cron_jobs WHERE {where}", args).fetchall()
    return [JobRow(*r) for r in rows]


def get(conn: Conn, job_id: str) -> JobRow | None:
    found = _select(conn, "id = ?", (job_id.strip(),))
    return found[0] if found else None


def insert(conn: Conn, job: NewJob, now: float) -> JobRow:
    with transaction(conn):
        job_id = f"job_{secrets.token_hex(3)}"
        while conn.execute("SELECT 1 FROM cron_jobs WHERE id = ?", (job_id,)).fetchone():
            job_id = f"job_{secrets.token_hex(3)}"
        status = "active" if job.next_run_at is not None else "done"
        conn.execute(
            f"INSERT INTO cron_jobs({_COLS}) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, ?, ?, ?)",
            (
                job_id,
                job.name,
                job.schedule,
                job.prompt,
                job.deliver,
                job.origin,
                job.profile,
                status,
                job.next_run_at,
                job.created_by,
                now,
                now,
            ),
        )
    found = get(conn, job_id)
    assert found is not None
    return found


def listing(conn: Conn, *, include_done: bool = True) -> list[JobRow]:
    """Jobs by next run (paused and finished ones last), then by creation."""
    where = "1 = 1" if include_done else "status != 'done'"
    return _select(conn, f"{where} ORDER BY next_run_at IS NULL, next_run_at, created_at, id")


def update(conn: Conn, job_id: str, now: float, **changes: Any) -> JobRow | None:
    """Change EDITABLE fields (a new schedule comes with its next_run_at). A paused
    job stays paused (its next run is computed when it resumes); a finished one-shot
    job given a new time is active again. None if there is no such job."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    with transaction(conn):
        job = get(conn, job_id)
        if job is None:
            return None
        status = job.status
        if "next_run_at" in changes:
            if status == "paused":
                changes["next_run_at"] = None
            else:
                status = "active" if changes["next_run_at"] is not None else "done"
        sets = "".join(f"{name} = ?, " for name in changes)
        conn.execute(
            f"UPDATE cron_jobs SET {sets}status = ?, updated_at = ? WHERE id = ?",
            (*changes.values(), status, now, job.id),
        )
    return get(conn, job_id)


def set_status(
    conn: Conn, job_id: str, status: str, next_run_at: float | None, now: float
) -> JobRow | None:
    """pause (next_run_at None) or resume (with the next due time)."""
    assert status in STATUSES
    with transaction(conn):
        conn.execute(
            "UPDATE cron_jobs SET status = ?, next_run_at = ?, updated_at = ? WHERE id = ?",
            (status, next_run_at, now, job_id),
        )
    return get(conn, job_id)


def remove(conn: Conn, job_id: str) -> bool:
    """Delete a job (its past runs stay in the tasks table)."""
    with transaction(conn):
        cur = conn.execute("DELETE FROM cron_jobs WHERE id = ?", (job_id.strip(),))
    return cur.rowcount == 1


def next_due(conn: Conn) -> float | None:
    """The earliest next_run_at of the active jobs (the scheduler sleeps until then)."""
    row = conn.execute("SELECT MIN(next_run_at) FROM cron_jobs WHERE status = 'active'").fetchone()
    return None if row is None or row[0] is None else float(row[0])


def count(conn: Conn, status: str | None = None) -> int:
    if status is None:
        row = conn.execute("SELECT COUNT(*) FROM cron_jobs").fetchone()
    else:
        row = conn.execute("SELECT COUNT(*) FROM cron_jobs WHERE status = ?", (status,)).fetchone()
    return int(row[0])


def target_of(conn: Conn, job: JobRow) -> str | None:
    """Where a run's result goes now: PLATFORM:CHAT[:THREAD], or None (kept in history)."""
    if job.deliver == "none":
        return None
    if job.deliver == "origin":
        return job.origin
    if job.deliver == "home":
        return home_channel(conn)
    return job.deliver


def home_channel(conn: Conn) -> str | None:
    """The chat /sethome chose (None until one did)."""
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (HOME_KEY,)).fetchone()
    return str(row[0]) if row else None


def route(conn: Conn, job: JobRow, ready: Collection[str] | None) -> tuple[str | None, str | None]:
    """(where a run's result goes now, why it cannot go where the job says). `ready`:
    the platforms connected (None: not known here, e.g. a command line)."""
    if job.deliver == "none":
        return None, None
    target = target_of(conn, job)
    if target is None:
        if job.deliver == "home":
            return None, "no home channel (no chat ran /sethome)"
        return None, "the job has no chat of origin"
    platform = target.split(":", 1)[0]
    if ready is not None and platform not in ready:
        return None, f"{platform} is not connected"
    return target, None


def _claim(
    conn: Conn,
    job: JobRow,
    due: float,
    now: float,
    by: str,
    ready: Collection[str] | None = None,
) -> str:
    """One run of `job`, due at `due`, inside the caller's transaction: its task and
    its run row (unique per job and due time). A result that cannot reach the job's
    target is kept: the run row says why (`undelivered`), for `deliver_kept`."""
    target, undelivered = route(conn, job, ready)
    task_id = task_ops.insert_in(conn, "cron", job.prompt, target, now, job.id)
    conn.execute(
        "INSERT INTO cron_runs(job_id, due_at, task_id, claimed_at, claimed_by, undelivered)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (job.id, due, task_id, now, by, undelivered),
    )
    conn.execute(
        "UPDATE cron_jobs SET last_run_at = ?, last_task_id = ?, runs = runs + 1 WHERE id = ?",
        (now, task_id, job.id),
    )
    return task_id


def claim_due(
    conn: Conn,
    now: float,
    by: str,
    next_of: Callable[[JobRow, float], float | None],
    limit: int = 500,
    ready: Collection[str] | None = None,
) -> list[str]:
    """Claim every active job due at `now`: returns the ids of the tasks to run.
    `next_of(job, now)`: the job's next due time after now (None: no more runs).
    A job whose schedule cannot be computed any more is paused, not retried forever."""
    claimed: list[str] = []
    with transaction(conn):
        due_jobs = _select(
            conn,
            "status = 'active' AND next_run_at <= ? ORDER BY next_run_at LIMIT ?",
            (now, limit),
        )
        for job in due_jobs:
            assert job.next_run_at is not None
            try:
                following = next_of(job, now)
            except ValueError:
                following, status = None, "paused"
            else:
                status = "active" if following is not None else "done"
            moved = conn.execute(
                "UPDATE cron_jobs SET next_run_at = ?, status = ? WHERE id = ?"
                " AND status = 'active' AND next_run_at = ?",
                (following, status, job.id, job.next_run_at),
            )
            if moved.rowcount != 1:
                continue
            if status != "paused":
                claimed.append(_claim(conn, job, job.next_run_at, now, by, ready))
    return claimed


def claim_now(
    conn: Conn,
    job_id: str,
    now: float,
    by: str,
    ready: Collection[str] | None = None,
) -> str | None:
    """Run a job now, off its schedule (`hermes cron run`): its task id, None if no job."""
    with transaction(conn):
        found = _select(conn, "id = ?", (job_id.strip(),))
        if not found:
            return None
        return _claim(conn, found[0], now, now, by, ready)


def adopt(conn: Conn, by: str) -> list[str]:
    """Take over the runs another process queued without running them (`hermes cron
    run` from the command line claims as "cli"): their task ids, now claimed `by`.
    Each is adopted once, by one gateway."""
    with transaction(conn):
        rows = conn.execute(
            "UPDATE cron_runs SET claimed_by = ? WHERE claimed_by = 'cli' AND task_id IN"
            " (SELECT id FROM tasks WHERE status = 'queued') RETURNING task_id",
            (by,),
        ).fetchall()
    return [str(r[0]) for r in rows]


def runs(conn: Conn, job_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The job's last runs, newest first: due and claim times with the task's outcome."""
    rows = conn.execute(
        "SELECT r.due_at, r.claimed_at, r.task_id, t.status, t.finished_at, r.undelivered,"
        " r.late_at FROM cron_runs r LEFT JOIN tasks t ON t.id = r.task_id"
        " WHERE r.job_id = ? ORDER BY r.due_at DESC LIMIT ?",
        (job_id, limit),
    ).fetchall()
    keys = ("due_at", "claimed_at", "task_id", "status", "finished_at", "undelivered", "late_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


ZONE_KEY = "cron_timezone"  # kv: the zone the stored next runs were computed in


def recorded_zone(conn: Conn) -> str | None:
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (ZONE_KEY,)).fetchone()
    return str(row[0]) if row else None


def note_zone(conn: Conn, zone_name: str) -> None:
    """Record the zone of the stored next runs, if none is recorded yet."""
    conn.execute(
        "INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (ZONE_KEY, zone_name)
    )


def retime(
    conn: Conn,
    now: float,
    following: Callable[[JobRow], float | None],
    zone_name: str,
) -> int:
    """Give each active job not yet due the next run `following(job)` answers (None:
    keep it), and record `zone_name` as the zone of the stored next runs. How many
    changed. A due job is left to its claim (no run is skipped)."""
    changed = 0
    with transaction(conn):
        for job in _select(conn, "status = 'active' AND next_run_at > ?", (now,)):
            new = following(job)
            if new is None or new == job.next_run_at:
                continue
            cur = conn.execute(
                "UPDATE cron_jobs SET next_run_at = ?, updated_at = ? WHERE id = ?"
                " AND status = 'active' AND next_run_at = ?",
                (new, now, job.id, job.next_run_at),
            )
            changed += cur.rowcount
        conn.execute(
            "INSERT INTO kv(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (ZONE_KEY, zone_name),
        )
    return changed
