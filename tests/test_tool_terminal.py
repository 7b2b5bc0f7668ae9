"""The terminal and process tools, and the ProcessManager behind them."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tools_helpers import make_ctx, pid_alive, wait_until

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.settings import Settings, TerminalSettings
from hermes.tools.process import OutputBuffer, ProcessEvent, ProcessManager
from hermes.tools.terminal import PROCESS, TERMINAL


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[TurnContext]:
    context = make_ctx(tmp_path, env={"ONLY_IN_CTX": "from-ctx"})
    yield context
    await context.processes.shutdown()


def pids_in(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"^PID (\d+)$", text, re.MULTILINE)]


async def test_foreground_reports_output_and_exit_code(ctx: TurnContext) -> None:
    out = await TERMINAL.run({"command": "echo hello; echo oops >&2; exit 3"}, ctx)
    assert out.startswith("[exit code 3,")
    assert "hello" in out and "oops" in out


async def test_runs_with_the_turns_env_and_cwd_not_the_process_ones(
    ctx: TurnContext, tmp_path: Path
) -> None:
    env_before, cwd_before = dict(os.environ), os.getcwd()
    out = await TERMINAL.run({"command": 'echo "$HERMES_HOME"; pwd; echo "$ONLY_IN_CTX"'}, ctx)
    lines = out.splitlines()[1:]
    assert lines == [str(tmp_path), str(tmp_path / "workspace"), "from-ctx"]
    assert (tmp_path / "workspace").is_dir()  # created on first use
    assert dict(os.environ) == env_before and os.getcwd() == cwd_before


async def test_stdin_is_closed(ctx: TurnContext) -> None:
    out = await asyncio.wait_for(TERMINAL.run({"command": "cat; echo done"}, ctx), 10)
    assert out.splitlines()[1:] == ["done"]


async def test_timeout_kills_the_command_and_its_children(ctx: TurnContext) -> None:
    out = await TERMINAL.run({"command": "sleep 300 & echo PID $!; sleep 300", "timeout": 1}, ctx)
    assert "timed out after 1s" in out and "killed" in out
    [child] = pids_in(out)
    await wait_until(lambda: not pid_alive(child))


async def test_leftover_children_holding_the_output_do_not_block(ctx: TurnContext) -> None:
    out = await asyncio.wait_for(TERMINAL.run({"command": "sleep 300 & echo PID $!"}, ctx), 20)
    [child] = pids_in(out)
    os.kill(child, signal.SIGKILL)
    assert out.startswith("[exit code 0,")
    assert "still hold its output open" in out


async def test_cancelling_the_turn_kills_the_process_group(
    ctx: TurnContext, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pids"
    command = f"echo $$ > {pidfile}; sleep 300 & echo $! >> {pidfile}; wait"
    task = asyncio.create_task(TERMINAL.run({"command": command}, ctx))
    await wait_until(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for pid in map(int, pidfile.read_text().split()):
        await wait_until(lambda pid=pid: not pid_alive(pid))  # type: ignore[misc]


async def test_long_output_keeps_head_and_tail_and_states_the_cap(tmp_path: Path) -> None:
    settings = Settings(terminal=TerminalSettings(max_output_chars=1000))
    ctx = make_ctx(tmp_path, settings=settings)
    out = await TERMINAL.run({"command": "seq 1 20000"}, ctx)
    total = len("\n".join(str(i) for i in range(1, 20001))) + 1
    assert f"[output truncated: {total:,} chars, showing the first 500 and last 500; " in out
    assert "limit is 1,000]" in out
    assert "\n1\n2\n3\n" in out and out.rstrip().endswith("19999\n20000")
    assert len(out) < 1300


async def test_bad_arguments_are_tool_errors(ctx: TurnContext) -> None:
    with pytest.raises(ToolError, match="non-empty"):
        await TERMINAL.run({"command": "  "}, ctx)
    with pytest.raises(ToolError, match="background=true"):
        await TERMINAL.run({"command": "true", "timeout": 10**6}, ctx)


async def test_background_returns_at_once_then_poll_log_kill(ctx: TurnContext) -> None:
    started = time.monotonic()
    out = await TERMINAL.run(
        {"command": "echo ready; echo PID $$; sleep 300", "background": True}, ctx
    )
    assert time.monotonic() - started < 5
    proc_id = re.search(r"proc_[0-9a-f]{6}", out)
    assert proc_id and 'process(action="poll"' in out
    pid = proc_id.group(0)
    await wait_until(lambda: "ready" in ctx.processes.log(pid)[1])

    polled = await PROCESS.run({"action": "poll", "id": pid}, ctx)
    assert f"{pid}: running" in polled and "ready" in polled
    again = await PROCESS.run({"action": "poll", "id": pid}, ctx)
    assert "(no new output)" in again
    logged = await PROCESS.run({"action": "log", "id": pid}, ctx)
    assert "ready" in logged
    listed = await PROCESS.run({"action": "list"}, ctx)
    assert pid in listed and "running" in listed

    [shell_pid] = pids_in(logged)
    killed = await PROCESS.run({"action": "kill", "id": pid}, ctx)
    assert f"{pid}: killed (killed by SIGTERM)" in killed
    await wait_until(lambda: not pid_alive(shell_pid))
    again = await PROCESS.run({"action": "kill", "id": pid}, ctx)
    assert "already ended" in again


async def test_wait_returns_at_exit_or_at_timeout(ctx: TurnContext) -> None:
    ctx.cwd.mkdir()
    info = await ctx.processes.start("echo bye; exit 4", ctx.cwd, ctx.env)
    done = await PROCESS.run({"action": "wait", "id": info.id, "timeout": 30}, ctx)
    assert "exited (exit code 4)" in done and "bye" in done

    slow = await ctx.processes.start("sleep 300", ctx.cwd, ctx.env)
    waited = await PROCESS.run({"action": "wait", "id": slow.id, "timeout": 1}, ctx)
    assert "still running after waiting 1s" in waited


async def test_process_errors_name_the_fix(ctx: TurnContext) -> None:
    with pytest.raises(ToolError, match="needs the process id"):
        await PROCESS.run({"action": "poll"}, ctx)
    with pytest.raises(ToolError, match="no background process 'proc_nope'"):
        await PROCESS.run({"action": "log", "id": "proc_nope"}, ctx)
    with pytest.raises(ToolError, match="unknown action"):
        await PROCESS.run({"action": "restart", "id": "x"}, ctx)
    assert await PROCESS.run({"action": "list"}, ctx) == "No background processes."


async def test_limit_on_concurrent_background_processes(tmp_path: Path) -> None:
    manager = ProcessManager(max_processes=2)
    ctx = make_ctx(tmp_path, processes=manager)
    try:
        for _ in range(2):
            await TERMINAL.run({"command": "sleep 300", "background": True}, ctx)
        with pytest.raises(ToolError, match="2 are running, which is the limit"):
            await TERMINAL.run({"command": "sleep 300", "background": True}, ctx)
        pids = [i.pid for i in manager.list()]
    finally:
        await manager.shutdown()
    assert all(i.status == "killed" for i in manager.list())
    for pid in pids:
        await wait_until(lambda pid=pid: not pid_alive(pid))  # type: ignore[misc]


async def test_listeners_see_start_output_and_exit(tmp_path: Path) -> None:
    manager = ProcessManager()
    events: list[ProcessEvent] = []
    unsubscribe = manager.add_listener(events.append)
    info = await manager.start("echo one; exit 2", tmp_path, {"PATH": os.environ["PATH"]})
    await manager.wait(info.id, 30)
    await manager.shutdown()
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "exited"
    assert "one" in "".join(e.text for e in events if e.kind == "output")
    assert events[-1].info.exit_code == 2 and events[-1].info.status == "exited"
    unsubscribe()
    assert manager._listeners == []


async def test_a_process_killed_while_it_is_starting_is_killed_once_it_runs(
    tmp_path: Path,
) -> None:
    manager = ProcessManager()
    starting = asyncio.create_task(
        manager.start("sleep 30", tmp_path, {"PATH": os.environ["PATH"]})
    )
    await asyncio.sleep(0)  # (a yield, not a wait) start() runs to its first await:
    # the process is listed, its shell not started yet
    [early] = manager.list()
    killed = await manager.kill(early.id)
    started = await starting
    await manager.shutdown()
    assert early.pid == 0 and started.pid > 0
    assert killed.status == "killed" and not pid_alive(started.pid)


async def test_background_output_is_bounded(tmp_path: Path) -> None:
    manager = ProcessManager(buffer_chars=100)
    ctx = make_ctx(tmp_path, processes=manager)
    info = await manager.start("seq 1 1000", tmp_path, ctx.env)
    out = await PROCESS.run({"action": "wait", "id": info.id, "timeout": 30}, ctx)
    await manager.shutdown()
    assert "earlier chars not shown; showing the last 100]" in out
    assert out.rstrip().endswith("999\n1000")


def test_output_buffer_keeps_the_last_chars_and_counts_the_rest() -> None:
    buf = OutputBuffer(10)
    buf.write("abcdef")
    buf.write("ghijklmn")
    assert buf.text() == "efghijklmn" and buf.dropped == 4 and buf.total == 14
    assert buf.since(12) == ("mn", 0)
    assert buf.since(0) == ("efghijklmn", 4)


async def test_an_unavailable_backend_runs_nothing_on_the_host(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, settings=Settings(terminal=TerminalSettings(backend="docker")))
    marker = tmp_path / "ran"
    # docker without an image cannot start: the command must not run here instead
    with pytest.raises(ToolError, match=r"terminal\.docker\.image is not set"):
        await TERMINAL.run({"command": f"touch {marker}"}, ctx)
    assert not marker.exists()


async def test_a_fractional_timeout_still_lets_the_command_run(ctx: TurnContext) -> None:
    out = await TERMINAL.run({"command": "echo quick", "timeout": 0.5}, ctx)
    assert out.startswith("[exit code 0,") and "quick" in out
