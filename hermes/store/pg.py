"""PostgreSQL under the store: one connection, speaking the ops' SQL.

The store's operations (hermes/store/*_ops.py) are plain functions of a
connection, written once in SQL both engines take: ``?`` placeholders,
``ON CONFLICT``, ``RETURNING``. ``PgConnection`` wraps a psycopg 3 connection
so those functions run unchanged on PostgreSQL:

- ``?`` becomes ``%s`` (and a literal ``%`` becomes ``%%``), once per distinct
  statement (cached);
- ``BEGIN IMMEDIATE`` (SQLite's "one writer at a time") becomes ``BEGIN``
  plus a transaction-scoped advisory lock of the tenant's schema: a tenant's
  write transactions run one at a time, as on SQLite, which is what the ops
  were written for (read, decide, write), while reads and other tenants go on
  beside them. (SERIALIZABLE transactions were tried first: under 64
  concurrent turns their predicate locks on shared index pages refused
  inserts of unrelated sessions again and again.) A deadlock PostgreSQL
  breaks (``Conflict``) is run again by the Store;
- errors come out as the DB-API classes the callers already catch
  (``sqlite3.IntegrityError``, ``OperationalError``, ``DatabaseError``), with
  psycopg's error chained;
- ``True``/``False`` are sent as 1/0 (the flag columns are integers, as in
  SQLite).

Each profile (tenant) has a schema of its own, ``hermes_NAME``; the connection's
``search_path`` holds only that schema, so a tenant's statements cannot name
another's tables. psycopg is imported here only, when a PostgreSQL URL is used
(the ``postgres`` extra).
"""

from __future__ import annotations

import functools
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hermes.errors import HermesError

if TYPE_CHECKING:
    import psycopg

    from hermes.store.schema import Migration


class Conflict(sqlite3.OperationalError):
    """PostgreSQL refused a transaction to keep them serializable (or broke a
    deadlock): running it again is safe and will succeed."""


@dataclass(frozen=True)
class PgTarget:
    """Where a profile's data lives on PostgreSQL."""

    url: str
    schema: str  # hermes_NAME

    def __str__(self) -> str:
        return f"{redact(self.url)} (schema {self.schema})"


def schema_for(profile: str) -> str:
    """The schema of a profile: ``hermes_NAME`` (always quoted in SQL, so a
    ``-`` is fine). PostgreSQL cuts identifiers at 63 bytes: a longer one is
    shortened and ends in a digest of the whole name."""
    name = f"hermes_{profile}"
    if len(name) > 63:
        import hashlib

        name = name[:50] + "_" + hashlib.sha256(profile.encode()).hexdigest()[:12]
    return name


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def require_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise HermesError(
            "HERMES_DATABASE_URL names PostgreSQL, but psycopg is not installed"
            " (install the extra: pip install 'hermes[postgres]', or scripts/install)"
        ) from None
    return psycopg


_NUMBERED = re.compile(r"\?(\d+)")


BEGIN_WRITE = "BEGIN IMMEDIATE"
WRITE_LOCK = 7201  # the advisory lock space of tenants' write transactions


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> tuple[str, bool]:
    """The ops' SQL in psycopg's dialect (see the module doc), and whether its
    placeholders are numbered (``?1``: the parameters go by name, ``%(p1)s``)."""
    text = sql.replace("%", "%%")
    if _NUMBERED.search(text):
        return _NUMBERED.sub(r"%(p\1)s", text), True
    return text.replace("?", "%s"), False


def _value(v: Any) -> Any:
    return int(v) if isinstance(v, bool) else v


def _params(params: Sequence[Any] | None, numbered: bool) -> Any:
    if params is None:
        return None
    if numbered:
        return {f"p{i}": _value(v) for i, v in enumerate(params, 1)}
    return tuple(_value(v) for v in params)


def _raise(exc: Exception) -> None:
    """psycopg's error -> the DB-API class the callers catch."""
    import psycopg.errors as pe

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, pe.SerializationFailure | pe.DeadlockDetected):
        raise Conflict(text) from exc
    if isinstance(exc, pe.IntegrityError):
        raise sqlite3.IntegrityError(text) from exc
    if isinstance(exc, pe.OperationalError):
        raise sqlite3.OperationalError(text) from exc
    raise sqlite3.DatabaseError(text) from exc


