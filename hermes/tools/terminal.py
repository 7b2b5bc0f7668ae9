"""The `terminal` tool (run a shell command) and the `process` tool (follow
background ones). Commands run on the turn's backend (ctx.backend) with the
turn's env, in the backend's working directory, which a `cd` changes for the
next command; never the process-wide env or cwd. stdin is empty."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Any

from hermes.aio import within
from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.tools.base import Tool, schema
from hermes.tools.process import OutputBuffer, Poll, ProcInfo

MAX_TIMEOUT = 3600  # seconds; longer work belongs in background=true
DEFAULT_WAIT = 60  # seconds for process(action="wait")


class Capture:
    """Keeps the first and last characters of a stream, within `limit` in total."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 2)
        self._head_limit = self.limit // 2
        self._head: list[str] = []
        self._head_size = 0
        self._tail = OutputBuffer(self.limit - self._head_limit)
        self.total = 0

    def write(self, text: str) -> None:
        self.total += len(text)
        room = self._head_limit - self._head_size
        if room > 0:
            self._head.append(text[:room])
            self._head_size += min(room, len(text))
        self._tail.write(text)

    def render(self) -> str:
        head = "".join(self._head)
        if self.total <= self.limit:
            rest = self.total - len(head)
            return head + (self._tail.text()[-rest:] if rest else "")
        tail = self._tail.text()
        omitted = self.total - len(head) - len(tail)
        return (
            f"[output truncated: {self.total:,} chars, showing the first {len(head):,} and "
            f"last {len(tail):,}; limit is {self.limit:,}]\n"
            f"{head}\n... [{omitted:,} chars omitted] ...\n{tail}"
        )


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit code {code}"


def _positive_int(args: dict[str, Any], key: str, default: int) -> int:
    value = args.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ToolError(f"{key} must be a positive number of seconds, got {value!r}")
    if value > MAX_TIMEOUT:
        raise ToolError(
            f"{key} may be at most {MAX_TIMEOUT} seconds; run longer work with "
            "background=true and follow it with the process tool"
        )
    return max(1, math.ceil(value))  # 0.5 means "briefly", not "kill it at once"


# Run before the command, on its line (so bash's "line 1" stays line 1): the
# command's stderr joins its stdout, and when the shell exits it reports where it
# ended up on the original stderr, so the next command starts there (`cd` persists).
CWD_MARK = "\x1e"
_TRACK = 'exec 9>&2 2>&1; trap \'printf "\\036%s" "$PWD" >&9\' EXIT; '


