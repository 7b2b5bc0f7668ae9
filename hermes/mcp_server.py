"""The Hermes MCP server (SPEC §8): eight tools an orchestrating agent uses to
hand work to Hermes, each a thin call of one /api/hermes route.

The tools hold no logic of their own, so they mean exactly what the routes
mean and the API stays the one place the rules live. They call the API
through an httpx client the caller owns: in the gateway (/mcp, see
hermes/server/mcp_mount.py) it talks to the gateway's own app in-process;
for `hermes mcp serve --stdio` it talks to a gateway over HTTP.

A tool returns the route's JSON (as structured content, and as text for
clients that read only text). A refusal of the API (4xx) becomes a tool error
carrying the API's own message, so the agent can correct its call; a gateway
that cannot be reached is a tool error saying how to start one.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from hermes import __version__

INSTRUCTIONS = """\
Hermes is a persistent agent that works in the background, around the clock,
on the machine it runs on. Hand it work with hermes_delegate, then follow it
with hermes_task. Risky actions (deletions, force-pushes, deploys) wait for a
human: a task in status waiting_approval has a pending request in
hermes_approvals, decided by the owner (on their phone) or with hermes_decide.
Recurring work is a cron job (hermes_cron_create, hermes_cron_list).
"""

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
CHANGES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)

Json = dict[str, Any]
Deliver = Annotated[
    str | None,
    Field(
        description='Where results go: "home" (the home channel), "none", or '
        '"PLATFORM:CHAT[:THREAD]" such as "telegram:12345". Default: none for '
        "background tasks, home for walkaway tasks and cron jobs."
    ),
]
Profile = Annotated[
    str | None,
    Field(description="The Hermes profile meant; it must be the one this gateway serves."),
]
Schedule = Annotated[
    str,
    Field(
        description='When to run: a cron expression ("30 7 * * 1-5"), an interval '
        '("every 2h"), a delay ("in 20m") or an ISO time ("2030-01-31T09:00").'
    ),
]


class HermesApi:
    """The /api/hermes routes of one gateway, seen from a tool: JSON in, JSON out,
    and every failure a ToolError whose text the calling agent can act on."""

    def __init__(self, client: httpx.AsyncClient, where: str) -> None:
        self.client = client
        self.where = where  # the gateway's URL, as named in errors

    async def get(self, path: str, params: dict[str, str] | None = None) -> Json:
        return await self._call("GET", path, params=params)

    async def post(self, path: str, body: dict[str, str | None]) -> Json:
        sent = {k: v for k, v in body.items() if v is not None}
        return await self._call("POST", path, json=sent)

    async def _call(self, method: str, path: str, **kw: Any) -> Json:
        try:
            response = await self.client.request(method, path, **kw)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise ToolError(
                f"the Hermes gateway at {self.where} is not reachable; "
                "start it with `hermes gateway run`"
            ) from None
        except httpx.HTTPError as exc:
            raise ToolError(f"the Hermes gateway at {self.where} did not answer: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            raise ToolError(f"{_message(data, response)} (HTTP {response.status_code})")
        if not isinstance(data, dict):
            raise ToolError(f"the Hermes gateway at {self.where} answered something not JSON")
        return data


def _message(data: object, response: httpx.Response) -> str:
    """The API's own words: its one error shape `{"error": {"message", "type"}}`,
    else the raw body (a proxy's page, say), cut to 500 characters."""
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str) and message:
        return message
    return response.text.strip()[:500] or response.reason_phrase


def _id(value: str) -> str:
    return quote(value.strip(), safe="")


