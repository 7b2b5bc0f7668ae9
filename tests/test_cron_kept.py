"""Cron results whose target cannot be reached are kept, reported and delivered
late, never dropped: a job for the home channel before any chat ran /sethome,
a job for a platform that is not connected. A gateway in-process with a fake
chat; the warning at creation from the agent's tool; `hermes doctor`'s finding."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from hermes.cli.doctor import check_kept_results
from hermes.store import kept_ops
from hermes.testing import ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.test_gateway_cron import add_job, due_at, rows
from tests.tools_helpers import wait_until

NO_HOME = "no home channel (no chat ran /sethome)"


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel) -> Path:
    return make_home(tmp_path / "home", model, config={"cron": {"timezone": "Europe/Berlin"}})


def kept(home: Path) -> list[tuple[Any, ...]]:
    return rows(home, "SELECT task_id, undelivered, late_at FROM cron_runs")


async def test_a_home_job_without_a_home_keeps_its_result_until_sethome(
    home: Path, model: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    chat = FakeChat()
    job = add_job(home, "0 8 * * *", "Summarize my inbox.", name="Inbox")  # deliver: home
    assert job.deliver == "home"
    model.reply("3 new mails, none urgent.")
    caplog.set_level(logging.WARNING, logger="hermes.gateway")
    async with running_gateway(home, [chat]) as gw:
        due_at(home, job.id, time.time() + 0.2)
        gw.scheduler.wake()
        await wait_until(lambda: rows(home, "SELECT status FROM tasks") == [("done",)])
        [(task_id, why, late_at)] = kept(home)
        assert (why, late_at) == (NO_HOME, None)
        assert rows(home, "SELECT result FROM tasks") == [("3 new mails, none urgent.",)]
        assert f"cron: run {task_id} of job {job.id} cannot be delivered ({NO_HOME})" in (
            caplog.text
        )
        # reported: doctor and the API (the dashboard reads it)
        [finding] = check_kept_results(home / "state.db")
        assert finding.level == "warn" and "1 cron result(s) could not be delivered" in (
            finding.text
        )
        assert finding.fix == "send /sethome in the chat that should get them"
        assert await gw.store.run(kept_ops.per_job) == {job.id: {"count": 1, "reason": NO_HOME}}
        assert chat.shown() == []

        await chat.say("/sethome")
        await wait_until(lambda: any("Delivered late" in s for s in chat.shown()))
    sethome, late = chat.shown()
    assert sethome.endswith("Cron results kept for want of a home channel follow.")
    assert late.startswith("⚠️ Delivered late: this ran at ")
    assert late.endswith(f"({NO_HOME}).\n\n⏰ Inbox\n3 new mails, none urgent.")
    [(_, _, late_at)] = kept(home)
    assert late_at is not None
    [finding] = check_kept_results(home / "state.db")
    assert (finding.level, finding.text) == ("ok", "every cron result reached its target")


async def test_a_job_for_a_platform_that_is_not_connected_keeps_its_result(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    # created where telegram was configured; this gateway has no telegram
    job = add_job(home, "0 8 * * *", "ping", deliver="telegram:5", ready={"telegram"})
    model.reply("pong")
    async with running_gateway(home, [chat]) as gw:
        due_at(home, job.id, time.time() + 0.2)
        gw.scheduler.wake()
        await wait_until(lambda: rows(home, "SELECT status FROM tasks") == [("done",)])
    assert [r[1] for r in kept(home)] == ["telegram is not connected"]
    with sqlite3.connect(home / "state.db") as conn:  # nothing queued that nobody sends
        assert conn.execute("SELECT COUNT(*) FROM deliveries").fetchone() == (0,)
    [finding] = check_kept_results(home / "state.db")
    assert "telegram is not connected" in finding.text
    assert "hermes cron edit ID --deliver" in finding.fix


async def test_the_agents_tool_warns_when_results_would_be_kept(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    model.tool_call(
        "cron",
        {"action": "create", "schedule": "0 8 * * *", "prompt": "news", "deliver": "home"},
    )
    model.reply("done")
    async with running_gateway(home, [chat]):
        await chat.say("send me the news at 8 on my home channel")
        await wait_until(lambda: "done" in chat.shown())
    result = [m for m in model.requests[1]["messages"] if m.get("role") == "tool"][-1]
    assert "Warning (tell the user): no chat is the home channel yet" in result["content"]
