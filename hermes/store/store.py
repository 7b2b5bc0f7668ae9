"""Async facade over state.db.

Every public method is a coroutine; the SQLite work itself runs on ONE worker
thread owned by the Store (a single-thread executor holding the only
connection), so no SQLite call ever blocks the event loop, and calls are
executed one at a time in the order they were made. A call, once made, runs
to completion even if the task awaiting it is cancelled (a write queued
behind another one is never silently dropped). The synchronous SQL
lives in hermes/store/ops.py (sessions, messages; imported
lazily because it builds the dataclasses defined here) and
hermes/store/search.py (full-text search); the schema is in hermes/store/db.py.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from hermes.errors import HermesError
from hermes.messages import SUMMARY_PREFIX, Message, Usage
from hermes.store import db, search
from hermes.store.db import Conn
from hermes.store.pg import PgTarget
from hermes.store.where import Database

P = ParamSpec("P")
T = TypeVar("T")


class SessionNotFound(HermesError):
    """The session id names no stored session."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"no session {session_id!r} (see `hermes sessions list`)")
        self.session_id = session_id


@dataclass
class SessionInfo:
    id: str
    source: str  # cli, oneshot, telegram, ...
    title: str | None
    model: str | None
    created_at: float  # unix seconds
    updated_at: float
    message_count: int = 0


@dataclass
class StoredMessage:
    id: int
    session_id: str
    message: Message
    created_at: float
    compacted: bool = False  # left the context by a compaction (still searchable)
    kind: str = "message"  # "message", or "summary" for a compaction summary


@dataclass
class SearchHit:
    session_id: str
    message_id: int
    role: str
    created_at: float
    excerpt: str
    session_title: str | None = None


@dataclass
class TodoItem:
    id: int
    text: str
    status: str = "pending"  # pending | in_progress | done | cancelled
    extra: dict[str, Any] = field(default_factory=dict)


