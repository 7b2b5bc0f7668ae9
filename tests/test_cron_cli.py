"""`hermes cron ...` as the owner sees it: in-process `hermes.cli.main` on a tmp
home (cron.timezone Europe/Berlin) checked against what state.db holds, and
one run against a real gateway process, which a `hermes cron run` pokes into
running the job at once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hermes.cli import main
from hermes.cron import jobs
from hermes.store import cron_ops
from hermes.store.cron_ops import JobRow
from hermes.store.db import open_db
from hermes.testing import ScriptedModel
from tests.gateway_helpers import GatewayProcess, make_home
from tests.tools_helpers import wait_until

BERLIN = ZoneInfo("Europe/Berlin")
NOT_RUNNING = "The gateway is not running: jobs run once it starts (`hermes gateway run`)."
NO_HOME = (
    "Warning: no chat is the home channel yet: this job's results are kept in its history "
    "until you send /sethome in the chat that should get them (they are delivered then), "
    "or change its target with --deliver PLATFORM:CHAT"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_home(tmp_path / "home", config={"cron": {"timezone": "Europe/Berlin"}})
    monkeypatch.setenv("HERMES_HOME", str(path))
    return path


Cron = Any  # the `cron` fixture: cron("add", ...) -> (exit code, stdout, stderr)


@pytest.fixture
def cron(capsys: pytest.CaptureFixture[str], home: Path) -> Cron:
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["cron", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def stored(home: Path) -> list[JobRow]:
    conn = open_db(home / "state.db")
    try:
        return cron_ops.listing(conn)
    finally:
        conn.close()


def the_job(home: Path) -> JobRow:
    [job] = stored(home)
    return job


def added(cron: Cron, *argv: str) -> str:
    """`hermes cron add ARGV`; the new job's id."""
    code, out, err = cron("add", *argv)
    assert (code, err) == (0, ""), err
    found = re.match(r"Added job (job_[0-9a-f]+) ", out)
    assert found, out
    return found.group(1)


def clock(at: float | None) -> str:
    assert at is not None
    return datetime.fromtimestamp(at, BERLIN).strftime("%a %H:%M")


# ----- add and list -------------------------------------------------------------------


def test_add_stores_the_job_and_list_shows_it(home: Path, cron: Cron) -> None:
    assert cron("list") == (
        0,
        'No cron jobs. Add one: hermes cron add "0 8 * * *" "summarize my inbox"\n',
        "",
    )
    before = time.time()
    code, out, err = cron("add", "every weekday at 7:30", "Send me an AI news brief.")
    assert (code, err) == (0, "")
    job = the_job(home)
    assert (job.schedule, job.prompt, job.deliver, job.origin) == (
        "30 7 * * 1-5",
        "Send me an AI news brief.",
        "home",  # a job made outside any chat goes to the home channel
        None,
    )
    assert (job.name, job.status, job.created_by, job.profile) == (
        "Send me an AI news brief.",
        "active",
        "cli",
        "default",
    )
    assert job.next_run_at is not None and job.next_run_at > before
    first = datetime.fromtimestamp(job.next_run_at, BERLIN)
    assert (first.hour, first.minute, first.weekday() < 5) == (7, 30, True)
    assert out == (
        f'Added job {job.id} "Send me an AI news brief.": 30 7 * * 1-5 (at 07:30 on Mon-Fri);'
        f" next run {clock(job.next_run_at)} {first.strftime('%Z')}\n{NO_HOME}\n{NOT_RUNNING}\n"
    )

    code, out, _ = cron("list")
    assert code == 0
    header, row = out.splitlines()
    assert " ".join(header.split()) == "ID NAME SCHEDULE NEXT RUN (Europe/Berlin) STATUS DELIVER"
    assert " ".join(row.split()) == (
        f"{job.id} Send me an AI news brief. 30 7 * * 1-5 (at 07:30 on Mon-Fri)"
        f" {clock(job.next_run_at)} active home"
    )
    assert row.index("active") == header.index("STATUS")  # columns line up


def test_list_orders_by_next_run_and_shows_far_runs_as_dates(home: Path, cron: Cron) -> None:
    far = added(cron, "2099-01-05T09:00", "dentist", "--name", "Dentist")
    near = added(cron, "every 2h", "check the backups", "--name", "Backups")
    code, out, _ = cron("list")
    assert code == 0
    rows = [" ".join(line.split()) for line in out.splitlines()[1:]]
    near_run = next(j for j in stored(home) if j.id == near).next_run_at
    assert rows == [
        f"{near} Backups every 2h (every 2 hours) {clock(near_run)} active home",
        f"{far} Dentist once at 2099-01-05 09:00 CET 2099-01-05 09:00 active home",
    ]


