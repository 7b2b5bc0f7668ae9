"""The gateway's tables in state.db: inbound messages, the delivery ledger,
chat -> session mapping, small named values. Synchronous functions run on
the Store's thread: ``await store.run(gateway_ops.insert_inbound, ...)``.
Each takes ``now`` (unix seconds) from its caller, so tests can pin time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hermes.store.chat_ops import voice_mode
from hermes.store.db import Conn, transaction

# ----- inbound -----------------------------------------------------------------


@dataclass
class InboundRow:
    id: int
    platform: str
    session_key: str
    event: dict[str, Any]  # hermes.gateway.events.Inbound as JSON
    status: str  # pending | running | waiting (for an approval) | done | failed
    session_id: str | None
    user_message_id: int | None
    received_at: float


INBOUND_COLS = "id, platform, session_key, event, status, session_id, user_message_id, received_at"


def inbound_row(row: tuple[Any, ...]) -> InboundRow:
    return InboundRow(
        row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], float(row[7])
    )


def insert_inbound(
    conn: Conn,
    platform: str,
    external_id: str,
    session_key: str,
    event: dict[str, Any],
    now: float,
) -> int | None:
    """Store an accepted message; None if (platform, external_id) is already stored."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO inbound(platform, external_id, session_key, event, received_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (platform, external_id, session_key, json.dumps(event), now),
        )
        row = cur.fetchone()
        return int(row[0]) if row else None


def open_inbound(conn: Conn) -> list[InboundRow]:
    """Messages not finished (pending, left running by a crash, or waiting for an
    approval), oldest first."""
    rows = conn.execute(
        f"SELECT {INBOUND_COLS} FROM inbound WHERE status IN ('pending', 'running', 'waiting')"
        " ORDER BY id"
    ).fetchall()
    return [inbound_row(r) for r in rows]


def get_inbound(conn: Conn, inbound_id: int) -> InboundRow | None:
    row = conn.execute(f"SELECT {INBOUND_COLS} FROM inbound WHERE id = ?", (inbound_id,)).fetchone()
    return inbound_row(row) if row else None


def start_inbound(conn: Conn, inbound_id: int, session_id: str, user_message_id: int) -> None:
    """The turn began: runs INSIDE the transaction that stores the user's message
    (Store.append_messages(also=...)), so a crash leaves both or neither."""
    conn.execute(
        "UPDATE inbound SET status = 'running', session_id = ?, user_message_id = ? WHERE id = ?",
        (session_id, user_message_id, inbound_id),
    )


def set_inbound_status(conn: Conn, inbound_id: int, status: str) -> None:
    """running <-> waiting (suspended on an approval)."""
    with transaction(conn):
        conn.execute("UPDATE inbound SET status = ? WHERE id = ?", (status, inbound_id))


def finish_inbound(
    conn: Conn,
    inbound_id: int,
    status: str,
    now: float,
    error: str | None = None,
    delivery: NewDelivery | None = None,
    *,
    spoken: bool = False,
) -> None:
    """Mark a message done/failed and queue its reply in ONE transaction: a crash
    leaves either both or neither. `spoken`: the reply is an answer the chat's
    /voice mode applies to (read here, in the same transaction)."""
    with transaction(conn):
        conn.execute(
            "UPDATE inbound SET status = ?, finished_at = ?, error = ? WHERE id = ?",
            (status, now, error, inbound_id),
        )
        if delivery is not None:
            if spoken:
                mode = voice_mode(conn, delivery.platform, delivery.chat)
                delivery.voice = None if mode == "off" else mode
            _insert_delivery(conn, delivery, now)


# ----- deliveries --------------------------------------------------------------


@dataclass
class NewDelivery:
    key: str  # idempotency key: the same key is queued once, ever
    platform: str
    chat: str
    thread: str | None
    text: str
    buttons: list[list[dict[str, str]]] | None = None  # rows of {"label", "data"}
    reply_to: str | None = None
    edit_message_id: str | None = None  # a streamed draft that becomes the first part
    voice: str | None = None  # None: text; "on": text then a voice note; "only": the note


