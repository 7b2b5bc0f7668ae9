"""Processes of a killed gateway are not left behind (issue 12, item 10), and a
crashed turn's stray draft is cleaned up when the turn resumes (item 11).

Every tool process group is recorded in state.db while it runs; at the next
start the groups still recorded are killed (never a recycled pid), the resumed
turn's interrupted call says so, and nothing runs twice."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.store import Store, leftover_ops
from hermes.testing import ScriptedModel
from hermes.tools.proc_ledger import ProcRecord, boot_id, end_leftover, start_ticks
from hermes.tools.process import ProcessManager
from hermes.tools.terminal import PROCESS, TERMINAL
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import GatewayProcess, make_home, running_gateway
from tests.tools_helpers import make_ctx, pid_alive, wait_until

TOKEN = "123456:TEST-token"
CHAT = 4242


class MemoryLedger:
    """A ProcessLedger in memory: key -> what was recorded."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self._next = 0

    async def started(self, record: ProcRecord) -> int:
        self._next += 1
        self.rows[self._next] = dataclasses.asdict(record)
        return self._next

    async def ended(self, key: int) -> None:
        del self.rows[key]


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Process groups a test starts; whatever is left of them is killed after it."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def spawn(procs: list[subprocess.Popen[bytes]], command: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["/bin/bash", "-c", command], start_new_session=True)
    procs.append(proc)
    return proc


def live_members(pgid: int) -> list[int]:
    from hermes.tools.proc_ledger import group_members

    return group_members(pgid)


# ----- the ledger in the process manager and the terminal tool -------------------------


async def test_each_group_is_recorded_while_it_runs(tmp_path: Path) -> None:
    ledger = MemoryLedger()
    manager = ProcessManager(ledger=ledger)
    ctx = make_ctx(tmp_path, processes=manager)
    try:
        started = await TERMINAL.run({"command": "sleep 300", "background": True}, ctx)
        [bg] = ledger.rows.values()
        assert f"pid {bg['pid']}" in started
        assert bg["kind"] == "background" and bg["command"] == "sleep 300"
        assert bg["proc_id"] is not None and bg["session_id"] == "s1"
        assert bg["start_ticks"] == start_ticks(bg["pid"]) and bg["boot_id"] == boot_id()

        fg = asyncio.create_task(TERMINAL.run({"command": "sleep 301"}, ctx))
        await wait_until(lambda: len(ledger.rows) == 2)
        [fg_row] = [r for r in ledger.rows.values() if r["kind"] == "foreground"]
        assert fg_row["command"] == "sleep 301" and fg_row["proc_id"] is None
        fg.cancel()  # the turn is interrupted: killed, and no longer recorded
        with pytest.raises(asyncio.CancelledError):
            await fg
        assert not pid_alive(fg_row["pid"])
        assert [r["kind"] for r in ledger.rows.values()] == ["background"]

        await PROCESS.run({"action": "kill", "id": bg["proc_id"]}, ctx)
        assert ledger.rows == {}
        assert await TERMINAL.run({"command": "true"}, ctx)
        assert ledger.rows == {}  # a finished foreground command leaves no record
    finally:
        await manager.shutdown()


async def test_a_failing_ledger_never_stops_a_command(tmp_path: Path) -> None:
    class Broken(MemoryLedger):
        async def started(self, record: ProcRecord) -> int:
            raise sqlite3.OperationalError("database is locked")

    manager = ProcessManager(ledger=Broken())
    ctx = make_ctx(tmp_path, processes=manager)
    try:
        out = await TERMINAL.run({"command": "echo still runs"}, ctx)
        assert "still runs" in out
    finally:
        await manager.shutdown()


# ----- ending leftovers: ours only ---------------------------------------------------------


