"""The tasks table: background, walkaway, delegated and cron runs, with their
progress events and the user's steering messages.

Synchronous functions for ``await store.run(task_ops.fn, ...)``; ``now``
comes from the caller.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from hermes.store.db import Conn, transaction
from hermes.store.gateway_ops import NewDelivery, _insert_delivery

PREFIX = {"background": "bg", "walkaway": "wk", "delegate": "dl", "cron": "cr"}
OPEN = ("queued", "running", "waiting_approval")
_COLS = (
    "id, kind, prompt, origin, status, session_id, user_message_id, result, error,"
    " created_at, started_at, finished_at, job_id, requester,"
    " parent, call_id, depth, deadline, waited, reported_at"
)


@dataclass(frozen=True)
class TaskRow:
    id: str
    kind: str  # background | walkaway | delegate | cron
    prompt: str
    origin: str | None  # PLATFORM:CHAT[:THREAD] the results go to
    status: str  # queued | running | waiting_approval | done | failed | timed_out | cancelled
    session_id: str | None
    user_message_id: int | None
    result: str | None
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    job_id: str | None = None  # cron: the job this run belongs to
    requester: str | None = None  # PLATFORM:USER who started it from a chat (decides its approvals)
    # delegated tasks (hermes/gateway/delegation.py)
    parent: str | None = None  # the session whose delegate call started it
    call_id: str | None = None  # that delegate call
    depth: int = 0  # 1: a child of a chat's agent; 2: a child's child
    deadline: float | None = None  # wall clock: timed out after this
    waited: int = 0  # 1: the parent waits for the result (no message to the chat)
    reported_at: float | None = None  # a result the parent did not wait for, given to it

    @property
    def finished(self) -> bool:
        return self.status not in OPEN

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "prompt": self.prompt,
            "origin": self.origin,
            "session_id": self.session_id,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "result": self.result,
            "error": self.error,
            "job_id": self.job_id,
            "parent": self.parent,
            "depth": self.depth,
            "deadline": self.deadline,
        }


@dataclass(frozen=True)
class TaskEvent:
    at: float
    kind: str  # progress | tool | steer | note
    text: str


def new_id(kind: str, now: float) -> str:
    """bg_143022_a1b2c3: the kind's prefix, local HHMMSS, 6 hex digits."""
    return f"{PREFIX[kind]}_{time.strftime('%H%M%S', time.localtime(now))}_{secrets.token_hex(3)}"


def _select(conn: Conn, where: str, args: tuple[Any, ...]) -> list[TaskRow]:
    rows = conn.execute(f"SELECT {_COLS} FROM tasks WHERE {where}", args).fetchall()
    return [TaskRow(*r) for r in rows]


def insert(
    conn: Conn,
    kind: str,
    prompt: str,
    origin: str | None,
    now: float,
    requester: str | None = None,
) -> TaskRow:
    with transaction(conn):
        task_id = insert_in(conn, kind, prompt, origin, now, requester=requester)
    found = get(conn, task_id)
    assert found is not None
    return found


def insert_in(
    conn: Conn,
    kind: str,
    prompt: str,
    origin: str | None,
    now: float,
    job_id: str | None = None,
    requester: str | None = None,
) -> str:
    """Insert a queued task INSIDE the caller's transaction; returns its id."""
    task_id = new_id(kind, now)
    while conn.execute("SELECT 1 FROM tasks WHERE id = ?", (task_id,)).fetchone():
        task_id = new_id(kind, now)
    conn.execute(
        "INSERT INTO tasks(id, kind, prompt, origin, created_at, job_id, requester)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (task_id, kind, prompt, origin, now, job_id, requester),
    )
    return task_id


def get(conn: Conn, task_id: str) -> TaskRow | None:
    found = _select(conn, "id = ?", (task_id.strip(),))
    return found[0] if found else None


def get_many(conn: Conn, task_ids: list[str]) -> list[TaskRow]:
    """The tasks of `task_ids` (one query), in creation order."""
    found: list[TaskRow] = []
    for start in range(0, len(task_ids), 500):  # SQLite's limit on bound variables
        chunk = task_ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found += _select(conn, f"id IN ({marks})", tuple(chunk))
    return sorted(found, key=lambda row: (row.created_at, row.id))