@dataclass
class Delivery:
    id: int
    key: str
    platform: str
    chat: str
    thread: str | None
    text: str
    buttons: list[list[dict[str, str]]] | None
    reply_to: str | None
    edit_message_id: str | None
    parts_sent: int
    message_ids: list[str]
    status: str  # pending | sending | sent | failed
    attempts: int
    next_attempt_at: float
    error: str | None
    created_at: float
    sent_at: float | None
    reported: bool
    voice: str | None = None  # as NewDelivery.voice


_DELIVERY_COLS = (
    "id, key, platform, chat, thread, text, buttons, reply_to, edit_message_id, parts_sent,"
    " message_ids, status, attempts, next_attempt_at, error, created_at, sent_at, reported,"
    " voice"
)


def _delivery(r: tuple[Any, ...]) -> Delivery:
    return Delivery(
        id=r[0],
        key=r[1],
        platform=r[2],
        chat=r[3],
        thread=r[4],
        text=r[5],
        buttons=json.loads(r[6]) if r[6] else None,
        reply_to=r[7],
        edit_message_id=r[8],
        parts_sent=r[9],
        message_ids=json.loads(r[10]),
        status=r[11],
        attempts=r[12],
        next_attempt_at=r[13],
        error=r[14],
        created_at=r[15],
        sent_at=r[16],
        reported=bool(r[17]),
        voice=r[18],
    )


def _insert_delivery(conn: Conn, d: NewDelivery, now: float) -> int | None:
    cur = conn.execute(
        "INSERT INTO deliveries(key, platform, chat, thread, text, buttons, reply_to,"
        " edit_message_id, next_attempt_at, created_at, voice)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        (
            d.key,
            d.platform,
            d.chat,
            d.thread,
            d.text,
            json.dumps(d.buttons) if d.buttons else None,
            d.reply_to,
            d.edit_message_id,
            now,
            now,
            d.voice,
        ),
    )
    row = cur.fetchone()
    return int(row[0]) if row else None


def queue_delivery(conn: Conn, d: NewDelivery, now: float) -> int | None:
    """Queue a message; None if its key was queued before (nothing is added)."""
    with transaction(conn):
        return _insert_delivery(conn, d, now)


def replies_sent(conn: Conn, platform: str, chat: str, thread: str | None, before: int) -> bool:
    """Whether the chat has no reply queued before inbound row BEFORE's that is
    still unsent (pending or being sent)."""
    row = conn.execute(
        "SELECT 1 FROM deliveries WHERE platform = ? AND chat = ?"
        " AND COALESCE(thread, '') = COALESCE(?, '') AND status IN ('pending', 'sending')"
        " AND key <> ? LIMIT 1",
        (platform, chat, thread, f"reply:{before}"),
    ).fetchone()
    return row is None


def get_delivery(conn: Conn, delivery_id: int) -> Delivery | None:
    row = conn.execute(
        f"SELECT {_DELIVERY_COLS} FROM deliveries WHERE id = ?", (delivery_id,)
    ).fetchone()
    return _delivery(row) if row else None


def delivery_by_key(conn: Conn, key: str) -> Delivery | None:
    row = conn.execute(f"SELECT {_DELIVERY_COLS} FROM deliveries WHERE key = ?", (key,)).fetchone()
    return _delivery(row) if row else None


