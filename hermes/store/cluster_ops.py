"""Replicas and leases on PostgreSQL (the tables of schema_pg's ``0002_cluster``).

A replica is one `hermes gateway run` on the tenant's schema. A lease is a
named right that one replica holds until ``expires_at``: ``gateway`` is the
right to hold the tenant's platform connections and run its work (see
hermes/gateway/cluster.py). Taking a lease raises its ``token`` (the fencing
token): a renewal names the token it holds, so a replica that lost its lease
can never renew it again, even if its successor's lease lapses later.

Times are the DATABASE's clock (``clock_timestamp()``), so the replicas'
clocks may disagree without harm. Synchronous functions run on the Store's
threads: ``await store.run(cluster_ops.acquire, ...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hermes.store.db import Conn, transaction
from hermes.store.gateway_ops import INBOUND_COLS, InboundRow, inbound_row

NOW = "EXTRACT(EPOCH FROM clock_timestamp())"


@dataclass
class ReplicaRow:
    id: str
    host: str
    pid: int
    role: str  # standby | active | stopped
    volume: str | None  # the id of the home's volume (hermes/gateway/cluster.py)
    started_at: float
    seen_at: float
    turns: int = 0  # the chat turns it took on


@dataclass
class LeaseRow:
    name: str
    holder: str | None
    token: int
    acquired_at: float | None
    expires_at: float


def now(conn: Conn) -> float:
    return float(conn.execute(f"SELECT {NOW}").fetchone()[0])


def register(conn: Conn, replica_id: str, host: str, pid: int, volume: str) -> None:
    """Say that this replica exists (again), as a standby."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO replicas(id, host, pid, role, volume, started_at, seen_at)"
            f" VALUES (?, ?, ?, 'standby', ?, {NOW}, {NOW})"
            " ON CONFLICT (id) DO UPDATE SET role = 'standby', volume = excluded.volume,"
            " seen_at = excluded.seen_at",
            (replica_id, host, pid, volume),
        )


def beat(conn: Conn, replica_id: str, role: str, turns: int = 0) -> None:
    with transaction(conn):
        conn.execute(
            f"UPDATE replicas SET seen_at = {NOW}, role = ?, turns = ? WHERE id = ?",
            (role, turns, replica_id),
        )


def forget_dead(conn: Conn, older_than: float) -> int:
    """Drop replicas not seen for `older_than` seconds (they stay listed until then)."""
    with transaction(conn):
        cur = conn.execute(f"DELETE FROM replicas WHERE seen_at < {NOW} - ?", (older_than,))
        return cur.rowcount


def acquire(conn: Conn, name: str, holder: str, seconds: float) -> int | None:
    """Take lease NAME for HOLDER if nobody holds it (or its holder let it lapse);
    the new fencing token, or None."""
    with transaction(conn):
        conn.execute("INSERT INTO leases(name) VALUES (?) ON CONFLICT DO NOTHING", (name,))
        row = conn.execute(
            f"UPDATE leases SET holder = ?, token = token + 1, acquired_at = {NOW},"
            f" expires_at = {NOW} + ? WHERE name = ? AND (holder IS NULL OR expires_at < {NOW})"
            " RETURNING token",
            (holder, seconds, name),
        ).fetchone()
        return int(row[0]) if row else None


def renew(conn: Conn, name: str, holder: str, token: int, seconds: float) -> bool:
    """Extend the lease HOLDER holds with TOKEN; False if it is not HOLDER's any more."""
    with transaction(conn):
        cur = conn.execute(
            f"UPDATE leases SET expires_at = {NOW} + ? WHERE name = ? AND holder = ? AND token = ?",
            (seconds, name, holder, token),
        )
        return cur.rowcount == 1


