"""state.db: migrations, messages, compaction, usage, search and the worker thread."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tools_helpers import wait_until

from hermes.errors import HermesError
from hermes.messages import Message, ToolCall, Usage
from hermes.store import Store, StoredMessage
from hermes.store import db as store_db
from hermes.store import search as store_search
from hermes.store.pg import PgTarget
from hermes.store.store import SUMMARY_PREFIX, SessionNotFound, TodoItem


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The store on both engines: the contract is the same."""
    where: Path | PgTarget = tmp_path / "state.db"
    if request.param == "postgres":
        where = PgTarget(request.getfixturevalue("pg_url"), "hermes_test")
    s = await Store.open(where, clock=Clock())
    yield s
    await s.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """For what only SQLite does (WAL, one thread)."""
    s = await Store.open(tmp_path / "state.db", clock=Clock())
    yield s
    await s.close()


def contents(rows: list[StoredMessage]) -> list[str]:
    return [r.message.content for r in rows]


# ----- schema ---------------------------------------------------------------


async def test_migrations_are_recorded_and_reopening_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    await (await Store.open(path)).close()
    await (await Store.open(path)).close()
    conn = store_db.connect(path)
    try:
        assert store_db.applied_migrations(conn) == [name for name, _ in store_db.MIGRATIONS]
        assert store_db.migrate(conn) == []
    finally:
        conn.close()


def test_appended_step_applies_alone_and_a_failing_step_leaves_no_trace(tmp_path: Path) -> None:
    conn = store_db.open_db(tmp_path / "state.db")
    try:
        steps = [*store_db.MIGRATIONS, ("9001_extra", "CREATE TABLE extra (a INTEGER);")]
        assert store_db.migrate(conn, steps) == ["9001_extra"]
        bad = [*steps, ("9002_bad", "CREATE TABLE half (a); INSERT INTO nowhere VALUES (1);")]
        with pytest.raises(sqlite3.OperationalError):
            store_db.migrate(conn, bad)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "extra" in tables and "half" not in tables
        assert "9002_bad" not in store_db.applied_migrations(conn)
    finally:
        conn.close()


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    sql = "CREATE TABLE t (a);\nCREATE TRIGGER g AFTER INSERT ON t BEGIN SELECT 1; SELECT 2; END;"
    assert len(store_db.split_statements(sql)) == 2


async def test_database_is_in_wal_mode(sqlite_store: Store, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "state.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


async def test_opening_a_file_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HermesError, match="cannot open the state database"):
        await Store.open(path)


# ----- sessions and messages --------------------------------------------------


async def test_session_ids_and_listing(store: Store) -> None:
    first = await store.create_session(source="cli", model="m1")
    second = await store.create_session(source="telegram", title="Groceries")
    assert len(first) == len("20261121_134501_a1b2c3") and first[8] == "_" and first[15] == "_"
    await store.append_messages(first, [Message("user", "hi")])  # first is now the latest
    listed = await store.list_sessions()
    assert [s.id for s in listed] == [first, second]
    assert [s.message_count for s in listed] == [1, 0]
    assert [s.id for s in await store.list_sessions(source="telegram")] == [second]
    await store.update_session(first, title="Hello")
    info = await store.get_session(first)
    assert info is not None and info.title == "Hello" and info.model == "m1"
    assert await store.get_session("nope") is None


async def test_messages_with_tool_calls_round_trip(store: Store) -> None:
    sid = await store.create_session(source="cli")
    sent = [
        Message("user", "list files ✓"),
        Message("assistant", "", [ToolCall("c1", "terminal", '{"command": "ls -la"}')]),
        Message("tool", "a.txt\nb.txt", tool_call_id="c1", name="terminal"),
        Message("assistant", "Two files."),
    ]
    ids = await store.append_messages(sid, sent)
    assert ids == sorted(ids) and len(set(ids)) == 4
    loaded = await store.load_messages(sid)
    assert [m.message for m in loaded] == sent
    assert [m.id for m in loaded] == ids


