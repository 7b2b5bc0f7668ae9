"""Pairing in state.db: codes given to unknown senders, the users the owner
approved, and wrong approval attempts (for the brute-force lockout).

Synchronous functions run on the Store's thread:
``await store.run(pairing_ops.request_code, ...)``. Each takes ``now`` (unix
seconds) from its caller, so tests can pin time. The rules (how long a code
lives, how many may be pending, when approving locks) are the caller's
(hermes/gateway/access.py) and come in as arguments; what must not race
(one code per sender, the pending cap, check-then-approve) happens inside
one transaction here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hermes.store.db import Conn, transaction

# Expired codes are kept this long, so approving one says "expired", not "unknown".
KEEP_EXPIRED = 86400.0


@dataclass(frozen=True)
class PairingCode:
    platform: str
    code: str
    user: str
    user_name: str | None
    chat: str | None
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class PairedUser:
    platform: str
    user: str
    user_name: str | None
    approved_at: float


@dataclass(frozen=True)
class CodeRequest:
    """The answer to an unknown sender: their code (new or the one they already
    hold), or None when too many codes are pending (`retry_at`: the earliest
    time a pending one expires)."""

    code: PairingCode | None
    new: bool = False
    retry_at: float | None = None


@dataclass(frozen=True)
class Approval:
    """status: approved (user set) | unknown | expired | locked (locked_until set)."""

    status: str
    user: PairedUser | None = None
    chat: str | None = None  # where the approved sender asked (to tell them)
    locked_until: float | None = None


_CODE_COLS = 'platform, code, "user", user_name, chat, created_at, expires_at'


def _code(row: tuple[Any, ...]) -> PairingCode:
    return PairingCode(row[0], row[1], row[2], row[3], row[4], float(row[5]), float(row[6]))


def is_paired(conn: Conn, platform: str, user: str) -> bool:
    row = conn.execute(
        'SELECT 1 FROM paired_users WHERE platform = ? AND "user" = ?', (platform, user)
    ).fetchone()
    return row is not None


def request_code(
    conn: Conn,
    platform: str,
    user: str,
    user_name: str | None,
    chat: str | None,
    make_code: Callable[[], str],
    now: float,
    ttl: float,
    max_pending: int,
) -> CodeRequest:
    """The sender's valid code if they hold one; else a new code (from make_code)
    unless max_pending codes of the platform are still valid."""
    with transaction(conn):
        conn.execute("DELETE FROM pairing_codes WHERE expires_at <= ?", (now - KEEP_EXPIRED,))
        row = conn.execute(
            f'SELECT {_CODE_COLS} FROM pairing_codes WHERE platform = ? AND "user" = ?'
            " AND expires_at > ? ORDER BY created_at DESC LIMIT 1",
            (platform, user, now),
        ).fetchone()
        if row:
            return CodeRequest(_code(row))
        count, first_expiry = conn.execute(
            "SELECT COUNT(*), MIN(expires_at) FROM pairing_codes"
            " WHERE platform = ? AND expires_at > ?",
            (platform, now),
        ).fetchone()
        if count >= max_pending:
            return CodeRequest(None, retry_at=float(first_expiry))
        while True:  # a clash with a kept code is unlikely (32**8 codes); draw again
            code = PairingCode(platform, make_code(), user, user_name, chat, now, now + ttl)
            cur = conn.execute(
                f"INSERT INTO pairing_codes({_CODE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (platform, code.code, user, user_name, chat, now, now + ttl),
            )
            if cur.rowcount:
                return CodeRequest(code, new=True)


def pending_codes(conn: Conn, platform: str | None, now: float) -> list[PairingCode]:
    """Valid codes, oldest first (of one platform, or all)."""
    sql = f"SELECT {_CODE_COLS} FROM pairing_codes WHERE expires_at > ?"
    args: list[Any] = [now]
    if platform is not None:
        sql += " AND platform = ?"
        args.append(platform)
    rows = conn.execute(sql + " ORDER BY created_at, platform, code", args).fetchall()
    return [_code(r) for r in rows]


def paired_users(conn: Conn, platform: str | None) -> list[PairedUser]:
    """Approved users, longest approved first (of one platform, or all)."""
    sql = 'SELECT platform, "user", user_name, approved_at FROM paired_users'
    args: list[Any] = []
    if platform is not None:
        sql += " WHERE platform = ?"
        args.append(platform)
    rows = conn.execute(sql + ' ORDER BY approved_at, platform, "user"', args).fetchall()
    return [PairedUser(r[0], r[1], r[2], float(r[3])) for r in rows]


def locked_until(
    conn: Conn, platform: str, now: float, max_failures: int, window: float
) -> float | None:
    """When approving on the platform unlocks, if it is locked now: `max_failures`
    wrong codes within `window` seconds lock it for `window` seconds from the
    last of them."""
    times = [
        float(r[0])
        for r in conn.execute(
            "SELECT at FROM pairing_failures WHERE platform = ? AND at > ? ORDER BY at",
            (platform, now - 2 * window),
        ).fetchall()
    ]
    until: float | None = None
    for i in range(max_failures - 1, len(times)):
        if times[i] - times[i - max_failures + 1] < window and times[i] + window > now:
            until = times[i] + window
    return until


def approve_code(
    conn: Conn,
    platform: str,
    code: str,
    now: float,
    max_failures: int,
    window: float,
) -> Approval:
    """Pair the sender who holds `code` (exact, as stored). A code that matches
    nothing counts as a failure; while the platform is locked nothing is checked
    (a right code is refused too, or the lock would not stop guessing)."""
    with transaction(conn):
        until = locked_until(conn, platform, now, max_failures, window)
        if until is not None:
            return Approval("locked", locked_until=until)
        row = conn.execute(
            f"SELECT {_CODE_COLS} FROM pairing_codes WHERE platform = ? AND code = ?",
            (platform, code),
        ).fetchone()
        if row is None:
            conn.execute("DELETE FROM pairing_failures WHERE at <= ?", (now - 2 * window,))
            conn.execute(
                "INSERT INTO pairing_failures(platform, at) VALUES (?, ?)", (platform, now)
            )
            until = locked_until(conn, platform, now, max_failures, window)
            return Approval("unknown", locked_until=until)
        found = _code(row)
        if found.expires_at <= now:
            return Approval("expired")
        conn.execute(
            'DELETE FROM pairing_codes WHERE platform = ? AND "user" = ?', (platform, found.user)
        )
        conn.execute(
            'INSERT INTO paired_users(platform, "user", user_name, approved_at) VALUES (?, ?, ?, ?)'
            ' ON CONFLICT(platform, "user") DO UPDATE SET user_name = excluded.user_name,'
            " approved_at = excluded.approved_at",
            (platform, found.user, found.user_name, now),
        )
        user = PairedUser(platform, found.user, found.user_name, now)
        return Approval("approved", user, found.chat)


def revoke(conn: Conn, platform: str, user: str) -> PairedUser | None:
    """Remove an approved user, named by id or else by a name only one of the
    platform's approved users has (a leading @ is ignored); return who it was."""
    with transaction(conn):
        users = paired_users(conn, platform)
        match = [u for u in users if u.user == user]
        if not match:
            name = user.removeprefix("@").casefold()
            match = [u for u in users if (u.user_name or "").removeprefix("@").casefold() == name]
        if len(match) != 1:
            return None
        conn.execute(
            'DELETE FROM paired_users WHERE platform = ? AND "user" = ?', (platform, match[0].user)
        )
        return match[0]