async def test_a_leftover_group_is_killed_children_too(
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    proc = spawn(spawned, "sleep 300 & sleep 300")
    await wait_until(lambda: len(live_members(proc.pid)) >= 2)
    ticks = start_ticks(proc.pid)
    assert await end_leftover(proc.pid, ticks, boot_id()) == "killed"
    assert live_members(proc.pid) == []


async def test_a_group_whose_leader_ended_is_still_found(
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    proc = spawn(spawned, "sleep 300 & exit 0")
    ticks = start_ticks(proc.pid)
    proc.wait(10)  # the leader is gone (reaped); its child still runs in the group
    await wait_until(lambda: len(live_members(proc.pid)) == 1)
    assert await end_leftover(proc.pid, ticks, boot_id()) == "killed"
    assert live_members(proc.pid) == []


async def test_sigterm_ignored_means_sigkill_after_the_grace(
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    proc = spawn(spawned, "trap '' TERM; exec sleep 300")
    cmdline = Path(f"/proc/{proc.pid}/cmdline")
    await wait_until(lambda: cmdline.read_bytes().startswith(b"sleep"))  # trap set, then exec
    began = time.monotonic()
    state = await end_leftover(proc.pid, start_ticks(proc.pid), boot_id(), grace=0.3)
    assert state == "killed" and live_members(proc.pid) == []
    assert 0.3 <= time.monotonic() - began < 2


async def test_a_recycled_pid_or_another_boot_is_left_alone(
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    proc = spawn(spawned, "exec sleep 300")
    await wait_until(lambda: start_ticks(proc.pid) is not None)
    ticks = start_ticks(proc.pid)
    assert ticks is not None
    assert await end_leftover(proc.pid, ticks - 1, boot_id()) == "gone"  # another process
    assert await end_leftover(proc.pid, ticks, "another-boot") == "gone"
    assert await end_leftover(proc.pid, None, None) == "unknown"  # recorded without /proc
    assert pid_alive(proc.pid)


async def test_the_gateway_ends_leftovers_at_start(
    tmp_path: Path, model: ScriptedModel, spawned: list[subprocess.Popen[bytes]]
) -> None:
    """Records a dead gateway left: ours are killed, a recycled pid is not, and a
    background process stays known to the `process` tool."""
    home = make_home(tmp_path / "home", model)
    ours = spawn(spawned, "exec sleep 302")
    stranger = spawn(spawned, "exec sleep 303")  # got a recorded pid "by recycling"
    await wait_until(lambda: None not in (start_ticks(ours.pid), start_ticks(stranger.pid)))
    store = await Store.open(home / "state.db")
    try:
        for proc, ticks, proc_id in (
            (ours, start_ticks(ours.pid), "proc_0a0b0c"),
            (stranger, (start_ticks(stranger.pid) or 0) - 5, None),
        ):
            await store.run(
                leftover_ops.add_process,
                proc.pid,
                proc.pid,
                ticks,
                boot_id(),
                f"sleep {proc.pid}",
                str(home),
                "background" if proc_id else "foreground",
                proc_id,
                "old-session",
                time.time() - 60,
            )
    finally:
        await store.close()
    async with running_gateway(home) as gw:
        assert not pid_alive(ours.pid)
        assert pid_alive(stranger.pid)
        ctx = make_ctx(home, processes=gw.processes)
        listed = await PROCESS.run({"action": "list"}, ctx)
        assert listed.startswith("proc_0a0b0c: killed after 60s") and f"pid {ours.pid}" in listed
        polled = await PROCESS.run({"action": "poll", "id": "proc_0a0b0c"}, ctx)
        assert "was still running and was killed at the restart" in polled
    with sqlite3.connect(home / "state.db") as conn:  # no resumed turn to tell: forgotten
        assert conn.execute("SELECT COUNT(*) FROM tool_processes").fetchone() == (0,)


# ----- a real gateway, SIGKILLed mid-turn -------------------------------------------------


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


def ledger(home: Path) -> list[tuple[int, str, str, str]]:
    with sqlite3.connect(home / "state.db") as conn:
        rows = conn.execute("SELECT pid, kind, command, status FROM tool_processes").fetchall()
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


def running(command: str) -> list[int]:
    """Pids whose command line is exactly `command` (split at spaces)."""
    wanted = command.split(" ")
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                args = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
                if [a.decode() for a in args] == wanted and pid_alive(int(entry.name)):
                    pids.append(int(entry.name))
    return pids


@pytest.fixture
async def strays() -> AsyncIterator[list[int]]:
    """Pids a failed test might leave running: killed after it."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


async def test_sigkill_mid_turn_leaves_no_process_and_no_stray_draft(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram, strays: list[int]
) -> None:
    home = make_home(
        tmp_path / "home",
        model,
        {"server": {"port": 0}, "telegram": {"base_url": telegram.base_url}},
        {"TELEGRAM_BOT_TOKEN": TOKEN, "HERMES_API_KEY": "k", "TELEGRAM_ALLOWED_USERS": str(CHAT)},
    )
    tag = 1000 + uuid.uuid4().int % 9000  # sleep lengths no other test uses
    background, foreground = f"sleep {tag}", f"sleep {tag + 1}"
    model.tool_call("terminal", {"command": background, "background": True})
    model.tool_call("terminal", {"command": foreground})
    gw = await GatewayProcess(home).ready()
    telegram.user_says(CHAT, "start the jobs", user_id=CHAT)
    await wait_until(lambda: len(ledger(home)) == 2, 30, lambda: f"{ledger(home)}\n{gw.log()}")
    strays.extend(pid for pid, *_ in ledger(home))
    drafted = lambda: any(f"⚙ terminal: {foreground}" in t for t in shown(telegram))  # noqa: E731
    await wait_until(drafted, 30, lambda: str(shown(telegram)))
    pids = {kind: pid for pid, kind, _, _ in ledger(home)}
    await gw.stop(signal.SIGKILL)
    assert pid_alive(pids["foreground"]) and pid_alive(pids["background"])  # orphans now

    model.reply("Both jobs were stopped by the restart.")
    gw = await GatewayProcess(home).ready()
    answered = lambda: "Both jobs were stopped by the restart." in shown(telegram)  # noqa: E731
    await wait_until(answered, 30, lambda: f"{shown(telegram)}\n{gw.log()}")
    assert not pid_alive(pids["foreground"]) and not pid_alive(pids["background"])
    assert running(foreground) == [] and running(background) == []  # and no second copy
    assert ledger(home) == []
    # the resumed turn was told what became of the interrupted call's process
    assert len(model.requests) == 3
    results = [m["content"] for m in model.requests[2].messages if m["role"] == "tool"]
    assert results[0].startswith("Started background process")
    assert results[1] == (
        "[not finished: the gateway restarted while this ran; its process "
        f"(pid {pids['foreground']}, `{foreground}`) was still running and was killed at "
        "the restart. Check the state before repeating it]"
    )
    # the stray draft no longer shows the tool that was running
    texts = shown(telegram)
    assert not any("⚙ terminal" in t for t in texts), texts
    assert "⏹ Interrupted by a restart; continued below." in texts
    log = gw.log()
    assert f"pid {pids['foreground']}, `{foreground}`) was still running and was killed" in log
    assert await gw.stop() == 0


def shown(telegram: FakeTelegram) -> list[str]:
    return list(telegram.messages_in(CHAT).values())