def listing(
    conn: Conn,
    *,
    origin: str | None = None,
    open_only: bool = False,
    limit: int = 50,
) -> list[TaskRow]:
    """Tasks, newest first; of one chat (origin) and/or only unfinished ones."""
    where, args = ["1 = 1"], []  # a boolean: PostgreSQL refuses a bare 1
    if origin is not None:
        where.append("origin = ?")
        args.append(origin)
    if open_only:
        where.append(f"status IN ({', '.join('?' * len(OPEN))})")
        args.extend(OPEN)
    clause = " AND ".join(where) + " ORDER BY created_at DESC, id DESC LIMIT ?"
    return _select(conn, clause, (*args, limit))


def open_tasks(conn: Conn) -> list[TaskRow]:
    """Unfinished tasks, oldest first (what a starting gateway picks up)."""
    marks = ", ".join("?" * len(OPEN))
    return _select(conn, f"status IN ({marks}) ORDER BY created_at, id", OPEN)


def start(conn: Conn, task_id: str, session_id: str, message_id: int, now: float) -> None:
    """The run began: called INSIDE the transaction that stores the prompt as the
    session's first message, so a crash leaves both or neither."""
    conn.execute(
        "UPDATE tasks SET status = 'running', session_id = ?, user_message_id = ?,"
        " started_at = COALESCE(started_at, ?) WHERE id = ? AND status = 'queued'",
        (session_id, message_id, now, task_id),
    )


def set_status(conn: Conn, task_id: str, status: str) -> bool:
    """running <-> waiting_approval; False if the task already finished."""
    marks = ", ".join("?" * len(OPEN))
    with transaction(conn):
        cur = conn.execute(
            f"UPDATE tasks SET status = ? WHERE id = ? AND status IN ({marks})",
            (status, task_id, *OPEN),
        )
        return cur.rowcount == 1


