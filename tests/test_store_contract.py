"""The store's contract beyond sessions and messages (tests/test_store.py has
those), on BOTH engines: every test runs on SQLite (a state.db file) and on
PostgreSQL (a real server, a schema of its own per test, as a tenant).

What the gateway keeps: inbound messages, the delivery ledger, chat -> session,
kv, chats, tasks and their events, approvals, cron jobs and runs, kept cron
results, pairing, skipped updates, leftover tool processes, skills, the web
chat's rows and usage. The operations are the plain functions of
hermes/store/*_ops.py run on a connection (`conn`), or through the Store
(`store.run`), which is how the gateway reaches them and which runs them
concurrently on PostgreSQL. Races between two gateways run in two threads,
each with a connection of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.gateway.cursors import kv_cursors
from hermes.messages import Message, Usage
from hermes.store import (
    Store,
    approval_ops,
    chat_ops,
    cron_ops,
    db,
    kept_ops,
    leftover_ops,
    ops,
    pairing_ops,
    pg,
    skill_ops,
    skipped_ops,
    task_ops,
    task_tree,
    web_ops,
)
from hermes.store import gateway_ops as gw
from hermes.store.approval_ops import NewApproval
from hermes.store.cron_ops import JobRow, NewJob
from hermes.store.gateway_ops import NewDelivery
from hermes.store.pg import Conflict, PgTarget
from hermes.store.store import SessionNotFound
from hermes.store.where import Database

NOW = 1_800_000_000.0
_schemas = itertools.count(1)


# ----- the two engines ----------------------------------------------------------


@pytest.fixture(scope="module")
def pg_contract_url(pg_server: Any) -> str:
    """One database for the module: each test is a tenant with a schema of its own
    (much quicker than a database per test)."""
    return str(pg_server.database())


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        return tmp_path / "state.db"
    return PgTarget(request.getfixturevalue("pg_contract_url"), f"hermes_c{next(_schemas)}")


def open_conn(where: Database) -> Any:
    """A connection of the engine, schema created and migrated."""
    return pg.connect(where) if isinstance(where, PgTarget) else db.open_db(where)


@pytest.fixture
def conn(where: Database) -> Iterator[Any]:
    c = open_conn(where)
    yield c
    c.close()


@pytest.fixture
async def store(where: Database) -> AsyncIterator[Store]:
    s = await Store.open(where)
    yield s
    await s.close()


def retried(fn: Callable[..., Any], conn: Any, *args: Any) -> Any:
    """Run an operation as the Store does: again when PostgreSQL refused it for a
    serialization conflict (hermes/store/pg.py: running it again is safe)."""
    for _ in range(200):
        try:
            return fn(conn, *args)
        except Conflict:
            continue
    raise AssertionError("PostgreSQL kept refusing the operation")


def race(where: Database, work: list[Callable[[Any], None]]) -> None:
    """Run each callable in a thread of its own with a connection of its own,
    started together (two gateways sharing one database)."""
    start = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(job: Callable[[Any], None]) -> None:
        c = open_conn(where)  # a SQLite connection is used by its own thread only
        try:
            start.wait(timeout=30)
            job(c)
        except BaseException as exc:
            errors.append(exc)
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not [t for t in threads if t.is_alive()], "a racer did not finish"
    assert not errors, errors


def new_session(conn: Any, source: str = "telegram") -> str:
    return str(ops.create_session(conn, NOW, source, None, None))


def say(
    conn: Any,
    session_id: str,
    text: str,
    *,
    role: str = "user",
    tool_call_id: str | None = None,
    also: Callable[[Any, list[int]], None] | None = None,
) -> int:
    message = Message(role=role, content=text, tool_call_id=tool_call_id)  # type: ignore[arg-type]
    [message_id] = ops.append_messages(conn, session_id, [message], NOW, also)
    return int(message_id)


def event(chat: Any = "c1", text: str = "hi", **more: Any) -> dict[str, Any]:
    return {"platform": "telegram", "chat": chat, "user": "u1", "text": text, **more}


def reply(
    key: str, chat: str = "c1", platform: str = "telegram", text: str = "", **more: Any
) -> NewDelivery:
    return NewDelivery(key, platform, chat, more.pop("thread", None), text or f"text {key}", **more)


# ----- inbound -------------------------------------------------------------------


def test_inbound_is_stored_once_per_platform_and_external_id(conn: Any) -> None:
    first = gw.insert_inbound(conn, "telegram", "u-1", "k", event(), NOW)
    again = gw.insert_inbound(conn, "telegram", "u-1", "k", event(text="x"), NOW + 1)
    other = gw.insert_inbound(conn, "slack", "u-1", "k2", event(), NOW + 2)
    assert isinstance(first, int) and again is None and isinstance(other, int)
    assert other != first
    rows = gw.open_inbound(conn)
    assert [(r.id, r.platform, r.status) for r in rows] == [
        (first, "telegram", "pending"),
        (other, "slack", "pending"),
    ]
    assert rows[0].event == event() and rows[0].received_at == NOW  # the first one stays
    assert rows[0].session_id is None and rows[0].user_message_id is None


async def test_a_turn_starts_with_its_user_message_and_finishes_with_its_reply(
    store: Store,
) -> None:
    row_id = await store.run(gw.insert_inbound, "telegram", "e1", "k", event(), NOW)
    assert row_id is not None
    sid = await store.create_session(source="telegram")

    def started(c: Any, ids: list[int]) -> None:
        gw.start_inbound(c, row_id, sid, ids[0])

    [mid] = await store.append_messages(sid, [Message(role="user", content="hi")], also=started)
    row = await store.run(gw.get_inbound, row_id)
    assert row is not None and (row.status, row.session_id, row.user_message_id) == (
        "running",
        sid,
        mid,
    )
    await store.run(gw.set_inbound_status, row_id, "waiting")
    assert [r.status for r in await store.run(gw.open_inbound)] == ["waiting"]
    await store.run(gw.finish_inbound, row_id, "done", NOW + 5, None, reply("r1"))
    assert await store.run(gw.open_inbound) == []
    queued = await store.run(gw.delivery_by_key, "r1")
    assert queued is not None and (queued.status, queued.text) == ("pending", "text r1")


def test_a_failed_start_stores_neither_the_message_nor_the_mark(conn: Any) -> None:
    row_id = gw.insert_inbound(conn, "telegram", "e1", "k", event(), NOW)
    sid = new_session(conn)

    def started_then_broke(c: Any, ids: list[int]) -> None:
        gw.start_inbound(c, row_id, sid, ids[0])
        raise RuntimeError("crash between the two writes")

    with pytest.raises(RuntimeError):
        say(conn, sid, "hi", also=started_then_broke)
    row = gw.get_inbound(conn, row_id)
    assert row is not None and (row.status, row.user_message_id) == ("pending", None)
    assert ops.load_messages(conn, sid, True) == []


def test_finishing_a_message_and_queueing_its_reply_is_all_or_nothing(conn: Any) -> None:
    row_id = gw.insert_inbound(conn, "telegram", "e1", "k", event(), NOW)
    broken = NewDelivery("r1", "telegram", "c1", None, None)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):  # text is NOT NULL
        gw.finish_inbound(conn, row_id, "done", NOW, None, broken)
    assert [r.status for r in gw.open_inbound(conn)] == ["pending"]
    assert gw.delivery_by_key(conn, "r1") is None
    gw.finish_inbound(conn, row_id, "failed", NOW, "boom", reply("r1"))
    row = gw.get_inbound(conn, row_id)
    assert row is not None and row.status == "failed"
    assert gw.delivery_by_key(conn, "r1") is not None


def test_a_spoken_reply_follows_the_chats_voice_mode(conn: Any) -> None:
    for n, mode in enumerate(["only", "off", None]):
        chat = f"c{n}"
        row_id = gw.insert_inbound(conn, "telegram", f"e{n}", "k", event(chat), NOW)
        if mode is not None:
            chat_ops.set_voice_mode(conn, "telegram", chat, mode, NOW)
        d = reply(f"r{n}", chat)
        gw.finish_inbound(conn, row_id, "done", NOW, None, d, spoken=True)
    voices = [gw.delivery_by_key(conn, f"r{n}") for n in range(3)]
    assert [v.voice if v else "missing" for v in voices] == ["only", None, None]
    with pytest.raises(ValueError):
        chat_ops.set_voice_mode(conn, "telegram", "c0", "loud", NOW)


def test_prune_forgets_only_old_finished_messages_and_sent_replies(conn: Any) -> None:
    ids = [gw.insert_inbound(conn, "t", f"e{i}", "k", event(), NOW + i) for i in range(3)]
    gw.finish_inbound(conn, ids[0], "done", NOW)
    gw.finish_inbound(conn, ids[2], "done", NOW)
    sent = gw.queue_delivery(conn, reply("old"), NOW)
    gw.queue_delivery(conn, reply("pending"), NOW)
    gw.mark_sent(conn, sent, NOW)
    gw.prune(conn, NOW + 2)
    assert gw.get_inbound(conn, ids[0]) is None
    assert gw.get_inbound(conn, ids[1]) is not None  # not finished
    assert gw.get_inbound(conn, ids[2]) is not None  # not old enough
    assert gw.delivery_by_key(conn, "old") is None
    assert gw.delivery_by_key(conn, "pending") is not None


# ----- chats ---------------------------------------------------------------------


def test_every_chat_a_message_came_from_is_listed_with_its_latest_name(conn: Any) -> None:
    gw.insert_inbound(conn, "telegram", "1", "k", event("c1", chat_name="Team"), NOW)
    gw.insert_inbound(conn, "telegram", "2", "k", event("c1"), NOW + 10)  # no name
    gw.insert_inbound(conn, "telegram", "3", "k", event("c1"), NOW - 50)  # late arrival
    gw.insert_inbound(conn, "telegram", "4", "k", event(-100123), NOW + 5)  # a number
    gw.insert_inbound(conn, "slack", "5", "k", event("c1", chat_name="Ops"), NOW + 1)
    assert chat_ops.exists(conn, "telegram", "c1") and chat_ops.exists(conn, "telegram", "-100123")
    assert not chat_ops.exists(conn, "telegram", "c2")
    assert chat_ops.names(conn) == {"telegram:c1": "Team", "slack:c1": "Ops"}
    listing = chat_ops.listing(conn)
    assert [(c["platform"], c["chat"], c["last_seen"]) for c in listing] == [
        ("telegram", "c1", NOW + 10),
        ("telegram", "-100123", NOW + 5),
        ("slack", "c1", NOW + 1),
    ]
    assert chat_ops.listing(conn, limit=1)[0]["name"] == "Team"


def test_a_web_chat_exists_once_a_message_was_sent_in_it(conn: Any) -> None:
    target = gw.NewDelivery("k", "web", "page-1", None, "x")
    assert chat_ops.missing_web_chat(conn, target) is not None
    assert chat_ops.missing_web_chat(conn, reply("k")) is None  # another platform checks itself
    gw.insert_inbound(conn, "web", "m1", "k", event("page-1"), NOW)
    assert chat_ops.missing_web_chat(conn, target) is None


def test_a_voice_mode_set_before_any_message_is_kept_when_messages_come(conn: Any) -> None:
    assert chat_ops.voice_mode(conn, "telegram", "c9") == "off"
    chat_ops.set_voice_mode(conn, "telegram", "c9", "on", NOW)
    gw.insert_inbound(conn, "telegram", "1", "k", event("c9", chat_name="Me"), NOW + 1)
    assert chat_ops.voice_mode(conn, "telegram", "c9") == "on"
    assert chat_ops.names(conn) == {"telegram:c9": "Me"}
    chat_ops.set_voice_mode(conn, "telegram", "c9", "off", NOW + 2)
    assert chat_ops.voice_mode(conn, "telegram", "c9") == "off"


# ----- the delivery ledger -------------------------------------------------------


def test_a_delivery_key_is_queued_once_and_its_fields_round_trip(conn: Any) -> None:
    buttons = [[{"label": "Yes", "data": "y"}, {"label": "No", "data": "n"}]]
    d = reply("k1", thread="t7", buttons=buttons, reply_to="m5", edit_message_id="m6", voice="on")
    first = gw.queue_delivery(conn, d, NOW)
    assert isinstance(first, int)
    assert gw.queue_delivery(conn, reply("k1", text="other"), NOW + 1) is None
    got = gw.get_delivery(conn, first)
    assert got == gw.delivery_by_key(conn, "k1")
    assert got is not None
    assert (got.key, got.platform, got.chat, got.thread, got.text) == (
        "k1",
        "telegram",
        "c1",
        "t7",
        "text k1",
    )
    assert (got.buttons, got.reply_to, got.edit_message_id, got.voice) == (
        buttons,
        "m5",
        "m6",
        "on",
    )
    assert (got.parts_sent, got.message_ids, got.status, got.attempts) == (0, [], "pending", 0)
    assert (got.next_attempt_at, got.created_at, got.sent_at, got.error) == (NOW, NOW, None, None)
    assert got.reported is False
    assert gw.count_deliveries(conn) == {"pending": 1}


def test_due_rows_are_leased_oldest_first_and_again_only_when_the_lease_ran_out(conn: Any) -> None:
    ids = [gw.queue_delivery(conn, reply(f"k{i}", f"c{i}"), NOW) for i in range(3)]
    gw.queue_delivery(conn, reply("s", platform="slack"), NOW)
    assert gw.claim_due(conn, NOW, 30, []) == []
    leased = gw.claim_due(conn, NOW, 30, ["telegram"], limit=2)
    assert [d.id for d in leased] == ids[:2]
    assert gw.get_delivery(conn, ids[0]).status == "sending"
    assert [d.id for d in gw.claim_due(conn, NOW + 1, 30, ["telegram"])] == [ids[2]]
    assert gw.claim_due(conn, NOW + 29, 30, ["telegram"]) == []
    assert gw.next_due(conn, ["telegram"]) == NOW + 30  # the first lease ends
    assert gw.next_due(conn, ["slack"]) == NOW
    assert gw.next_due(conn, ["discord"]) is None and gw.next_due(conn, []) is None
    again = gw.claim_due(conn, NOW + 30, 30, ["telegram", "slack"])
    assert sorted(d.key for d in again) == ["k0", "k1", "s"]  # the dead sender's and slack's


def test_a_reply_waits_while_an_older_one_to_the_same_chat_backs_off(conn: Any) -> None:
    first = gw.queue_delivery(conn, reply("a"), NOW)
    second = gw.queue_delivery(conn, reply("b"), NOW)
    threaded = gw.queue_delivery(conn, reply("c", thread="t1"), NOW)
    elsewhere = gw.queue_delivery(conn, reply("d", "c2"), NOW)
    [d] = gw.claim_due(conn, NOW, 30, ["telegram"], limit=1)
    assert d.id == first
    gw.mark_retry(conn, first, "HTTP 502", NOW + 60, give_up=False)
    due = gw.claim_due(conn, NOW + 1, 300, ["telegram"])
    assert [x.id for x in due] == [threaded, elsewhere]  # another thread, another chat
    assert gw.get_delivery(conn, second).status == "pending"
    assert [x.id for x in gw.claim_due(conn, NOW + 60, 30, ["telegram"])] == [first, second]


def test_parts_sent_then_sent_and_failures_until_given_up_and_reported(conn: Any) -> None:
    ok = gw.queue_delivery(conn, reply("ok"), NOW)
    bad = gw.queue_delivery(conn, reply("bad", "c2"), NOW)
    other = gw.queue_delivery(conn, reply("other", platform="slack"), NOW)
    gw.record_part(conn, ok, "m1", 1)
    gw.record_part(conn, ok, "m2", 2)
    gw.mark_retry(conn, ok, "timeout", NOW + 5, give_up=False)
    gw.mark_sent(conn, ok, NOW + 6)
    sent = gw.get_delivery(conn, ok)
    assert sent is not None
    assert (sent.parts_sent, sent.message_ids) == (2, ["m1", "m2"])
    assert (sent.status, sent.sent_at, sent.error, sent.attempts) == ("sent", NOW + 6, None, 1)
    gw.mark_retry(conn, bad, "403", NOW + 5, give_up=False)
    gw.mark_retry(conn, bad, "403 again", NOW + 10, give_up=True)
    gw.mark_retry(conn, other, "gone", NOW, give_up=True)
    failed = gw.failed_deliveries(conn)
    assert [(d.id, d.attempts, d.error) for d in failed] == [
        (bad, 2, "403 again"),
        (other, 1, "gone"),
    ]
    assert [d.id for d in gw.failed_deliveries(conn, "slack")] == [other]
    gw.mark_reported(conn, [bad])
    assert [d.id for d in gw.failed_deliveries(conn, unreported_only=True)] == [other]
    assert gw.failed_deliveries(conn, "telegram")[0].reported is True
    assert gw.count_deliveries(conn) == {"sent": 1, "failed": 2}


def test_one_delivery_is_leased_once_and_a_restart_releases_the_leases(conn: Any) -> None:
    a = gw.queue_delivery(conn, reply("a"), NOW)
    b = gw.queue_delivery(conn, reply("b"), NOW)
    got = gw.claim_one(conn, a, NOW, 30)
    assert got is not None and (got.id, got.status) == (a, "sending")
    assert gw.claim_one(conn, a, NOW + 1, 30) is None
    assert gw.claim_one(conn, a, NOW + 30, 30) is not None  # the lease ran out
    assert gw.claim_one(conn, 999_999, NOW, 30) is None
    gw.claim_one(conn, b, NOW, 30)
    assert gw.release_sending(conn, NOW + 1) == 2
    assert gw.count_deliveries(conn) == {"pending": 2}


def test_two_senders_racing_lease_each_due_delivery_once(where: Database, conn: Any) -> None:
    for i in range(60):
        gw.queue_delivery(conn, reply(f"k{i}", f"c{i}"), NOW)
    leased: dict[str, list[int]] = {"a": [], "b": []}

    def sender(name: str) -> Callable[[Any], None]:
        def work(c: Any) -> None:
            for _ in range(8):
                got = retried(gw.claim_due, c, NOW, 30.0, ["telegram"], 10)
                leased[name] += [d.id for d in got]

        return work

    race(where, [sender("a"), sender("b")])
    everything = leased["a"] + leased["b"]
    assert len(everything) == 60 and len(set(everything)) == 60
    assert gw.count_deliveries(conn) == {"sending": 60}


# ----- chat -> session, kv -------------------------------------------------------


def test_a_chat_keeps_its_current_session_while_that_session_exists(conn: Any) -> None:
    assert gw.chat_session(conn, "default:telegram:c1") is None
    first, second = new_session(conn), new_session(conn)
    gw.set_chat_session(conn, "default:telegram:c1", first, NOW)
    assert gw.chat_session(conn, "default:telegram:c1") == first
    gw.set_chat_session(conn, "default:telegram:c1", second, NOW + 1)
    assert gw.chat_session(conn, "default:telegram:c1") == second
    assert ops.delete_session(conn, second)
    assert gw.chat_session(conn, "default:telegram:c1") is None


async def test_kv_values_are_replaced_and_adapters_keep_their_place_in_it(store: Store) -> None:
    assert await store.run(gw.kv_get, "x") is None
    await store.run(gw.kv_set, "x", "1")
    await store.run(gw.kv_set, "x", "2")
    assert await store.run(gw.kv_get, "x") == "2"
    cursor = kv_cursors(store)("telegram.offset.42")
    assert await cursor.load() is None
    await asyncio.gather(*(cursor.save(str(n)) for n in range(20)))  # concurrent on PostgreSQL
    assert await cursor.load() in {str(n) for n in range(20)}
    await cursor.save("1000")
    assert await kv_cursors(store)("telegram.offset.42").load() == "1000"


# ----- tasks ---------------------------------------------------------------------


def test_tasks_are_listed_newest_first_by_chat_and_open_ones_first_in_line(conn: Any) -> None:
    a = task_ops.insert(conn, "background", "one", "telegram:c1", NOW, requester="telegram:u1")
    b = task_ops.insert(conn, "walkaway", "two", "telegram:c2", NOW + 1)
    c = task_ops.insert(conn, "background", "three", "telegram:c1", NOW + 2)
    assert a.id.startswith("bg_") and b.id.startswith("wk_")
    assert (a.status, a.prompt, a.origin, a.requester, a.created_at) == (
        "queued",
        "one",
        "telegram:c1",
        "telegram:u1",
        NOW,
    )
    assert task_ops.get(conn, f"  {a.id} ") == a and task_ops.get(conn, "bg_nope") is None
    assert [t.id for t in task_ops.listing(conn)] == [c.id, b.id, a.id]
    assert [t.id for t in task_ops.listing(conn, origin="telegram:c1")] == [c.id, a.id]
    assert [t.id for t in task_ops.listing(conn, limit=1)] == [c.id]
    task_ops.finish(conn, c.id, "done", NOW + 3, result="ok")
    assert [t.id for t in task_ops.listing(conn, open_only=True)] == [b.id, a.id]
    assert [t.id for t in task_ops.open_tasks(conn)] == [a.id, b.id]
    assert task_ops.count_open(conn) == 2
    assert [t.id for t in task_ops.get_many(conn, [c.id, a.id, "x"])] == [a.id, c.id]


def test_a_task_starts_with_its_first_message_and_finishes_once(conn: Any) -> None:
    task = task_ops.insert(conn, "background", "go", "telegram:c1", NOW)
    sid = new_session(conn, "background")
    mid = say(conn, sid, "go", also=lambda c, ids: task_ops.start(c, task.id, sid, ids[0], NOW + 1))
    row = task_ops.get(conn, task.id)
    assert row is not None and (row.status, row.session_id, row.user_message_id) == (
        "running",
        sid,
        mid,
    )
    assert row.started_at == NOW + 1 and not row.finished
    assert task_ops.of_session(conn, sid) == [row]
    assert task_ops.set_status(conn, task.id, "waiting_approval")
    assert task_ops.get(conn, task.id).status == "waiting_approval"
    assert task_ops.finish(conn, task.id, "cancelled", NOW + 2, delivery=reply("cancel"))
    assert not task_ops.finish(conn, task.id, "done", NOW + 3, result="late", delivery=reply("r"))
    assert not task_ops.set_status(conn, task.id, "running")
    done = task_ops.get(conn, task.id)
    assert done is not None and (done.status, done.result, done.finished_at) == (
        "cancelled",
        None,
        NOW + 2,
    )
    assert done.finished and done.to_json()["status"] == "cancelled"
    assert gw.delivery_by_key(conn, "cancel") is not None
    assert gw.delivery_by_key(conn, "r") is None  # the cancel won: nothing queued


def test_task_events_keep_the_last_ones_in_order_and_steering_is_read_once(conn: Any) -> None:
    task = task_ops.insert(conn, "background", "go", None, NOW)
    ids = [task_ops.add_event(conn, task.id, "progress", f"step {i}", NOW + i) for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [(e.kind, e.text) for e in task_ops.events(conn, task.id, limit=2)] == [
        ("progress", "step 3"),
        ("progress", "step 4"),
    ]
    assert task_ops.events(conn, task.id)[0] == task_ops.TaskEvent(NOW, "progress", "step 0")
    task_ops.add_event(conn, task.id, "steer", "use the other file", NOW + 10)
    task_ops.add_event(conn, task.id, "steer", "and hurry", NOW + 11)
    assert task_ops.take_steering(conn, task.id) == ["use the other file", "and hurry"]
    assert task_ops.take_steering(conn, task.id) == []
    assert task_ops.events(conn, "bg_nope") == []


def child(parent: str, call_id: str, n: int, waited: bool = False) -> task_ops.Child:
    brief = f"You help.{task_tree.GOAL}goal {n}{task_tree.CONTEXT} more"
    return task_ops.Child(
        brief, "telegram:c1", "telegram:u1", parent, call_id, 1, NOW + 600, waited
    )


def test_delegated_children_are_inserted_once_per_call_and_reported_once(conn: Any) -> None:
    parent = new_session(conn)
    kids = task_ops.insert_children(
        conn, [child(parent, "call1", 0), child(parent, "call1", 1)], NOW
    )
    assert [k.kind for k in kids] == ["delegate", "delegate"]
    assert [(k.parent, k.call_id, k.depth, k.deadline, k.waited) for k in kids] == [
        (parent, "call1", 1, NOW + 600, 0)
    ] * 2
    again = task_ops.insert_children(conn, [child(parent, "call1", 0)], NOW + 1)  # a restart
    assert [k.id for k in again] == [k.id for k in kids]
    assert [k.id for k in task_ops.children_of(conn, parent)] == [k.id for k in kids]
    assert task_ops.unreported(conn) == []
    task_ops.finish(conn, kids[0].id, "done", NOW + 2, result="found it")
    assert [t.id for t in task_ops.unreported(conn)] == [kids[0].id]
    task_ops.mark_reported(conn, [kids[0].id], NOW + 3)
    assert task_ops.unreported(conn) == []
    assert task_ops.get(conn, kids[0].id).reported_at == NOW + 3
    assert sorted(task_tree.headline(k) for k in kids) == ["goal 0", "goal 1"]


def test_a_cancel_reaches_the_open_descendants_and_the_tree_nests_them(conn: Any) -> None:
    top = task_ops.insert(conn, "background", "top", "telegram:c1", NOW)
    top_sid = new_session(conn, "background")
    say(conn, top_sid, "top", also=lambda c, ids: task_ops.start(c, top.id, top_sid, ids[0], NOW))
    [kid] = task_ops.insert_children(conn, [child(top_sid, "call1", 0)], NOW + 1)
    [done_kid] = task_ops.insert_children(conn, [child(top_sid, "call3", 1)], NOW + 3)
    kid_sid = new_session(conn, "delegate")
    say(conn, kid_sid, "b", also=lambda c, ids: task_ops.start(c, kid.id, kid_sid, ids[0], NOW))
    [grandchild] = task_ops.insert_children(conn, [child(kid_sid, "call2", 2)], NOW + 2)
    task_ops.finish(conn, done_kid.id, "done", NOW + 4, result="r")
    assert [t.id for t in task_ops.open_descendants(conn, top_sid)] == [kid.id, grandchild.id]
    rows = task_ops.listing(conn)
    hosts = task_ops.in_sessions(conn, [r.parent for r in rows if r.parent])
    assert set(hosts) == {top_sid, kid_sid} and hosts[kid_sid].id == kid.id
    lines = task_tree.nest(rows, hosts)
    assert [(line.row.id, line.level) for line in lines] == [
        (top.id, 0),
        (kid.id, 1),
        (grandchild.id, 2),
        (done_kid.id, 1),
    ]
    assert task_tree.delegated_by(lines[1], "the agent") == f"delegated by {top.id}"


def test_children_a_dead_parent_waited_for_are_found_unless_it_got_their_result(conn: Any) -> None:
    parent = new_session(conn)
    kids = task_ops.insert_children(
        conn, [child(parent, "call1", 0, waited=True), child(parent, "call2", 1, waited=True)], NOW
    )
    got, lost = sorted(kids, key=lambda k: k.call_id or "")
    say(conn, parent, "the real result", role="tool", tool_call_id="call1")
    say(conn, parent, "[not finished: the gateway stopped]", role="tool", tool_call_id="call2")
    assert task_ops.orphaned_waits(conn) == [lost.id]
    task_ops.set_unwaited(conn, [lost.id])
    assert task_ops.get(conn, lost.id).waited == 0
    assert task_ops.orphaned_waits(conn) == []
    assert task_ops.get(conn, got.id).waited == 1
    assert task_ops.finish(conn, got.id, "done", NOW, delivery=reply("w"), unless_waited=True)
    assert gw.delivery_by_key(conn, "w") is None  # the parent has it
    assert task_ops.finish(conn, lost.id, "done", NOW, delivery=reply("l"), unless_waited=True)
    assert gw.delivery_by_key(conn, "l") is not None


# ----- approvals -----------------------------------------------------------------


def approval(call: str = "call1", owner: str = "inbound:1", **more: Any) -> NewApproval:
    base: dict[str, Any] = {
        "risk": "high",
        "reason": "deletes files",
        "tool": "terminal",
        "action": "rm -rf build",
        "tool_call_id": call,
        "session_id": "s1",
        "owner": owner,
        "origin": "telegram:c1",
        "action_hash": "h-" + call,
        "args": '{"command": "rm -rf build"}',
        "cwd": "/work",
        "backend": "local",
        "requester": "telegram:u1",
    }
    return NewApproval(**{**base, **more})


def test_a_call_is_asked_about_once_and_never_for_another_action(conn: Any) -> None:
    row, created = approval_ops.request(conn, approval(), NOW)
    assert created and (row.status, row.resumed, row.created_at) == ("pending", False, NOW)
    assert (row.tool, row.action, row.owner, row.requester) == (
        "terminal",
        "rm -rf build",
        "inbound:1",
        "telegram:u1",
    )
    same, created = approval_ops.request(conn, approval(), NOW + 5)
    assert not created and same == row
    with pytest.raises(LookupError):
        approval_ops.request(conn, approval(action_hash="other"), NOW + 6)
    assert approval_ops.get(conn, f" {row.id.upper()} ") == row
    assert approval_ops.count_pending(conn) == 1
    assert row.to_json()["cwd"] == "/work"


def test_an_approval_is_decided_once_and_its_owner_resumed_once(conn: Any) -> None:
    a, _ = approval_ops.request(conn, approval("c1", owner="task:t1"), NOW)
    b, _ = approval_ops.request(conn, approval("c2", owner="task:t1"), NOW + 1)
    other, _ = approval_ops.request(conn, approval("c3", owner="inbound:9"), NOW + 2)
    row, changed = approval_ops.decide(conn, a.id, True, "telegram:u1", NOW + 3)
    assert (
        changed and row is not None and (row.status, row.decided_by) == ("approved", "telegram:u1")
    )
    row, changed = approval_ops.decide(conn, a.id, False, "cli", NOW + 4)
    assert not changed and row is not None and (row.status, row.decided_at) == ("approved", NOW + 3)
    assert approval_ops.decide(conn, "ffffff", True, "cli", NOW) == (None, False)
    assert approval_ops.decided_owners(conn) == []  # task:t1 still has a pending request
    approval_ops.decide(conn, b.id, False, "cli", NOW + 5)
    approval_ops.decide(conn, other.id, True, "cli", NOW + 6)
    assert approval_ops.decided_owners(conn) == ["task:t1", "inbound:9"]
    approval_ops.mark_resumed(conn, "task:t1")
    assert approval_ops.decided_owners(conn) == ["inbound:9"]
    assert [r.id for r in approval_ops.of_owner(conn, "task:t1")] == [a.id, b.id]
    assert all(r.resumed for r in approval_ops.of_owner(conn, "task:t1"))


def test_low_risk_requests_approve_themselves_on_time_unless_cancelled(conn: Any) -> None:
    soon, _ = approval_ops.request(conn, approval("c1", auto_approve_at=NOW + 60), NOW)
    later, _ = approval_ops.request(conn, approval("c2", auto_approve_at=NOW + 90), NOW + 1)
    approval_ops.request(conn, approval("c3", owner="task:t2"), NOW + 2)
    assert approval_ops.next_auto(conn) == NOW + 60
    assert approval_ops.due_auto(conn, NOW + 59) == []
    assert [r.id for r in approval_ops.due_auto(conn, NOW + 60)] == [soon.id]
    assert [r.id for r in approval_ops.listing(conn)] == [
        r.id for r in approval_ops.listing(conn, status="pending")
    ]
    assert len(approval_ops.listing(conn, status=None, limit=2)) == 2
    assert approval_ops.cancel_owner(conn, "inbound:1", "stop", NOW + 3) == 2
    assert approval_ops.next_auto(conn) is None and approval_ops.due_auto(conn, NOW + 99) == []
    cancelled = approval_ops.get(conn, later.id)
    assert cancelled is not None and (cancelled.status, cancelled.resumed) == ("cancelled", True)
    assert [r.status for r in approval_ops.listing(conn, status=None)] == [
        "pending",
        "cancelled",
        "cancelled",
    ]
    assert approval_ops.decided_owners(conn) == []  # a cancelled owner is not resumed


def test_two_deciders_racing_leave_one_decision(where: Database, conn: Any) -> None:
    rows = [approval_ops.request(conn, approval(f"c{i}"), NOW + i)[0] for i in range(20)]
    changed: dict[str, int] = {"approve": 0, "deny": 0}

    def decider(approve: bool) -> Callable[[Any], None]:
        name = "approve" if approve else "deny"

        def work(c: Any) -> None:
            for r in rows:
                _, did = retried(approval_ops.decide, c, r.id, approve, name, NOW + 100)
                changed[name] += did

        return work

    race(where, [decider(True), decider(False)])
    assert changed["approve"] + changed["deny"] == 20
    final = [approval_ops.get(conn, r.id) for r in rows]
    by = {"approved": "approve", "denied": "deny"}
    assert all(f is not None and f.decided_by == by[f.status] for f in final)


# ----- cron ----------------------------------------------------------------------


def new_job(
    conn: Any, next_run_at: float | None, name: str = "j", created: float = NOW - 3600, **more: Any
) -> JobRow:
    fields: dict[str, Any] = {
        "name": name,
        "schedule": "every 1m",
        "prompt": "prompt " + name,
        "deliver": "none",
        "origin": "telegram:c1",
        "profile": "default",
        "next_run_at": next_run_at,
        "created_by": "test",
    }
    return cron_ops.insert(conn, NewJob(**{**fields, **more}), created)


def every_minute(job: JobRow, now: float) -> float | None:
    assert job.next_run_at is not None
    return job.next_run_at + 60 * (int((now - job.next_run_at) // 60) + 1)


def test_jobs_are_listed_by_next_run_and_edited_as_their_state_allows(conn: Any) -> None:
    late = new_job(conn, NOW + 600, "late", created=NOW - 40)
    soon = new_job(conn, NOW + 60, "soon", created=NOW - 30)
    once = new_job(conn, None, "once", created=NOW - 20)
    paused = new_job(conn, NOW + 30, "paused", created=NOW - 10)
    assert (late.status, once.status, soon.runs) == ("active", "done", 0)
    stopped = cron_ops.set_status(conn, paused.id, "paused", None, NOW)
    assert stopped is not None and (stopped.status, stopped.next_run_at) == ("paused", None)
    assert [j.name for j in cron_ops.listing(conn)] == ["soon", "late", "once", "paused"]
    assert [j.name for j in cron_ops.listing(conn, include_done=False)] == [
        "soon",
        "late",
        "paused",
    ]
    assert cron_ops.next_due(conn) == NOW + 60
    assert (cron_ops.count(conn), cron_ops.count(conn, "active"), cron_ops.count(conn, "done")) == (
        4,
        2,
        1,
    )
    edited = cron_ops.update(conn, paused.id, NOW + 1, name="still", next_run_at=NOW + 5)
    assert edited is not None and (edited.name, edited.status, edited.next_run_at) == (
        "still",
        "paused",
        None,
    )
    revived = cron_ops.update(conn, once.id, NOW + 1, next_run_at=NOW + 10)
    assert revived is not None and (revived.status, revived.updated_at) == ("active", NOW + 1)
    assert cron_ops.update(conn, "job_nope", NOW, name="x") is None
    with pytest.raises(ValueError):
        cron_ops.update(conn, late.id, NOW, status="done")
    assert cron_ops.remove(conn, f" {late.id}") and not cron_ops.remove(conn, late.id)
    assert cron_ops.get(conn, late.id) is None
    assert soon.to_json()["name"] == "soon"


def test_two_gateways_racing_claim_each_due_run_once(where: Database, conn: Any) -> None:
    ids = {new_job(conn, NOW - i % 7, f"j{i}").id for i in range(60)}
    claimed: dict[str, list[str]] = {"a": [], "b": []}

    def claimer(name: str) -> Callable[[Any], None]:
        def work(c: Any) -> None:
            for _ in range(6):  # batches of 15, so the two interleave
                claimed[name] += retried(cron_ops.claim_due, c, NOW, name, every_minute, 15)

        return work

    race(where, [claimer("a"), claimer("b")])
    runs = conn.execute("SELECT job_id, task_id, claimed_by FROM cron_runs").fetchall()
    assert len(runs) == 60 and {r[0] for r in runs} == ids
    assert sorted(claimed["a"] + claimed["b"]) == sorted(r[1] for r in runs)
    tasks = task_ops.get_many(conn, [r[1] for r in runs])
    assert len(tasks) == 60 and {(t.kind, t.status) for t in tasks} == {("cron", "queued")}
    assert {t.job_id for t in tasks} == ids
    assert cron_ops.next_due(conn) == NOW - 6 + 60
    assert all(j.runs == 1 for j in cron_ops.listing(conn))


def test_missed_runs_coalesce_into_one_and_the_phase_is_kept(conn: Any) -> None:
    job = new_job(conn, NOW - 3 * 3600 + 10)  # 180 runs were missed
    [task_id] = cron_ops.claim_due(conn, NOW, "gw", every_minute)
    after = cron_ops.get(conn, job.id)
    assert after is not None and (after.next_run_at, after.runs) == (NOW + 10, 1)
    assert (after.last_task_id, after.last_run_at) == (task_id, NOW)
    assert cron_ops.claim_due(conn, NOW, "gw", every_minute) == []
    [run] = cron_ops.runs(conn, job.id)
    assert run == {
        "due_at": NOW - 3 * 3600 + 10,
        "claimed_at": NOW,
        "task_id": task_id,
        "status": "queued",
        "finished_at": None,
        "undelivered": None,
        "late_at": None,
    }


def test_a_one_shot_job_is_done_after_its_run_and_a_broken_one_pauses(conn: Any) -> None:
    once = new_job(conn, NOW - 1, "once")
    broken = new_job(conn, NOW - 1, "broken")

    def following(job: JobRow, now: float) -> float | None:
        if job.id == broken.id:
            raise ValueError("the stored schedule no longer parses")
        return None

    [task_id] = cron_ops.claim_due(conn, NOW, "gw", following)
    done, paused = cron_ops.get(conn, once.id), cron_ops.get(conn, broken.id)
    assert done is not None and (done.status, done.next_run_at) == ("done", None)
    assert paused is not None and (paused.status, paused.runs) == ("paused", 0)
    assert task_ops.get(conn, task_id).job_id == once.id


def test_a_run_queued_from_the_command_line_is_adopted_by_one_gateway(
    where: Database, conn: Any
) -> None:
    job = new_job(conn, NOW + 3600)
    task_id = cron_ops.claim_now(conn, job.id, NOW, "cli")
    assert task_id is not None
    other = open_conn(where)
    try:
        assert cron_ops.adopt(conn, "gateway A") == [task_id]
        assert cron_ops.adopt(other, "gateway B") == []
    finally:
        other.close()
    after = cron_ops.get(conn, job.id)
    assert after is not None and after.next_run_at == NOW + 3600  # the schedule is untouched
    assert cron_ops.claim_now(conn, "job_nope", NOW, "cli") is None


def test_a_run_goes_where_the_job_says_or_is_kept_saying_why(conn: Any) -> None:
    home = new_job(conn, NOW - 1, "home", deliver="home")
    origin = new_job(conn, NOW - 1, "origin", deliver="origin")
    fixed = new_job(conn, NOW - 1, "fixed", deliver="slack:c9:t1")
    assert cron_ops.home_channel(conn) is None
    assert cron_ops.route(conn, home, None) == (None, "no home channel (no chat ran /sethome)")
    assert cron_ops.route(conn, origin, ["telegram"]) == ("telegram:c1", None)
    assert cron_ops.route(conn, fixed, ["telegram"]) == (None, "slack is not connected")
    gw.kv_set(conn, cron_ops.HOME_KEY, "telegram:c5")
    assert cron_ops.target_of(conn, home) == "telegram:c5"
    claimed = cron_ops.claim_due(conn, NOW, "gw", lambda j, n: None, ready=["telegram"])
    origins = {t.job_id: t.origin for t in task_ops.get_many(conn, claimed)}
    assert origins == {home.id: "telegram:c5", origin.id: "telegram:c1", fixed.id: None}
    assert [r["undelivered"] for r in cron_ops.runs(conn, fixed.id)] == ["slack is not connected"]


def test_a_new_zone_retimes_the_jobs_not_yet_due_and_is_recorded(conn: Any) -> None:
    due = new_job(conn, NOW - 1, "due")
    later = new_job(conn, NOW + 600, "later")
    same = new_job(conn, NOW + 900, "same")
    assert cron_ops.recorded_zone(conn) is None
    cron_ops.note_zone(conn, "Europe/Paris")
    cron_ops.note_zone(conn, "Asia/Tokyo")  # only the first is noted
    assert cron_ops.recorded_zone(conn) == "Europe/Paris"

    def following(job: JobRow) -> float | None:
        return job.next_run_at if job.id == same.id else NOW + 3600

    assert cron_ops.retime(conn, NOW, following, "Asia/Tokyo") == 1
    assert cron_ops.recorded_zone(conn) == "Asia/Tokyo"
    assert [cron_ops.get(conn, j.id).next_run_at for j in (due, later, same)] == [
        NOW - 1,
        NOW + 3600,
        NOW + 900,
    ]


# ----- kept cron results ---------------------------------------------------------


def test_a_kept_result_waits_until_its_run_finished_and_is_settled_once(conn: Any) -> None:
    job = new_job(conn, NOW - 1, "report", deliver="home")
    other = new_job(conn, NOW - 1, "fine", deliver="origin")
    claimed = cron_ops.claim_due(conn, NOW, "gw", lambda j, n: None, ready=["telegram"])
    kept_task = next(t for t in task_ops.get_many(conn, claimed) if t.job_id == job.id)
    why = "no home channel (no chat ran /sethome)"
    assert kept_ops.summary(conn) == (1, why)
    assert kept_ops.per_job(conn) == {job.id: {"count": 1, "reason": why}}
    assert kept_ops.reasons(conn, claimed) == {kept_task.id: (job.id, why)}
    assert kept_ops.reasons(conn, []) == {}
    assert kept_ops.finished(conn) == []  # still running
    for t in claimed:
        task_ops.finish(conn, t, "done", NOW + 5, result="all good")
    [kept] = kept_ops.finished(conn)
    assert (kept.task_id, kept.job_id, kept.status, kept.result) == (
        kept_task.id,
        job.id,
        "done",
        "all good",
    )
    assert (kept.claimed_at, kept.undelivered, kept.error) == (NOW, why, None)
    kept_ops.settle(conn, [reply("late", "c5")], [kept.task_id], NOW + 10)
    assert kept_ops.finished(conn) == [] and kept_ops.summary(conn) == (0, None)
    assert kept_ops.per_job(conn) == {}
    assert gw.delivery_by_key(conn, "late") is not None
    assert cron_ops.runs(conn, job.id)[0]["late_at"] == NOW + 10
    assert cron_ops.runs(conn, other.id)[0]["undelivered"] is None


# ----- pairing -------------------------------------------------------------------


def codes(*values: str) -> Callable[[], str]:
    left = list(values)
    return lambda: left.pop(0)


def test_a_sender_holds_one_code_and_few_codes_are_pending_at_once(conn: Any) -> None:
    make = codes("AAAA", "BBBB", "CCCC", "DDDD")
    first = pairing_ops.request_code(conn, "telegram", "u1", "Ann", "c1", make, NOW, 600, 2)
    assert first.new and first.code is not None
    assert (first.code.code, first.code.user, first.code.expires_at) == ("AAAA", "u1", NOW + 600)
    again = pairing_ops.request_code(conn, "telegram", "u1", "Ann", "c1", make, NOW + 1, 600, 2)
    assert not again.new and again.code == first.code
    pairing_ops.request_code(conn, "telegram", "u2", None, None, make, NOW + 2, 600, 2)
    full = pairing_ops.request_code(conn, "telegram", "u3", None, None, make, NOW + 3, 600, 2)
    assert full == pairing_ops.CodeRequest(None, retry_at=NOW + 600)
    elsewhere = pairing_ops.request_code(conn, "slack", "u3", None, None, make, NOW + 3, 600, 2)
    assert elsewhere.code is not None and elsewhere.code.code == "CCCC"
    assert [c.code for c in pairing_ops.pending_codes(conn, None, NOW + 3)] == [
        "AAAA",
        "BBBB",
        "CCCC",
    ]
    assert [c.code for c in pairing_ops.pending_codes(conn, "telegram", NOW + 601)] == ["BBBB"]
    later = pairing_ops.request_code(conn, "telegram", "u1", "Ann", "c1", make, NOW + 601, 600, 2)
    assert later.new and later.code is not None and later.code.code == "DDDD"


def test_approving_pairs_the_holder_and_wrong_codes_lock_approving(conn: Any) -> None:
    make = codes("GOOD", "OLD")
    pairing_ops.request_code(conn, "telegram", "u1", "@Ann", "c1", make, NOW, 600, 5)
    pairing_ops.request_code(conn, "telegram", "u2", None, None, make, NOW - 700, 600, 5)
    assert pairing_ops.approve_code(conn, "telegram", "OLD", NOW, 3, 60).status == "expired"
    assert not pairing_ops.is_paired(conn, "telegram", "u1")
    ok = pairing_ops.approve_code(conn, "telegram", "GOOD", NOW + 1, 3, 60)
    assert ok == pairing_ops.Approval(
        "approved", pairing_ops.PairedUser("telegram", "u1", "@Ann", NOW + 1), "c1"
    )
    assert pairing_ops.is_paired(conn, "telegram", "u1")
    assert not pairing_ops.is_paired(conn, "slack", "u1")
    assert pairing_ops.pending_codes(conn, "telegram", NOW + 1) == []
    assert pairing_ops.approve_code(conn, "telegram", "GOOD", NOW + 2, 3, 60).status == "unknown"
    assert pairing_ops.approve_code(conn, "telegram", "NOPE", NOW + 3, 3, 60).locked_until is None
    third = pairing_ops.approve_code(conn, "telegram", "NOPE", NOW + 4, 3, 60)
    assert third == pairing_ops.Approval("unknown", locked_until=NOW + 64)
    make2 = codes("NEW")
    pairing_ops.request_code(conn, "telegram", "u3", None, None, make2, NOW + 5, 600, 5)
    locked = pairing_ops.approve_code(conn, "telegram", "NEW", NOW + 6, 3, 60)
    assert locked == pairing_ops.Approval("locked", locked_until=NOW + 64)
    assert pairing_ops.locked_until(conn, "slack", NOW + 6, 3, 60) is None
    assert pairing_ops.approve_code(conn, "telegram", "NEW", NOW + 64, 3, 60).status == "approved"


def test_paired_users_are_listed_and_revoked_by_id_or_unique_name(conn: Any) -> None:
    make = codes("A1", "B2", "C3", "D4")
    senders = [("telegram", "u1", "@Ann"), ("telegram", "u2", "bob"), ("telegram", "u3", "Bob")]
    for platform, user, name in [*senders, ("slack", "u1", None)]:
        pairing_ops.request_code(conn, platform, user, name, None, make, NOW, 600, 9)
    for n, code in enumerate(["A1", "B2", "C3", "D4"]):
        platform = "slack" if code == "D4" else "telegram"
        assert pairing_ops.approve_code(conn, platform, code, NOW + n, 3, 60).status == "approved"
    assert [(u.platform, u.user) for u in pairing_ops.paired_users(conn, None)] == [
        ("telegram", "u1"),
        ("telegram", "u2"),
        ("telegram", "u3"),
        ("slack", "u1"),
    ]
    assert [u.user for u in pairing_ops.paired_users(conn, "slack")] == ["u1"]
    assert pairing_ops.revoke(conn, "telegram", "bob") is None  # two users are called that
    gone = pairing_ops.revoke(conn, "telegram", "ann")
    assert gone == pairing_ops.PairedUser("telegram", "u1", "@Ann", NOW)
    assert pairing_ops.revoke(conn, "telegram", "u2") is not None
    assert pairing_ops.revoke(conn, "telegram", "bob") is not None  # now only one is
    assert [u.platform for u in pairing_ops.paired_users(conn, None)] == ["slack"]
    assert pairing_ops.is_paired(conn, "slack", "u1")


# ----- skipped updates -----------------------------------------------------------


def test_a_skipped_update_is_recorded_once_and_old_records_are_pruned(conn: Any) -> None:
    day = 86400.0
    assert skipped_ops.record(conn, "telegram", "1", "bad JSON", "{", 3, NOW - 40 * day)
    assert skipped_ops.record(conn, "telegram", "2", "bad JSON", "{x", 3, NOW)
    assert not skipped_ops.record(conn, "telegram", "2", "again", "{y", 5, NOW + 1)
    assert skipped_ops.record(conn, "slack", "2", "no text", "{}", 1, NOW + 2)
    recent = skipped_ops.recent(conn, NOW - 50 * day)
    assert recent == [
        skipped_ops.SkippedRow("slack", "2", "no text", "{}", 1, NOW + 2),
        skipped_ops.SkippedRow("telegram", "2", "bad JSON", "{x", 3, NOW),
    ]  # the 40-day-old one was pruned
    assert skipped_ops.recent(conn, NOW - day, limit=1)[0].platform == "slack"
    assert skipped_ops.counts(conn, NOW - day) == {"slack": 1, "telegram": 1}
    assert skipped_ops.counts(conn, NOW + 2) == {"slack": 1}


# ----- what a killed gateway leaves ----------------------------------------------


def test_leftover_processes_are_marked_reported_once_and_forgotten(conn: Any) -> None:
    ticks = 2**40  # more than 32 bits
    ids = [
        leftover_ops.add_process(
            conn,
            100 + n,
            100 + n,
            ticks,
            "boot",
            f"cmd {n}",
            "/w",
            "background",
            f"proc_{n}",
            sid,
            NOW + n,
        )
        for n, sid in enumerate(["s1", "s1", "s2", None])
    ]
    running = leftover_ops.running_processes(conn)
    assert [r.id for r in running] == ids
    assert (running[0].pid, running[0].start_ticks, running[0].command, running[0].status) == (
        100,
        ticks,
        "cmd 0",
        "running",
    )
    leftover_ops.end_process(conn, ids[1])
    for row_id in (ids[0], ids[2], ids[3]):
        leftover_ops.mark_leftover(conn, row_id, "killed", "killed group", NOW + 10)
    assert leftover_ops.running_processes(conn) == []
    [taken] = leftover_ops.take_leftovers(conn, "s1")
    assert (taken.id, taken.status, taken.outcome) == (ids[0], "killed", "killed group")
    assert leftover_ops.take_leftovers(conn, "s1") == []
    assert leftover_ops.drop_leftovers(conn, ["s2"]) == 1  # the one of no session
    assert leftover_ops.drop_leftovers(conn, []) == 1
    assert leftover_ops.take_leftovers(conn, "s2") == []


def test_a_turns_streamed_draft_is_remembered_until_cleared(conn: Any) -> None:
    row_id = gw.insert_inbound(conn, "telegram", "e1", "k", event(), NOW)
    assert leftover_ops.get_draft(conn, row_id) is None
    leftover_ops.set_draft(conn, row_id, "m77")
    assert leftover_ops.get_draft(conn, row_id) == "m77"
    leftover_ops.set_draft(conn, row_id, None)
    assert leftover_ops.get_draft(conn, row_id) is None
    assert leftover_ops.get_draft(conn, 999_999) is None


# ----- skills --------------------------------------------------------------------


def test_skill_views_count_and_a_use_is_once_per_session(conn: Any) -> None:
    skill_ops.set_creator(conn, "deploy", "agent", NOW)
    for n, sid in enumerate(["s1", "s1", "s2", "s1"]):
        skill_ops.record_view(conn, "deploy", sid, NOW + n)
    skill_ops.record_view(conn, "notes", "s1", NOW + 10)  # never recorded: the user's own
    got = skill_ops.usage(conn, "deploy")
    assert got == skill_ops.Usage("deploy", "agent", NOW, 4, 3, NOW + 3, None)
    assert skill_ops.usage(conn, "notes") == skill_ops.Usage(
        "notes", "user", NOW + 10, 1, 1, NOW + 10, None
    )
    assert [u.name for u in skill_ops.all_usage(conn)] == ["deploy", "notes"]
    assert skill_ops.usage(conn, "nope") is None
    with pytest.raises(ValueError):
        skill_ops.set_creator(conn, "x", "robot", NOW)


def test_unused_agent_skills_are_found_and_a_recreated_skill_starts_afresh(conn: Any) -> None:
    skill_ops.set_creator(conn, "old", "agent", NOW - 100)
    skill_ops.set_creator(conn, "used", "agent", NOW - 100)
    skill_ops.set_creator(conn, "mine", "user", NOW - 100)
    skill_ops.record_view(conn, "used", "s1", NOW - 10)
    assert skill_ops.unused_agent_skills(conn, NOW - 50) == ["old"]
    skill_ops.mark_archived(conn, "old", NOW)
    assert skill_ops.unused_agent_skills(conn, NOW) == ["used"]
    skill_ops.set_creator(conn, "used", "agent", NOW + 1)
    assert skill_ops.usage(conn, "used") == skill_ops.Usage(
        "used", "agent", NOW + 1, 0, 0, None, None
    )


def test_a_proposal_is_decided_once_and_keeps_what_it_replaced(conn: Any) -> None:
    common: dict[str, Any] = {"kind": "skill", "base_hash": "", "reason": "r", "source": "agent"}
    a = skill_ops.add_proposal(conn, action="create", target="a", content="A", now=NOW, **common)
    b = skill_ops.add_proposal(
        conn, action="delete", target="b", content=None, now=NOW + 1, **common
    )
    assert a.startswith("sp_") and a != b
    assert [p.id for p in skill_ops.proposals(conn)] == [a, b]
    assert skill_ops.set_status(conn, a, "applied", NOW + 2, expect="pending", previous="old A")
    assert not skill_ops.set_status(conn, a, "rejected", NOW + 3, expect="pending")
    assert skill_ops.set_status(conn, a, "rolled_back", NOW + 4, expect="applied", note="undone")
    assert skill_ops.set_status(conn, b, "stale", NOW + 5, expect="pending", moved_to="/trash/b")
    got = skill_ops.get_proposal(conn, a)
    assert got is not None and (got.status, got.previous, got.note, got.decided_at) == (
        "rolled_back",
        "old A",
        "undone",
        NOW + 4,
    )
    assert skill_ops.proposals(conn) == []
    assert [p.id for p in skill_ops.proposals(conn, None)] == [a, b]
    assert [p.id for p in skill_ops.decided(conn)] == [b, a]
    assert skill_ops.get_proposal(conn, "sp_nope") is None


async def test_concurrent_views_are_all_counted(store: Store) -> None:
    await store.run(skill_ops.set_creator, "deploy", "agent", NOW)
    await asyncio.gather(
        *(store.run(skill_ops.record_view, "deploy", f"s{n % 5}", NOW + n) for n in range(30))
    )
    got = await store.run(skill_ops.usage, "deploy")
    assert got is not None and got.views == 30 and 5 <= got.uses <= 30


# ----- the web chat --------------------------------------------------------------


def test_the_web_history_maps_messages_to_client_ids_and_lists_queued_ones(conn: Any) -> None:
    sid = new_session(conn, "web")
    started = gw.insert_inbound(conn, "web", "cid-1", "wk", event("p1", "first"), NOW)
    say(conn, sid, "first", also=lambda c, ids: gw.start_inbound(c, started, sid, ids[0]))
    voice = {"attachments": [{"voice": True}]}
    gw.insert_inbound(conn, "web", "cid-2", "wk", event("p1", "second"), NOW + 1)
    gw.insert_inbound(conn, "web", "cid-3", "wk", event("p1", "", **voice), NOW + 2)
    gw.insert_inbound(conn, "web", "cid-4", "wk", event("p1", "  "), NOW + 3)
    gw.insert_inbound(conn, "web", "cid-5", "other", event("p2", "elsewhere"), NOW + 4)
    gw.insert_inbound(conn, "telegram", "cid-6", "wk", event("p1", "not web"), NOW + 5)
    [mid] = [m.id for m in ops.load_messages(conn, sid, True)]
    assert web_ops.client_ids(conn, sid) == {mid: "cid-1"}
    assert web_ops.queued(conn, "wk") == [("cid-2", "second"), ("cid-3", web_ops.VOICE_NOTE)]


async def test_a_login_code_is_taken_once_before_it_expires(store: Store) -> None:
    await store.run(web_ops.add_login_code, "d1", "key", NOW + 60, NOW)
    await store.run(web_ops.add_login_code, "d2", "key", NOW + 10, NOW)
    assert not await store.run(web_ops.take_login_code, "d1", "other key", NOW)
    assert await store.run(web_ops.take_login_code, "d1", "key", NOW + 1)
    assert not await store.run(web_ops.take_login_code, "d1", "key", NOW + 2)
    assert not await store.run(web_ops.take_login_code, "d2", "key", NOW + 10)  # expired
    assert not await store.run(web_ops.take_login_code, "nope", "key", NOW)


async def test_login_codes_made_at_once_are_all_kept_and_each_taken_once(store: Store) -> None:
    digests = [f"d{n}" for n in range(12)]
    await asyncio.gather(
        *(store.run(web_ops.add_login_code, d, "key", NOW + 60, NOW) for d in digests)
    )
    takes = await asyncio.gather(
        *(store.run(web_ops.take_login_code, d, "key", NOW) for d in digests * 2)
    )
    taken = [d for d, ok in zip(digests * 2, takes, strict=True) if ok]
    assert sorted(taken) == sorted(digests)


# ----- usage ---------------------------------------------------------------------


def test_usage_is_summed_per_session_and_listed_per_turn(conn: Any) -> None:
    s1, s2 = new_session(conn), new_session(conn)
    assert ops.session_usage(conn, s1) == Usage(0, 0, 0, None)
    ops.add_usage(conn, s1, Usage(100, 20, 5), "m1", NOW)
    ops.add_usage(conn, s1, Usage(50, 10, 0, cost=0.25), "m2", NOW + 10)
    ops.add_usage(conn, s2, Usage(7, 3, 1, cost=0.5), None, NOW + 20)
    total = ops.session_usage(conn, s1)
    assert total == Usage(150, 30, 5, 0.25)
    assert all(type(v) is int for v in (total.prompt_tokens, total.completion_tokens))
    assert type(total.cost) is float
    rows = ops.usage_rows(conn, None)
    assert rows == [
        (s1, "m1", NOW, 100, 20, 5, None),
        (s1, "m2", NOW + 10, 50, 10, 0, 0.25),
        (s2, None, NOW + 20, 7, 3, 1, 0.5),
    ]
    assert [r[2] for r in ops.usage_rows(conn, NOW + 10)] == [NOW + 10, NOW + 20]
    assert ops.usage_rows(conn, NOW + 10, s2) == [rows[2]]
    assert ops.usage_rows(conn, None, s1) == rows[:2]
    with pytest.raises(SessionNotFound):
        ops.add_usage(conn, "nope", Usage(1, 1), None, NOW)


def test_rows_of_every_table_come_back_as_python_values(conn: Any) -> None:
    """What psycopg returns must match what sqlite3 does: ints, floats, str (no
    Decimal, no bool where the ops expect 0/1)."""
    gw.insert_inbound(conn, "telegram", "e1", "k", event(), NOW)
    gw.queue_delivery(conn, reply("k1"), NOW)
    task = task_ops.insert(conn, "background", "p", None, NOW)
    [row] = gw.open_inbound(conn)
    d = gw.delivery_by_key(conn, "k1")
    assert d is not None
    assert type(row.id) is int and type(row.received_at) is float
    assert type(d.id) is int and type(d.parts_sent) is int and type(d.next_attempt_at) is float
    assert type(task.created_at) is float and type(task.depth) is int and type(task.waited) is int
    counts = gw.count_deliveries(conn)
    assert counts == {"pending": 1} and type(counts["pending"]) is int
    assert json.loads(json.dumps(task.to_json()))["id"] == task.id