def claim_due(
    conn: Conn, now: float, lease: float, platforms: list[str], limit: int = 20
) -> list[Delivery]:
    """Take due deliveries of these platforms (pending, or sending with an expired
    lease: its sender died), oldest first, and lease them to the caller."""
    if not platforms:
        return []
    marks = ",".join("?" * len(platforms))
    with transaction(conn):
        _settle(conn, now, now)  # a dead sender's part in flight is not sent again
        # A row waits while an older one to the same chat backs off: replies keep order.
        rows = conn.execute(
            f"SELECT {_DELIVERY_COLS} FROM deliveries d WHERE platform IN ({marks}) AND ("
            " (status = 'pending' AND next_attempt_at <= ?)"
            " OR (status = 'sending' AND lease_until <= ?))"
            " AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.platform = d.platform"
            " AND o.chat = d.chat AND COALESCE(o.thread, '') = COALESCE(d.thread, '')"
            " AND o.id < d.id AND o.status = 'pending' AND o.next_attempt_at > ?)"
            " ORDER BY id LIMIT ?",
            (*platforms, now, now, now, limit),
        ).fetchall()
        conn.executemany(
            "UPDATE deliveries SET status = 'sending', lease_until = ? WHERE id = ?",
            [(now + lease, r[0]) for r in rows],
        )
    return [_delivery(r) for r in rows]


