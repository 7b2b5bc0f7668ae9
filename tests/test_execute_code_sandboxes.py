"""execute_code on the sandbox backends (singularity, modal, daytona; their fakes in
tests/fakes/ run the commands on this machine): no socket reaches the script, so its
tool calls are request files in RUN_DIR/rpc that the server polls through the
backend's own file methods (hermes/tools/script_files.py)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from tools_helpers import make_ctx, pid_alive, wait_until

from hermes.agent.loop import Loop
from hermes.approvals.gate import ApprovalGate, NobodyToAsk
from hermes.context import TurnContext
from hermes.providers.base import Provider
from hermes.settings import ApprovalSettings, ExecuteCodeSettings, Settings, TerminalSettings
from hermes.tools.execute_code import EXECUTE_CODE
from hermes.tools.registry import default_tools
from hermes.tools.script_files import FileRpcServer
from tests.fakes.sandbox_root import fake_backend

KINDS = ["singularity", "modal", "daytona"]


@pytest.fixture(params=KINDS)
async def loop(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Loop]:
    """An agent loop (the approval gate in front) on a fake sandbox backend (the
    execute_code timeout is a minute: a test of the timeout sets its own)."""
    fields, env, _ = fake_backend(request.param, tmp_path / "fake", monkeypatch)
    terminal = replace(TerminalSettings(backend=request.param, cwd=str(tmp_path / "ws")), **fields)
    settings = Settings(terminal=terminal, execute_code=ExecuteCodeSettings(timeout=60))
    ctx = make_ctx(tmp_path / "home", settings=settings, env={**env, "MY_TOKEN": "t1"})
    found = Loop(
        provider=cast("Provider", None),
        system_prompt="test",
        tools={t.name: t for t in default_tools()},
        ctx=ctx,
        hooks=[ApprovalGate(ApprovalSettings(), NobodyToAsk())],
    )
    ctx.run_tool = found.run_unattended
    yield found
    await ctx.processes.shutdown()


async def run_code(loop: Loop, code: str) -> str:
    assert EXECUTE_CODE.offered(loop.ctx)
    return await EXECUTE_CODE.run({"code": code}, loop.ctx)


async def test_threads_call_read_file_and_terminal_through_request_files(
    loop: Loop, tmp_path: Path
) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("in the sandbox\n")
    code = """
import os, threading
from hermes_tools import read_file, terminal
print("RPC", os.environ.get("HERMES_RPC_DIR"), os.environ.get("HERMES_RPC_SOCKET"))
print("SECRET", "MY_TOKEN" in os.environ)
got = {}
threads = [threading.Thread(target=lambda: got.update(r=read_file("notes.txt"))),
           threading.Thread(target=lambda: got.update(t=terminal("echo via-$((40 + 2))")))]
for t in threads: t.start()
for t in threads: t.join()
print("READ", got["r"])
print("TERM", got["t"])
"""
    result = await run_code(loop, code)
    assert "[exit code 0" in result and "2 tool calls]" in result, result
    assert "in the sandbox" in result and "via-42" in result
    assert "SECRET False" in result
    rpc = re.search(r"^RPC (\S+) None$", result, re.MULTILINE)
    assert rpc is not None, result
    assert re.fullmatch(r"/tmp/hermes-code\.\w+/rpc", rpc.group(1))
    assert not await asyncio.to_thread(Path(rpc.group(1)).parent.exists)  # removed after


async def test_the_gate_refuses_a_risky_command_in_the_script(loop: Loop) -> None:
    code = """
from hermes_tools import terminal, ToolFailed
try:
    terminal("git push --force origin main")
except ToolFailed as e:
    print("REFUSED:", e)
"""
    result = await run_code(loop, code)
    assert "REFUSED: Not run:" in result and "code cannot wait" in result, result
    assert "[exit code 0" in result and "1 tool call]" in result


async def test_a_request_file_with_a_wrong_token_is_rejected(loop: Loop, tmp_path: Path) -> None:
    ran: list[str] = []

    async def call(name: str, args: dict[str, Any]) -> tuple[str, bool]:
        ran.append(name)
        return "ran", False

    backend = loop.ctx.backend
    await backend.open()
    folder = tmp_path / "rpc"
    server = FileRpcServer(backend, folder, "right", call, ["read_file"], 5)
    await server.start()

    async def ask(rid: str, token: str) -> dict[str, Any]:
        request = {"id": rid, "token": token, "tool": "read_file", "args": {}}
        await backend.write_bytes(folder / f"req-{rid}.json", json.dumps(request).encode())
        response = folder / f"resp-{rid}.json"
        await wait_until(lambda: response.exists(), 10)
        return cast("dict[str, Any]", json.loads(response.read_text()))

    try:
        bad = await ask("1", "wrong")
        assert bad == {"id": "1", "ok": False, "error": "refused: bad request or wrong token"}
        assert ran == [] and server.refused == 1
        assert await ask("2", "right") == {"id": "2", "ok": True, "result": "ran"}
        assert ran == ["read_file"] and server.calls == 1
    finally:
        await server.close()


async def test_the_timeout_kills_the_script_and_its_tool_call(loop: Loop, tmp_path: Path) -> None:
    # a sandbox exec takes a while on a loaded machine: 4 s to start and run the command
    loop.ctx.profile.settings.execute_code.timeout = 4
    (tmp_path / "ws").mkdir()
    pidfile = tmp_path / "ws" / "pid"
    code = f"""
import os, threading, time
from hermes_tools import terminal
threading.Thread(target=terminal, args=("echo $$ > {pidfile}; exec sleep 300",)).start()
while not os.path.exists({str(pidfile)!r}) or not open({str(pidfile)!r}).read().strip():
    time.sleep(0.02)
print("STARTED", flush=True)
while True:
    time.sleep(1)
"""
    result = await run_code(loop, code)
    assert "[killed after 4s (execute_code.timeout)" in result, result
    assert "STARTED" in result
    pid = int(pidfile.read_text())
    await wait_until(lambda: not pid_alive(pid), 10)


async def test_the_tool_is_offered_on_every_sandbox_backend(tmp_path: Path) -> None:
    for kind in KINDS:
        settings = Settings(terminal=TerminalSettings(backend=kind))
        ctx: TurnContext = make_ctx(tmp_path, settings=settings)
        assert EXECUTE_CODE.offered(ctx), kind