async def test_appending_to_an_unknown_session_says_so(store: Store) -> None:
    with pytest.raises(SessionNotFound, match="no session 'missing'"):
        await store.append_messages("missing", [Message("user", "x")])


async def test_compaction_puts_the_summary_first_and_keeps_the_rest(store: Store) -> None:
    sid = await store.create_session(source="cli")
    ids = await store.append_messages(sid, [Message("user", f"m{i}") for i in range(6)])
    await store.compact(sid, ids[2], "first three")
    loaded = await store.load_messages(sid)
    assert contents(loaded) == [f"{SUMMARY_PREFIX}\nfirst three", "m3", "m4", "m5"]
    assert loaded[0].message.role == "user" and loaded[0].kind == "summary"

    more = await store.append_messages(sid, [Message("assistant", "m6")])
    await store.compact(sid, ids[4], f"{SUMMARY_PREFIX}\nup to m4")  # covers the old summary
    assert contents(await store.load_messages(sid)) == [f"{SUMMARY_PREFIX}\nup to m4", "m5", "m6"]

    everything = await store.all_messages(sid)
    assert [m.compacted for m in everything if m.id in ids[:5]] == [True] * 5
    assert everything[-1].id > more[0]  # stored in the order written
    assert [h.message_id for h in await store.search("m1")] == [ids[1]]  # still searchable


async def test_delete_messages_from_drops_that_message_and_later_ones(store: Store) -> None:
    sid = await store.create_session(source="cli")
    ids = await store.append_messages(sid, [Message("user", f"w{i}") for i in range(5)])
    assert await store.delete_messages_from(sid, ids[3]) == 2
    assert contents(await store.load_messages(sid)) == ["w0", "w1", "w2"]
    assert await store.delete_messages_from(sid, 999_999) == 0
    assert await store.search("w4") == []
    new = await store.append_messages(sid, [Message("user", "again")])
    assert new[0] > ids[-1]  # ids are never reused


async def test_undo_after_compaction_keeps_the_summary(store: Store) -> None:
    sid = await store.create_session(source="cli")
    ids = await store.append_messages(sid, [Message("user", f"u{i}") for i in range(4)])
    await store.compact(sid, ids[1], "old")
    assert await store.delete_messages_from(sid, ids[3]) == 1
    assert contents(await store.load_messages(sid)) == [f"{SUMMARY_PREFIX}\nold", "u2"]


async def test_usage_accumulates_per_session(store: Store) -> None:
    a = await store.create_session(source="cli")
    b = await store.create_session(source="cli")
    await store.add_usage(a, Usage(100, 20, 50), "m1")
    await store.add_usage(a, Usage(200, 30, 0), "m2")
    await store.add_usage(b, Usage(1, 1, 1), "m1")
    assert await store.session_usage(a) == Usage(300, 50, 50)
    assert await store.session_usage("none") == Usage()


async def test_todo_round_trip(store: Store) -> None:
    sid = await store.create_session(source="cli")
    assert await store.get_todo(sid) == []
    items = [TodoItem(1, "write tests", "done"), TodoItem(2, "ship", extra={"note": "friday"})]
    await store.set_todo(sid, items)
    assert await store.get_todo(sid) == items


async def test_deleting_a_session_removes_everything(store: Store) -> None:
    sid = await store.create_session(source="cli")
    await store.append_messages(sid, [Message("user", "kangaroo facts")])
    await store.add_usage(sid, Usage(1, 2, 3), "m")
    assert [h.session_id for h in await store.search("kangaroo")] == [sid]
    assert await store.delete_session(sid) is True
    assert await store.search("kangaroo") == []
    assert await store.session_usage(sid) == Usage()
    assert await store.load_messages(sid) == []
    assert await store.delete_session(sid) is False


