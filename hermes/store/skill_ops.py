"""Skills in state.db: usage per skill and staged proposals (step 0012 in
hermes/store/schema.py). Synchronous functions for ``await store.run(skill_ops.fn, ...)``;
the file side of proposals is hermes/skills/proposals.py.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from hermes.store.db import Conn, transaction

CREATORS = ("agent", "user", "bundled")


@dataclass(frozen=True)
class Usage:
    name: str
    created_by: str  # agent | user | bundled
    created_at: float
    views: int
    uses: int
    last_used_at: float | None
    archived_at: float | None


@dataclass(frozen=True)
class Proposal:
    id: str
    kind: str  # skill | memory
    action: str  # create | patch | delete | edit
    target: str  # skill name, or user | memory
    content: str | None  # the whole new text; None for delete
    base_hash: str  # sha256 of the target when staged; '' when it was absent
    reason: str
    source: str  # agent | review | nudge | user
    status: str  # pending | applied | rejected | stale | rolled_back
    previous: str | None  # the text an applied proposal replaced (None: absent)
    moved_to: str | None  # where a deleted skill's folder went
    note: str | None  # why it is stale, or what the rollback did
    created_at: float
    decided_at: float | None


_USAGE = "name, created_by, created_at, views, uses, last_used_at, archived_at"
_PROPOSAL = (
    "id, kind, action, target, content, base_hash, reason, source, status, previous,"
    " moved_to, note, created_at, decided_at"
)


def set_creator(conn: Conn, name: str, created_by: str, now: float) -> None:
    """Record who made skill NAME (a re-created skill starts its counts afresh)."""
    if created_by not in CREATORS:
        raise ValueError(f"created_by must be one of {CREATORS}, got {created_by!r}")
    with transaction(conn):
        conn.execute(
            "INSERT INTO skill_usage(name, created_by, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET created_by = excluded.created_by,"
            " created_at = excluded.created_at, views = 0, uses = 0, last_used_at = NULL,"
            " last_session = NULL, archived_at = NULL",
            (name, created_by, now),
        )


def record_view(conn: Conn, name: str, session_id: str, now: float) -> None:
    """skill_view opened NAME: one more view, and one more use when it is the first
    time in SESSION_ID. A skill never recorded counts as the user's own."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO skill_usage(name, created_by, created_at) VALUES (?, 'user', ?)"
            " ON CONFLICT(name) DO NOTHING",
            (name, now),
        )
        conn.execute(
            "UPDATE skill_usage SET views = views + 1,"
            " uses = uses + CASE WHEN COALESCE(last_session, '') = ? THEN 0 ELSE 1 END,"
            " last_session = ?, last_used_at = ? WHERE name = ?",
            (session_id, session_id, now, name),
        )


def usage(conn: Conn, name: str) -> Usage | None:
    row = conn.execute(f"SELECT {_USAGE} FROM skill_usage WHERE name = ?", (name,)).fetchone()
    return Usage(*row) if row else None


def all_usage(conn: Conn) -> list[Usage]:
    rows = conn.execute(f"SELECT {_USAGE} FROM skill_usage ORDER BY name").fetchall()
    return [Usage(*r) for r in rows]


def unused_agent_skills(conn: Conn, before: float) -> list[str]:
    """Agent-made skills not archived and not used (nor created) since BEFORE."""
    rows = conn.execute(
        "SELECT name FROM skill_usage WHERE created_by = 'agent' AND archived_at IS NULL"
        " AND COALESCE(last_used_at, created_at) < ? ORDER BY name",
        (before,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def mark_archived(conn: Conn, name: str, now: float) -> None:
    with transaction(conn):
        conn.execute("UPDATE skill_usage SET archived_at = ? WHERE name = ?", (now, name))


def new_id() -> str:
    return "sp_" + time.strftime("%H%M%S") + "_" + secrets.token_hex(3)


def add_proposal(
    conn: Conn,
    *,
    kind: str,
    action: str,
    target: str,
    content: str | None,
    base_hash: str,
    reason: str,
    source: str,
    now: float,
) -> str:
    """Stage a proposal; returns its id."""
    pid = new_id()
    with transaction(conn):
        conn.execute(
            "INSERT INTO skill_proposals(id, kind, action, target, content, base_hash, reason,"
            " source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (pid, kind, action, target, content, base_hash, reason, source, now),
        )
    return pid


def get_proposal(conn: Conn, pid: str) -> Proposal | None:
    row = conn.execute(f"SELECT {_PROPOSAL} FROM skill_proposals WHERE id = ?", (pid,)).fetchone()
    return Proposal(*row) if row else None


def proposals(conn: Conn, status: str | None = "pending", limit: int = 100) -> list[Proposal]:
    """Proposals with STATUS (None: all), oldest first."""
    where, params = ("WHERE status = ?", (status,)) if status else ("", ())
    rows = conn.execute(
        f"SELECT {_PROPOSAL} FROM skill_proposals {where} ORDER BY created_at, id LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [Proposal(*r) for r in rows]


def decided(conn: Conn, limit: int = 20) -> list[Proposal]:
    """The last LIMIT decided proposals (applied, rejected, stale, rolled back),
    latest decision first."""
    rows = conn.execute(
        f"SELECT {_PROPOSAL} FROM skill_proposals WHERE status != 'pending'"
        " ORDER BY decided_at DESC, id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [Proposal(*r) for r in rows]


def set_status(
    conn: Conn,
    pid: str,
    status: str,
    now: float,
    *,
    expect: str,
    previous: str | None = None,
    moved_to: str | None = None,
    note: str | None = None,
) -> bool:
    """Move proposal PID from EXPECT to STATUS; False when it was not in EXPECT
    (another decision won)."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE skill_proposals SET status = ?, decided_at = ?,"
            " previous = COALESCE(?, previous), moved_to = COALESCE(?, moved_to),"
            " note = COALESCE(?, note) WHERE id = ? AND status = ?",
            (status, now, previous, moved_to, note, pid, expect),
        )
    return cur.rowcount == 1
