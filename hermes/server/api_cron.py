"""The cron routes under /api/hermes (SPEC §8): list and create jobs, and one
job's show/edit/pause/resume/run/remove for the dashboard, `hermes cron` and
MCP.

The rules live in hermes/cron/jobs.py; every change wakes the scheduler, so
a new or edited job is timed at once. An invalid schedule is a 400 whose
message names the accepted forms (the message is the rule's own words, for
the dashboard to show as they are); an unknown job a 404; a target on a
platform that is unknown or not connected a 400 saying how to configure it.
A created or edited job comes with `warning` (null, or e.g. "no chat is the
home channel yet...") and the list with `timezone`, the zone of the schedules,
and per job `kept`: the runs whose result could not be delivered yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hermes.cron import jobs
from hermes.cron.jobs import JobError, NoSuchJob
from hermes.cron.schedule import ScheduleError
from hermes.gateway.kept import warn_kept
from hermes.server.api_work import json_error, read_body
from hermes.server.httpio import clip
from hermes.store import cron_ops, kept_ops

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway

CREATORS = ("api", "cli", "mcp", "dashboard")
FIELDS = ("schedule", "prompt", "name", "deliver", "profile", "created_by")


def string_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, str]:
    """The body's fields, each a string (ValueError naming the first one that is not)."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValueError(f"unknown field {clip(unknown[0])}; fields: {', '.join(allowed)}")
    for key, value in body.items():
        if value is not None and not isinstance(value, str):
            raise ValueError(f'"{key}" must be a string')
    return {k: v for k, v in body.items() if v is not None}


def check_profile(gw: Gateway, profile: str | None) -> None:
    if profile and profile != gw.profile.name:
        raise ValueError(
            f"this gateway serves profile {gw.profile.name!r}, not {clip(profile)}; "
            f"send it to that profile's gateway (hermes -p {clip(profile)[1:-1]} gateway run)"
        )


def ready(gw: Gateway) -> dict[str, Any]:
    """The keywords jobs.create/edit take to check a target in this gateway."""
    return {"ready": set(gw.adapters), "env_file": str(gw.profile.home / ".env")}


def routes(gw: Gateway) -> list[Route]:
    async def answer(job: cron_ops.JobRow, warn: bool = False) -> JSONResponse:
        """The job; `warn`: with the warning about its target (it was just set)."""
        data = jobs.job_json(job, gw.scheduler.tz)
        if warn:
            data["warning"] = await gw.store.run(jobs.delivery_warning, job)
        return JSONResponse(data)

    async def guarded(work: Any) -> JSONResponse:
        """Run a change; map the rules' errors to 4xx and wake the scheduler after."""
        try:
            response: JSONResponse = await work()
        except NoSuchJob as exc:
            return json_error(404, str(exc))
        except (JobError, ScheduleError, ValueError) as exc:
            return json_error(400, str(exc))
        gw.scheduler.wake()
        return response

    async def list_jobs(request: Request) -> JSONResponse:
        rows = await gw.store.run(cron_ops.listing)
        kept = await gw.store.run(kept_ops.per_job)
        tz = gw.scheduler.tz
        return JSONResponse(
            {
                "timezone": tz.key,
                "jobs": [{**jobs.job_json(row, tz), "kept": kept.get(row.id)} for row in rows],
            }
        )

    async def create(request: Request) -> JSONResponse:
        async def work() -> JSONResponse:
            body = string_fields(await read_body(request), FIELDS)
            check_profile(gw, body.get("profile"))
            by = body.get("created_by", "api")
            if by not in CREATORS:
                raise ValueError(f'"created_by" must be one of {", ".join(CREATORS)}')
            job = await gw.store.run(
                jobs.create,
                schedule=body.get("schedule", ""),
                prompt=body.get("prompt", ""),
                name=body.get("name"),
                deliver=body.get("deliver"),
                profile=gw.profile.name,
                created_by=by,
                tz=gw.scheduler.tz,
                now=gw.clock(),
                **ready(gw),
            )
            data = jobs.job_json(job, gw.scheduler.tz)
            warning = await gw.store.run(jobs.delivery_warning, job)
            return JSONResponse({"job_id": job.id, **data, "warning": warning}, status_code=201)

        return await guarded(work)

    async def show(request: Request) -> JSONResponse:
        job_id = request.path_params["id"]
        job = await gw.store.run(cron_ops.get, job_id)
        if job is None:
            return json_error(404, str(NoSuchJob(job_id)))
        data = jobs.job_json(job, gw.scheduler.tz)
        return JSONResponse({**data, "history": await gw.store.run(cron_ops.runs, job.id)})

    async def edit(request: Request) -> JSONResponse:
        async def work() -> JSONResponse:
            body = string_fields(
                await read_body(request), ("schedule", "prompt", "name", "deliver")
            )
            job = await gw.store.run(
                jobs.edit,
                request.path_params["id"],
                gw.scheduler.tz,
                gw.clock(),
                **ready(gw),
                **body,
            )
            return await answer(job, warn="deliver" in body)

        return await guarded(work)

    async def pause(request: Request) -> JSONResponse:
        async def work() -> JSONResponse:
            return await answer(
                await gw.store.run(jobs.pause, request.path_params["id"], gw.clock())
            )

        return await guarded(work)

    async def resume(request: Request) -> JSONResponse:
        async def work() -> JSONResponse:
            job = await gw.store.run(
                jobs.resume, request.path_params["id"], gw.scheduler.tz, gw.clock()
            )
            return await answer(job)

        return await guarded(work)

    async def run_now(request: Request) -> JSONResponse:
        async def work() -> JSONResponse:
            job_id = request.path_params["id"]
            task_id = await gw.store.run(
                cron_ops.claim_now, job_id, gw.clock(), gw.scheduler.owner, set(gw.adapters)
            )
            if task_id is None:
                raise NoSuchJob(job_id)
            await warn_kept(gw, [task_id])
            await gw.tasks.launch_ids([task_id])
            return JSONResponse({"job_id": job_id, "task_id": task_id}, status_code=202)

        return await guarded(work)

    async def remove(request: Request) -> JSONResponse:
        async def work() -> JSONResponse:
            job = await gw.store.run(jobs.remove, request.path_params["id"])
            return JSONResponse({"job_id": job.id, "removed": True})

        return await guarded(work)

    return [
        Route("/api/hermes/cron", list_jobs, methods=["GET"]),
        Route("/api/hermes/cron", create, methods=["POST"]),
        Route("/api/hermes/cron/{id}", show, methods=["GET"]),
        Route("/api/hermes/cron/{id}", edit, methods=["PATCH"]),
        Route("/api/hermes/cron/{id}", remove, methods=["DELETE"]),
        Route("/api/hermes/cron/{id}/pause", pause, methods=["POST"]),
        Route("/api/hermes/cron/{id}/resume", resume, methods=["POST"]),
        Route("/api/hermes/cron/{id}/run", run_now, methods=["POST"]),
    ]
