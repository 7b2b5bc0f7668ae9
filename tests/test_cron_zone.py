"""One zone everywhere: `cron.timezone` (else the machine's). Changing it
recomputes the next runs of existing jobs (at gateway start, before `hermes
cron` shows or changes jobs, and through `recompute_next_runs`), and every
place that prints a time names the zone (`cron list`, `tasks show`)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from hermes.cli import main
from hermes.cron import jobs
from hermes.store import cron_ops, task_ops
from hermes.store.db import open_db
from hermes.testing import ScriptedModel
from tests.gateway_helpers import make_home, running_gateway
from tests.test_gateway_cron import add_job, rows
from tests.tools_helpers import wait_until

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def set_zone(home: Path, name: str) -> None:
    path = home / "config.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("cron", {})["timezone"] = name
    path.write_text(yaml.safe_dump(data))


def wall(at: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%H:%M")


def test_recompute_moves_wall_clock_jobs_only(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "state.db")
    now = time.time()
    try:
        made = {
            text: jobs.create(
                conn,
                schedule=text,
                prompt=text,
                profile="default",
                created_by="test",
                tz=BERLIN,
                now=now,
                ready=set(),
                deliver="none",
            )
            for text in ("0 8 * * *", "every 2h", "in 3h", "30 9 * * *")
        }
        due = made["30 9 * * *"]
        conn.execute("UPDATE cron_jobs SET next_run_at = ? WHERE id = ?", (now - 5, due.id))
        assert cron_ops.recorded_zone(conn) == "Europe/Berlin"

        assert jobs.recompute_next_runs(conn, NEW_YORK, now) == 1
        after = {j.id: j.next_run_at for j in cron_ops.listing(conn)}
        daily = after[made["0 8 * * *"].id]
        assert daily is not None and wall(daily, NEW_YORK) == "08:00"
        assert after[made["every 2h"].id] == made["every 2h"].next_run_at  # elapsed time
        assert after[made["in 3h"].id] == made["in 3h"].next_run_at  # an instant
        assert after[due.id] == now - 5  # due: claimed as it is, no run skipped
        assert cron_ops.recorded_zone(conn) == "America/New_York"
        assert jobs.sync_zone(conn, NEW_YORK, now) == 0  # nothing to do twice
    finally:
        conn.close()


async def test_the_gateway_recomputes_next_runs_when_the_zone_changed(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, config={"cron": {"timezone": "Europe/Berlin"}})
    job = add_job(home, "0 8 * * *", "morning", deliver="none")
    assert job.next_run_at is not None and wall(job.next_run_at, BERLIN) == "08:00"
    set_zone(home, "America/New_York")
    async with running_gateway(home, []) as gw:
        assert gw.scheduler.tz == NEW_YORK
        await wait_until(
            lambda: (
                rows(home, "SELECT value FROM kv WHERE key = 'cron_timezone'")
                == [("America/New_York",)]
            )
        )
        [(next_run,)] = rows(home, "SELECT next_run_at FROM cron_jobs")
        assert wall(next_run, NEW_YORK) == "08:00"
        # a config reload hands the scheduler the new zone: next runs follow at once
        assert await gw.scheduler.set_zone(BERLIN) == 1
        [(next_run,)] = rows(home, "SELECT next_run_at FROM cron_jobs")
        assert wall(next_run, BERLIN) == "08:00"


def test_cron_list_and_tasks_show_name_one_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = make_home(tmp_path / "home", config={"cron": {"timezone": "Europe/Berlin"}})
    monkeypatch.setenv("HERMES_HOME", str(home))
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # a shell's zone is not Hermes's
    assert main(["cron", "add", "0 8 * * *", "inbox", "--deliver", "none"]) == 0
    set_zone(home, "America/New_York")
    capsys.readouterr()

    assert main(["cron", "list"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert "NEXT RUN (America/New_York)" in header
    assert " 08:00 " in row  # recomputed in the new zone before it is shown

    conn = open_db(home / "state.db")
    try:
        at = datetime(2026, 7, 1, 6, 30, tzinfo=ZoneInfo("UTC")).timestamp()
        task = task_ops.insert(conn, "background", "hello", None, at)
        task_ops.add_event(conn, task.id, "progress", "step", at)
    finally:
        conn.close()
    assert main(["tasks", "show", task.id]) == 0
    out = capsys.readouterr().out
    assert "Created:  2026-07-01 02:30:00 EDT (" in out  # 06:30 UTC in New York, named
    assert "Events (America/New_York):" in out and "  02:30:00  progress" in out
