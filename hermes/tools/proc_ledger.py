"""The ledger of the process groups tools start, and the ending of those a dead
process left behind.

A ProcessManager (process.py) given a `ProcessLedger` (the gateway's, in
state.db: hermes/gateway/leftovers.py) records every process group a tool
starts, foreground or background, and removes the record when it ends: what
is still recorded at the next start was left behind by a process that died
(SIGKILL, power loss), and `end_leftover` kills it. Identity is the pid plus
the process's start time (/proc/PID/stat) and the boot id, so a pid recycled
after a reboot or by another program is never signalled.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

LEFTOVER_GRACE = 2.0  # seconds a leftover group gets between SIGTERM and SIGKILL
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcRecord:
    """A process group a tool started; its leader's pid is the pgid (it runs in a
    session of its own). `start_ticks` and `boot_id` tell it from a recycled pid."""

    pid: int
    start_ticks: int | None
    boot_id: str | None
    command: str
    cwd: str
    kind: Literal["foreground", "background"]
    proc_id: str | None  # the process tool's id (background only)
    session_id: str | None


class ProcessLedger(Protocol):
    """Where a manager records the process groups tools start (the gateway passes
    state.db's: hermes/gateway/leftovers.py). Both calls may raise; the manager
    logs that and goes on (a process is never refused for want of a record)."""

    async def started(self, record: ProcRecord) -> int:
        """Record a group that started; returns a key."""
        ...

    async def ended(self, key: int) -> None:
        """The group recorded under `key` ended."""
        ...


def boot_id() -> str | None:
    """This boot's id (Linux), or None where the system does not say."""
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state first), or None if there is no such process."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    return text.rsplit(")", 1)[1].split()


def start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (None: gone, or no /proc)."""
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`."""
    members = []
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields and len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


LeftoverState = Literal["killed", "gone", "unknown"]


async def end_leftover(
    pid: int,
    start_ticks_then: int | None,
    boot_then: str | None,
    *,
    grace: float = LEFTOVER_GRACE,
) -> LeftoverState:
    """End what is left of a process group recorded by a process that died.

    "killed": our group was still running; it got SIGTERM, then SIGKILL after
    `grace` seconds. "gone": nothing of it runs (it ended, the machine rebooted,
    or the pid now belongs to another program, which is left alone). "unknown":
    this system cannot tell ours from a recycled pid (no /proc): nothing is sent.
    """
    now_boot = boot_id()
    if boot_then is None or start_ticks_then is None or now_boot is None:
        return "unknown"
    if now_boot != boot_then:
        return "gone"  # rebooted since: nothing of it survived
    leader = start_ticks(pid)
    if leader is not None and leader != start_ticks_then:
        return "gone"  # the pid was recycled (which means our group ended before)
    # The leader runs as we recorded it, or it exited and members of its group may
    # remain: a pid is not reused while a group of that id exists.
    if leader is None and not group_members(pid):
        return "gone"
    loop = asyncio.get_running_loop()
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return "killed" if sig == signal.SIGKILL else "gone"
        except PermissionError:
            return "unknown"
        deadline = loop.time() + wait
        while True:  # not our children: nothing to wait on but /proc
            if not group_members(pid):
                return "killed"
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.05)
    return "killed"
