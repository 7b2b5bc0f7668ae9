"""state.db: the SQLite connection and its schema migrations.

The schema is an ordered list of named steps, ``MIGRATIONS``. Each step runs
once, inside its own ``BEGIN IMMEDIATE`` transaction, and is recorded in the
``schema_migrations`` table; opening a database applies the steps it lacks,
so applying is idempotent and safe when two processes open the file at once.

The steps and what each table holds are in hermes/store/schema.py. To change
the schema, APPEND a step there (never edit a shipped one):

    MIGRATIONS.append(("0004_tasks", '''CREATE TABLE tasks (...);'''))

A step is either SQL text (one or more statements, triggers included) or a
function ``step(conn)`` that issues statements on the connection; neither may
commit. Steps are applied in list order.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from hermes.store.schema import MIGRATIONS, Migration, Step

__all__ = [
    "MIGRATIONS",
    "Conn",
    "Migration",
    "Step",
    "connect",
    "migrate",
    "open_db",
    "transaction",
]


class Cursor(Protocol):
    """What the store's operations use of a cursor."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What the store's operations use of a connection: a ``sqlite3.Connection``
    (autocommit mode), or on PostgreSQL hermes/store/pg.py's ``PgConnection``,
    which takes the same SQL."""

    def execute(self, sql: str, params: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, seq: Any, /) -> Cursor: ...
    @property
    def in_transaction(self) -> bool: ...


def is_postgres(conn: Conn) -> bool:
    return getattr(conn, "dialect", "sqlite") == "postgres"


BUSY_TIMEOUT_MS = 10_000


def connect(path: Path) -> sqlite3.Connection:
    """Open state.db with our settings. The connection is used by the thread
    that opened it only, and runs in autocommit mode: write transactions are
    explicit (see ``transaction``)."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=True
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")  # fails first on a file that is no database
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: Conn) -> Iterator[Conn]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on an exception
    (on PostgreSQL: one holding the tenant's write lock, see hermes/store/pg.py)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def split_statements(sql: str) -> list[str]:
    """SQL text -> its statements (trigger bodies stay whole)."""
    statements: list[str] = []
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\r\n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \t\r\n;"):
        raise ValueError(f"incomplete SQL statement: {pending.strip()[:80]!r}")
    return statements


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the steps recorded in this database, in the order applied."""
    rows = conn.execute("SELECT name FROM schema_migrations ORDER BY applied_at, rowid").fetchall()
    return [str(r[0]) for r in rows]


def migrate(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply the steps this database lacks; return the names applied now."""
    steps = MIGRATIONS if migrations is None else migrations
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    done = set(applied_migrations(conn))
    applied: list[str] = []
    for name, step in steps:
        if name in done:
            continue
        with transaction(conn):
            # Another process may have applied it since we looked.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
                continue
            if callable(step):
                step(conn)
            else:
                for statement in split_statements(step):
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)",
                (name, time.time()),
            )
        applied.append(name)
    return applied


def open_db(path: Path) -> sqlite3.Connection:
    """Connect to state.db (creating its directory) and bring its schema up to date.
    A new file is created private (0600); SQLite gives its -wal and -shm files
    the same mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = connect(path)
    try:
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn
