"""What a killed gateway leaves behind (step 0009): the process groups its tools
started (`tool_processes`) and the streamed draft of the turn it was running
(`inbound.draft_id`). Synchronous functions run on the Store's thread:
``await store.run(leftover_ops.add_process, ...)``; each takes ``now`` from
its caller."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from hermes.store.db import Conn, transaction

# ----- tool processes --------------------------------------------------------------


@dataclass
class ToolProcessRow:
    id: int
    pid: int
    pgid: int
    start_ticks: int | None  # /proc/PID/stat field 22 when it started (None: no /proc)
    boot_id: str | None
    command: str
    cwd: str
    kind: str  # foreground | background
    proc_id: str | None  # a background process's id (proc_1a2b3c)
    session_id: str | None
    started_at: float
    status: str  # running | killed | gone | unknown
    outcome: str | None  # what the start-up clean-up found, one line


_COLS = (
    "id, pid, pgid, start_ticks, boot_id, command, cwd, kind, proc_id, session_id,"
    " started_at, status, outcome"
)


def _row(r: tuple[Any, ...]) -> ToolProcessRow:
    return ToolProcessRow(
        int(r[0]),
        int(r[1]),
        int(r[2]),
        None if r[3] is None else int(r[3]),
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        r[9],
        float(r[10]),
        r[11],
        r[12],
    )


def add_process(
    conn: Conn,
    pid: int,
    pgid: int,
    start_ticks: int | None,
    boot_id: str | None,
    command: str,
    cwd: str,
    kind: str,
    proc_id: str | None,
    session_id: str | None,
    now: float,
    owner: str | None = None,
) -> int:
    """A tool's process group started; returns its row id. OWNER: the cluster
    replica that started it (None on one machine)."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO tool_processes(pid, pgid, start_ticks, boot_id, command, cwd, kind,"
            " proc_id, session_id, started_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " RETURNING id",
            (pid, pgid, start_ticks, boot_id, command, cwd, kind, proc_id, session_id, now, owner),
        )
        return int(cur.fetchone()[0])


def end_process(conn: Conn, row_id: int) -> None:
    """It ended while we watched: nothing is left of it to clean up."""
    with transaction(conn):
        conn.execute("DELETE FROM tool_processes WHERE id = ?", (row_id,))


def running_processes(conn: Conn, alive: Collection[str] = ()) -> list[ToolProcessRow]:
    """Rows of processes that were running when their gateway last stopped (but
    those started by the replicas in ALIVE, which are still running them)."""
    live = list(alive)
    where = "status = 'running'"
    if live:
        where += f" AND (owner IS NULL OR owner NOT IN ({', '.join('?' for _ in live)}))"
    rows = conn.execute(
        f"SELECT {_COLS} FROM tool_processes WHERE {where} ORDER BY id", live
    ).fetchall()
    return [_row(r) for r in rows]


def mark_leftover(conn: Conn, row_id: int, status: str, outcome: str, now: float) -> None:
    """The start-up clean-up dealt with it (killed, gone or unknown); the row waits
    for the resumed turn of its session to report it."""
    with transaction(conn):
        conn.execute(
            "UPDATE tool_processes SET status = ?, outcome = ?, ended_at = ? WHERE id = ?",
            (status, outcome, now, row_id),
        )


def take_leftovers(conn: Conn, session_id: str) -> list[ToolProcessRow]:
    """The leftovers of a session's cut turn, removed as they are read (the turn
    reports them now)."""
    with transaction(conn):
        rows = conn.execute(
            f"SELECT {_COLS} FROM tool_processes WHERE session_id = ? AND status != 'running'"
            " ORDER BY id",
            (session_id,),
        ).fetchall()
        conn.execute(
            "DELETE FROM tool_processes WHERE session_id = ? AND status != 'running'",
            (session_id,),
        )
    return [_row(r) for r in rows]


def drop_leftovers(conn: Conn, keep_sessions: Collection[str]) -> int:
    """Forget leftovers no resumed turn will report (logged already); returns how many."""
    keep = list(keep_sessions)
    marks = ", ".join("?" for _ in keep)
    where = "status != 'running'"
    if keep:
        where += f" AND (session_id IS NULL OR session_id NOT IN ({marks}))"
    with transaction(conn):
        cur = conn.execute(f"DELETE FROM tool_processes WHERE {where}", keep)
        return cur.rowcount


# ----- stray drafts ----------------------------------------------------------------


def set_draft(conn: Conn, inbound_id: int, message_id: str | None) -> None:
    """The message id of the turn's streamed draft (None: no draft to clean up)."""
    with transaction(conn):
        conn.execute("UPDATE inbound SET draft_id = ? WHERE id = ?", (message_id, inbound_id))


def get_draft(conn: Conn, inbound_id: int) -> str | None:
    row = conn.execute("SELECT draft_id FROM inbound WHERE id = ?", (inbound_id,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])
