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

from dataclasses import dataclass

from hermes.store.db import Conn, transaction

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


def beat(conn: Conn, replica_id: str, role: str) -> None:
    with transaction(conn):
        conn.execute(
            f"UPDATE replicas SET seen_at = {NOW}, role = ? WHERE id = ?", (role, replica_id)
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
        "SELECT id, host, pid, role, volume, started_at, seen_at FROM replicas"
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