class PgCursor:
    """What the ops use of a cursor: fetchone, fetchall, rowcount (None: a
    statement that returns no rows, e.g. executemany's)."""

    def __init__(self, cur: psycopg.Cursor[Any] | None, rowcount: int = -1) -> None:
        self._cur = cur if cur is not None and cur.description is not None else None
        self.rowcount = cur.rowcount if cur is not None else rowcount

    def fetchone(self) -> Any:
        return self._cur.fetchone() if self._cur is not None else None

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall() if self._cur is not None else []

    def __iter__(self) -> Any:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection (autocommit; transactions are explicit, as with
    the store's SQLite connection) that runs the ops' SQL; see the module doc."""

    dialect = "postgres"

    def __init__(self, raw: psycopg.Connection[Any], target: PgTarget) -> None:
        from psycopg import sql

        self.raw = raw
        self.target = target
        self.commits = 0  # transactions committed: the Store retries only before the first
        # BEGIN and the tenant's write lock in one round trip (the simple protocol)
        self._begin = sql.SQL("BEGIN; SELECT pg_advisory_xact_lock({}, hashtext({}))").format(
            sql.Literal(WRITE_LOCK), sql.Literal(target.schema)
        )

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        import psycopg

        if sql == BEGIN_WRITE:
            return self._begin_write()
        text, numbered = translate(sql)
        try:
            cur = self.raw.execute(text, _params(params, numbered))
        except psycopg.Error as exc:
            _raise(exc)
            raise  # unreachable: _raise always raises
        if text == "COMMIT":
            self.commits += 1
        return PgCursor(cur)

    def _begin_write(self) -> PgCursor:
        """BEGIN, then wait for the tenant's write lock (released at COMMIT/ROLLBACK)."""
        import psycopg

        try:
            cur = self.raw.execute(self._begin)
        except psycopg.Error as exc:
            _raise(exc)
            raise
        return PgCursor(cur)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> PgCursor:
        import psycopg

        text, numbered = translate(sql)
        rows = [_params(p, numbered) for p in seq]
        try:
            with self.raw.cursor() as cur:
                cur.executemany(text, rows)
                count = cur.rowcount
        except psycopg.Error as exc:
            _raise(exc)
            raise
        return PgCursor(None, count)

    @property
    def in_transaction(self) -> bool:
        import psycopg.pq

        return bool(self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)

    def close(self) -> None:
        self.raw.close()


def connect(target: PgTarget, *, timeout: float = 10.0, up_to_date: bool = False) -> PgConnection:
    """Connect, make the tenant's schema the only one on the search path, and
    bring it up to date (see ``migrate``; `up_to_date`: another connection of
    this process did, only set the search path)."""
    psycopg = require_psycopg()
    try:
        raw = psycopg.connect(target.url, autocommit=True, connect_timeout=int(timeout))
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HermesError(
            f"cannot connect to PostgreSQL at {redact(target.url)}: {first}"
            " (is the server up, and HERMES_DATABASE_URL right?)"
        ) from None
    conn = PgConnection(raw, target)
    try:
        if up_to_date:
            from psycopg import sql

            raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema)))
        else:
            migrate(conn)
    except BaseException:
        raw.close()
        raise
    return conn


def migrate(conn: PgConnection, migrations: list[Migration] | None = None) -> list[str]:
    """Create the tenant's schema if needed and apply the steps it lacks, all in
    ONE transaction under an advisory lock, so replicas starting together
    migrate once; return the names applied now."""
    from psycopg import sql

    from hermes.store.schema_pg import PG_MIGRATIONS

    steps = PG_MIGRATIONS if migrations is None else migrations
    schema = sql.Identifier(conn.target.schema)
    raw = conn.raw
    applied: list[str] = []
    with raw.transaction():
        raw.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"hermes:{conn.target.schema}",))
        raw.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        raw.execute(sql.SQL("SET search_path TO {}").format(schema))
        raw.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
        )
        done = {r[0] for r in raw.execute("SELECT name FROM schema_migrations").fetchall()}
        for name, step in steps:
            if name in done:
                continue
            if callable(step):
                step(conn)  # type: ignore[arg-type]
            else:
                raw.execute(step.encode())  # several statements: the simple protocol
            raw.execute(
                "INSERT INTO schema_migrations(name, applied_at) VALUES (%s, %s)",
                (name, time.time()),
            )
            applied.append(name)
    # SET inside a committed transaction stays for the session
    return applied


def applied_migrations(conn: PgConnection) -> list[str]:
    rows = conn.execute("SELECT name FROM schema_migrations ORDER BY applied_at, name").fetchall()
    return [str(r[0]) for r in rows]


async def listen(target: PgTarget, channel: str, on_payload: Any) -> None:
    """Call on_payload(text) for every notification on CHANNEL, until cancelled.
    A dropped connection is made again (notifications sent meanwhile are lost:
    the listeners also look on a timer)."""
    import asyncio

    psycopg = require_psycopg()
    from psycopg import sql

    failures = 0
    while True:
        try:
            aconn = await psycopg.AsyncConnection.connect(target.url, autocommit=True)
            async with aconn:
                await aconn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                failures = 0
                async for note in aconn.notifies():
                    on_payload(note.payload)
        except asyncio.CancelledError:
            raise
        except psycopg.Error:
            failures += 1
            await asyncio.sleep(min(10.0, 0.5 * 2**failures))
