"""The synchronous SQL behind Store: sessions, messages, usage and todos.

Every function takes the connection first and runs on the store's worker
thread. Writes run in one ``BEGIN IMMEDIATE`` transaction each. Context order
is ``ORDER BY seq, id`` over rows with ``compacted = 0`` (see db.py).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import Any, cast

from hermes.messages import Message, Role, ToolCall, Usage
from hermes.store.db import Conn, transaction
from hermes.store.store import SessionInfo, SessionNotFound, StoredMessage, TodoItem

_SESSION_COLS = (
    "s.id, s.source, s.title, s.model, s.created_at, s.updated_at,"
    " (SELECT COUNT(*) FROM messages AS m WHERE m.session_id = s.id)"
)
_MESSAGE_COLS = (
    "id, session_id, role, content, tool_calls, tool_call_id, name, created_at, compacted, kind"
)


def new_session_id(now: float) -> str:
    """``YYYYMMDD_HHMMSS_xxxxxx``: local creation time and 6 random hex digits."""
    return time.strftime("%Y%m%d_%H%M%S", time.localtime(now)) + "_" + secrets.token_hex(3)


def _session(row: tuple[Any, ...]) -> SessionInfo:
    return SessionInfo(
        id=row[0],
        source=row[1],
        title=row[2],
        model=row[3],
        created_at=row[4],
        updated_at=row[5],
        message_count=row[6],
    )


def _require_session(conn: Conn, session_id: str) -> None:
    if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
        raise SessionNotFound(session_id)


def create_session(
    conn: Conn, now: float, source: str, model: str | None, title: str | None
) -> str:
    for _ in range(10):
        session_id = new_session_id(now)
        try:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO sessions(id, source, title, model, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (session_id, source, title, model, now, now),
                )
        except sqlite3.IntegrityError:
            continue  # the same id was drawn in the same second; draw again
        return session_id
    raise RuntimeError("could not draw a fresh session id")


def get_session(conn: Conn, session_id: str) -> SessionInfo | None:
    row = conn.execute(
        f"SELECT {_SESSION_COLS} FROM sessions AS s WHERE s.id = ?", (session_id,)
    ).fetchone()
    return _session(row) if row else None


def list_sessions(conn: Conn, limit: int, source: str | None) -> list[SessionInfo]:
    rows = conn.execute(
        f"SELECT {_SESSION_COLS} FROM sessions AS s WHERE CAST(?1 AS TEXT) IS NULL OR s.source = ?1"
        " ORDER BY s.updated_at DESC, s.id DESC LIMIT ?2",
        (source, max(0, limit)),
    ).fetchall()
    return [_session(r) for r in rows]


def delete_session(conn: Conn, session_id: str) -> bool:
    with transaction(conn):
        cur = conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
    return cur.rowcount > 0


def update_session(
    conn: Conn, session_id: str, now: float, model: str | None, title: str | None
) -> None:
    with transaction(conn):
        cur = conn.execute(
            "UPDATE sessions SET model = COALESCE(?, model), title = COALESCE(?, title),"
            " updated_at = ? WHERE id = ?",
            (model, title, now, session_id),
        )
        if cur.rowcount == 0:
            raise SessionNotFound(session_id)


def _tool_calls_json(message: Message) -> str | None:
    if not message.tool_calls:
        return None
    return json.dumps(
        [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls],
        ensure_ascii=False,
    )


def _stored(row: tuple[Any, ...]) -> StoredMessage:
    calls = [
        ToolCall(id=str(c["id"]), name=str(c["name"]), arguments=str(c["arguments"]))
        for c in json.loads(row[4] or "[]")
    ]
    message = Message(
        role=cast(Role, row[2]),
        content=row[3],
        tool_calls=calls,
        tool_call_id=row[5],
        name=row[6],
    )
    return StoredMessage(
        id=row[0],
        session_id=row[1],
        message=message,
        created_at=row[7],
        compacted=bool(row[8]),
        kind=row[9],
    )


def append_messages(
    conn: Conn,
    session_id: str,
    messages: list[Message],
    now: float,
    also: Callable[[Conn, list[int]], None] | None = None,
) -> list[int]:
    if not messages:
        return []
    ids: list[int] = []
    with transaction(conn):
        _require_session(conn, session_id)
        (seq,) = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?", (session_id,)
        ).fetchone()
        for message in messages:
            seq += 1
            cur = conn.execute(
                "INSERT INTO messages(session_id, seq, role, content, tool_calls, tool_call_id,"
                " name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    session_id,
                    seq,
                    message.role,
                    message.content or "",
                    _tool_calls_json(message),
                    message.tool_call_id,
                    message.name,
                    now,
                ),
            )
            ids.append(int(cur.fetchone()[0]))
        conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
        if also is not None:
            also(conn, ids)
    return ids


def load_messages(conn: Conn, session_id: str, everything: bool) -> list[StoredMessage]:
    if everything:
        sql = f"SELECT {_MESSAGE_COLS} FROM messages WHERE session_id = ? ORDER BY id"
    else:
        sql = (
            f"SELECT {_MESSAGE_COLS} FROM messages WHERE session_id = ? AND compacted = 0"
            " ORDER BY seq, id"
        )
    return [_stored(r) for r in conn.execute(sql, (session_id,))]


def _position(conn: Conn, session_id: str, message_id: int) -> tuple[int, int]:
    row = conn.execute(
        "SELECT seq, id FROM messages WHERE session_id = ? AND id = ?", (session_id, message_id)
    ).fetchone()
    if row is None:
        raise ValueError(f"message {message_id} is not in session {session_id}")
    return int(row[0]), int(row[1])


def compact(conn: Conn, session_id: str, upto_id: int, summary: str, now: float) -> None:
    with transaction(conn):
        seq, mid = _position(conn, session_id, upto_id)
        (first,) = conn.execute(
            "SELECT MIN(seq) FROM messages WHERE session_id = ? AND compacted = 0",
            (session_id,),
        ).fetchone()
        conn.execute(
            "UPDATE messages SET compacted = 1"
            " WHERE session_id = ? AND compacted = 0 AND (seq, id) <= (?, ?)",
            (session_id, seq, mid),
        )
        # The summary takes the position of the first message it replaces, so
        # it loads before every message still in the context.
        conn.execute(
            "INSERT INTO messages(session_id, seq, kind, role, content, created_at)"
            " VALUES (?, ?, 'summary', 'user', ?, ?)",
            (session_id, first if first is not None else seq, summary, now),
        )
        conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))


def delete_messages_from(conn: Conn, session_id: str, message_id: int) -> int:
    with transaction(conn):
        try:
            seq, mid = _position(conn, session_id, message_id)
        except ValueError:
            return 0
        cur = conn.execute(
            "DELETE FROM messages WHERE session_id = ? AND (seq, id) >= (?, ?)",
            (session_id, seq, mid),
        )
    return cur.rowcount


def add_usage(conn: Conn, session_id: str, usage: Usage, model: str | None, now: float) -> None:
    with transaction(conn):
        _require_session(conn, session_id)
        _insert_usage(conn, session_id, usage, model, now)


def usage_with_append(conn: Conn, session_id: str, usage: Usage, model: str | None) -> None:
    """add_usage inside append_messages' transaction (its `also`), at the time that
    append gave the session: a turn's last reply and its usage, one transaction."""
    _insert_usage(conn, session_id, usage, model, None)


