"""The `execute_code` tool: a Python script that calls tools over RPC.

The script runs on the turn's backend (local, or docker: the workspace is
mounted at the same path, so a unix socket placed in it reaches the container)
with the turn's environment minus every variable whose name says key, token,
secret or password — `terminal.env_passthrough` does not apply here. It imports
`hermes_tools` (hermes/tools/script_client/hermes_tools.py, copied next to it),
whose calls come to the RPC server (hermes/tools/script_rpc.py) and run through
`ctx.run_tool`: the approval gate with nobody to ask, so a risky call is refused
in one line and a hard one always. The per-script token reaches the script on
its stdin, never in an environment the tools it calls could read. After
`execute_code.timeout` seconds its process tree is killed and the tool calls
still running are cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from hermes.aio import within
from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.settings import ExecuteCodeSettings
from hermes.tool_env import tool_environment
from hermes.tools.base import Tool, schema
from hermes.tools.process import OutputBuffer
from hermes.tools.script_rpc import RpcServer
from hermes.tools.terminal import Capture

CALLABLE = (
    "terminal",
    "read_file",
    "write_file",
    "patch",
    "search_files",
    "web_search",
    "web_extract",
)
BACKENDS = ("local", "docker")  # where a unix socket reaches the script
CLIENT = Path(__file__).parent / "script_client" / "hermes_tools.py"
SOCKET_VAR = "HERMES_RPC_SOCKET"
MAX_CODE_CHARS = 200_000


def script_env(ctx: TurnContext, run_dir: Path) -> dict[str, str]:
    """The script's environment: the turn's, without anything named like a secret
    (even if passed through for the terminal tool), plus the RPC socket's path."""
    env = tool_environment(ctx.env)
    env["PYTHONPATH"] = str(run_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env[SOCKET_VAR] = str(run_dir / "rpc.sock")
    return env


async def _run_dir(ctx: TurnContext) -> Path:
    """A fresh directory for the script, its client module and the socket, on a
    path the backend and this machine share."""
    if ctx.backend.name == "docker":  # the workspace is mounted at the same path
        base = ctx.profile.workspace / ".hermes-code"
        await asyncio.to_thread(base.mkdir, parents=True, exist_ok=True)
        path = base / secrets.token_hex(6)
        await asyncio.to_thread(path.mkdir, mode=0o700)
        return path
    return Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="hermes-code-"))


async def _remove(ctx: TurnContext, run_dir: Path) -> None:
    if ctx.backend.name == "docker":  # files the container wrote may not be ours
        with contextlib.suppress(Exception):
            await ctx.backend.run(["rm", "-rf", str(run_dir)], timeout=30)
    await asyncio.to_thread(shutil.rmtree, run_dir, True)


def _check(args: dict[str, Any], ctx: TurnContext) -> str:
    code = args.get("code")
    if not isinstance(code, str) or not code.strip():
        raise ToolError("code must be a non-empty Python script")
    if len(code) > MAX_CODE_CHARS:
        raise ToolError(f"code is {len(code):,} chars; the limit is {MAX_CODE_CHARS:,}")
    backend = ctx.profile.settings.terminal.backend
    if backend not in BACKENDS:
        raise ToolError(
            f"execute_code needs the local or docker terminal backend (this profile uses "
            f"{backend}, which the script's tool calls cannot reach); do the steps with the "
            "terminal and file tools instead"
        )
    if ctx.run_tool is None:
        raise ToolError("execute_code runs only inside an agent turn (no tool runner here)")
    return code


async def execute_code(args: dict[str, Any], ctx: TurnContext) -> str:
    code = _check(args, ctx)
    settings = ctx.profile.settings.execute_code
    run_tool = ctx.run_tool
    assert run_tool is not None  # _check
    backend = ctx.backend
    await backend.open()
    run_dir = await _run_dir(ctx)
    token = secrets.token_urlsafe(32)
    server = RpcServer(run_dir / "rpc.sock", token, run_tool, CALLABLE, settings.max_tool_calls)
    try:
        await server.start()
        await backend.write_bytes(run_dir / "hermes_tools.py", CLIENT.read_bytes())
        await backend.write_bytes(run_dir / "script.py", code.encode("utf-8"))
        return await _run(ctx, settings, run_dir, server, (token + "\n").encode())
    finally:
        await server.close()
        await _remove(ctx, run_dir)


