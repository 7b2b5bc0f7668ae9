"""Platform updates the gateway skipped (table ``skipped_updates``, step 0008).

An adapter skips an update it cannot read or handle after a few tries
(hermes/platforms/adapter.py, UpdateGuard) and records it here first, so
the user learns of it (`hermes doctor`, the dashboard). Synchronous functions
run on the Store's thread (``await store.run(skipped_ops.record, ...)``) or on
a read-only connection (doctor); each takes ``now`` from its caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from hermes.store.db import Conn, transaction

KEEP_SECONDS = 30 * 86400  # records older than this are pruned
KEEP_ROWS = 1000  # and never more than this many (a flood of bad updates stays small)
SHOWN_SECONDS = 7 * 86400  # doctor and the dashboard show the last week's


@dataclass(frozen=True)
class SkippedRow:
    platform: str
    update_id: str
    error: str
    raw: str
    attempts: int
    skipped_at: float


def record(
    conn: Conn,
    platform: str,
    update_id: str,
    error: str,
    raw: str,
    attempts: int,
    now: float,
) -> bool:
    """Record a skipped update; False if (platform, update_id) was recorded before
    (the first record stays). Prunes old records in the same transaction."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO skipped_updates(platform, update_id, error, raw, attempts, skipped_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (platform, update_id, error, raw, attempts, now),
        )
        conn.execute("DELETE FROM skipped_updates WHERE skipped_at < ?", (now - KEEP_SECONDS,))
        conn.execute(
            "DELETE FROM skipped_updates WHERE id NOT IN"
            " (SELECT id FROM skipped_updates ORDER BY id DESC LIMIT ?)",
            (KEEP_ROWS,),
        )
        return cur.rowcount > 0


def recent(conn: Conn, since: float, limit: int = 20) -> list[SkippedRow]:
    """Updates skipped at or after `since`, newest first."""
    rows = conn.execute(
        "SELECT platform, update_id, error, raw, attempts, skipped_at FROM skipped_updates"
        " WHERE skipped_at >= ? ORDER BY skipped_at DESC, id DESC LIMIT ?",
        (since, limit),
    ).fetchall()
    return [SkippedRow(r[0], r[1], r[2], r[3], int(r[4]), float(r[5])) for r in rows]


def counts(conn: Conn, since: float) -> dict[str, int]:
    """Per platform: how many updates were skipped at or after `since`."""
    rows = conn.execute(
        "SELECT platform, COUNT(*) FROM skipped_updates WHERE skipped_at >= ?"
        " GROUP BY platform ORDER BY platform",
        (since,),
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}