async def test_editing_a_message_updates_the_search_index(store: Store) -> None:
    sid = await store.create_session(source="cli")
    [mid] = await store.append_messages(sid, [Message("user", "walrus")])

    def edit(conn: sqlite3.Connection, content: str, role: str) -> None:
        conn.execute("UPDATE messages SET content = ?, role = ? WHERE id = ?", (content, role, mid))

    await store._call(edit, "narwhal", "user")
    assert await store.search("walrus") == []
    assert [h.message_id for h in await store.search("narwhal")] == [mid]
    await store._call(edit, "narwhal", "tool")  # tool output is not indexed
    assert await store.search("narwhal") == []
    await store._call(edit, "beluga", "assistant")
    assert [h.role for h in await store.search("beluga")] == ["assistant"]


# ----- search -------------------------------------------------------------------


async def test_search_hit_has_excerpt_time_session_and_title(store: Store) -> None:
    sid = await store.create_session(source="cli", title="Cluster work")
    filler = " ".join(f"word{i}" for i in range(60))
    await store.append_messages(sid, [Message("user", f"{filler} kubernetes rollout {filler}")])
    [hit] = await store.search("Kubernetes")
    assert (hit.session_id, hit.session_title, hit.role) == (sid, "Cluster work", "user")
    assert "kubernetes rollout" in hit.excerpt and len(hit.excerpt) < 300
    assert hit.excerpt.startswith("…") and hit.excerpt.endswith("…")
    assert hit.created_at > 1_800_000_000.0


async def test_search_stems_ignores_accents_and_skips_tool_output(store: Store) -> None:
    sid = await store.create_session(source="cli")
    await store.append_messages(
        sid,
        [
            Message("user", "We deployed the café service"),
            Message("tool", "deployment log: zebra", tool_call_id="c", name="terminal"),
        ],
    )
    assert len(await store.search("deploying cafe")) == 1
    assert await store.search("zebra") == []


@pytest.mark.parametrize(
    "query",
    ['"', "-", "a:b", "*", "(", ")", "NEAR(", "foo AND", "OR", '"unbalanced', "^x", "c++ -v",
     "col:value", "", "   ", "!!!", "x*y*", "über-naïve", "'; DROP TABLE messages; --", "_"],
)  # fmt: skip
async def test_odd_query_characters_never_raise(store: Store, query: str) -> None:
    sid = await store.create_session(source="cli")
    await store.append_messages(sid, [Message("user", "c++ compiler flags -v and col:value")])
    assert isinstance(await store.search(query), list)


async def test_phrases_prefixes_and_all_words_first(store: Store) -> None:
    sid = await store.create_session(source="cli")
    ids = await store.append_messages(
        sid,
        [
            Message("user", "red apples are sweet"),
            Message("user", "green apples"),
            Message("assistant", "sweet red cherries"),
        ],
    )
    assert [h.message_id for h in await store.search('"red apples"')] == [ids[0]]
    assert {h.message_id for h in await store.search("cherr*")} == {ids[2]}
    hits = await store.search("red apples", max_results=3)
    assert hits[0].message_id == ids[0]  # has both words
    assert {h.message_id for h in hits} == set(ids)  # then either word


async def test_search_excludes_a_session_and_spreads_over_sessions(store: Store) -> None:
    busy = await store.create_session(source="cli")
    other = await store.create_session(source="cli")
    current = await store.create_session(source="cli")
    await store.append_messages(busy, [Message("user", "marmot") for _ in range(5)])
    await store.append_messages(other, [Message("user", "marmot sighting")])
    await store.append_messages(current, [Message("user", "marmot")])
    hits = await store.search("marmot", max_results=3, exclude_session=current)
    assert current not in {h.session_id for h in hits}
    assert other in {h.session_id for h in hits} and len(hits) == 3
    assert len(await store.search("marmot", max_results=10)) == 7


