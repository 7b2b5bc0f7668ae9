"""The web chat's own reads and writes in state.db. For the history: which
stored user message came from which page message (its client id), and the
page messages accepted but not yet in the transcript (queued behind a running
turn). For logging in: one-time login codes (only their SHA-256 is kept).
Run on the Store's thread: ``await store.run(web_ops.client_ids, sid)``."""

from __future__ import annotations

import json

from hermes.store.db import Conn, transaction


def client_ids(conn: Conn, session_id: str) -> dict[int, str]:
    """Stored user message id -> the client id the page sent it with."""
    rows = conn.execute(
        "SELECT user_message_id, external_id FROM inbound"
        " WHERE platform = 'web' AND session_id = ? AND user_message_id IS NOT NULL",
        (session_id,),
    )
    return {int(message_id): str(client_id) for message_id, client_id in rows}


VOICE_NOTE = "🎤 voice note…"  # the page's bubble of a voice note not transcribed yet


def queued(conn: Conn, session_key: str) -> list[tuple[str, str]]:
    """(client id, text) of the chat's page messages accepted but not started yet."""
    rows = conn.execute(
        "SELECT external_id, event FROM inbound WHERE platform = 'web' AND session_key = ?"
        " AND status = 'pending' AND user_message_id IS NULL ORDER BY id",
        (session_key,),
    )
    found = []
    for client_id, event in rows:
        try:
            data = json.loads(event)
            text = data.get("text")
            if text == "" and any(a.get("voice") for a in data.get("attachments") or ()):
                text = VOICE_NOTE  # a voice note not transcribed yet
        except (ValueError, AttributeError):
            continue
        if isinstance(text, str) and text.strip():
            found.append((str(client_id), text))
    return found


# ----- one-time login codes: kv `web.login_codes` = {"key": KEY_ID, "codes": {SHA256: EXPIRY}}

LOGIN_CODES = "web.login_codes"


def _codes(conn: Conn, key_id: str, now: float) -> dict[str, float]:
    from hermes.store.gateway_ops import kv_get

    try:
        data = json.loads(kv_get(conn, LOGIN_CODES) or "{}")
        if data.get("key") != key_id:  # made under another HERMES_API_KEY: void
            return {}
        return {str(d): float(t) for d, t in dict(data.get("codes", {})).items() if t > now}
    except (ValueError, TypeError, AttributeError):
        return {}


def _save_codes(conn: Conn, key_id: str, codes: dict[str, float]) -> None:
    """Inside the caller's transaction (read, change and write as one: on
    PostgreSQL calls run at once, and a code must be taken once)."""
    conn.execute(
        "INSERT INTO kv(key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (LOGIN_CODES, json.dumps({"key": key_id, "codes": codes})),
    )


def add_login_code(conn: Conn, digest: str, key_id: str, expires: float, now: float) -> None:
    with transaction(conn):
        codes = _codes(conn, key_id, now)
        codes[digest] = expires
        _save_codes(conn, key_id, codes)


def take_login_code(conn: Conn, digest: str, key_id: str, now: float) -> bool:
    """Use up a login code: True once, if it exists and has not expired."""
    with transaction(conn):
        codes = _codes(conn, key_id, now)
        found = codes.pop(digest, None) is not None
        if found:
            _save_codes(conn, key_id, codes)
    return found
