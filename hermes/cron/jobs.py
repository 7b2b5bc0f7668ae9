"""Cron jobs as users change them: validate, compute the next run, store.

One place for the rules every front end shares (the agent's `cron` tool, the
API and MCP, the dashboard, `hermes cron`): a schedule is parsed in the
configured zone and stored in its canonical text; `deliver` is origin, home,
none or PLATFORM:CHAT[:THREAD] (origin needs a chat of origin); a paused job
has no next run and gets one when it resumes. Synchronous functions taking
the connection, for ``await store.run(jobs.fn, ...)`` or a CLI without a
gateway.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from zoneinfo import ZoneInfo

from hermes.cron.schedule import Schedule, ScheduleError, parse
from hermes.errors import HermesError
from hermes.gateway.targets import TargetError, check_target
from hermes.store import chat_ops, cron_ops
from hermes.store.cron_ops import JobRow, NewJob
from hermes.store.db import Conn

DELIVER_FORMS = '"origin", "home", "none" or PLATFORM:CHAT[:THREAD] such as telegram:123456789'
MAX_PROMPT = 20_000
MAX_NAME = 100


class JobError(HermesError):
    """A request about a job that cannot be done as asked (a 4xx for the API)."""


class NoSuchJob(JobError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no cron job {job_id!r}; `hermes cron list` shows them")


def check_deliver(
    deliver: str | None,
    origin: str | None,
    ready: Collection[str],
    env_file: str = ".env",
    conn: Conn | None = None,
) -> str:
    """The delivery target as stored. Default: the chat of origin, else the home channel.
    A PLATFORM:CHAT target must be on a platform in `ready` (configured or connected,
    see hermes/gateway/targets.py); with `conn`, a web chat must exist."""
    if deliver is None or not deliver.strip():
        return "origin" if origin else "home"
    deliver = deliver.strip()
    if deliver.lower() in ("origin", "home", "none"):
        if deliver.lower() == "origin" and not origin:
            raise JobError(
                "deliver: origin means the chat the job was created in, and this one was "
                f"created outside any chat; use {DELIVER_FORMS}"
            )
        return deliver.lower()
    if ":" not in deliver:
        raise JobError(f"deliver: {deliver!r} is not a target; use {DELIVER_FORMS}")
    try:
        target = check_target(deliver, ready, env_file)
    except TargetError as exc:
        raise JobError(f"deliver: {exc}") from None
    if conn is not None:
        missing = chat_ops.missing_web_chat(conn, target)
        if missing:
            raise JobError(f"deliver: {missing}")
    return str(target)


def delivery_warning(conn: Conn, job: JobRow) -> str | None:
    """What to tell whoever created or changed `job` about where its results go:
    a job delivering to the home channel before any chat ran /sethome keeps its
    results (in its history) until one does, then they are delivered late."""
    if job.deliver == "home" and cron_ops.home_channel(conn) is None:
        return (
            "no chat is the home channel yet: this job's results are kept in its history "
            "until you send /sethome in the chat that should get them (they are delivered "
            "then), or change its target with --deliver PLATFORM:CHAT"
        )
    return None


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise JobError(f"{what} must be a non-empty string")
    if len(value) > limit:
        raise JobError(f"{what} is longer than {limit} characters")
    return value.strip()


def _name_for(prompt: str) -> str:
    line = " ".join(prompt.split())
    return line if len(line) <= 40 else line[:40].rsplit(" ", 1)[0] + "..."


def create(
    conn: Conn,
    *,
    schedule: str,
    prompt: str,
    profile: str,
    created_by: str,
    tz: ZoneInfo,
    now: float,
    ready: Collection[str],
    env_file: str = ".env",
    name: str | None = None,
    deliver: str | None = None,
    origin: str | None = None,
) -> JobRow:
    """A new job. `ready`: the platforms a PLATFORM:CHAT target may name (check_deliver)."""
    prompt = _text(prompt, "prompt", MAX_PROMPT)
    parsed = parse(_text(schedule, "schedule", 500), tz, now)
    job = NewJob(
        name=_text(name, "name", MAX_NAME) if name is not None else _name_for(prompt),
        schedule=parsed.text,
        prompt=prompt,
        deliver=check_deliver(deliver, origin, ready, env_file, conn),
        origin=origin,
        profile=profile,
        next_run_at=parsed.first(now, tz),
        created_by=created_by,
    )
    cron_ops.note_zone(conn, tz.key)  # its next run is computed in tz
    return cron_ops.insert(conn, job, now)


def find(conn: Conn, job_id: str) -> JobRow:
    job = cron_ops.get(conn, job_id)
    if job is None:
        raise NoSuchJob(job_id)
    return job


def edit(
    conn: Conn,
    job_id: str,
    tz: ZoneInfo,
    now: float,
    *,
    ready: Collection[str],
    env_file: str = ".env",
    schedule: str | None = None,
    prompt: str | None = None,
    name: str | None = None,
    deliver: str | None = None,
) -> JobRow:
    job = find(conn, job_id)
    changes: dict[str, Any] = {}
    if schedule is not None:
        parsed = parse(_text(schedule, "schedule", 500), tz, now)
        changes["schedule"] = parsed.text
        changes["next_run_at"] = parsed.first(now, tz)
    if prompt is not None:
        changes["prompt"] = _text(prompt, "prompt", MAX_PROMPT)
    if name is not None:
        changes["name"] = _text(name, "name", MAX_NAME)
    if deliver is not None:
        changes["deliver"] = check_deliver(deliver, job.origin, ready, env_file, conn)
    if not changes:
        raise JobError("nothing to change: give a schedule, prompt, name or deliver")
    updated = cron_ops.update(conn, job.id, now, **changes)
    if updated is None:
        raise NoSuchJob(job_id)
    return updated


def pause(conn: Conn, job_id: str, now: float) -> JobRow:
    job = find(conn, job_id)
    if job.status == "done":
        raise JobError(f"job {job.id} already ran (it was a one-time job); edit its schedule")
    paused = cron_ops.set_status(conn, job.id, "paused", None, now)
    assert paused is not None
    return paused


def resume(conn: Conn, job_id: str, tz: ZoneInfo, now: float) -> JobRow:
    """Active again, next run computed from now (runs missed while paused are skipped)."""
    job = find(conn, job_id)
    if job.status == "active":
        return job
    following = load(job.schedule, tz, job.created_at - 1).first(now, tz)
    if following is None:
        raise JobError(f"job {job.id} has no run left ({job.schedule}); edit its schedule")
    resumed = cron_ops.set_status(conn, job.id, "active", following, now)
    assert resumed is not None
    return resumed


def load(text: str, tz: ZoneInfo, at: float) -> Schedule:
    """A stored (canonical) schedule, as it was when `at` was in the future."""
    if text.startswith("once "):
        text = text[len("once ") :]  # the ISO time with its offset
    return parse(text, tz, at)


def remove(conn: Conn, job_id: str) -> JobRow:
    job = find(conn, job_id)
    cron_ops.remove(conn, job.id)
    return job


def next_of(tz: ZoneInfo) -> Any:
    """For cron_ops.claim_due: a due job's next run after `now` (None: it is done)."""

    def following(job: JobRow, now: float) -> float | None:
        assert job.next_run_at is not None
        try:
            schedule = load(job.schedule, tz, job.next_run_at - 1)
        except ScheduleError as exc:  # stored text no longer parses: pause it
            raise ValueError(str(exc)) from None
        return schedule.following(job.next_run_at, now, tz)

    return following