async def _run(
    ctx: TurnContext,
    settings: ExecuteCodeSettings,
    run_dir: Path,
    server: RpcServer,
    stdin: bytes,
) -> str:
    stdout = Capture(settings.max_stdout_chars)
    stderr = OutputBuffer(settings.max_stderr_chars)
    began = time.monotonic()
    argv = [settings.python, "-B", "-u", "-m", "hermes_tools", str(run_dir / "script.py")]
    proc = await ctx.backend.start(
        argv,
        on_output=stdout.write,
        on_stderr=stderr.write,
        env=script_env(ctx, run_dir),
        stdin=stdin,
    )
    timed_out = False
    try:
        async with ctx.processes.recorded(proc, "execute_code", ctx.backend.cwd, ctx.session_id):
            try:
                await within(proc.wait(), settings.timeout)
            except TimeoutError:
                timed_out = True
                await proc.terminate(grace=1.0)
            await proc.drain()
    except BaseException:
        await proc.kill()
        raise
    proc.close()
    await server.close()  # tool calls a killed script left running end here
    return _report(
        proc.returncode, timed_out, time.monotonic() - began, settings, server, stdout, stderr
    )


def _report(
    code: int | None,
    timed_out: bool,
    seconds: float,
    settings: ExecuteCodeSettings,
    server: RpcServer,
    stdout: Capture,
    stderr: OutputBuffer,
) -> str:
    calls = f"{server.calls} tool call{'' if server.calls == 1 else 's'}"
    if server.refused:
        calls += f" ({server.refused} more refused)"
    if timed_out:
        head = (
            f"[killed after {settings.timeout}s (execute_code.timeout): the script and its "
            f"processes were stopped; {calls}]"
        )
    elif code == 127:
        head = f"[exit code {code}, {seconds:.1f}s, {calls}; is {settings.python} installed?]"
    else:
        head = f"[exit code {code}, {seconds:.1f}s, {calls}]"
    out = stdout.render().rstrip("\n") or "(no output)"
    parts = [head, f"stdout (up to {settings.max_stdout_chars:,} chars):\n{out}"]
    err = stderr.text().rstrip("\n")
    if err:
        cut = f", {stderr.dropped:,} earlier chars cut" if stderr.dropped else ""
        parts.append(f"stderr (last {settings.max_stderr_chars:,} chars{cut}):\n{err}")
    return "\n".join(parts)


EXECUTE_CODE = Tool(
    name="execute_code",
    description=(
        "Run a Python 3 script that calls tools itself, to do many steps in one go "
        "(loops, filtering, batches) without each result entering the conversation. "
        "In the script: `from hermes_tools import terminal, read_file, write_file, patch, "
        "search_files, web_search, web_extract` - each takes the tool's arguments and "
        "returns its result text; a tool error raises hermes_tools.ToolFailed. Calls may "
        "run from threads at once. Every call passes the approval gate: a risky one is "
        "refused (run it with the terminal tool yourself so the user is asked). The "
        "script itself may not start processes or write files: use terminal/write_file. "
        "Limits: execute_code.timeout seconds (default 300), max_tool_calls calls "
        "(default 50); stdout is capped and stderr's end is kept. Print what you need: "
        "the result is the exit code, stdout, stderr and the number of tool calls."
    ),
    parameters=schema(
        {"code": {"type": "string", "description": "The Python script to run."}},
        ["code"],
    ),
    handler=execute_code,
    when=lambda ctx: ctx.profile.settings.terminal.backend in BACKENDS,
)

TOOLS: list[Tool] = [EXECUTE_CODE]