def test_list_json_and_all_show_finished_one_time_jobs(home: Path, cron: Cron) -> None:
    daily = added(cron, "0 8 * * *", "summarize my inbox")
    once = added(cron, "in 20m", "call mom", "--deliver", "none")
    conn = open_db(home / "state.db")
    try:
        cron_ops.set_status(conn, once, "done", None, time.time())  # it ran
    finally:
        conn.close()
    by_id = {job.id: job for job in stored(home)}

    code, out, _ = cron("list", "--json")
    assert code == 0
    assert json.loads(out) == {
        "timezone": "Europe/Berlin",
        "jobs": [{**jobs.job_json(by_id[daily], BERLIN), "kept": None}],
    }
    assert json.loads(out)["jobs"][0]["describe"] == "at 08:00 every day"

    code, out, _ = cron("list", "--all", "--json")
    assert [j["id"] for j in json.loads(out)["jobs"]] == [daily, once]
    assert json.loads(out)["jobs"][1]["status"] == "done"
    code, out, _ = cron("list", "--all")
    assert [line.split()[0] for line in out.splitlines()] == ["ID", daily, once]
    assert " ".join(out.splitlines()[2].split()).endswith(" - done none")


def test_name_and_a_platform_target_are_kept(home: Path, cron: Cron) -> None:
    (home / ".env").write_text("TELEGRAM_BOT_TOKEN=123:abc\n")  # telegram is configured
    job_id = added(
        cron,
        "0 8 * * *",
        "summarize my inbox",
        "--name",
        "Inbox",
        "--deliver",
        "telegram:123456789:7",
    )
    job = the_job(home)
    assert (job.id, job.name, job.deliver) == (job_id, "Inbox", "telegram:123456789:7")


# ----- errors -------------------------------------------------------------------------


def test_an_invalid_schedule_is_one_line_naming_the_forms(home: Path, cron: Cron) -> None:
    code, out, err = cron("add", "whenever you like", "x")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("hermes: invalid schedule 'whenever you like': ")
    for form in ('"30 7 * * 1-5"', '"every 30m"', '"in 20m"', "an ISO time"):
        assert form in err
    code, _, err = cron("add", "every 10s", "x")
    assert code == 1 and "the shortest interval is 1 minute" in err
    assert stored(home) == []


@pytest.mark.parametrize(
    ("deliver", "problem"),
    [
        ("origin", "deliver: origin means the chat the job was created in"),
        ("somewhere", "deliver: 'somewhere' is not a target"),
    ],
)
def test_a_bad_target_is_refused(home: Path, cron: Cron, deliver: str, problem: str) -> None:
    code, out, err = cron("add", "0 8 * * *", "x", "--deliver", deliver)
    assert (code, out) == (1, "")
    assert err.startswith(f"hermes: {problem}") and err.count("\n") == 1
    assert "PLATFORM:CHAT[:THREAD]" in err
    assert stored(home) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["edit", "job_nope", "--name", "x"],
        ["pause", "job_nope"],
        ["resume", "job_nope"],
        ["remove", "job_nope"],
        ["run", "job_nope"],
    ],
)
def test_an_unknown_job_is_one_line(home: Path, cron: Cron, argv: list[str]) -> None:
    assert cron(*argv) == (
        1,
        "",
        "hermes: no cron job 'job_nope'; `hermes cron list` shows them\n",
    )


# ----- edit, pause, resume, remove ----------------------------------------------------


def test_edit_changes_the_job_and_recomputes_the_next_run(home: Path, cron: Cron) -> None:
    job_id = added(cron, "0 8 * * *", "summarize my inbox")
    before = time.time()
    code, out, err = cron(
        "edit", job_id, "--schedule", "every 2h", "--name", "Inbox", "--deliver", "none"
    )
    assert (code, err) == (0, "")
    job = the_job(home)
    assert (job.schedule, job.name, job.deliver, job.prompt) == (
        "every 2h",
        "Inbox",
        "none",
        "summarize my inbox",
    )
    assert job.next_run_at is not None and 0 <= job.next_run_at - before - 7200 < 60
    zone_name = datetime.fromtimestamp(job.next_run_at, BERLIN).strftime("%Z")
    assert out == (
        f'Changed job {job_id} "Inbox": every 2h (every 2 hours);'
        f" next run {clock(job.next_run_at)} {zone_name}\n"
    )
    code, _, err = cron("edit", job_id)
    assert code == 1 and err.startswith("hermes: nothing to change")
    code, _, err = cron("edit", job_id, "--schedule", "every fortnight")
    assert code == 1 and "accepted forms" in err
    assert the_job(home).schedule == "every 2h"