def _insert_usage(
    conn: Conn, session_id: str, usage: Usage, model: str | None, at: float | None
) -> None:
    """One usage row, at AT (None: the session's updated_at)."""
    when = "?" if at is not None else "(SELECT updated_at FROM sessions WHERE id = ?)"
    conn.execute(
        "INSERT INTO usage(session_id, model, prompt_tokens, completion_tokens,"
        f" cached_tokens, cost, created_at) VALUES (?, ?, ?, ?, ?, ?, {when})",
        (
            session_id,
            model,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens,
            usage.cost,
            session_id if at is None else at,
        ),
    )


def title_with_append(conn: Conn, session_id: str, title: str) -> None:
    """The session's title, inside append_messages' transaction (its `also`)."""
    conn.execute("UPDATE sessions SET title = ? WHERE id = ?", (title, session_id))


def session_usage(conn: Conn, session_id: str) -> Usage:
    """The session's tokens, and the cost its provider reported (None if none did)."""
    row = conn.execute(
        "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),"
        " COALESCE(SUM(cached_tokens), 0), SUM(cost) FROM usage WHERE session_id = ?",
        (session_id,),
    ).fetchone()
    return Usage(int(row[0]), int(row[1]), int(row[2]), None if row[3] is None else row[3])


def usage_rows(
    conn: Conn, since: float | None, session_id: str | None = None
) -> list[tuple[str, str | None, float, int, int, int, float | None]]:
    """The recorded model turns, oldest first: (session, model, time, prompt,
    completion and cached tokens, reported cost or None), since `since` (None: all).
    hermes/usage.py groups and prices them."""
    rows = conn.execute(
        "SELECT session_id, model, created_at, prompt_tokens, completion_tokens,"
        " cached_tokens, cost FROM usage"
        " WHERE (CAST(?1 AS DOUBLE PRECISION) IS NULL OR created_at >= ?1)"
        " AND (CAST(?2 AS TEXT) IS NULL OR session_id = ?2)"
        " ORDER BY created_at, id",
        (since, session_id),
    ).fetchall()
    return [
        (str(s), m, float(at), int(p), int(c), int(k), None if cost is None else float(cost))
        for s, m, at, p, c, k, cost in rows
    ]


def get_todo(conn: Conn, session_id: str) -> list[TodoItem]:
    row = conn.execute("SELECT todo FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        return []
    items: list[TodoItem] = []
    for raw in json.loads(row[0] or "[]"):
        extra = {k: v for k, v in raw.items() if k not in ("id", "text", "status")}
        items.append(TodoItem(int(raw["id"]), str(raw["text"]), str(raw["status"]), extra))
    return items


def update_todo(
    conn: Conn,
    session_id: str,
    change: Callable[[list[TodoItem]], list[TodoItem]],
) -> list[TodoItem]:
    with transaction(conn):  # BEGIN IMMEDIATE: no other writer between read and write
        _require_session(conn, session_id)
        items = change(get_todo(conn, session_id))
        _write_todo(conn, session_id, items)
    return items


def _write_todo(conn: Conn, session_id: str, items: list[TodoItem]) -> None:
    data = [{**i.extra, "id": i.id, "text": i.text, "status": i.status} for i in items]
    cur = conn.execute(
        "UPDATE sessions SET todo = ? WHERE id = ?",
        (json.dumps(data, ensure_ascii=False), session_id),
    )
    if cur.rowcount == 0:
        raise SessionNotFound(session_id)