class Store:
    """The profile's durable state. Open with ``await Store.open(where)`` (a
    state.db path, or a PgTarget); close with ``await store.close()`` (or
    ``async with await Store.open(where) as store:``)."""

    def __init__(self, where: Database, engine: _Engine, clock: Callable[[], float]) -> None:
        self.where = where
        self._engine = engine
        self._clock = clock
        self._closed = False

    @property
    def path(self) -> Path | None:
        """The state.db file (None on PostgreSQL)."""
        return self.where if isinstance(self.where, Path) else None

    @property
    def postgres(self) -> bool:
        return isinstance(self.where, PgTarget)

    @classmethod
    async def open(
        cls, where: Database, *, clock: Callable[[], float] = time.time, pool: int = 0
    ) -> Store:
        """Open (creating and migrating) the database. SQLite runs every call on
        one thread, in call order; PostgreSQL on `pool` threads (default
        PG_POOL), each with its own connection."""
        if isinstance(where, PgTarget):
            engine: _Engine = _PgEngine(where, pool or PG_POOL)
        else:
            engine = _SqliteEngine(where)
        await engine.start()
        return cls(where, engine, clock)

    async def close(self) -> None:
        """Finish the calls already made, then close the connections and threads."""
        if self._closed:
            return
        self._closed = True
        await self._engine.stop()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(
        self,
        fn: Callable[Concatenate[Conn, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run fn(conn, ...) on a store thread."""
        if self._closed:
            raise HermesError("the session store is closed")

        def call(conn: Conn) -> T:
            return fn(conn, *args, **kwargs)

        return await asyncio.shield(asyncio.wrap_future(self._engine.submit(call)))

    async def run(
        self,
        fn: Callable[Concatenate[Conn, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run fn(conn, *args) on a store thread: the way the other modules of
        hermes/store (gateway_ops, pairing_ops, ...) reach the database. Write
        functions wrap their statements in ``db.transaction(conn)``; a function
        that writes should commit at most one transaction (on PostgreSQL, one
        refused for a conflict before its first commit is run again)."""
        return await self._call(fn, *args, **kwargs)

    # ----- sessions ----------------------------------------------------------

    async def create_session(
        self, *, source: str, model: str | None = None, title: str | None = None
    ) -> str:
        from hermes.store import ops

        return await self._call(ops.create_session, self._clock(), source, model, title)

    async def get_session(self, session_id: str) -> SessionInfo | None:
        from hermes.store import ops

        return await self._call(ops.get_session, session_id)

    async def list_sessions(
        self, limit: int = 50, *, source: str | None = None
    ) -> list[SessionInfo]:
        """Most recently updated first; only those of `source` if given."""
        from hermes.store import ops

        return await self._call(ops.list_sessions, limit, source)

    async def delete_session(self, session_id: str) -> bool:
        """Delete a session with its messages, usage and search entries."""
        from hermes.store import ops

        return await self._call(ops.delete_session, session_id)

    async def update_session(
        self, session_id: str, *, model: str | None = None, title: str | None = None
    ) -> None:
        """Set the model and/or title (None leaves a field as it is)."""
        from hermes.store import ops

        await self._call(ops.update_session, session_id, self._clock(), model, title)

    # ----- messages ----------------------------------------------------------

    async def append_messages(
        self,
        session_id: str,
        messages: list[Message],
        also: Callable[[Conn, list[int]], None] | None = None,
    ) -> list[int]:
        """Store messages at the end of the context; returns their ids, in order.
        `also(conn, ids)` runs inside the same transaction (e.g. the gateway marks
        the inbound message as started: both are written, or neither).
        Raises SessionNotFound."""
        from hermes.store import ops

        return await self._call(ops.append_messages, session_id, messages, self._clock(), also)

    async def load_messages(self, session_id: str) -> list[StoredMessage]:
        """The context: messages in order, compacted ones excluded (a compaction
        summary comes first)."""
        from hermes.store import ops

        return await self._call(ops.load_messages, session_id, False)

    async def all_messages(self, session_id: str) -> list[StoredMessage]:
        """Every stored message (compacted ones and summaries too) by id, i.e.
        in the order they were written."""
        from hermes.store import ops

        return await self._call(ops.load_messages, session_id, True)

    async def compact(self, session_id: str, upto_id: int, summary: str) -> None:
        """Every message of the context up to and including `upto_id` (in context
        order: for ordinary messages, those with id <= upto_id; an earlier
        summary too) leaves the context, and one summary message (role "user",
        content starting with "[Summary of earlier conversation]") takes their
        place at the front. Compacted messages stay stored and searchable.
        Raises ValueError if upto_id is not a message of the session."""
        from hermes.store import ops

        text = summary if summary.startswith(SUMMARY_PREFIX) else f"{SUMMARY_PREFIX}\n{summary}"
        await self._call(ops.compact, session_id, upto_id, text, self._clock())

    async def delete_messages_from(self, session_id: str, message_id: int) -> int:
        """Delete message_id and every message after it in context order (/undo,
        /retry); returns how many were deleted (0 if message_id is not there)."""
        from hermes.store import ops

        return await self._call(ops.delete_messages_from, session_id, message_id)

    # ----- usage -------------------------------------------------------------

    async def add_usage(self, session_id: str, usage: Usage, model: str | None) -> None:
        from hermes.store import ops

        await self._call(ops.add_usage, session_id, usage, model, self._clock())

    async def session_usage(self, session_id: str) -> Usage:
        """Tokens summed over the session's model calls (zero if none)."""
        from hermes.store import ops

        return await self._call(ops.session_usage, session_id)

    # ----- search ------------------------------------------------------------

    async def search(
        self, query: str, max_results: int = 5, exclude_session: str | None = None
    ) -> list[SearchHit]:
        """Past user/assistant messages matching query, best first (see
        hermes/store/search.py for the ranking). Never raises on odd characters."""
        raw = await self._call(search.search, query, max_results, exclude_session)
        return [
            SearchHit(
                session_id=h.session_id,
                message_id=h.message_id,
                role=h.role,
                created_at=h.created_at,
                excerpt=h.excerpt,
                session_title=h.title,
            )
            for h in raw
        ]

    # ----- todo --------------------------------------------------------------

    async def get_todo(self, session_id: str) -> list[TodoItem]:
        """The session's todo list ([] for an unknown session)."""
        from hermes.store import ops

        return await self._call(ops.get_todo, session_id)

    async def set_todo(self, session_id: str, items: list[TodoItem]) -> None:
        """Replace the session's todo list. Raises SessionNotFound."""
        await self.update_todo(session_id, lambda _: items)

    async def update_todo(
        self, session_id: str, change: Callable[[list[TodoItem]], list[TodoItem]]
    ) -> list[TodoItem]:
        """Replace the todo list with change(current list) in one transaction, so
        concurrent updates never lose one another; returns the new list. `change`
        runs on the worker thread; what it raises propagates and nothing is written.
        Raises SessionNotFound."""
        from hermes.store import ops

        return await self._call(ops.update_todo, session_id, change)


PG_POOL = 4  # connections (and threads) per store on PostgreSQL
CONFLICT_TRIES = 8  # runs of one operation PostgreSQL refused for a conflict


class _Engine:
    """The threads that hold the connections and run the operations."""

    def __init__(self, threads: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hermes-store")
        self._local = threading.local()
        self._conns: list[Conn] = []
        self._lock = threading.Lock()

    def _connect(self) -> Conn:
        raise NotImplementedError

    def _conn(self) -> Conn:
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _run(self, call: Callable[[Conn], T]) -> T:
        return call(self._conn())

    def submit(self, call: Callable[[Conn], T]) -> Future[T]:
        return self._executor.submit(self._run, call)

    async def start(self) -> None:
        """Open the first connection (creating and migrating the database)."""
        try:
            await asyncio.wrap_future(self._executor.submit(self._conn))
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    async def stop(self) -> None:
        try:
            await asyncio.shield(asyncio.to_thread(self._executor.shutdown, wait=True))
        finally:
            with self._lock:
                conns, self._conns = self._conns, []
            for conn in conns:
                _close(conn)


class _SqliteEngine(_Engine):
    """One thread, one connection: calls run one at a time in call order."""

    def __init__(self, path: Path) -> None:
        super().__init__(1)
        self.path = path

    def _close_mine(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            _close(conn)

    async def stop(self) -> None:
        # a SQLite connection is closed by the thread that opened it
        try:
            await asyncio.shield(asyncio.wrap_future(self._executor.submit(self._close_mine)))
        finally:
            self._executor.shutdown(wait=False)

    def _connect(self) -> Conn:
        try:
            return db.open_db(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise HermesError(
                f"cannot open the state database {self.path}: {exc} "
                "(check the file's permissions; move it aside to start afresh)"
            ) from exc


class _PgEngine(_Engine):
    """`pool` threads, each with a connection of its own; an operation PostgreSQL
    broke off (a deadlock: Conflict) before it committed anything runs again."""

    def __init__(self, target: PgTarget, pool: int) -> None:
        super().__init__(pool)
        self.target = target

    def _connect(self) -> Conn:
        from hermes.store import pg

        # start() opens the first connection, which migrates; the others need not
        with self._lock:
            migrated = bool(self._conns)
        return pg.connect(self.target, up_to_date=migrated)

    def _run(self, call: Callable[[Conn], T]) -> T:
        from hermes.store.pg import Conflict, PgConnection

        conn = self._conn()
        assert isinstance(conn, PgConnection)
        for attempt in range(CONFLICT_TRIES):
            before = conn.commits
            try:
                return call(conn)
            except Conflict:
                if conn.commits != before or attempt == CONFLICT_TRIES - 1:
                    raise
                time.sleep(random.uniform(0, 0.001 * 2**attempt))
        raise AssertionError("unreachable")


def _close(conn: Conn) -> None:
    if not isinstance(conn, sqlite3.Connection):
        close = getattr(conn, "close", None)
        if close is not None:
            close()
        return
    try:
        conn.execute("PRAGMA busy_timeout = 100")  # optimize is optional: never wait long
        conn.execute("PRAGMA analysis_limit = 400")  # keeps optimize quick on big files
        conn.execute("PRAGMA optimize")
    except sqlite3.Error:
        pass  # e.g. another process holds the write lock; the data is safe either way
    finally:
        conn.close()