class _Cwd:
    """Collects the shell's report of its final directory (anything else on that
    stream, such as a syntax error or an unreachable backend, is output)."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def split(self) -> tuple[str, str | None]:
        rest, mark, cwd = self.text.rpartition(CWD_MARK)
        return (rest, cwd or None) if mark else (self.text, None)


async def _foreground(command: str, seconds: int, ctx: TurnContext) -> str:
    limit = ctx.profile.settings.terminal.max_output_chars
    capture = Capture(limit)
    backend = ctx.backend
    await backend.open()
    cwd = backend.cwd
    began = time.monotonic()
    tracked = _Cwd()
    shell = await backend.start(
        _TRACK + command, on_output=capture.write, on_stderr=tracked.write, env=ctx.env
    )
    timed_out = False
    try:
        # in the ledger while it runs: if the gateway dies meanwhile, its next start kills it
        async with ctx.processes.recorded(shell, command, cwd, ctx.session_id):
            try:
                await within(shell.wait(), seconds)
            except TimeoutError:
                timed_out = True
                await shell.terminate(grace=2.0)
            except BaseException:  # cancelled (turn interrupted) or anything else
                await shell.kill()  # first: it leaves the ledger only once it is gone
                raise
            drained = await shell.drain()
    except BaseException:  # leave nothing behind (also when cancelled while recording)
        await shell.kill()
        raise
    shell.close()
    elapsed = time.monotonic() - began
    other, now_in = tracked.split()
    if other:
        capture.write(other)
    if now_in and not timed_out and backend.cwd == cwd:
        backend.cwd = Path(now_in)
    if timed_out:
        header = (
            f"[timed out after {seconds}s: the command and its child processes were killed; "
            "use background=true for long-running commands]"
        )
    else:
        header = f"[{_describe_exit(shell.returncode)}, {elapsed:.1f}s]"
    body = capture.render().rstrip("\n") or "(no output)"
    note = ""
    if not drained and not timed_out:
        note = (
            "\n[processes started in the background by this command still hold its output "
            "open; their further output is not captured - redirect it to a file]"
        )
    if now_in and Path(now_in) != cwd and backend.cwd == Path(now_in):
        note += f"\n[working directory is now {now_in}]"
    return f"{header}\n{body}{note}"


async def _background(command: str, ctx: TurnContext) -> str:
    backend = ctx.backend
    await backend.open()
    info = await ctx.processes.start(
        command, backend.cwd, ctx.env, session_id=ctx.session_id, backend=backend
    )
    return (
        f"Started background process {info.id} (pid {info.pid}) in {info.cwd}.\n"
        f'Follow it with the process tool: process(action="poll", id="{info.id}") for its '
        'status and new output, "log" for recent output, "wait" to block until it exits '
        '(with a timeout), "kill" to stop it.'
    )


async def terminal(args: dict[str, Any], ctx: TurnContext) -> str:
    command = args.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ToolError("command must be a non-empty shell command")
    if args.get("background"):
        return await _background(command, ctx)
    timeout = _positive_int(args, "timeout", ctx.profile.settings.terminal.timeout)
    return await _foreground(command, timeout, ctx)


def _status_line(info: ProcInfo) -> str:
    if info.status == "running":
        state = f"running for {info.runtime:.0f}s"
    elif info.exit_code is None:  # a leftover of an earlier run, killed at a restart
        state = f"{info.status} after {info.runtime:.0f}s"
    else:
        state = f"{info.status} ({_describe_exit(info.exit_code)}) after {info.runtime:.0f}s"
    return f"{info.id}: {state}, pid {info.pid}, command: {info.command}"


def _cap(text: str, limit: int, dropped: int) -> str:
    if len(text) > limit:
        dropped += len(text) - limit
        text = text[len(text) - limit :]
    if dropped:
        return f"[{dropped:,} earlier chars not shown; showing the last {len(text):,}]\n{text}"
    return text


def _render_poll(poll: Poll, limit: int) -> str:
    out = poll.output
    body = _cap(out, limit, poll.missed).rstrip("\n") if out else "(no new output)"
    return f"{_status_line(poll.info)}\nnew output:\n{body}"


async def process(args: dict[str, Any], ctx: TurnContext) -> str:
    action = args.get("action")
    manager = ctx.processes
    limit = ctx.profile.settings.terminal.max_output_chars
    if action == "list":
        infos = manager.list()
        if not infos:
            return "No background processes."
        return "\n".join(_status_line(i) for i in infos)
    if action not in ("poll", "log", "wait", "kill"):
        raise ToolError(f"unknown action {action!r}; use list, poll, log, wait or kill")
    proc_id = args.get("id")
    if not isinstance(proc_id, str) or not proc_id:
        raise ToolError(f"action {action!r} needs the process id (see process(action='list'))")
    if action == "poll":
        return _render_poll(manager.poll(proc_id), limit)
    if action == "wait":
        timeout = _positive_int(args, "timeout", DEFAULT_WAIT)
        poll = await manager.wait(proc_id, timeout)
        if poll.info.status == "running":
            return f"{_render_poll(poll, limit)}\n[still running after waiting {timeout}s]"
        return _render_poll(poll, limit)
    if action == "log":
        info, text, dropped = manager.log(proc_id, limit)
        body = _cap(text, limit, dropped).rstrip("\n") if text else "(no output yet)"
        return f"{_status_line(info)}\noutput:\n{body}"
    before = manager.info(proc_id)
    if before.status != "running":
        return f"{_status_line(before)}\n(it had already ended; nothing to kill)"
    return f"Killed.\n{_status_line(await manager.kill(proc_id))}"


TERMINAL = Tool(
    name="terminal",
    description=(
        "Run a shell command (bash -c) in the terminal environment and get its exit code "
        "and output (stdout and stderr merged). It starts in the current working "
        "directory (the workspace at first) with the profile's environment; stdin is "
        "closed, so interactive programs fail: pass flags like -y or --no-pager. Each "
        "call is a fresh shell: a `cd` carries over to the next call, exports do not. "
        "Output longer than the limit keeps its start and end and says how much was "
        "cut. A foreground command is killed, with its child processes, after `timeout` "
        "seconds (default from config, max 3600). For servers, watchers or anything "
        "long, set background=true: it returns at once with a process id to follow with "
        "the `process` tool. Prefer read_file/write_file/patch/search_files for reading "
        "and editing files."
    ),
    parameters=schema(
        {
            "command": {"type": "string", "description": "The shell command to run."},
            "background": {
                "type": "boolean",
                "description": "Run in the background and return a process id at once.",
            },
            "timeout": {
                "type": "integer",
                "description": "Seconds before a foreground command is killed.",
            },
        },
        ["command"],
    ),
    handler=terminal,
)

PROCESS = Tool(
    name="process",
    description=(
        "Follow background processes started with terminal(background=true). "
        "Actions: list (all processes and their status); poll (status and the output "
        "since the last poll/wait); log (status and the most recent output); wait (block "
        f"until it exits or `timeout` seconds pass, default {DEFAULT_WAIT}, then like "
        "poll); kill (SIGTERM, then SIGKILL, to the process and its children). Every "
        "action but list needs `id`."
    ),
    parameters=schema(
        {
            "action": {"type": "string", "enum": ["list", "poll", "log", "wait", "kill"]},
            "id": {"type": "string", "description": "Process id, e.g. proc_1a2b3c."},
            "timeout": {"type": "integer", "description": "Seconds to wait (action=wait)."},
        },
        ["action"],
    ),
    handler=process,
)

TOOLS: list[Tool] = [TERMINAL, PROCESS]