def test_a_paused_job_has_no_next_run_and_resume_computes_one(home: Path, cron: Cron) -> None:
    job_id = added(cron, "every 1d", "water the plants", "--name", "Plants")
    assert cron("pause", job_id) == (
        0,
        f'Paused job {job_id} "Plants" (hermes cron resume {job_id} restarts it)\n',
        "",
    )
    job = the_job(home)
    assert (job.status, job.next_run_at) == ("paused", None)
    _, out, _ = cron("list")
    assert " ".join(out.splitlines()[1].split()).endswith("every 1d (every day) - paused home")

    # an edit keeps it paused
    code, out, _ = cron("edit", job_id, "--schedule", "every 3h")
    assert code == 0 and out.endswith("; paused, no next run until resumed\n")
    assert (the_job(home).status, the_job(home).next_run_at) == ("paused", None)

    before = time.time()
    code, out, err = cron("resume", job_id)
    assert (code, err) == (0, "")
    job = the_job(home)
    assert job.status == "active"
    assert job.next_run_at is not None and 0 <= job.next_run_at - before - 3 * 3600 < 60
    zone_name = datetime.fromtimestamp(job.next_run_at, BERLIN).strftime("%Z")
    assert out == (
        f'Resumed job {job_id} "Plants"; next run {clock(job.next_run_at)} {zone_name}\n'
    )
    code, out, _ = cron("resume", job_id)
    assert code == 0 and out.startswith(f'Job {job_id} "Plants" is still active; next run ')


def test_remove_deletes_the_job(home: Path, cron: Cron) -> None:
    job_id = added(cron, "0 8 * * *", "summarize my inbox", "--name", "Inbox")
    keep = added(cron, "0 9 * * *", "stretch")
    assert cron("remove", job_id) == (
        0,
        f'Removed job {job_id} "Inbox" (its past runs stay in hermes tasks list --all)\n',
        "",
    )
    assert [job.id for job in stored(home)] == [keep]


# ----- run ----------------------------------------------------------------------------


def test_run_without_a_gateway_queues_a_run_for_it(home: Path, cron: Cron) -> None:
    job_id = added(cron, "0 8 * * *", "summarize my inbox", "--name", "Inbox")
    code, out, err = cron("run", job_id)
    assert (code, err) == (0, "")
    with sqlite3.connect(home / "state.db") as conn:
        [(task_id, kind, status, prompt, task_job)] = conn.execute(
            "SELECT id, kind, status, prompt, job_id FROM tasks"
        ).fetchall()
        runs = conn.execute("SELECT task_id, claimed_by FROM cron_runs").fetchall()
    assert (kind, status, prompt, task_job) == ("cron", "queued", "summarize my inbox", job_id)
    assert runs == [(task_id, "cli")]  # a gateway adopts it when it starts
    assert out == (
        f'Queued run {task_id} of job {job_id} "Inbox";'
        " it runs when the gateway starts (`hermes gateway run`)\n"
    )
    job = the_job(home)
    assert (job.runs, job.last_task_id, job.status) == (1, task_id, "active")


async def test_run_makes_the_running_gateway_run_the_job_at_once(
    tmp_path: Path, model: ScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = make_home(
        tmp_path / "home",
        model,
        config={"cron": {"timezone": "Europe/Berlin"}, "server": {"port": 0}},
    )
    monkeypatch.setenv("HERMES_HOME", str(home))
    gateway = await GatewayProcess(home).ready()
    assert main(["cron", "add", "every 1d", "Summarize my inbox.", "--name", "Inbox"]) == 0
    job = the_job(home)
    model.reply("3 new mails, none urgent.")

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hermes",
        "cron",
        "run",
        job.id,
        env={**os.environ, "HERMES_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert (proc.returncode, err.decode()) == (0, "")
    found = re.fullmatch(
        rf'Started run (\S+) of job {job.id} "Inbox"; `hermes tasks show \1` follows it\n',
        out.decode(),
    )
    assert found, out

    def task() -> list[tuple[Any, ...]]:
        with sqlite3.connect(home / "state.db") as conn:
            return conn.execute("SELECT id, status, result FROM tasks").fetchall()

    # well before the scheduler's own 60 s look at the clock: the poke woke it
    await wait_until(lambda: task() != [] and task()[0][1] == "done", 20, why=lambda: gateway.log())
    assert task() == [(found.group(1), "done", "3 new mails, none urgent.")]
    users = [m for m in model.requests[0]["messages"] if m.get("role") == "user"]
    assert str(users[0]["content"]).endswith("Summarize my inbox.")
    with sqlite3.connect(home / "state.db") as conn:
        [(claimed_by,)] = conn.execute("SELECT claimed_by FROM cron_runs").fetchall()
    assert claimed_by.startswith("gateway ")  # adopted from the command line's claim
    assert await gateway.stop() == 0
