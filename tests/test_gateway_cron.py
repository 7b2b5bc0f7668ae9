"""Cron in the gateway, in-process: the agent's cron tool from plain language,
a job firing on time and delivering to its chat, missed runs at start, every
delivery target, exactly-once claims with two gateways on one home, pause and
edit waking the scheduler."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hermes.cron import jobs
from hermes.cron.schedule import zone
from hermes.store import Store, cron_ops, gateway_ops
from hermes.testing import ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.tools_helpers import wait_until

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel) -> Path:
    return make_home(tmp_path / "home", model, config={"cron": {"timezone": "Europe/Berlin"}})


def db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "state.db")


def rows(home: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with db(home) as conn:
        return conn.execute(sql, args).fetchall()


def add_job(home: Path, schedule: str, prompt: str, **kw: Any) -> cron_ops.JobRow:
    from hermes.store.db import open_db

    conn = open_db(home / "state.db")
    try:
        return jobs.create(
            conn,
            schedule=schedule,
            prompt=prompt,
            profile="default",
            created_by="test",
            tz=BERLIN,
            now=time.time(),
            ready=kw.pop("ready", {"fakechat"}),
            **kw,
        )
    finally:
        conn.close()


def due_at(home: Path, job_id: str, at: float) -> None:
    """Make a job due at `at` (tests cannot wait for real schedules)."""
    with db(home) as conn:
        conn.execute("UPDATE cron_jobs SET next_run_at = ? WHERE id = ?", (at, job_id))


def prompts(model: ScriptedModel) -> list[str]:
    found = []
    for request in model.requests:
        users = [m for m in request["messages"] if m.get("role") == "user"]
        found.append(str(users[0]["content"]) if users else "")
    return found


async def test_the_agent_creates_a_job_from_plain_language_that_remembers_its_chat(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    model.tool_call(
        "cron",
        {
            "action": "create",
            "schedule": "30 7 * * 1-5",
            "prompt": "Write a short brief of today's AI news.",
            "name": "AI news brief",
        },
    )
    model.reply("Done: every weekday at 7:30 you get an AI news brief here.")
    async with running_gateway(home, [chat]):
        await chat.say("every weekday at 7:30 send me an AI news brief", thread="5")
        await wait_until(lambda: "Done" in " ".join(chat.shown()))
    [job] = rows(home, "SELECT name, schedule, deliver, origin, status, next_run_at FROM cron_jobs")
    assert job[:5] == ("AI news brief", "30 7 * * 1-5", "origin", "fakechat:1:5", "active")
    next_run = datetime.fromtimestamp(job[5], BERLIN)
    assert (next_run.hour, next_run.minute, next_run.weekday() < 5) == (7, 30, True)
    tool_result = [m for m in model.requests[1]["messages"] if m.get("role") == "tool"][-1]
    assert (
        "Created job_" in tool_result["content"]
        and "this chat (fakechat:1:5)" in (tool_result["content"])
    )


async def test_plain_words_work_as_the_schedule_too(home: Path, model: ScriptedModel) -> None:
    chat = FakeChat()
    model.tool_call(
        "cron", {"action": "create", "schedule": "every weekday at 7:30", "prompt": "news"}
    )
    model.reply("ok")
    async with running_gateway(home, [chat]):
        await chat.say("schedule it")
        await wait_until(lambda: "ok" in chat.shown())
    assert rows(home, "SELECT schedule FROM cron_jobs") == [("30 7 * * 1-5",)]


async def test_a_bad_schedule_is_a_tool_error_listing_the_forms(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    model.tool_call("cron", {"action": "create", "schedule": "whenever", "prompt": "x"})
    model.reply("sorry")
    async with running_gateway(home, [chat]):
        await chat.say("schedule it")
        await wait_until(lambda: "sorry" in chat.shown())
    result = [m for m in model.requests[1]["messages"] if m.get("role") == "tool"][-1]
    assert "invalid schedule" in result["content"] and "every 30m" in result["content"]
    assert rows(home, "SELECT COUNT(*) FROM cron_jobs") == [(0,)]


async def test_a_due_job_fires_within_a_second_and_delivers_to_its_chat(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    job = add_job(home, "0 8 * * *", "Summarize my inbox.", name="Inbox", deliver="fakechat:7:3")
    model.reply("3 new mails, none urgent.")
    async with running_gateway(home, [chat]) as gw:
        due = time.time() + 0.5
        due_at(home, job.id, due)
        gw.scheduler.wake()
        await wait_until(lambda: chat.shown("7") != [], why=lambda: str(model.requests))
    assert chat.shown("7") == ["⏰ Inbox\n3 new mails, none urgent."]
    assert chat.sent[0].target.thread == "3"
    [(claimed_at, due_time)] = rows(home, "SELECT claimed_at, due_at FROM cron_runs")
    assert due_time == due and 0 <= claimed_at - due < 1.0
    # a fresh session that was told it runs unattended, then the job's prompt
    first = model.requests[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user"]
    assert first[1]["content"].endswith("Summarize my inbox.")
    assert "scheduled job (Inbox, 0 8 * * *)" in first[1]["content"]
    [(kind, status, job_id)] = rows(home, "SELECT kind, status, job_id FROM tasks")
    assert (kind, status, job_id) == ("cron", "done", job.id)
    next_run = datetime.fromtimestamp(rows(home, "SELECT next_run_at FROM cron_jobs")[0][0], BERLIN)
    assert (next_run.hour, next_run.minute) == (8, 0)


async def test_missed_runs_run_once_at_start_then_the_schedule_resumes(
    home: Path, model: ScriptedModel
) -> None:
    job = add_job(home, "every 30m", "check the backups", deliver="none")
    now = time.time()
    due_at(home, job.id, now - 2 * 3600 - 60)  # five runs were missed while down
    model.reply("backups ok")
    async with running_gateway(home, []):
        await wait_until(lambda: rows(home, "SELECT status FROM tasks") == [("done",)])
    assert len(model.requests) == 1
    [(next_run,)] = rows(home, "SELECT next_run_at FROM cron_jobs")
    assert now < next_run <= now + 30 * 60
    assert round((next_run - (now - 2 * 3600 - 60)) / 60) % 30 == 0  # phase kept
    assert rows(home, "SELECT COUNT(*) FROM cron_runs") == [(1,)]


@pytest.mark.parametrize(
    ("deliver", "expected"),
    [
        (None, "fakechat:1"),  # origin, the default for a job made in a chat
        ("home", "fakechat:9"),
        ("fakechat:4:2", "fakechat:4:2"),
        ("none", None),
    ],
)
async def test_results_go_to_the_jobs_target(
    home: Path, model: ScriptedModel, deliver: str | None, expected: str | None
) -> None:
    chat = FakeChat()
    store = await Store.open(home / "state.db")  # /sethome's choice
    await store.run(gateway_ops.kv_set, cron_ops.HOME_KEY, "fakechat:9")
    await store.close()
    job = add_job(home, "0 8 * * *", "ping", deliver=deliver, origin="fakechat:1")
    model.reply("pong")
    async with running_gateway(home, [chat]) as gw:
        due_at(home, job.id, time.time())
        gw.scheduler.wake()
        await wait_until(lambda: rows(home, "SELECT status FROM tasks") == [("done",)])
        await wait_until(lambda: gw.chats.running() == 0 and (expected is None or chat.sent))
    assert rows(home, "SELECT origin, result FROM tasks") == [(expected, "pong")]
    assert [str(m.target) for m in chat.sent] == ([expected] if expected else [])


async def test_two_gateways_on_one_home_run_each_due_job_exactly_once(
    home: Path, model: ScriptedModel
) -> None:
    job_ids = [add_job(home, "*/5 * * * *", f"job {i}", deliver="none").id for i in range(20)]
    model.reply_with(lambda request: "done", times=None)
    async with running_gateway(home, []) as one, running_gateway(home, []) as two:
        due = time.time() + 0.3
        with db(home) as conn:
            conn.execute("UPDATE cron_jobs SET next_run_at = ?", (due,))
        one.scheduler.wake()
        two.scheduler.wake()
        await wait_until(
            lambda: rows(home, "SELECT COUNT(*) FROM tasks WHERE status = 'done'") == [(20,)]
        )
    claims = rows(home, "SELECT job_id, claimed_by FROM cron_runs")
    assert sorted(j for j, _ in claims) == sorted(job_ids)  # one run per job
    assert len(model.requests) == 20
    assert sorted(p.rsplit("\n", 1)[-1] for p in prompts(model)) == sorted(
        f"job {i}" for i in range(20)
    )


async def test_pause_resume_and_edit(home: Path, model: ScriptedModel) -> None:
    job = add_job(home, "0 8 * * *", "morning", deliver="none")
    model.reply("ran")
    async with running_gateway(home, []) as gw:
        tz = zone("Europe/Berlin")
        paused = await gw.store.run(jobs.pause, job.id, time.time())
        assert (paused.status, paused.next_run_at) == ("paused", None)
        resumed = await gw.store.run(jobs.resume, job.id, tz, time.time())
        assert resumed.status == "active" and resumed.next_run_at == job.next_run_at
        edited = await gw.store.run(
            jobs.edit, job.id, tz, time.time(), ready={"fakechat"}, schedule="in 1m"
        )
        assert edited.schedule.startswith("once ")
        assert edited.next_run_at is not None and 55 < edited.next_run_at - time.time() <= 61
        due_at(home, job.id, time.time() + 0.2)
        gw.scheduler.wake()
        await wait_until(lambda: rows(home, "SELECT status FROM tasks") == [("done",)])
    assert rows(home, "SELECT status, next_run_at, runs FROM cron_jobs") == [("done", None, 1)]
