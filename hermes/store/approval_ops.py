"""The approvals table: one row per gated tool call, decided once.

A pending approval is stored state, not a waiting coroutine: the work that
asked (a chat turn or a task, `owner`) is suspended, and whoever decides
(a button, /approve, the CLI, the API, the low-risk timer) writes the
decision here; the gateway then resumes the owner. Synchronous functions for
``await store.run(approval_ops.fn, ...)``; ``now`` comes from the caller.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from hermes.store.db import Conn, transaction

_COLS = (
    "id, status, risk, reason, tool, action, tool_call_id, session_id, owner, origin,"
    " created_at, auto_approve_at, decided_at, decided_by, resumed,"
    " action_hash, args, cwd, backend, requester"
)


@dataclass(frozen=True)
class NewApproval:
    risk: str
    reason: str
    tool: str
    action: str  # the exact action shown to the user (a command, "write_file PATH" + content)
    tool_call_id: str  # our own id of the call (never the model's)
    session_id: str
    owner: str  # "inbound:ID" | "task:ID"
    origin: str | None  # the chat it came from (PLATFORM:CHAT[:THREAD])
    auto_approve_at: float | None = None  # low risk: approved then unless denied first
    action_hash: str = ""  # SHA-256 of (tool, canonical args, cwd, backend): the identity
    args: str = ""  # the call's arguments, canonical JSON
    cwd: str = ""
    backend: str = ""
    requester: str | None = None  # PLATFORM:USER who started the work (may decide it)


@dataclass(frozen=True)
class ApprovalRow:
    id: str
    status: str  # pending | approved | denied | cancelled
    risk: str
    reason: str
    tool: str
    action: str
    tool_call_id: str
    session_id: str
    owner: str
    origin: str | None
    created_at: float
    auto_approve_at: float | None
    decided_at: float | None
    decided_by: str | None
    resumed: bool
    action_hash: str | None = None
    args: str | None = None
    cwd: str | None = None
    backend: str | None = None
    requester: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "risk": self.risk,
            "reason": self.reason,
            "tool": self.tool,
            "action": self.action,
            "owner": self.owner,
            "origin": self.origin,
            "created_at": self.created_at,
            "auto_approve_at": self.auto_approve_at,
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "cwd": self.cwd,
            "backend": self.backend,
            "requester": self.requester,
        }


def _row(r: tuple[Any, ...]) -> ApprovalRow:
    values = list(r)
    values[14] = bool(values[14])
    return ApprovalRow(*values)


def _select(conn: Conn, where: str, args: tuple[Any, ...]) -> list[ApprovalRow]:
    rows = conn.execute(f"SELECT {_COLS} FROM approvals WHERE {where}", args).fetchall()
    return [_row(r) for r in rows]


def request(conn: Conn, new: NewApproval, now: float) -> tuple[ApprovalRow, bool]:
    """Store a request; returns (row, created). The same call asked again (the
    turn was resumed) with the same action returns its existing row (created
    False): a resumed turn never asks twice. A call id already used for another
    action raises LookupError: a decision never moves to a different action."""
    with transaction(conn):
        found = _select(
            conn, "session_id = ? AND tool_call_id = ?", (new.session_id, new.tool_call_id)
        )
        if found:
            if found[0].action_hash != new.action_hash:
                raise LookupError(
                    f"tool call {new.tool_call_id} was asked about for another action"
                )
            return found[0], False
        while True:
            approval_id = secrets.token_hex(3)
            if not conn.execute("SELECT 1 FROM approvals WHERE id = ?", (approval_id,)).fetchone():
                break
        conn.execute(
            f"INSERT INTO approvals({_COLS}) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " NULL, NULL, 0, ?, ?, ?, ?, ?)",
            (
                approval_id,
                new.risk,
                new.reason,
                new.tool,
                new.action,
                new.tool_call_id,
                new.session_id,
                new.owner,
                new.origin,
                now,
                new.auto_approve_at,
                new.action_hash,
                new.args,
                new.cwd,
                new.backend,
                new.requester,
            ),
        )
    return get(conn, approval_id) or _missing(approval_id), True


def _missing(approval_id: str) -> ApprovalRow:
    raise LookupError(f"approval {approval_id} vanished")


def get(conn: Conn, approval_id: str) -> ApprovalRow | None:
    found = _select(conn, "id = ?", (approval_id.strip().lower(),))
    return found[0] if found else None


def listing(conn: Conn, *, status: str | None = "pending", limit: int = 100) -> list[ApprovalRow]:
    """Approvals with that status (None: all), newest first."""
    if status is None:
        return _select(conn, "1 = 1 ORDER BY created_at DESC LIMIT ?", (limit,))
    return _select(conn, "status = ? ORDER BY created_at DESC LIMIT ?", (status, limit))


def of_owner(conn: Conn, owner: str) -> list[ApprovalRow]:
    return _select(conn, "owner = ? ORDER BY created_at", (owner,))


def decide(
    conn: Conn, approval_id: str, approve: bool, by: str, now: float
) -> tuple[ApprovalRow | None, bool]:
    """Record a decision on a pending approval. Returns (row, changed): an
    unknown id gives (None, False); one decided before keeps its first decision
    and gives (row, False)."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?"
            " WHERE id = ? AND status = 'pending'",
            ("approved" if approve else "denied", now, by, approval_id.strip().lower()),
        )
        changed = cur.rowcount == 1
    return get(conn, approval_id), changed


def cancel_owner(conn: Conn, owner: str, by: str, now: float) -> int:
    """The work was stopped or cancelled: its pending requests are void."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE approvals SET status = 'cancelled', decided_at = ?, decided_by = ?,"
            " resumed = 1 WHERE owner = ? AND status = 'pending'",
            (now, by, owner),
        )
        return cur.rowcount


def due_auto(conn: Conn, now: float) -> list[ApprovalRow]:
    """Pending low-risk requests whose auto-approve time has come."""
    return _select(
        conn,
        "status = 'pending' AND auto_approve_at IS NOT NULL AND auto_approve_at <= ?",
        (now,),
    )


def next_auto(conn: Conn) -> float | None:
    row = conn.execute(
        "SELECT MIN(auto_approve_at) FROM approvals WHERE status = 'pending'"
        " AND auto_approve_at IS NOT NULL"
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def decided_owners(conn: Conn) -> list[str]:
    """Owners with a decision not yet picked up and no request still pending:
    their work can go on."""
    rows = conn.execute(
        "SELECT owner FROM approvals a WHERE resumed = 0 AND status != 'pending'"
        " AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.owner = a.owner"
        " AND p.status = 'pending') GROUP BY owner ORDER BY MIN(created_at), owner"
    ).fetchall()
    return [str(r[0]) for r in rows]


def mark_resumed(conn: Conn, owner: str) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE approvals SET resumed = 1 WHERE owner = ? AND status != 'pending'", (owner,)
        )


def count_pending(conn: Conn) -> int:
    row = conn.execute("SELECT COUNT(*) FROM approvals WHERE status = 'pending'").fetchone()
    return int(row[0])
