"""execute_code: a real python subprocess calling tools over the unix-socket RPC,
every call through the agent loop's run_tool (the approval gate, unattended)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from tools_helpers import ListHistory, make_ctx, pid_alive, wait_until

from hermes.agent.events import AgentEvent
from hermes.agent.loop import Defer, Loop
from hermes.approvals.gate import ApprovalGate, Request
from hermes.backends.ssh import SshBackend
from hermes.context import TurnContext
from hermes.messages import ToolCall
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
from tests.sshd_helpers import Sshd

SECRETS = {"FOO_API_KEY": "k1", "MY_TOKEN": "t1", "DB_PASSWORD": "p1", "HARMLESS": "yes"}


class RecordingAsker:
    """Approves what it is asked about, and remembers it."""

    def __init__(self) -> None:
        self.asked: list[Request] = []

    async def ask(self, request: Request, ctx: TurnContext) -> str | Defer | None:
        self.asked.append(request)
        return None


def make_loop(
    tmp_path: Path,
    provider: Provider | None = None,
    terminal: TerminalSettings | None = None,
    **code: Any,
) -> tuple[Loop, RecordingAsker]:
    terminal = terminal or TerminalSettings(cwd=str(tmp_path / "ws"), env_passthrough=["MY_TOKEN"])
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
import threading, time
from hermes_tools import terminal
threading.Thread(target=terminal, args=("echo $$ > {pidfile}; exec sleep 300",)).start()
while True:  # (idle, not spinning: a busy loop would starve the command it waits for)
    time.sleep(0.05)
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


async def test_a_turn_runs_execute_code(tmp_path: Path, model: ScriptedModel) -> None:
    provider = resolve_provider(model.model_settings(), {})
    loop, _ = make_loop(tmp_path, provider)
    code = "from hermes_tools import terminal\nprint(terminal('echo from-the-script'))"
    model.tool_call("execute_code", {"code": code})
    model.reply("done")
    events: list[AgentEvent] = []
    try:
        result = await loop.run(ListHistory("go"), events.append)
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
    loop, _ = make_loop(tmp_path, terminal=terminal)
    ctx = loop.ctx
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("from the workspace\n")
    code = """
from hermes_tools import read_file, terminal
# the image's /etc/passwd has one line (tests/container_helpers.py), this machine's more
print("PASSWD", len(open("/etc/passwd").read().splitlines()))
print("READ", read_file("notes.txt"))
print("TERM", terminal("echo in-$(cat /etc/passwd | wc -l)"))
"""
    try:
        result = await run_code(loop, code)
        assert "[exit code 0" in result and "2 tool calls]" in result, result
        assert "PASSWD 1" in result and "in-1" in result and "from the workspace" in result
        assert list((tmp_path / "ws" / ".hermes-code").iterdir()) == []  # removed after
    finally:
        await ctx.processes.shutdown()
        remove_containers(cli, tmp_path / "home")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


def ssh_terminal(tmp_path: Path, sshd: Sshd) -> TerminalSettings:
    ssh = SshSettings(host="127.0.0.1", port=sshd.port, user=sshd.user, key=str(sshd.client_key))
    return TerminalSettings(backend="ssh", cwd=str(tmp_path / "ws"), ssh=ssh)


def listening(path: str) -> bool:
    """Whether a process listens on the unix socket PATH (sshd here: the forward)."""
    return any(line.endswith(" " + path) for line in Path("/proc/net/unix").read_text().split("\n"))


async def test_on_ssh_the_script_runs_there_and_its_socket_is_forwarded(
    tmp_path: Path, sshd: Sshd
) -> None:
    ctx = make_loop(tmp_path, terminal=ssh_terminal(tmp_path, sshd))[0].ctx
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("remote notes\n")
    code = """