def next_due(conn: Conn, platforms: list[str]) -> float | None:
    """When the next pending delivery of these platforms is due (None: none)."""
    if not platforms:
        return None
    marks = ",".join("?" * len(platforms))
    row = conn.execute(
        f"SELECT MIN(CASE status WHEN 'pending' THEN next_attempt_at ELSE lease_until END)"
        f" FROM deliveries WHERE platform IN ({marks}) AND status IN ('pending', 'sending')",
        tuple(platforms),
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def record_part(conn: Conn, delivery_id: int, message_id: str, parts_sent: int) -> None:
    """One part of a delivery reached the platform (committed at once)."""
    with transaction(conn):
        ids = json.loads(
            conn.execute(
                "SELECT message_ids FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()[0]
        )
        ids.append(message_id)
        conn.execute(
            "UPDATE deliveries SET parts_sent = ?, message_ids = ?, inflight = NULL WHERE id = ?",
            (parts_sent, json.dumps(ids), delivery_id),
        )


def mark_sent(conn: Conn, delivery_id: int, now: float) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = ?, lease_until = NULL, error = NULL,"
            " inflight = NULL WHERE id = ?",
            (now, delivery_id),
        )


def mark_retry(conn: Conn, delivery_id: int, error: str, next_at: float, give_up: bool) -> None:
    """A failed attempt: try again at next_at, or give up (status failed)."""
    with transaction(conn):
        conn.execute(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, error = ?,"
            " next_attempt_at = ?, lease_until = NULL, inflight = NULL WHERE id = ?",
            ("failed" if give_up else "pending", error, next_at, delivery_id),
        )


def failed_deliveries(
    conn: Conn, platform: str | None = None, unreported_only: bool = False
) -> list[Delivery]:
    sql = f"SELECT {_DELIVERY_COLS} FROM deliveries WHERE status = 'failed'"
    args: list[Any] = []
    if platform is not None:
        sql += " AND platform = ?"
        args.append(platform)
    if unreported_only:
        sql += " AND reported = 0"
    rows = conn.execute(sql + " ORDER BY id", args).fetchall()
    return [_delivery(r) for r in rows]


def mark_reported(conn: Conn, delivery_ids: list[int]) -> None:
    with transaction(conn):
        conn.executemany(
            "UPDATE deliveries SET reported = 1 WHERE id = ?", [(i,) for i in delivery_ids]
        )


def count_deliveries(conn: Conn) -> dict[str, int]:
    """status -> number of deliveries."""
    rows = conn.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
    return {str(s): int(n) for s, n in rows}


# ----- chat -> session -------------------------------------------------------


def chat_session(conn: Conn, key: str) -> str | None:
    """The chat's current session, if it still exists."""
    row = conn.execute(
        "SELECT c.session_id FROM chat_sessions c JOIN sessions s ON s.id = c.session_id"
        " WHERE c.key = ?",
        (key,),
    ).fetchone()
    return str(row[0]) if row else None


def set_chat_session(conn: Conn, key: str, session_id: str, now: float) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO chat_sessions(key, session_id, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET session_id = excluded.session_id,"
            " updated_at = excluded.updated_at",
            (key, session_id, now),
        )


# ----- kv ------------------------------------------------------------------------


def kv_get(conn: Conn, key: str) -> str | None:
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else None


def kv_set(conn: Conn, key: str, value: str) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO kv(key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def claim_one(conn: Conn, delivery_id: int, now: float, lease: float) -> Delivery | None:
    """Lease one delivery if nobody else is sending it (None if not available)."""
    with transaction(conn):
        cur = conn.execute(
            "UPDATE deliveries SET status = 'sending', lease_until = ? WHERE id = ? AND"
            " (status = 'pending' OR (status = 'sending' AND lease_until <= ?))",
            (now + lease, delivery_id, now),
        )
        if not cur.rowcount:
            return None
    return get_delivery(conn, delivery_id)


def mark_inflight(conn: Conn, delivery_id: int, part: int) -> None:
    """Part PART (0-based) of a leased delivery is being sent now (committed before
    the send starts; record_part, mark_sent and mark_retry clear it)."""
    with transaction(conn):
        conn.execute("UPDATE deliveries SET inflight = ? WHERE id = ?", (part, delivery_id))


UNKNOWN_NOTICE = (
    "⚠️ A reply may not have arrived: Hermes stopped while sending it. If you did not"
    " get it, ask me to send it again."
)

# a part in flight of a dead sender, except the first part of a reply that edits
# its streamed draft in place (an edit can be made twice without harm)
_IN_FLIGHT = (
    "status = 'sending' AND inflight IS NOT NULL"
    " AND NOT (inflight = 0 AND edit_message_id IS NOT NULL)"
)


def settle_in_flight(conn: Conn, now: float, expired_before: float | None = None) -> int:
    """Rows a dead sender left with a part in flight: it may have reached the chat
    or not, and no platform here can tell. They become `unknown` (never sent again)
    and the chat gets one notice saying so. All `sending` rows (at start: one
    gateway per home, or the replica holding the cluster's lease), or only those
    whose lease ran out before `expired_before`."""
    with transaction(conn):
        return _settle(conn, now, expired_before)


def _settle(conn: Conn, now: float, expired_before: float | None) -> int:
    lapsed = "" if expired_before is None else " AND lease_until <= ?"
    args: tuple[float, ...] = () if expired_before is None else (expired_before,)
    rows = conn.execute(
        "UPDATE deliveries SET status = 'unknown', lease_until = NULL,"
        " error = 'stopped while sending part ' || (inflight + 1) ||"
        " '; it may or may not have arrived'"
        f" WHERE {_IN_FLIGHT}{lapsed} RETURNING id, platform, chat, thread",
        args,
    ).fetchall()
    for row_id, platform, chat, thread in rows:
        notice = NewDelivery(f"unknown:{row_id}", platform, chat, thread, UNKNOWN_NOTICE)
        _insert_delivery(conn, notice, now)
    return len(rows)


def release_sending(conn: Conn, now: float) -> int:
    """Rows a dead sender leased go back to pending (called at gateway start), but
    for a part in flight (settle_in_flight)."""
    with transaction(conn):
        _settle(conn, now, None)
        cur = conn.execute(
            "UPDATE deliveries SET status = 'pending', lease_until = NULL WHERE status = 'sending'"
        )
        return cur.rowcount


def prune(conn: Conn, before: float) -> None:
    """Forget finished inbound rows and sent deliveries older than `before`."""
    with transaction(conn):
        conn.execute(
            "DELETE FROM inbound WHERE status IN ('done', 'failed') AND received_at < ?", (before,)
        )
        conn.execute("DELETE FROM deliveries WHERE status = 'sent' AND created_at < ?", (before,))
