"""The Hermes MCP server as an orchestrating agent sees it: the MCP SDK's own
client, over streamable HTTP (the gateway's /mcp on a loopback port) and over
stdio (`python -m hermes mcp serve --stdio`, which calls the same gateway
over HTTP). The gateway runs in-process with a scripted model."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from hermes.server.server import HttpServer, build_app
from hermes.testing import ScriptedModel
from tests.gateway_helpers import make_home, running_gateway
from tests.tools_helpers import wait_until

KEY = "mcp-test-key"
TOOLS = {
    "hermes_status": [],
    "hermes_delegate": ["prompt"],
    "hermes_tasks": [],
    "hermes_task": ["task_id"],
    "hermes_approvals": [],
    "hermes_decide": ["approval_id", "decision"],
    "hermes_cron_list": [],
    "hermes_cron_create": ["prompt", "schedule"],
}
DELETE = "rm -rf ~/projects/old-site"  # the user's files: medium risk, asks first
TRANSPORTS = ["http", "stdio"]


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel) -> Path:
    path = make_home(tmp_path / "home", model, env={"HERMES_API_KEY": KEY})
    site = path / "projects" / "old-site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<h1>old</h1>")
    return path


@pytest.fixture
async def gateway(home: Path) -> AsyncIterator[str]:
    """A gateway on `home` serving HTTP on a loopback port; yields its URL."""
    async with running_gateway(home, api_key=KEY) as gw:
        server = HttpServer(build_app(gw), "127.0.0.1", 0)
        port = await server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await server.stop()


@asynccontextmanager
async def connect(transport: str, url: str, home: Path) -> AsyncIterator[Client]:
    """The SDK's client on the gateway at `url`: its /mcp, or a stdio server it spawns.
    "-legacy": the initialize handshake of 2025 clients instead of the SDK's default
    (a server/discover probe, then the 2026 protocol)."""
    kind, _, legacy = transport.partition("-")
    mode = "legacy" if legacy else "auto"
    if kind == "http":
        headers = {"Authorization": f"Bearer {KEY}"}
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client,
        ):
            yield client
        return
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "hermes", "mcp", "serve", "--stdio"],
        env={"HERMES_HOME": str(home), "HERMES_MCP_URL": url},
        cwd=str(home),
    )
    with (home / "mcp-stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            yield client


async def call(client: Client, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A tool's structured answer (the test fails on a tool error)."""
    result = await client.call_tool(tool, args or {})
    assert not result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def poll(
    client: Client, tool: str, args: dict[str, Any], check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Call `tool` until its answer passes `check` (fail after 15 s)."""
    data: dict[str, Any] = {}

    async def passes() -> bool:
        nonlocal data
        data = await call(client, tool, args)
        return check(data)

    await wait_until(passes, 15, why=lambda: f"{tool} never got there: {data}")
    return data


async def delegate_until_approval(client: Client) -> tuple[str, dict[str, Any]]:
    """Delegate the deletion; wait until its task waits on an approval; both ids."""
    started = await call(
        client, "hermes_delegate", {"prompt": "Remove my old site", "mode": "background"}
    )
    assert (started["kind"], started["deliver"]) == ("delegate", None)
    task_id = started["task_id"]
    await poll(client, "hermes_task", {"task_id": task_id}, _status("waiting_approval"))
    [approval] = (await call(client, "hermes_approvals"))["approvals"]
    assert approval["owner"] == f"task:{task_id}"
    assert (approval["status"], approval["risk"], approval["tool"]) == (
        "pending",
        "medium",
        "terminal",
    )
    assert DELETE in approval["action"]
    return task_id, approval


def _status(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda task: bool(task["status"] == status)


# ----- the tools (stdio starts a Python that imports the SDK: ~1.5 s each) ---------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_tools_say_what_they_do_and_take(
    transport: str, gateway: str, home: Path
) -> None:
    async with connect(transport, gateway, home) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == set(TOOLS)
    for name, required in TOOLS.items():
        tool = tools[name]
        assert tool.description and len(tool.description) > 80, name
        assert tool.input_schema["type"] == "object"
        assert sorted(tool.input_schema.get("required", [])) == required, name
        for field in tool.input_schema["properties"].values():
            assert field.get("description"), (name, field)
    mode = tools["hermes_delegate"].input_schema["properties"]["mode"]
    assert mode["enum"] == ["background", "walkaway", "cron"]
    assert mode["default"] == "background"
    decision = tools["hermes_decide"].input_schema["properties"]["decision"]
    assert decision["enum"] == ["approve", "reject"]
    assert tools["hermes_status"].annotations is not None
    assert tools["hermes_status"].annotations.read_only_hint is True


@pytest.mark.parametrize("transport", ["http", "http-legacy", "stdio-legacy"])
async def test_status_is_the_api_status(transport: str, gateway: str, home: Path) -> None:
    async with connect(transport, gateway, home) as client:
        result = await client.call_tool("hermes_status", {})
        legacy = client.protocol_version.startswith("2025")
    assert legacy == transport.endswith("-legacy")
    assert not result.is_error
    status = result.structured_content
    assert status is not None
    assert (status["status"], status["profile"]) == ("ok", "default")
    assert status["mcp"]["state"] == "ready"
    assert status["stats"]["tasks_running"] == 0
    assert json.loads(text_of(result)) == status  # for clients that read only text


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_delegated_task_waits_for_approval_then_runs(
    transport: str, gateway: str, home: Path, model: ScriptedModel
) -> None:
    model.tool_call("terminal", {"command": DELETE})
    model.reply("Removed the old site.")
    async with connect(transport, gateway, home) as client:
        task_id, approval = await delegate_until_approval(client)
        assert (home / "projects" / "old-site").exists()  # nothing ran before the decision

        decided = await call(
            client, "hermes_decide", {"approval_id": approval["id"], "decision": "approve"}
        )
        assert (decided["status"], decided["decided_by"]) == ("approved", "mcp")
        task = await poll(client, "hermes_task", {"task_id": task_id}, _status("done"))
        listed = await call(client, "hermes_tasks", {"status": "all"})
        still_open = await call(client, "hermes_tasks", {"status": "open"})
    assert task["result"] == "Removed the old site."
    assert any(event["kind"] == "tool" for event in task["progress"])
    assert not (home / "projects" / "old-site").exists()
    assert [t["id"] for t in listed["tasks"]] == [task_id]
    assert still_open["tasks"] == []


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_rejected_action_does_not_run(
    transport: str, gateway: str, home: Path, model: ScriptedModel
) -> None:
    model.tool_call("terminal", {"command": DELETE})
    model.reply("I left the old site alone.")
    async with connect(transport, gateway, home) as client:
        task_id, approval = await delegate_until_approval(client)
        args = {"approval_id": approval["id"], "decision": "reject"}
        decided = await call(client, "hermes_decide", args)
        assert decided["status"] == "denied"
        task = await poll(client, "hermes_task", {"task_id": task_id}, _status("done"))
        again = await client.call_tool("hermes_decide", {**args, "decision": "approve"})
        denied = await call(client, "hermes_approvals", {"status": "denied"})
    assert task["result"] == "I left the old site alone."
    assert (home / "projects" / "old-site" / "index.html").exists()
    assert again.is_error
    assert f"approval {approval['id']} was already denied by mcp" in text_of(again)
    assert [a["id"] for a in denied["approvals"]] == [approval["id"]]


async def test_cron_jobs_are_created_and_listed(gateway: str, home: Path) -> None:
    async with connect("http", gateway, home) as client:
        bad = await client.call_tool(
            "hermes_cron_create", {"schedule": "whenever you like", "prompt": "Inbox summary"}
        )
        created = await call(
            client,
            "hermes_cron_create",
            {
                "schedule": "0 8 * * *",
                "prompt": "Inbox summary",
                "name": "Inbox",
                "deliver": "none",
            },
        )
        jobs = (await call(client, "hermes_cron_list"))["jobs"]
    assert bad.is_error
    assert "accepted forms" in text_of(bad)
    assert "(HTTP 400)" in text_of(bad)
    assert created["job_id"].startswith("job_")
    assert created["next_run_at"] > time.time()
    assert (created["created_by"], created["deliver"]) == ("mcp", "none")
    assert [(j["id"], j["name"], j["schedule"]) for j in jobs] == [
        (created["job_id"], "Inbox", "0 8 * * *")
    ]


async def test_refusals_of_the_api_are_tool_errors(gateway: str, home: Path) -> None:
    async with connect("http", gateway, home) as client:
        unknown = await client.call_tool("hermes_task", {"task_id": "bg_nope"})
        wrong_profile = await client.call_tool(
            "hermes_delegate", {"prompt": "x", "profile": "work"}
        )
        no_schedule = await client.call_tool("hermes_delegate", {"prompt": "x", "mode": "cron"})
        assert (await call(client, "hermes_tasks"))["tasks"] == []  # still connected
    assert unknown.is_error and "no task 'bg_nope' (HTTP 404)" in text_of(unknown)
    assert wrong_profile.is_error and "serves profile 'default', not 'work'" in text_of(
        wrong_profile
    )
    assert no_schedule.is_error and 'mode "cron" needs a "schedule"' in text_of(no_schedule)


# ----- stdio without a gateway -----------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_stdio_without_a_gateway_says_how_to_start_one(home: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with connect("stdio", url, home) as client:
        result = await client.call_tool("hermes_status", {})
    assert result.is_error
    assert (
        f"the Hermes gateway at {url} is not reachable; start it with `hermes gateway run`"
        in text_of(result)
    )


async def test_stdio_with_a_wrong_key_shows_the_api_refusal(home: Path, gateway: str) -> None:
    (home / ".env").write_text("HERMES_API_KEY=not-the-key\n")
    async with connect("stdio", gateway, home) as client:
        result = await client.call_tool("hermes_tasks", {})
    assert result.is_error
    assert "missing or wrong API key" in text_of(result)
    assert "(HTTP 401)" in text_of(result)


# ----- /mcp over plain HTTP ----------------------------------------------------------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {KEY}"])
async def test_mcp_needs_the_bearer_key(gateway: str, auth: str | None) -> None:
    headers = {**MCP_HEADERS, **({"Authorization": auth} if auth else {})}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{gateway}/mcp", json=INITIALIZE, headers=headers)
    assert response.status_code == 401
    assert "missing or wrong API key" in response.json()["error"]["message"]


async def test_mcp_refuses_other_host_names(gateway: str) -> None:
    """DNS rebinding: a page of evil.example resolved to 127.0.0.1 names its own host."""
    port = gateway.rsplit(":", 1)[1]
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient() as http:
        ok = await http.post(f"{gateway}/mcp", json=INITIALIZE, headers=headers)
        evil = await http.post(
            f"{gateway}/mcp", json=INITIALIZE, headers={**headers, "Host": f"evil.example:{port}"}
        )
        other_origin = await http.post(
            f"{gateway}/mcp", json=INITIALIZE, headers={**headers, "Origin": "http://evil.example"}
        )
    assert ok.status_code == 200
    assert ok.json()["result"]["serverInfo"]["name"] == "hermes"
    assert evil.status_code == 421
    assert other_origin.status_code == 403


def mcp_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "mcp sessions"]


async def test_closing_the_gateway_stops_the_mcp_server(home: Path) -> None:
    async with running_gateway(home, api_key=KEY) as gw:
        server = HttpServer(build_app(gw), "127.0.0.1", 0)
        port = await server.start()
        try:
            async with connect("http", f"http://127.0.0.1:{port}", home) as client:
                await call(client, "hermes_status")
        finally:
            await server.stop()
        assert len(mcp_tasks()) == 1
    assert mcp_tasks() == []


def test_a_gateway_not_asked_for_mcp_does_not_load_it() -> None:
    script = (
        "import sys, types\n"
        "from hermes.server import mcp_mount, server\n"
        "mcp_mount.mcp_routes(types.SimpleNamespace(api_key='k', on_close=[]))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'pydantic')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "[]\n", done.stderr


# ----- `hermes mcp serve` ----------------------------------------------------------------


def serve(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hermes", "mcp", "serve"],
        env={**os.environ, "HERMES_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_without_stdio_says_where_mcp_is_served(home: Path) -> None:
    done = serve(home)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "The MCP server is served by the gateway at http://127.0.0.1:8420/mcp "
        "(not running; start it with `hermes gateway run`); `hermes mcp serve --stdio` "
        "serves it over stdio for clients that spawn a command.\n"
    )
    state = {"pid": os.getpid(), "url": "http://127.0.0.1:9123"}
    (home / "gateway.json").write_text(json.dumps(state))
    done = serve(home)
    assert done.stdout.startswith(
        "The MCP server is served by the gateway at http://127.0.0.1:9123/mcp (running); "
    )


def test_stdio_without_an_api_key_says_how_to_get_one(tmp_path: Path) -> None:
    home = make_home(tmp_path / "keyless")
    without_key = {k: v for k, v in os.environ.items() if k != "HERMES_API_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "hermes", "mcp", "serve", "--stdio"],
        env={**without_key, "HERMES_HOME": str(home)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"hermes: HERMES_API_KEY is not set in {home / '.env'}; "
        "start the gateway once (`hermes gateway run`) to generate it\n"
    )
