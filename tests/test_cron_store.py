"""The cron claim in state.db: two processes racing for the same due jobs
claim each run once; missed runs coalesce; one-shot jobs finish; manual runs
queued by the CLI are adopted by one gateway only."""

from __future__ import annotations

import threading
from pathlib import Path

from hermes.store import cron_ops
from hermes.store.cron_ops import JobRow, NewJob
from hermes.store.db import open_db

NOW = 1_800_000_000.0


def new_job(conn: object, next_run_at: float | None, name: str = "j") -> JobRow:
    job = NewJob(name, "every 1m", "prompt " + name, "none", None, "default", next_run_at, "test")
    return cron_ops.insert(conn, job, NOW - 3600)  # type: ignore[arg-type]


def every_minute(job: JobRow, now: float) -> float | None:
    assert job.next_run_at is not None
    return job.next_run_at + 60 * (int((now - job.next_run_at) // 60) + 1)


def test_two_connections_racing_claim_each_due_run_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    setup = open_db(path)
    ids = {new_job(setup, NOW - i % 7, f"j{i}").id for i in range(300)}
    setup.close()
    claimed: dict[str, list[str]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claimer(name: str) -> None:
        conn = open_db(path)
        start.wait()
        for _ in range(5):  # batches of 100, so the two interleave
            claimed[name] += cron_ops.claim_due(conn, NOW, name, every_minute, limit=100)
        conn.close()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn = open_db(path)
    runs = conn.execute("SELECT job_id, task_id, claimed_by FROM cron_runs").fetchall()
    assert len(runs) == 300 and {r[0] for r in runs} == ids
    assert sorted(claimed["a"] + claimed["b"]) == sorted(r[1] for r in runs)
    tasks = conn.execute("SELECT kind, status, job_id FROM tasks").fetchall()
    assert len(tasks) == 300 and {t[:2] for t in tasks} == {("cron", "queued")}
    assert cron_ops.next_due(conn) == NOW - 6 + 60  # the earliest moved-on job
    conn.close()


def test_missed_runs_coalesce_into_one_and_the_phase_is_kept(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "state.db")
    job = new_job(conn, NOW - 3 * 3600 + 10)  # 180 runs were missed
    [task_id] = cron_ops.claim_due(conn, NOW, "gw", every_minute)
    after = cron_ops.get(conn, job.id)
    assert after is not None and after.next_run_at == NOW + 10 and after.runs == 1
    assert after.last_task_id == task_id
    assert cron_ops.claim_due(conn, NOW, "gw", every_minute) == []


def test_a_one_shot_job_is_done_after_its_run_and_a_broken_one_pauses(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "state.db")
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
    assert conn.execute("SELECT job_id FROM tasks WHERE id = ?", (task_id,)).fetchone() == (
        once.id,
    )


def test_a_run_queued_from_the_command_line_is_adopted_by_one_gateway(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = open_db(path)
    job = new_job(conn, NOW + 3600)
    task_id = cron_ops.claim_now(conn, job.id, NOW, "cli")
    other = open_db(path)
    assert cron_ops.adopt(conn, "gateway A") == [task_id]
    assert cron_ops.adopt(other, "gateway B") == []
    after = cron_ops.get(conn, job.id)
    assert after is not None and after.next_run_at == NOW + 3600  # the schedule is untouched
    assert cron_ops.claim_now(conn, "job_nope", NOW, "cli") is None
