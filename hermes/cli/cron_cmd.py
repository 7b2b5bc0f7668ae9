"""`hermes cron list | add | edit | pause | resume | remove | run`: scheduled jobs.

The command works on state.db directly, so jobs can be managed whether or not
a gateway runs; the rules (schedule parsing in `cron.timezone`, delivery
targets, pause and resume) are hermes/cron/jobs.py's, shared with the agent's
tool and the API. After each change the running gateway, if any, is poked
(SIGUSR1) so its scheduler re-reads the jobs at once instead of sleeping
until the old next run. `run` queues one run claimed by "cli"; the gateway
adopts it (at once when poked, else when it starts).

Rule violations (a bad schedule, an unknown job, a bad target) are
HermesErrors and reach the user as one line from hermes.cli.main.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hermes.cli.shared import one_line, state_db, table
from hermes.cron import jobs
from hermes.cron.jobs import NoSuchJob
from hermes.errors import HermesError
from hermes.gateway.targets import configured
from hermes.store import cron_ops, kept_ops
from hermes.store.cron_ops import JobRow

NOT_RUNNING = "The gateway is not running: jobs run once it starts (`hermes gateway run`)."
RUNS_AT_START = "it runs when the gateway starts (`hermes gateway run`)"
NEAR_DAYS = 7  # a next run within this many calendar days shows as "Mon 07:30"


def cmd_cron(args: argparse.Namespace) -> int:
    from hermes.cron.schedule import zone
    from hermes.home import load_profile

    profile = load_profile(getattr(args, "profile", None))
    tz = zone(profile.settings.cron.timezone)
    with state_db(profile.home) as conn:  # next runs computed in another zone: recompute
        if jobs.sync_zone(conn, tz, time.time()):
            _poke(profile.home)
    if args.action == "list":
        with state_db(profile.home) as conn:
            rows = cron_ops.listing(conn, include_done=args.all)
            kept = kept_ops.per_job(conn)
        if args.json:
            found = [{**jobs.job_json(r, tz), "kept": kept.get(r.id)} for r in rows]
            print(json.dumps({"timezone": tz.key, "jobs": found}, indent=2))
        else:
            print(format_list(rows, tz, time.time(), kept))
        return 0
    platforms = configured(profile.env)
    ready = {"ready": platforms, "env_file": str(profile.home / ".env")}
    if args.action == "add":
        print(add(profile.home, profile.name, tz, args, ready))
        return 0
    if args.action == "run":
        print(run(profile.home, args.id))
        return 0
    print(change(profile.home, tz, args, ready))
    return 0


def add(
    home: Path, profile: str, tz: ZoneInfo, args: argparse.Namespace, ready: dict[str, Any]
) -> str:
    now = time.time()
    with state_db(home) as conn:
        job = jobs.create(
            conn,
            schedule=args.schedule,
            prompt=args.prompt,
            profile=profile,
            created_by="cli",
            tz=tz,
            now=now,
            name=args.name,
            deliver=args.deliver,
            **ready,
        )
        warning = jobs.delivery_warning(conn, job)
    running = _poke(home)
    lines = [f"Added job {_label(job)}: {_schedule(job, tz)}; {_next(job, tz, now)}"]
    if warning:
        lines.append(f"Warning: {warning}")
    if not running:
        lines.append(NOT_RUNNING)
    return "\n".join(lines)


def change(home: Path, tz: ZoneInfo, args: argparse.Namespace, ready: dict[str, Any]) -> str:
    """edit, pause, resume or remove one job; the line to print."""
    now = time.time()
    with state_db(home) as conn:
        if args.action == "edit":
            job = jobs.edit(
                conn,
                args.id,
                tz,
                now,
                **ready,
                schedule=args.schedule,
                prompt=args.prompt,
                name=args.name,
                deliver=args.deliver,
            )
            line = f"Changed job {_label(job)}: {_schedule(job, tz)}; {_next(job, tz, now)}"
            warning = jobs.delivery_warning(conn, job) if args.deliver else None
            if warning:
                line += f"\nWarning: {warning}"
        elif args.action == "pause":
            job = jobs.pause(conn, args.id, now)
            line = f"Paused job {_label(job)} (hermes cron resume {job.id} restarts it)"
        elif args.action == "resume":
            was = jobs.find(conn, args.id).status
            job = jobs.resume(conn, args.id, tz, now)
            verb = "Job" if was == "active" else "Resumed job"
            still = " is still active" if was == "active" else ""
            line = f"{verb} {_label(job)}{still}; {_next(job, tz, now)}"
        elif args.action == "remove":
            job = jobs.remove(conn, args.id)
            line = f"Removed job {_label(job)} (its past runs stay in hermes tasks list --all)"
        else:
            raise HermesError(f"unknown cron action {args.action!r} (see `hermes cron --help`)")
    _poke(home)
    return line


def run(home: Path, job_id: str) -> str:
    """Queue one run now, off the schedule; the gateway adopts it (see cron_ops.adopt).
    Which platforms are connected is not known here (a routed profile's chats are
    served by another profile's gateway): the gateway that delivers decides."""
    with state_db(home) as conn:
        job = jobs.find(conn, job_id)
        task_id = cron_ops.claim_now(conn, job.id, time.time(), "cli", None)
    if task_id is None:  # removed meanwhile
        raise NoSuchJob(job_id)
    what = f"run {task_id} of job {_label(job)}"
    if _poke(home):
        return f"Started {what}; `hermes tasks show {task_id}` follows it"
    return f"Queued {what}; {RUNS_AT_START}"


def _poke(home: Path) -> bool:
    """Wake the scheduler: SIGUSR1 to this home's gateway, or in a cluster a
    notification the active replica hears (wherever it runs)."""
    from hermes.pidfile import poke
    from hermes.store.where import is_cluster, locate_home

    if is_cluster(locate_home(home)):
        from hermes.gateway.cluster import notify_tenant

        with state_db(home) as conn:
            return notify_tenant(conn, "cron")
    return poke(home)


def _label(job: JobRow) -> str:
    return f'{job.id} "{one_line(job.name, 60)}"'


def _schedule(job: JobRow, tz: ZoneInfo) -> str:
    """The stored schedule with its words: "0 8 * * * (at 08:00 every day)"."""
    words = str(jobs.job_json(job, tz)["describe"])
    if job.schedule.startswith("once "):
        return words  # "once at 2026-12-24 18:00 CET" reads better than the stored ISO text
    return job.schedule if words == job.schedule else f"{job.schedule} ({words})"


def _next(job: JobRow, tz: ZoneInfo, now: float) -> str:
    if job.status == "paused":
        return "paused, no next run until resumed"
    if job.next_run_at is None:
        return "no run left"
    at = datetime.fromtimestamp(job.next_run_at, tz)
    return f"next run {when(job.next_run_at, tz, now)} {at.strftime('%Z')}"


def when(at: float, tz: ZoneInfo, now: float) -> str:
    """A next run for people: "Mon 07:30" within the coming week, else the date."""
    moment, today = datetime.fromtimestamp(at, tz), datetime.fromtimestamp(now, tz)
    if 0 <= (moment.date() - today.date()).days < NEAR_DAYS:
        return moment.strftime("%a %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def _deliver(job: JobRow, kept: dict[str, dict[str, Any]]) -> str:
    held = kept.get(job.id)
    return f"{job.deliver} ({held['count']} kept: {held['reason']})" if held else job.deliver


def format_list(
    rows: list[JobRow], tz: ZoneInfo, now: float, kept: dict[str, dict[str, Any]] | None = None
) -> str:
    if not rows:
        return 'No cron jobs. Add one: hermes cron add "0 8 * * *" "summarize my inbox"'
    lines = [["ID", "NAME", "SCHEDULE", f"NEXT RUN ({tz.key})", "STATUS", "DELIVER"]]
    lines += [
        [
            r.id,
            one_line(r.name, 30),
            one_line(_schedule(r, tz), 40),
            "-" if r.next_run_at is None else when(r.next_run_at, tz, now),
            r.status,
            _deliver(r, kept or {}),
        ]
        for r in rows
    ]
    return "\n".join(table(lines))
