"""Cron as a Telegram user sees it, with the real `hermes gateway run`: a job
made from plain language in a chat delivers there when it fires; a gateway
killed in the middle of a run resumes that run at the next start instead of
running the job again."""

from __future__ import annotations

import signal
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hermes.pidfile import poke
from hermes.testing import ScriptedModel
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import GatewayProcess, make_home
from tests.tools_helpers import wait_until

TOKEN = "123456:TEST-token"
CHAT = 4242
TZ = "America/New_York"


@pytest.fixture
def telegram() -> FakeTelegram:
    with FakeTelegram(TOKEN) as fake:
        yield fake  # type: ignore[misc]


def home_for(path: Path, model: ScriptedModel, telegram: FakeTelegram) -> Path:
    return make_home(
        path,
        model,
        {
            "server": {"port": 0},
            "telegram": {"base_url": telegram.base_url},
            "cron": {"timezone": TZ},
        },
        {"TELEGRAM_BOT_TOKEN": TOKEN, "HERMES_API_KEY": "k", "TELEGRAM_ALLOWED_USERS": str(CHAT)},
    )


def rows(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "state.db") as conn:
        return conn.execute(sql).fetchall()


def make_due(home: Path) -> None:
    """The job is due now, and the running gateway is told (as `hermes cron` does)."""
    with sqlite3.connect(home / "state.db") as conn:
        conn.execute("UPDATE cron_jobs SET next_run_at = ?", (time.time(),))
    assert poke(home)


async def test_a_job_made_in_a_chat_fires_there(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    home = home_for(tmp_path / "home", model, telegram)
    model.tool_call(
        "cron",
        {
            "action": "create",
            "schedule": "0 9 * * *",
            "prompt": "Tell me the weather.",
            "name": "Weather",
        },
    )
    model.reply("Every day at 9:00 you will get the weather here.")
    gw = await GatewayProcess(home).ready()
    telegram.user_says(CHAT, "every day at 9 send me the weather", user_id=CHAT)
    await wait_until(lambda: rows(home, "SELECT COUNT(*) FROM cron_jobs") == [(1,)], 30, why=gw.log)
    [(origin, next_run)] = rows(home, "SELECT origin, next_run_at FROM cron_jobs")
    assert origin == f"telegram:{CHAT}"
    local = datetime.fromtimestamp(next_run, ZoneInfo(TZ))
    assert (local.hour, local.minute) == (9, 0)
    # the chat's turn has its answer before the job runs (else the run could take it)
    made = "Every day at 9:00 you will get the weather here."
    await wait_until(lambda: made in telegram.messages_in(CHAT).values(), 30, why=gw.log)

    model.reply("Sunny, 21 °C.")
    make_due(home)
    await wait_until(
        lambda: "⏰ Weather\nSunny, 21 °C." in telegram.messages_in(CHAT).values(), 30, why=gw.log
    )
    assert await gw.stop() == 0
    model.assert_done()


async def test_a_run_cut_by_sigkill_resumes_once_at_the_next_start(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    home = home_for(tmp_path / "home", model, telegram)
    gw = await GatewayProcess(home).ready()
    model.tool_call(
        "cron",
        {"action": "create", "schedule": "every 2h", "prompt": "Check the disks.", "name": "Disks"},
    )
    model.reply("Scheduled.")
    telegram.user_says(CHAT, "check the disks every 2 hours", user_id=CHAT)
    await wait_until(lambda: "Scheduled." in telegram.messages_in(CHAT).values(), 30, why=gw.log)

    held = model.hang(then="ignored")  # the run's model call never answers: kill meanwhile
    make_due(home)
    await held.wait_entered_async()
    await gw.stop(signal.SIGKILL)
    [(next_run,)] = rows(home, "SELECT next_run_at FROM cron_jobs")

    model.reply("Disks are 40% full.")
    gw = await GatewayProcess(home).ready()
    await wait_until(
        lambda: "⏰ Disks\nDisks are 40% full." in telegram.messages_in(CHAT).values(),
        30,
        why=gw.log,
    )
    assert rows(home, "SELECT COUNT(*) FROM cron_runs") == [(1,)]
    assert rows(home, "SELECT kind, status FROM tasks") == [("cron", "done")]
    assert rows(home, "SELECT next_run_at FROM cron_jobs") == [(next_run,)]  # not run again
    results = [t for t in telegram.messages_in(CHAT).values() if t.startswith("⏰ Disks")]
    assert len(results) == 1
    assert await gw.stop() == 0
    held.release()