def finish(
    conn: Conn,
    task_id: str,
    status: str,
    now: float,
    *,
    result: str | None = None,
    error: str | None = None,
    delivery: NewDelivery | None = None,
    unless_waited: bool = False,
) -> bool:
    """done | failed | timed_out | cancelled, with its message queued in the SAME transaction
    (with UNLESS_WAITED, only if no parent waits for the result as it is now).
    False (and nothing queued) if the task had already finished (a cancel wins)."""
    marks = ", ".join("?" * len(OPEN))
    with transaction(conn):
        cur = conn.execute(
            f"UPDATE tasks SET status = ?, finished_at = ?, result = ?, error = ?"
            f" WHERE id = ? AND status IN ({marks})",
            (status, now, result, error, task_id, *OPEN),
        )
        if cur.rowcount != 1:
            return False
        if unless_waited:
            found = conn.execute("SELECT waited FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if found is not None and found[0]:
                delivery = None
        if delivery is not None:
            _insert_delivery(conn, delivery, now)
        return True


def add_event(conn: Conn, task_id: str, kind: str, text: str, now: float) -> int:
    """Record an event; returns its id (unique for good: ids are never reused)."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO task_events(task_id, at, kind, text) VALUES (?, ?, ?, ?) RETURNING id",
            (task_id, now, kind, text),
        )
        return int(cur.fetchone()[0])


def events(conn: Conn, task_id: str, limit: int = 200) -> list[TaskEvent]:
    """The task's last `limit` events, oldest first."""
    rows = conn.execute(
        "SELECT at, kind, text FROM (SELECT id, at, kind, text FROM task_events"
        " WHERE task_id = ? ORDER BY id DESC LIMIT ?) AS recent ORDER BY id",
        (task_id, limit),
    ).fetchall()
    return [TaskEvent(float(r[0]), r[1], r[2]) for r in rows]


def take_steering(conn: Conn, task_id: str) -> list[str]:
    """The user's steering messages the task has not read yet (marked read)."""
    with transaction(conn):
        rows = conn.execute(
            "SELECT id, text FROM task_events WHERE task_id = ? AND kind = 'steer'"
            " AND handled = 0 ORDER BY id",
            (task_id,),
        ).fetchall()
        if rows:
            marks = ", ".join("?" * len(rows))
            conn.execute(
                f"UPDATE task_events SET handled = 1 WHERE id IN ({marks})", [r[0] for r in rows]
            )
    return [str(r[1]) for r in rows]


def count_open(conn: Conn) -> int:
    marks = ", ".join("?" * len(OPEN))
    row = conn.execute(f"SELECT COUNT(*) FROM tasks WHERE status IN ({marks})", OPEN).fetchone()
    return int(row[0])


@dataclass(frozen=True)
class Child:
    """A delegated task to insert: its brief and what ties it to its parent."""

    prompt: str
    origin: str | None
    requester: str | None
    parent: str
    call_id: str
    depth: int
    deadline: float
    waited: bool


def insert_children(conn: Conn, children: list[Child], now: float) -> list[TaskRow]:
    """The children of one delegate call, queued in one transaction; a call that
    already has children (the same call run again after a restart) gets those."""
    with transaction(conn):
        if children:
            have = _select(conn, "call_id = ? ORDER BY created_at, id", (children[0].call_id,))
            if have:
                return have
        ids = []
        for c in children:
            task_id = insert_in(conn, "delegate", c.prompt, c.origin, now, requester=c.requester)
            conn.execute(
                "UPDATE tasks SET parent = ?, call_id = ?, depth = ?, deadline = ?, waited = ?"
                " WHERE id = ?",
                (c.parent, c.call_id, c.depth, c.deadline, int(c.waited), task_id),
            )
            ids.append(task_id)
    return get_many(conn, ids)


def of_session(conn: Conn, session_id: str) -> list[TaskRow]:
    """The tasks that run in SESSION_ID (one, normally)."""
    return _select(conn, "session_id = ?", (session_id,))


def children_of(conn: Conn, parent: str) -> list[TaskRow]:
    """The delegated tasks a session started (open and finished)."""
    return _select(conn, "parent = ? ORDER BY created_at, id", (parent,))


def unreported(conn: Conn) -> list[TaskRow]:
    """Finished children whose parent did not wait and has not been told yet."""
    marks = ", ".join("?" * len(OPEN))
    return _select(
        conn,
        f"kind = 'delegate' AND waited = 0 AND reported_at IS NULL AND status NOT IN ({marks})",
        OPEN,
    )


def orphaned_waits(conn: Conn) -> list[str]:
    """At a start: children whose parent was waiting when the gateway died. Nothing
    waits for them any more (a resumed turn records the call as not finished), unless
    the parent's call got its real result before: then they are done with."""
    rows = conn.execute(
        "SELECT t.id FROM tasks t WHERE t.kind = 'delegate' AND t.waited = 1"
        " AND t.reported_at IS NULL AND NOT EXISTS (SELECT 1 FROM messages m"
        "  WHERE m.session_id = t.parent AND m.role = 'tool' AND m.tool_call_id = t.call_id"
        "  AND m.content NOT LIKE '[%')"
    ).fetchall()
    return [str(r[0]) for r in rows]


def set_unwaited(conn: Conn, task_ids: list[str]) -> None:
    """Nobody waits for these children any more: their results become new turns."""
    with transaction(conn):
        conn.executemany("UPDATE tasks SET waited = 0 WHERE id = ?", [(t,) for t in task_ids])


def mark_reported(conn: Conn, task_ids: list[str], now: float) -> None:
    with transaction(conn):
        conn.executemany(
            "UPDATE tasks SET reported_at = ? WHERE id = ?", [(now, t) for t in task_ids]
        )


def in_sessions(conn: Conn, session_ids: list[str]) -> dict[str, TaskRow]:
    """The tasks that run in these sessions, by session id (a delegated child's
    `parent` names a session; this says whether that session is itself a task)."""
    wanted = sorted(set(session_ids))
    found: dict[str, TaskRow] = {}
    for start in range(0, len(wanted), 500):  # SQLite's limit on bound variables
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for row in _select(conn, f"session_id IN ({marks})", tuple(chunk)):
            found[row.session_id or ""] = row
    return found


def open_descendants(conn: Conn, session_id: str) -> list[TaskRow]:
    """The open delegated tasks SESSION_ID started, and theirs, parents first: what
    a cancel of the task running in SESSION_ID cascades to (as TaskRunner.stop does)."""
    found: list[TaskRow] = []
    sessions, seen = [session_id], {session_id}
    while sessions:
        for row in children_of(conn, sessions.pop(0)):
            if row.finished:
                continue
            found.append(row)
            if row.session_id and row.session_id not in seen:
                seen.add(row.session_id)
                sessions.append(row.session_id)
    return found
