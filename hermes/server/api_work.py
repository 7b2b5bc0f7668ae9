"""The approvals and tasks routes under /api/hermes (SPEC §8): what the web
dashboard, `hermes approvals` / `hermes tasks` and orchestrating agents call.

Reads come straight from state.db; a decision or a cancel goes through the
gateway (`gw.desk.decide`, `gw.tasks.cancel`) so the suspended work resumes
or stops at once. Answers are JSON; a bad request, an unknown id or a row
already decided is a 4xx in the server's one error shape (httpio.py:
`{"error": {"message", "type", ...}}`) naming the problem.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hermes.server.httpio import clip, error_response, read_object
from hermes.store import approval_ops, task_ops
from hermes.store.approval_ops import ApprovalRow
from hermes.store.db import Conn
from hermes.store.task_ops import TaskRow

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway

APPROVAL_STATUSES = ("pending", "approved", "denied", "cancelled", "all")
DECISIONS = {"approve": True, "reject": False, "deny": False}
PROGRESS_EVENTS = 5  # the last events shown with each task of a listing
MAX_BY = 100


def task_json(conn: Conn, row: TaskRow, events: int) -> dict[str, Any]:
    """A task as the API and `hermes tasks --json` show it: its fields and its
    last `events` events as `progress`."""
    progress = [dataclasses.asdict(e) for e in task_ops.events(conn, row.id, events)]
    return {**row.to_json(), "progress": progress}


def _task_list(conn: Conn, origin: str | None, open_only: bool) -> list[dict[str, Any]]:
    rows = task_ops.listing(conn, origin=origin, open_only=open_only)
    return [task_json(conn, row, PROGRESS_EVENTS) for row in rows]


def _one_task(conn: Conn, task_id: str) -> dict[str, Any] | None:
    row = task_ops.get(conn, task_id)
    return None if row is None else task_json(conn, row, 10_000)


def json_error(status: int, message: str) -> JSONResponse:
    """An error in the server's one shape (httpio.error_response)."""
    return error_response(status, message)


async def read_body(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (a ValueError, httpio.BadRequest, with the reason
    if it is not one)."""
    return await read_object(request, optional=optional)


def _by(body: dict[str, Any]) -> str:
    """Who decides, for the record: "api" unless the caller names itself."""
    by = body.get("by", "api")
    if not isinstance(by, str) or not by.strip() or len(by) > MAX_BY:
        raise ValueError(f'"by" must be a non-empty string of at most {MAX_BY} characters')
    return by.strip()


def _already(row: ApprovalRow) -> JSONResponse:
    return json_error(409, f"approval {row.id} was already {row.status} by {row.decided_by}")


def routes(gw: Gateway) -> list[Route]:
    async def list_approvals(request: Request) -> JSONResponse:
        status = request.query_params.get("status", "pending")
        if status not in APPROVAL_STATUSES:
            return json_error(400, f"status must be one of {', '.join(APPROVAL_STATUSES)}")
        rows = await gw.store.run(approval_ops.listing, status=None if status == "all" else status)
        return JSONResponse({"approvals": [row.to_json() for row in rows]})

    async def decide(request: Request) -> JSONResponse:
        approval_id = request.path_params["id"]
        try:
            body = await read_body(request)
            decision = body.get("decision")
            if not isinstance(decision, str) or decision not in DECISIONS:
                raise ValueError('"decision" must be "approve" or "reject"')
            by = _by(body)
        except ValueError as exc:
            return json_error(400, f"bad request: {exc}")
        row = await gw.store.run(approval_ops.get, approval_id)
        if row is None:
            return json_error(404, f"no approval {clip(approval_id)}")
        if row.status != "pending":
            return _already(row)
        message = await gw.desk.decide(row.id, DECISIONS[decision], by)
        row = await gw.store.run(approval_ops.get, row.id)
        assert row is not None  # approvals are never deleted
        if row.status != ("approved" if DECISIONS[decision] else "denied"):
            return _already(row)  # another decision came first
        return JSONResponse(
            {"id": row.id, "status": row.status, "decided_by": row.decided_by, "message": message}
        )

    async def list_tasks(request: Request) -> JSONResponse:
        status = request.query_params.get("status", "all")
        if status not in ("all", "open"):
            return json_error(400, "status must be all or open")
        origin = request.query_params.get("origin") or None
        tasks = await gw.store.run(_task_list, origin, status == "open")
        return JSONResponse({"tasks": tasks})

    async def show_task(request: Request) -> JSONResponse:
        task_id = request.path_params["id"]
        task = await gw.store.run(_one_task, task_id)
        if task is None:
            return json_error(404, f"no task {clip(task_id)}")
        return JSONResponse(task)

    async def cancel_task(request: Request) -> JSONResponse:
        task_id = request.path_params["id"]
        try:
            by = _by(await read_body(request, optional=True))
        except ValueError as exc:
            return json_error(400, f"bad request: {exc}")
        row = await gw.store.run(task_ops.get, task_id)
        if row is None:
            return json_error(404, f"no task {clip(task_id)}")
        if row.finished:
            return json_error(409, f"task {row.id} already {row.status}")
        message = await gw.tasks.cancel(row.id, by)
        after = await gw.store.run(task_ops.get, row.id)
        if after is None or after.status != "cancelled":  # it finished meanwhile
            return json_error(409, message)
        return JSONResponse({"id": after.id, "status": after.status, "message": message})

    return [
        Route("/api/hermes/approvals", list_approvals, methods=["GET"]),
        Route("/api/hermes/approvals/{id}", decide, methods=["POST"]),
        Route("/api/hermes/tasks", list_tasks, methods=["GET"]),
        Route("/api/hermes/tasks/{id}", show_task, methods=["GET"]),
        Route("/api/hermes/tasks/{id}/cancel", cancel_task, methods=["POST"]),
    ]