def release(conn: Conn, name: str, holder: str, token: int) -> bool:
    """Give the lease up (a clean stop): a standby may take it at once."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE leases SET holder = NULL, expires_at = 0 WHERE name = ? AND holder = ?"
            " AND token = ?",
            (name, holder, token),
        )
        return cur.rowcount == 1


def replicas(conn: Conn) -> list[ReplicaRow]:
    rows = conn.execute(
        "SELECT id, host, pid, role, volume, started_at, seen_at, turns FROM replicas"
        " ORDER BY started_at, id"
    ).fetchall()
    return [ReplicaRow(*r) for r in rows]


def leases(conn: Conn) -> list[LeaseRow]:
    rows = conn.execute(
        "SELECT name, holder, token, acquired_at, expires_at FROM leases ORDER BY name"
    ).fetchall()
    return [LeaseRow(*r) for r in rows]


def held_work(conn: Conn) -> dict[str, int]:
    """What the tenant has in hand now: open messages, running tasks, replies not
    yet sent, approvals waiting, active cron jobs."""
    queries = {
        "messages": "SELECT COUNT(*) FROM inbound WHERE status IN ('pending', 'running')",
        "waiting": "SELECT COUNT(*) FROM inbound WHERE status = 'waiting'",
        "tasks": "SELECT COUNT(*) FROM tasks WHERE status IN ('queued', 'running',"
        " 'waiting_approval')",
        "replies": "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'sending')",
        "unknown": "SELECT COUNT(*) FROM deliveries WHERE status = 'unknown'",
        "approvals": "SELECT COUNT(*) FROM approvals WHERE status = 'pending'",
        "cron": "SELECT COUNT(*) FROM cron_jobs WHERE status = 'active'",
    }
    return {k: int(conn.execute(q).fetchone()[0]) for k, q in queries.items()}


def notify(conn: Conn, channel: str, payload: str) -> None:
    """Wake the replicas listening on CHANNEL (hermes/gateway/cluster.py)."""
    conn.execute("SELECT pg_notify(?, ?)", (channel, payload))


def claim_volume(conn: Conn, key: str, volume: str) -> str:
    """Record VOLUME under KEY in kv unless one is recorded; the recorded one."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, volume)
        )
        return str(conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()[0])


def adopt_volume(conn: Conn, key: str, volume: str) -> None:
    """Make VOLUME the tenant's volume (`hermes cluster adopt`)."""
    with transaction(conn):
        conn.execute(
            "INSERT INTO kv(key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, volume),
        )


# ----- chats: which replica runs a chat's turns (hermes/gateway/spread.py) ---------

_OPEN = "('pending', 'running', 'waiting')"


def _alive(replica_column: str) -> str:
    """SQL: the replica named in REPLICA_COLUMN is alive (seen within the lease)."""
    return (
        f"EXISTS (SELECT 1 FROM replicas r WHERE r.id = {replica_column}"
        f" AND r.role <> 'stopped' AND r.seen_at > {NOW} - ?)"
    )