import os, stat
from hermes_tools import read_file, terminal
here = os.path.dirname(os.path.abspath(__file__))
print("DIR", here, oct(stat.S_IMODE(os.stat(here).st_mode)))
print("SOCK", os.environ["HERMES_RPC_SOCKET"])
print("SSH", os.environ.get("SSH_CONNECTION", "-").split()[-1])  # sshd's port: run by sshd
print("READ", read_file("notes.txt"))
print("TERM", terminal("echo over-$(echo $SSH_CONNECTION | cut -d' ' -f4)"))
"""
    try:
        result = await EXECUTE_CODE.run({"code": code}, ctx)
        assert "[exit code 0" in result and "2 tool calls]" in result, result
        sock = result.split("SOCK ", 1)[1].split("\n", 1)[0]
        assert not listening(sock)  # the forward was cancelled (the master still runs)
        assert isinstance(ctx.backend, SshBackend) and ctx.backend.link.alive()
    finally:
        await ctx.processes.shutdown()  # and the master ends
    assert f"SSH {sshd.port}" in result and f"over-{sshd.port}" in result
    assert "remote notes" in result
    run_dir, mode = result.split("DIR ", 1)[1].split("\n", 1)[0].split()
    assert run_dir.startswith("/tmp/hermes-code.") and mode == "0o700", result
    assert sock == f"{run_dir}/rpc.sock"
    assert not await asyncio.to_thread(Path(run_dir).exists)  # and the remote dir removed


async def test_on_ssh_a_timeout_kills_the_remote_script_and_cleans_up(
    tmp_path: Path, sshd: Sshd
) -> None:
    # an ssh command takes ~0.2 s to start here, more on a loaded machine
    loop, _ = make_loop(tmp_path, terminal=ssh_terminal(tmp_path, sshd), timeout=4)
    pidfile = tmp_path / "ws" / "pid"
    code = f"""
import os, threading, time
from hermes_tools import terminal
print("DIR", os.path.dirname(os.path.abspath(__file__)), flush=True)
print("PID", os.getpid(), flush=True)
threading.Thread(target=terminal, args=("echo $$ > {pidfile}; exec sleep 300",)).start()
while True:  # (idle, not spinning: a busy loop would starve the command it waits for)
    time.sleep(0.05)
"""
    result = await run_code(loop, code)
    assert "[killed after 4s (execute_code.timeout)" in result, result
    pid = int(pidfile.read_text())
    await wait_until(lambda: not pid_alive(pid), 10)  # the tool's command, on the "remote"
    script = int(result.split("PID ", 1)[1].split("\n", 1)[0])
    await wait_until(lambda: not pid_alive(script), 10)  # and the script
    run_dir = result.split("DIR ", 1)[1].split("\n", 1)[0]
    assert run_dir.startswith("/tmp/hermes-code.")
    assert not await asyncio.to_thread(Path(run_dir).exists)


async def test_a_forwarded_socket_stops_listening_after_the_block(
    tmp_path: Path, sshd: Sshd
) -> None:
    from hermes.backends.ssh_link import SshLink

    link = SshLink(
        "127.0.0.1", user=sshd.user, port=sshd.port, key=sshd.client_key, state_dir=tmp_path / "st"
    )
    await link.connect()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"pong " + await reader.readline())
        await writer.drain()
        writer.close()

    local, remote = tmp_path / "here.sock", tmp_path / "there.sock"
    server = await asyncio.start_unix_server(serve, path=str(local))

    def ask() -> bytes:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(remote))
            s.sendall(b"ping\n")
            return s.makefile("rb").readline()

    try:
        async with link.forward_socket(str(remote), local):
            assert listening(str(remote))
            assert await asyncio.to_thread(ask) == b"pong ping\n"
        assert not listening(str(remote))
        with pytest.raises(ConnectionRefusedError):
            ask()
        # the stale file stays (sshd here has no StreamLocalBindUnlink): a clear error
        with pytest.raises(Exception, match=r"could not forward .*StreamLocalBindUnlink"):
            async with link.forward_socket(str(remote), local):
                pass
    finally:
        server.close()
        await link.close()