def build_server(client: httpx.AsyncClient, where: str) -> MCPServer:
    """The MCP server whose tools call the Hermes API through `client` (with its
    base URL and bearer key set); `where` names the gateway in errors."""
    api = HermesApi(client, where)
    server = _new_server()

    @server.tool(annotations=READ_ONLY)
    async def hermes_status() -> Json:
        """Is Hermes up, and what is it doing? Returns {status, version, profile,
        uptime_s, platforms: {name: state}, mcp, stats: {tasks_running, tasks_open,
        approvals_pending, cron_jobs, sessions}, skills: [names], cron_timezone}.
        Call it first to check the connection."""
        return await api.get("/api/hermes/status")

    @server.tool(annotations=CHANGES)
    async def hermes_delegate(
        prompt: Annotated[
            str,
            Field(
                min_length=1,
                description="The work, written as you would ask the agent: what to do "
                "and what to report back.",
            ),
        ],
        mode: Annotated[
            Literal["background", "walkaway", "cron"],
            Field(
                description="background: run now, poll the result with hermes_task. "
                "walkaway: a long task that pings the owner's phone with progress and "
                "takes replies from it. cron: a recurring job (needs schedule)."
            ),
        ] = "background",
        schedule: Annotated[
            str | None,
            Field(description='For mode cron only: e.g. "0 8 * * *", "every 2h", "in 20m".'),
        ] = None,
        deliver: Deliver = None,
        profile: Profile = None,
        name: Annotated[str | None, Field(description="For mode cron: the job's name.")] = None,
    ) -> Json:
        """Hand a task to Hermes, which runs it in the background with its own tools
        (terminal, files, web...). Returns at once, with 202-style
        {task_id, kind, status, deliver} (or {job_id, next_run_at, deliver} for
        mode cron); follow a task with hermes_task. A risky step makes the task
        wait for approval (see hermes_approvals)."""
        body = {
            "prompt": prompt,
            "mode": mode,
            "schedule": schedule,
            "deliver": deliver,
            "profile": profile,
            "name": name,
        }
        return await api.post("/api/hermes/delegate", body)

    @server.tool(annotations=READ_ONLY)
    async def hermes_tasks(
        status: Annotated[
            Literal["all", "open"],
            Field(description="open: only queued, running and waiting ones."),
        ] = "all",
    ) -> Json:
        """List Hermes's tasks (background, walkaway, delegated and cron runs), newest
        first. Returns {tasks: [{id, kind, status, prompt, origin, created_at,
        started_at, finished_at, result, error, progress: [last events]}]}.
        Statuses: queued, running, waiting_approval, done, failed, cancelled."""
        return await api.get("/api/hermes/tasks", {"status": status})

    @server.tool(annotations=READ_ONLY)
    async def hermes_task(
        task_id: Annotated[
            str, Field(min_length=1, description="The task's id, as hermes_delegate gave it.")
        ],
    ) -> Json:
        """One task with its whole log: {id, kind, status, prompt, result, error,
        progress: [{at, kind, text}], ...}. Poll it to follow delegated work; once
        status is done, `result` is the answer. Status waiting_approval means a
        risky step waits for a decision (hermes_approvals)."""
        return await api.get(f"/api/hermes/tasks/{_id(task_id)}")

    @server.tool(annotations=READ_ONLY)
    async def hermes_approvals(
        status: Annotated[
            Literal["pending", "approved", "denied", "cancelled", "all"],
            Field(description="Which requests to list; pending by default."),
        ] = "pending",
    ) -> Json:
        """Risky actions waiting for a human decision, with their context. Returns
        {approvals: [{id, status, risk (high|medium|low), reason, tool, action,
        owner ("task:ID" or a chat turn), origin, created_at, auto_approve_at,
        decided_at, decided_by}]}."""
        return await api.get("/api/hermes/approvals", {"status": status})

    @server.tool(annotations=CHANGES)
    async def hermes_decide(
        approval_id: Annotated[
            str, Field(min_length=1, description="The request's id, from hermes_approvals.")
        ],
        decision: Annotated[
            Literal["approve", "reject"],
            Field(description="approve: the action runs. reject: it is refused."),
        ],
    ) -> Json:
        """Approve or reject a pending risky action; the task or chat that waited on it
        resumes at once. Only decide what the owner asked you to decide. Returns
        {id, status, decided_by, message}; a request already decided is an error."""
        body: dict[str, str | None] = {"decision": decision, "by": "mcp"}
        return await api.post(f"/api/hermes/approvals/{_id(approval_id)}", body)

    @server.tool(annotations=READ_ONLY)
    async def hermes_cron_list() -> Json:
        """List Hermes's scheduled jobs, by next run. Returns {jobs: [{id, name,
        schedule, describe (the schedule in words), prompt, deliver, status
        (active|paused|done), next_run_at, last_run_at, runs, created_by, ...}]}."""
        return await api.get("/api/hermes/cron")

    @server.tool(annotations=CHANGES)
    async def hermes_cron_create(
        schedule: Schedule,
        prompt: Annotated[
            str,
            Field(min_length=1, description="What each run does, as you would ask the agent."),
        ],
        name: Annotated[str | None, Field(description="A short name for the job.")] = None,
        deliver: Deliver = None,
        profile: Profile = None,
    ) -> Json:
        """Create a cron job: Hermes runs the prompt on the schedule, 24/7, and sends
        the result to `deliver`. Returns {job_id, next_run_at, ...the job}. An
        invalid schedule is an error naming the accepted forms."""
        body = {
            "schedule": schedule,
            "prompt": prompt,
            "name": name,
            "deliver": deliver,
            "profile": profile,
            "created_by": "mcp",
        }
        return await api.post("/api/hermes/cron", body)

    return server


def _new_server() -> MCPServer:
    """MCPServer's constructor calls logging.basicConfig, which in a process with no
    root handler (the gateway logs to files; stdio's stdout is the protocol) would
    start printing every library's records. A placeholder handler makes it a no-op."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        return MCPServer(
            "hermes", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
        )
    finally:
        root.removeHandler(placeholder)