def live_replicas(conn: Conn, lease_seconds: float) -> list[str]:
    rows = conn.execute(
        f"SELECT id FROM replicas WHERE role <> 'stopped' AND seen_at > {NOW} - ?",
        (lease_seconds,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _open_rows(conn: Conn, keys: list[str]) -> list[InboundRow]:
    if not keys:
        return []
    marks = ", ".join("?" for _ in keys)
    rows = conn.execute(
        f"SELECT {INBOUND_COLS} FROM inbound WHERE status IN {_OPEN}"
        f" AND session_key IN ({marks}) ORDER BY id",
        keys,
    ).fetchall()
    return [inbound_row(r) for r in rows]


def held_rows(conn: Conn, replica_id: str) -> list[InboundRow]:
    """The open messages of the chats REPLICA_ID holds, oldest first."""
    rows = conn.execute(
        f"SELECT {INBOUND_COLS} FROM inbound i WHERE i.status IN {_OPEN} AND EXISTS"
        " (SELECT 1 FROM chat_claims c WHERE c.session_key = i.session_key AND c.replica = ?)"
        " ORDER BY i.id",
        (replica_id,),
    ).fetchall()
    return [inbound_row(r) for r in rows]


def pending_commands(conn: Conn) -> list[InboundRow]:
    """Pending messages that are chat commands (whatever replica holds their chat)."""
    rows = conn.execute(
        f"SELECT {INBOUND_COLS} FROM inbound WHERE status = 'pending'"
        " AND ltrim(event::jsonb ->> 'text') LIKE '/%' ORDER BY id"
    ).fetchall()
    return [inbound_row(r) for r in rows]


def _take(conn: Conn, key: str, replica_id: str, lease_seconds: float) -> bool:
    """Claim chat KEY for REPLICA_ID unless a live replica holds it (or it is its own)."""
    row = conn.execute(
        f"INSERT INTO chat_claims(session_key, replica, claimed_at) VALUES (?, ?, {NOW})"
        " ON CONFLICT (session_key) DO UPDATE SET replica = excluded.replica,"
        " claimed_at = excluded.claimed_at WHERE chat_claims.replica = excluded.replica"
        f" OR NOT {_alive('chat_claims.replica')} RETURNING replica",
        (key, replica_id, lease_seconds),
    ).fetchone()
    return row is not None


def claim_chat(
    conn: Conn,
    key: str,
    replica_id: str,
    lease_seconds: float,
    may_take: Callable[[list[InboundRow]], bool],
) -> list[InboundRow] | None:
    """Claim chat KEY if no live replica holds it and MAY_TAKE(its open messages);
    those messages, oldest first (None: not claimed)."""
    with transaction(conn):
        rows = _open_rows(conn, [key])
        if not may_take(rows) or not _take(conn, key, replica_id, lease_seconds):
            return None
        return rows


def claim_chats(
    conn: Conn,
    replica_id: str,
    lease_seconds: float,
    room: int,
    may_take: Callable[[list[InboundRow]], bool],
) -> dict[str, list[InboundRow]]:
    """Claim up to ROOM chats with open messages that no live replica holds (oldest
    message first; MAY_TAKE decides on a chat's open messages): chat -> its open
    messages. The candidates are locked FOR UPDATE SKIP LOCKED, so replicas sweeping
    at once look at different chats; the claim's key decides a tie."""
    unclaimed = (
        "SELECT i.session_key FROM inbound i"
        f" WHERE i.status IN {_OPEN} AND NOT EXISTS (SELECT 1 FROM chat_claims c"
        f" WHERE c.session_key = i.session_key AND {_alive('c.replica')})"
        " ORDER BY i.id LIMIT ?"
    )
    # a look first, outside any write transaction (they take the tenant's lock):
    # most sweeps find nothing to claim
    if not conn.execute(unclaimed, (lease_seconds, 1)).fetchall():
        return {}
    with transaction(conn):
        found = conn.execute(
            unclaimed + " FOR UPDATE OF i SKIP LOCKED", (lease_seconds, room * 4)
        ).fetchall()
        keys = list(dict.fromkeys(str(r[0]) for r in found))
        by_key: dict[str, list[InboundRow]] = {}
        for row in _open_rows(conn, keys):
            by_key.setdefault(row.session_key, []).append(row)
        claimed: dict[str, list[InboundRow]] = {}
        for key in keys:
            if len(claimed) >= room:
                break
            rows = by_key.get(key, [])
            if rows and may_take(rows) and _take(conn, key, replica_id, lease_seconds):
                claimed[key] = rows
        return claimed


def release_chat(conn: Conn, key: str, replica_id: str) -> bool:
    """REPLICA_ID lets chat KEY go (its work here is done); True if it held it."""
    with transaction(conn):
        cur = conn.execute(
            "DELETE FROM chat_claims WHERE session_key = ? AND replica = ?", (key, replica_id)
        )
        return cur.rowcount == 1


def has_open(conn: Conn, key: str) -> bool:
    row = conn.execute(
        f"SELECT 1 FROM inbound WHERE session_key = ? AND status IN {_OPEN} LIMIT 1", (key,)
    ).fetchone()
    return row is not None


def release_all(conn: Conn, replica_id: str) -> int:
    """A clean stop: every chat REPLICA_ID holds is free again."""
    with transaction(conn):
        return conn.execute("DELETE FROM chat_claims WHERE replica = ?", (replica_id,)).rowcount


def claims(conn: Conn) -> dict[str, int]:
    """Replica id -> how many chats it holds now."""
    rows = conn.execute("SELECT replica, COUNT(*) FROM chat_claims GROUP BY replica").fetchall()
    return {str(r[0]): int(r[1]) for r in rows}
