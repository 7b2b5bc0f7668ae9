"""The agent's `cron` tool: scheduled jobs from plain language.

The model turns "every weekday at 7:30 send me an AI news brief" into a
create call with schedule "30 7 * * 1-5" (plain phrases like "every weekday
at 7:30" are accepted too) and the prompt the job will run. A job created
in a chat remembers that chat and delivers there by default. The rules are
hermes/cron/jobs.py; after a change the scheduler is told (in the gateway
directly, from a terminal chat by poking the running gateway).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hermes.context import TurnContext
from hermes.cron import jobs
from hermes.cron.jobs import JobError
from hermes.cron.schedule import FORMS, ScheduleError, zone
from hermes.errors import ToolError
from hermes.gateway.targets import configured
from hermes.store import cron_ops
from hermes.store.cron_ops import JobRow
from hermes.tools.base import Tool, schema

ACTIONS = ("create", "list", "update", "pause", "resume", "remove")


def when(at: float | None, tz: ZoneInfo) -> str:
    if at is None:
        return "none"
    return datetime.fromtimestamp(at, tz).strftime("%a %Y-%m-%d %H:%M %Z")


def job_line(job: JobRow, tz: ZoneInfo) -> str:
    words = jobs.job_json(job, tz)["describe"]
    target = {"origin": f"this chat ({job.origin})", "none": "nowhere (kept in history)"}.get(
        job.deliver, job.deliver
    )
    return (
        f'{job.id} "{job.name}" [{job.status}]: {job.schedule} ({words}); '
        f"next run {when(job.next_run_at, tz)}; delivers to {target}"
    )


def _changed(ctx: TurnContext) -> None:
    if ctx.services is not None:
        ctx.services.wake_scheduler()
    else:
        from hermes.pidfile import poke

        poke(ctx.profile.home)


def _arg(args: dict[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ToolError(f"{name} must be a string")
    return value


async def cron(args: dict[str, Any], ctx: TurnContext) -> str:
    action = args.get("action")
    if action not in ACTIONS:
        raise ToolError(f"action must be one of {', '.join(ACTIONS)}")
    tz = zone(ctx.profile.settings.cron.timezone)
    now = time.time()
    store = ctx.store
    if action == "list":
        rows = await store.run(cron_ops.listing)
        if not rows:
            return "No cron jobs."
        return "\n".join(job_line(job, tz) for job in rows)
    ready, env_file = configured(ctx.profile.env), str(ctx.profile.home / ".env")
    try:
        if action == "create":
            job = await store.run(
                jobs.create,
                schedule=_arg(args, "schedule") or "",
                prompt=_arg(args, "prompt") or "",
                name=_arg(args, "name"),
                deliver=_arg(args, "deliver"),
                origin=ctx.origin,
                profile=ctx.profile.name,
                created_by="agent",
                tz=tz,
                now=now,
                ready=ready,
                env_file=env_file,
            )
            verb = "Created"
        else:
            job_id = _arg(args, "job_id")
            if job_id is None:
                raise ToolError(f"{action} needs job_id (the list action shows them)")
            if action == "update":
                fields = {k: _arg(args, k) for k in ("schedule", "prompt", "name", "deliver")}
                changes = {k: v for k, v in fields.items() if v is not None}
                job = await store.run(
                    jobs.edit, job_id, tz, now, ready=ready, env_file=env_file, **changes
                )
                verb = "Updated"
            elif action == "pause":
                job, verb = await store.run(jobs.pause, job_id, now), "Paused"
            elif action == "resume":
                job, verb = await store.run(jobs.resume, job_id, tz, now), "Resumed"
            else:
                job = await store.run(jobs.remove, job_id)
                _changed(ctx)
                return f'Removed {job.id} "{job.name}".'
    except (JobError, ScheduleError) as exc:
        raise ToolError(str(exc)) from None
    _changed(ctx)
    warning = await store.run(jobs.delivery_warning, job)
    told = action == "create" or (action == "update" and _arg(args, "deliver"))
    note = f"\nWarning (tell the user): {warning}" if warning and told else ""
    return f"{verb} {job_line(job, tz)}{note}"


TOOLS = [
    Tool(
        name="cron",
        description=(
            "Scheduled jobs: a job runs its prompt in a fresh agent session on its schedule and "
            "sends the result to the chat it was created in (or `deliver`: home, none, "
            "PLATFORM:CHAT[:THREAD]). Turn the user's words into `schedule`: a 5-field cron "
            "expression in the configured time zone (minute hour day month weekday; 'every "
            "weekday at 7:30' is '30 7 * * 1-5', 'every day at 2am' is '0 2 * * *'), 'every 30m' "
            "/ 'every 2h', 'in 20m' or an ISO time for once. Write `prompt` as the full "
            "instruction for the future run (it will not see this conversation). Actions: "
            f"create, list, update, pause, resume, remove. Schedule {FORMS}"
        ),
        parameters=schema(
            {
                "action": {"type": "string", "enum": list(ACTIONS)},
                "schedule": {"type": "string", "description": "when it runs (create, update)"},
                "prompt": {"type": "string", "description": "what the job does (create)"},
                "name": {"type": "string", "description": "a short name (optional)"},
                "deliver": {
                    "type": "string",
                    "description": "origin (default: this chat), home, none or PLATFORM:CHAT",
                },
                "job_id": {"type": "string", "description": "the job (update/pause/resume/remove)"},
            },
            ["action"],
        ),
        handler=cron,
    )
]
