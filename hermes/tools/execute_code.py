"""The `execute_code` tool: a Python script that calls tools over RPC.

The script runs on the turn's backend (where it lives and how its calls reach
us — a unix socket on local, docker and ssh, request files elsewhere:
script_place.py, script_files.py) with the turn's environment
minus every variable whose name says key, token, secret or password —
`terminal.env_passthrough` does not apply here. It imports
`hermes_tools` (hermes/tools/script_client/hermes_tools.py, copied next to it),
whose calls come to the RPC server (hermes/tools/script_rpc.py) and run through
`ctx.run_tool`: the approval gate with nobody to ask, so a risky call is refused
in one line and a hard one always. The per-script token reaches the script on
its stdin, never in an environment the tools it calls could read. After
`execute_code.timeout` seconds its process tree is killed and the tool calls
still running are cancelled.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.settings import ExecuteCodeSettings
from hermes.tool_env import tool_environment
from hermes.tools.base import Tool, schema
from hermes.tools.process import OutputBuffer
from hermes.tools.script_files import FileRpcServer
from hermes.tools.script_place import BACKENDS, Place, place
from hermes.tools.script_rpc import RpcServer, Transport
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
CLIENT = Path(__file__).parent / "script_client" / "hermes_tools.py"
SOCKET_VAR = "HERMES_RPC_SOCKET"
RPC_DIR_VAR = "HERMES_RPC_DIR"  # the file transport's directory, where there is no socket
MAX_CODE_CHARS = 200_000


def script_env(ctx: TurnContext, where: Place) -> dict[str, str]:
    """The script's environment: the turn's, without anything named like a secret
    (even if passed through for the terminal tool), plus the RPC socket's path
    (or the request files' directory: that is how the client picks its transport)."""
    env = tool_environment(ctx.env)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    if where.socket is None:
        env[RPC_DIR_VAR] = str(where.rpc_dir)
    else:
        env[SOCKET_VAR] = str(where.socket)
    return env


def _check(args: dict[str, Any], ctx: TurnContext) -> str:
    code = args.get("code")
    if not isinstance(code, str) or not code.strip():
        raise ToolError("code must be a non-empty Python script")
    if len(code) > MAX_CODE_CHARS:
        raise ToolError(f"code is {len(code):,} chars; the limit is {MAX_CODE_CHARS:,}")
    backend = ctx.profile.settings.terminal.backend
    if backend not in BACKENDS:
        raise ToolError(
            f"execute_code does not know the {backend} terminal backend (it runs on "
            f"{', '.join(BACKENDS)}); do the steps with the terminal and file tools instead"
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
    token = secrets.token_urlsafe(32)
    async with place(ctx) as where:
        limit = settings.max_tool_calls
        server: Transport
        if where.listen is None:
            server = FileRpcServer(backend, where.rpc_dir, token, run_tool, CALLABLE, limit)
        else:
            server = RpcServer(where.listen, token, run_tool, CALLABLE, limit)
        try:
            await server.start()
            await backend.write_bytes(where.run_dir / "hermes_tools.py", CLIENT.read_bytes())
            await backend.write_bytes(where.run_dir / "script.py", code.encode("utf-8"))
            return await _run(ctx, settings, where, server, (token + "\n").encode())
        finally:
            await server.close()


async def _run(
    ctx: TurnContext,
    settings: ExecuteCodeSettings,
    where: Place,
    server: Transport,
    stdin: bytes,
) -> str:
    stdout = Capture(settings.max_stdout_chars)
    stderr = OutputBuffer(settings.max_stderr_chars)
    began = time.monotonic()
    # the client as a file: its directory is the first on sys.path, so `import hermes_tools`
    # finds it on every backend (PYTHONPATH, a host variable, does not reach ssh or docker)
    client = str(where.run_dir / "hermes_tools.py")
    argv = [settings.python, "-B", "-u", client, str(where.run_dir / "script.py")]
    proc = await ctx.backend.start(
        argv,
        on_output=stdout.write,
        on_stderr=stderr.write,
        env=script_env(ctx, where),
        stdin=stdin,
    )
    try:
        async with ctx.processes.recorded(proc, "execute_code", ctx.backend.cwd, ctx.session_id):
            timed_out = await proc.settle(settings.timeout)
    except BaseException:
        await proc.kill()  # (recording it failed)
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
    server: Transport,
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