async def test_common_words_rank_the_recent_window_without_losing_other_sessions(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_search, "WINDOW", 4)
    old = await store.create_session(source="cli")
    other = await store.create_session(source="cli")
    current = await store.create_session(source="cli")
    await store.append_messages(old, [Message("user", "otter otter otter")])
    other_ids = await store.append_messages(
        other, [Message("user", f"otter note {i}") for i in range(4)]
    )
    await store.append_messages(current, [Message("user", "otter") for _ in range(10)])
    hits = await store.search("otter", max_results=5, exclude_session=current)
    # Only the 4 newest matches outside the current session are ranked.
    assert sorted(h.message_id for h in hits) == other_ids


async def test_no_match_returns_nothing(store: Store) -> None:
    sid = await store.create_session(source="cli")
    await store.append_messages(sid, [Message("user", "hello there")])
    assert await store.search("xylophone") == []


# ----- the worker thread -------------------------------------------------------


async def test_event_loop_keeps_running_while_a_query_blocks(sqlite_store: Store) -> None:
    release = threading.Event()

    def blocking_query(conn: sqlite3.Connection) -> int:
        conn.create_function("wait_for_release", 0, lambda: int(release.wait(10)))
        return int(conn.execute("SELECT wait_for_release()").fetchone()[0])

    slow = asyncio.ensure_future(sqlite_store._call(blocking_query))
    queued = asyncio.ensure_future(sqlite_store.list_sessions())
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while ticks < 50:
            await asyncio.sleep(0.001)
            ticks += 1

    await asyncio.wait_for(heartbeat(), timeout=5)
    assert not slow.done() and not queued.done()  # the loop ran while SQLite was busy
    release.set()
    assert await asyncio.wait_for(slow, timeout=5) == 1
    assert await asyncio.wait_for(queued, timeout=5) == []


async def test_all_sqlite_work_runs_on_one_thread(sqlite_store: Store) -> None:
    seen: set[int] = set()

    def who(conn: sqlite3.Connection) -> None:
        seen.add(threading.get_ident())

    calls: list[Callable[[sqlite3.Connection], None]] = [who] * 5
    await asyncio.gather(*(sqlite_store._call(c) for c in calls))
    assert len(seen) == 1 and threading.get_ident() not in seen


async def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    s = await Store.open(tmp_path / "state.db")
    await s.close()
    with pytest.raises(HermesError, match="closed"):
        await s.list_sessions()


async def test_a_write_cancelled_while_queued_still_lands(store: Store) -> None:
    sid = await store.create_session(source="cli")
    release = threading.Event()

    def busy(conn: sqlite3.Connection) -> None:
        release.wait(10)

    blocker = asyncio.ensure_future(store._call(busy))
    write = asyncio.ensure_future(store.append_messages(sid, [Message("user", "keep me")]))
    await asyncio.sleep(0)  # both are queued on the worker now
    write.cancel()  # e.g. the turn was interrupted
    with pytest.raises(asyncio.CancelledError):
        await write
    release.set()
    await blocker

    async def landed() -> bool:  # on PostgreSQL it may run beside the blocker
        return contents(await store.load_messages(sid)) == ["keep me"]

    await wait_until(landed)


async def test_closing_while_another_process_writes_is_quiet(tmp_path: Path) -> None:
    s = await Store.open(tmp_path / "state.db")
    sid = await s.create_session(source="cli")
    await s.append_messages(sid, [Message("user", "hello")])
    worker = await s._call(lambda conn: threading.current_thread())
    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # e.g. the gateway in the middle of a write
        await s.close()  # must not raise "database is locked"
        other.execute("COMMIT")
        assert other.execute("SELECT content FROM messages").fetchall() == [("hello",)]
    finally:
        other.close()
    await wait_until(lambda: not worker.is_alive())


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
async def test_a_failed_open_leaves_no_file_open(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HermesError):
        await Store.open(path)
    assert str(path) not in open_files()


def open_files() -> list[str]:
    return [os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")]