def job_json(job: JobRow, tz: ZoneInfo) -> dict[str, Any]:
    """A job for the API and `--json`: its row plus the schedule in words."""
    try:
        words = load(job.schedule, tz, job.created_at - 1).describe(tz)
    except ScheduleError:
        words = job.schedule
    return {**job.to_json(), "describe": words}


def recompute_next_runs(conn: Conn, tz: ZoneInfo, now: float) -> int:
    """cron.timezone changed: the next run of every active job with a cron expression
    (a wall-clock time) is computed again in `tz`, and `tz` is recorded as the zone
    of the stored next runs. Intervals ("every 2h") and one-time jobs are instants
    and keep theirs; a job already due is claimed as it is. How many changed."""

    def following(job: JobRow) -> float | None:
        if job.schedule.startswith(("every ", "once ")):
            return None
        try:
            return load(job.schedule, tz, now).first(now, tz)
        except ScheduleError:
            return None

    return cron_ops.retime(conn, now, following, tz.key)


def sync_zone(conn: Conn, tz: ZoneInfo, now: float) -> int:
    """Recompute the next runs if they were computed in another zone than `tz` (the
    gateway at start, `hermes cron` before it shows or changes jobs)."""
    recorded = cron_ops.recorded_zone(conn)
    if recorded == tz.key:
        return 0
    if recorded is None and not cron_ops.count(conn, "active"):
        return cron_ops.retime(conn, now, lambda job: None, tz.key)
    return recompute_next_runs(conn, tz, now)
