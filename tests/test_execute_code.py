"""execute_code: a real python subprocess calling tools over the unix-socket RPC,
every call through the agent loop's run_tool (the approval gate, unattended)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any, cast

import pytest
from tools_helpers import make_ctx, pid_alive, wait_until

from hermes.agent.events import AgentEvent
from hermes.agent.loop import Defer, Loop
from hermes.approvals.gate import ApprovalGate, Request
from hermes.context import TurnContext
from hermes.messages import Message, ToolCall, Usage
from hermes.providers.base import Provider
from hermes.providers.resolve import resolve_provider
from hermes.settings import (
    ApprovalSettings,
    ExecuteCodeSettings,
    Settings,
    SshSettings,
    TerminalSettings,
)
from hermes.testing import ScriptedModel
from hermes.tools.execute_code import EXECUTE_CODE
from hermes.tools.registry import default_tools
from hermes.tools.script_rpc import RpcServer

SECRETS = {"FOO_API_KEY": "k1", "MY_TOKEN": "t1", "DB_PASSWORD": "p1", "HARMLESS": "yes"}


class RecordingAsker:
    """Approves what it is asked about, and remembers it."""

    def __init__(self) -> None:
        self.asked: list[Request] = []

    async def ask(self, request: Request, ctx: TurnContext) -> str | Defer | None:
        self.asked.append(request)
        return None


class History:
    def __init__(self, first: str) -> None:
        self.items = [Message("user", first)]

    def context(self) -> list[Message]:
        return list(self.items)

    async def append(self, messages: list[Message]) -> None:
        self.items.extend(messages)

    async def before_model_call(self, provider: object, emit: object) -> None:
        pass

    def observe_usage(self, usage: Usage) -> None:
        pass


def make_loop(
    tmp_path: Path, provider: Provider | None = None, **code: Any
) -> tuple[Loop, RecordingAsker]:
    terminal = TerminalSettings(cwd=str(tmp_path / "ws"), env_passthrough=["MY_TOKEN"])
    settings = Settings(terminal=terminal, execute_code=ExecuteCodeSettings(**code))
    ctx = make_ctx(tmp_path / "home", settings=settings, env=SECRETS)
    asker = RecordingAsker()
    loop = Loop(
        provider=cast("Provider", provider),
        system_prompt="test",
        tools={t.name: t for t in default_tools()},
        ctx=ctx,
        hooks=[ApprovalGate(ApprovalSettings(), asker)],
    )
    ctx.run_tool = loop.run_unattended
    return loop, asker


async def run_code(loop: Loop, code: str) -> str:
    try:
        return await EXECUTE_CODE.run({"code": code}, loop.ctx)
    finally:
        await loop.ctx.processes.shutdown()


async def test_threads_call_terminal_and_read_file_at_once(tmp_path: Path) -> None:
    loop, _ = make_loop(tmp_path)
    (tmp_path / "ws").mkdir()
    for i in range(8):
        (tmp_path / "ws" / f"f{i}.txt").write_text(f"content {i}\n")
    code = """
import threading
from hermes_tools import terminal, read_file
got = {}
def work(i):
    got[("t", i)] = terminal(f"echo out-{i}")
    got[("r", i)] = read_file(f"f{i}.txt")
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
for i in range(8):
    assert f"out-{i}" in got[("t", i)], got[("t", i)]
    assert f"content {i}" in got[("r", i)], got[("r", i)]
print("all", len(got))
"""
    result = await run_code(loop, code)
    assert "[exit code 0" in result and "16 tool calls" in result, result
    assert "all 16" in result


async def test_the_gate_refuses_in_code_what_it_asks_about_outside(tmp_path: Path) -> None:
    loop, asker = make_loop(tmp_path)
    risky = "git push --force origin main"
    code = f"""
from hermes_tools import terminal, ToolFailed
try:
    terminal({risky!r})
except ToolFailed as e:
    print("REFUSED:", e)
try:
    terminal("rm -rf /")
except ToolFailed as e:
    print("HARD:", e)
"""
    result = await run_code(loop, code)
    assert "REFUSED: Not run:" in result and "code cannot wait" in result, result
    assert "HARD: Refused:" in result, result
    assert asker.asked == []  # nobody was asked: refused instead
    # the same command as the model's own call is asked about
    gate = loop.hooks[0]
    verdict = await gate.before(ToolCall("hc_1", "terminal", "{}"), {"command": risky}, loop.ctx)
    assert verdict is None and [r.action for r in asker.asked] == [risky]


async def test_the_script_sees_no_secrets(tmp_path: Path) -> None:
    loop, _ = make_loop(tmp_path)
    code = """
import os
from hermes_tools import terminal
print("ENV", sorted(k for k in ("FOO_API_KEY", "MY_TOKEN", "DB_PASSWORD", "HARMLESS")
                    if k in os.environ))
print("RPC", [k for k in os.environ if "TOKEN" in k or "RPC_T" in k])
print(terminal("echo tool-sees-$HARMLESS-[$HERMES_RPC_SOCKET]"))
"""
    result = await run_code(loop, code)
    assert "ENV ['HARMLESS']" in result, result
    assert "RPC []" in result
    # the terminal tool gets the turn's env, not the script's
    assert "tool-sees-yes-[]" in result


async def test_the_call_after_the_limit_is_refused(tmp_path: Path) -> None:
    loop, _ = make_loop(tmp_path, max_tool_calls=3)
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "a.txt").write_text("a\n")
    code = """
