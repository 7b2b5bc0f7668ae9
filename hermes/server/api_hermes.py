"""`GET /api/hermes/status`, `POST /api/hermes/delegate` and the OpenAPI
document of /api/hermes (SPEC §8): what an orchestrating agent calls to hand
work to Hermes.

Delegation makes the same rows the chat commands make: a background task
(kind ``delegate``), a walkaway task, or a cron job. Results go to `deliver`
(origin is not a choice here: an API call has no chat), by default nowhere
for background work (the caller polls /api/hermes/tasks/{id}), and to the
home channel for walkaway tasks and cron jobs, whose point is to reach your
phone.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hermes import __version__
from hermes.agent.prompt import read_skills_index
from hermes.cron import jobs
from hermes.cron.jobs import JobError
from hermes.cron.schedule import ScheduleError
from hermes.gateway import skipped
from hermes.gateway.events import Target
from hermes.server.api_cron import check_profile, string_fields
from hermes.server.api_cron import ready as cron_ready
from hermes.server.api_work import json_error, read_body
from hermes.server.httpio import clip
from hermes.store import approval_ops, cron_ops, task_ops

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway

MODES = {"background": "delegate", "walkaway": "walkaway", "cron": "cron"}
DEFAULT_DELIVER = {"background": "none", "walkaway": "home", "cron": "home"}
OPENAPI = Path(__file__).parent / "openapi.json"
MAX_PROMPT = 20_000


def _counts(conn: Any) -> dict[str, int]:
    sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    running = conn.execute(
        "SELECT COUNT(*) FROM tasks WHERE status IN ('running', 'waiting_approval')"
    ).fetchone()[0]
    return {
        "tasks_running": int(running),
        "tasks_open": task_ops.count_open(conn),
        "approvals_pending": approval_ops.count_pending(conn),
        "cron_jobs": cron_ops.count(conn, "active"),
        "sessions": int(sessions),
    }


def _delivery(conn: Any, deliver: str) -> str | None:
    """deliver (home | none | PLATFORM:CHAT[:THREAD]) -> the chat results go to now."""
    if deliver == "none":
        return None
    return cron_ops.home_channel(conn) if deliver == "home" else deliver


def mcp_state() -> str:
    return "ready" if importlib.util.find_spec("mcp") else "not installed: pip install mcp"


def routes(gw: Gateway) -> list[Route]:
    async def status(request: Request) -> JSONResponse:
        stats = await gw.store.run(_counts)
        skipped_updates = await skipped.summary(gw.store, gw.clock())
        skills = read_skills_index(gw.profile.home / "skills")
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "profile": gw.profile.name,
                "uptime_s": round(gw.clock() - gw.started_at, 1),
                "platforms": gw.platform_states(),
                "platform_details": gw.platform_details(),
                "skipped_updates": skipped_updates,
                "mcp": {"path": "/mcp", "transport": "streamable-http", "state": mcp_state()},
                "stats": stats,
                "skills": [s.name for s in skills],
                "cron_timezone": str(gw.scheduler.tz),
            }
        )

    async def delegate(request: Request) -> JSONResponse:
        try:
            body = await read_body(request)
            return await _delegate(body)
        except (JobError, ScheduleError, ValueError) as exc:
            return json_error(400, f"bad request: {exc}")

    async def _delegate(body: dict[str, Any]) -> JSONResponse:
        string_fields(body, ("prompt", "mode", "schedule", "deliver", "profile", "name"))
        prompt, mode = body.get("prompt"), body.get("mode") or "background"
        if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT:
            raise ValueError(f'"prompt" must be a non-empty string of at most {MAX_PROMPT} chars')
        if mode not in MODES:
            raise ValueError(f'"mode" must be one of {", ".join(MODES)}')
        check_profile(gw, body.get("profile"))
        deliver = (body.get("deliver") or "").strip() or DEFAULT_DELIVER[mode]
        if deliver == "origin":
            raise ValueError('deliver "origin" needs a chat; use home, none or PLATFORM:CHAT')
        if mode == "cron":
            if not body.get("schedule"):
                raise ValueError('mode "cron" needs a "schedule", e.g. "0 8 * * *"')
            job = await gw.store.run(
                jobs.create,
                schedule=body["schedule"],
                prompt=prompt,
                name=body.get("name"),
                deliver=deliver,
                profile=gw.profile.name,
                created_by="api",
                tz=gw.scheduler.tz,
                now=gw.clock(),
                **cron_ready(gw),
            )
            gw.scheduler.wake()
            warning = await gw.store.run(jobs.delivery_warning, job)
            return JSONResponse(
                {
                    "job_id": job.id,
                    "next_run_at": job.next_run_at,
                    "deliver": job.deliver,
                    "warning": warning,
                },
                status_code=202,
            )
        if body.get("schedule"):
            raise ValueError(f'"schedule" is for mode "cron", not "{mode}"')
        deliver = await gw.store.run(
            lambda conn: jobs.check_deliver(deliver, None, **cron_ready(gw), conn=conn)
        )
        target = await gw.store.run(_delivery, deliver)
        if target is None and deliver == "home":
            raise ValueError(
                "deliver is home, and no chat is the home channel yet: send /sethome in the "
                'chat that should get it, or give deliver as PLATFORM:CHAT (or "none")'
            )
        origin = Target.parse(target) if target else None
        if origin is not None and origin.platform not in gw.adapters:
            known = ", ".join(sorted(gw.adapters))
            raise ValueError(
                f"platform {clip(origin.platform)} is not connected (connected: {known})"
            )
        row = await gw.tasks.start(MODES[mode], prompt, origin)
        return JSONResponse(
            {"task_id": row.id, "kind": row.kind, "status": row.status, "deliver": target},
            status_code=202,
        )

    async def openapi(request: Request) -> Response:
        document = json.loads(OPENAPI.read_text())
        return JSONResponse(document)

    return [
        Route("/api/hermes/status", status, methods=["GET"]),
        Route("/api/hermes/delegate", delegate, methods=["POST"]),
        Route("/api/hermes/openapi.json", openapi, methods=["GET"]),
    ]