from hermes_tools import read_file, ToolFailed
for i in range(4):
    try:
        read_file("a.txt"); print("ok", i)
    except ToolFailed as e:
        print("no", i, e)
"""
    result = await run_code(loop, code)
    assert "ok 2" in result and "no 3 Not run: this script used its limit of 3" in result
    assert "3 tool calls (1 more refused)" in result


async def test_default_limit_is_50(tmp_path: Path) -> None:
    loop, _ = make_loop(tmp_path)
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "a.txt").write_text("a\n")
    code = """
from hermes_tools import read_file, ToolFailed
for i in range(51):
    try:
        read_file("a.txt")
    except ToolFailed as e:
        print("call", i + 1, "refused")
"""
    result = await run_code(loop, code)
    assert "call 51 refused" in result and "call 50 refused" not in result, result


async def test_timeout_kills_the_script_and_what_it_runs(tmp_path: Path) -> None:
    loop, _ = make_loop(tmp_path, timeout=2)
    pidfile = tmp_path / "ws" / "pid"
    code = f"""
import threading
from hermes_tools import terminal
threading.Thread(target=terminal, args=("echo $$ > {pidfile}; exec sleep 300",)).start()
while True:
    pass
"""
    result = await run_code(loop, code)
    assert "[killed after 2s (execute_code.timeout)" in result, result
    pid = int(pidfile.read_text())
    await wait_until(lambda: not pid_alive(pid), 10)


async def test_the_script_cannot_start_processes_or_write_files(tmp_path: Path) -> None:
    loop, _ = make_loop(tmp_path)
    code = """
import subprocess
try:
    subprocess.run(["true"])
except PermissionError as e:
    print("PROC", e)
try:
    open("x.txt", "w")
except PermissionError as e:
    print("WRITE", e)
"""
    result = await run_code(loop, code)
    assert "PROC a script run by execute_code may not start processes" in result, result
    assert "WRITE a script run by execute_code may not write files" in result
    assert not (tmp_path / "ws" / "x.txt").exists()


async def test_a_wrong_token_is_rejected(tmp_path: Path) -> None:
    ran: list[str] = []

    async def call(name: str, args: dict[str, Any]) -> tuple[str, bool]:
        ran.append(name)
        return "ran", False

    path = tmp_path / "s.sock"
    server = RpcServer(path, "right", call, ["read_file"], 5)
    await server.start()

    def ask(token: str) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            s.sendall(json.dumps({"id": 1, "token": token, "tool": "read_file"}).encode() + b"\n")
            return cast("dict[str, Any]", json.loads(s.makefile().readline()))

    try:
        bad = await asyncio.to_thread(ask, "wrong")
        assert bad == {"ok": False, "error": "refused: bad request or wrong token"} and ran == []
        good = await asyncio.to_thread(ask, "right")
        assert good == {"id": 1, "ok": True, "result": "ran"} and ran == ["read_file"]
    finally:
        await server.close()


async def test_other_backends_are_refused_with_a_reason(tmp_path: Path) -> None:
    terminal = TerminalSettings(backend="ssh", ssh=SshSettings(host="example.invalid"))
    ctx = make_ctx(tmp_path, settings=Settings(terminal=terminal))
    ctx.run_tool = cast("Any", object())
    with pytest.raises(Exception, match="needs the local or docker terminal backend"):
        await EXECUTE_CODE.run({"code": "print(1)"}, ctx)
    assert not EXECUTE_CODE.offered(ctx)


async def test_a_turn_runs_execute_code(tmp_path: Path, model: ScriptedModel) -> None:
    provider = resolve_provider(model.model_settings(), {})
    loop, _ = make_loop(tmp_path, provider)
    code = "from hermes_tools import terminal\nprint(terminal('echo from-the-script'))"
    model.tool_call("execute_code", {"code": code})
    model.reply("done")
    events: list[AgentEvent] = []
    try:
        result = await loop.run(History("go"), events.append)
    finally:
        await loop.ctx.processes.shutdown()
        await provider.aclose()
    assert result.text == "done"
    tool_result = model.requests[1].messages[-1]["content"]
    assert "from-the-script" in tool_result and "1 tool call]" in tool_result


async def test_on_docker_the_socket_in_the_workspace_reaches_the_script(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from hermes.settings import DockerSettings
    from tests.container_helpers import remove_containers

    cli, image = request.getfixturevalue("container_image")
    docker = DockerSettings(image=image, cli=Path(cli).name)
    terminal = TerminalSettings(backend="docker", cwd=str(tmp_path / "ws"), docker=docker)
    ctx = make_ctx(tmp_path / "home", settings=Settings(terminal=terminal))
    loop = Loop(
        provider=cast("Provider", None),
        system_prompt="test",
        tools={t.name: t for t in default_tools()},
        ctx=ctx,
        hooks=[ApprovalGate(ApprovalSettings(), RecordingAsker())],
    )
    ctx.run_tool = loop.run_unattended
    try:
        found = await ctx.backend.run(["sh", "-c", "command -v python3"], timeout=60)
        if found.returncode != 0:
            pytest.skip("the test image has no python3 (tests/container_helpers.py)")
        code = "from hermes_tools import terminal\nprint(terminal('echo in-$(hostname)'))"
        result = await run_code(loop, code)
        assert "[exit code 0" in result and "in-" in result, result
    finally:
        await ctx.processes.shutdown()
        remove_containers(cli, tmp_path / "home")
