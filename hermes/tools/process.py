"""The manager of a profile's background processes (bounded output,
poll/log/wait/kill, events); each runs on a terminal backend (hermes/backends/)
in its own process group, and the manager holds the profile's backends.

Output (stdout and stderr merged) is pushed to a callback as it arrives, so a
process that keeps running never blocks a reader; the manager keeps the last
`buffer_chars` characters of each background process.

A manager given a `ProcessLedger` (the gateway's, in state.db) records every
process group a tool starts, foreground or background, and removes the record
when it ends, so that what a dead gateway left can be killed at its next start
(proc_ledger.py).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hermes.aio import wait_event
from hermes.backends.base import KILL_GRACE, Backend, Process
from hermes.backends.pool import Backends
from hermes.errors import ToolError
from hermes.tools.proc_ledger import ProcessLedger, ProcRecord, boot_id, start_ticks

log = logging.getLogger(__name__)

MAX_PROCESSES = 16  # background processes running at once, per manager
MAX_RECORDS = 64  # finished processes are forgotten (oldest first) past this
BUFFER_CHARS = 200_000  # output kept per background process

Status = Literal["running", "exited", "killed"]


class OutputBuffer:
    """The last `limit` characters written, plus the running total."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._chunks: deque[str] = deque()
        self._size = 0

    def write(self, text: str) -> None:
        self.total += len(text)
        self._chunks.append(text)
        self._size += len(text)
        while self._size > self.limit:
            excess = self._size - self.limit
            first = self._chunks[0]
            if len(first) <= excess:
                self._chunks.popleft()
                self._size -= len(first)
            else:
                self._chunks[0] = first[excess:]
                self._size -= excess

    @property
    def dropped(self) -> int:
        """Characters written but no longer kept."""
        return self.total - self._size

    def text(self) -> str:
        return "".join(self._chunks)

    def since(self, offset: int) -> tuple[str, int]:
        """Output after absolute position `offset`, and how much of it was dropped."""
        start = self.dropped
        return self.text()[max(0, offset - start) :], max(0, start - offset)


@dataclass(frozen=True)
class ProcInfo:
    id: str
    command: str
    cwd: str
    pid: int
    status: Status
    exit_code: int | None  # negative: killed by that signal
    started_at: float
    ended_at: float | None
    output_chars: int  # total output so far
    session_id: str | None = None  # the session that started it

    @property
    def runtime(self) -> float:
        return (self.ended_at or time.time()) - self.started_at


@dataclass(frozen=True)
class ProcessEvent:
    kind: Literal["started", "output", "exited"]
    info: ProcInfo
    text: str = ""  # the new output, for kind="output"


@dataclass(frozen=True)
class Poll:
    info: ProcInfo
    output: str  # output since the previous poll
    missed: int  # characters of it that fell out of the buffer


Listener = Callable[[ProcessEvent], None]


class _Proc:
    def __init__(self, proc_id: str, command: str, cwd: Path, session_id: str | None, limit: int):
        self.pid = 0  # set when the shell started (or for a leftover, as recorded)
        self.id = proc_id
        self.command = command
        self.cwd = cwd
        self.session_id = session_id
        self.buffer = OutputBuffer(limit)
        self.cursor = 0
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.killed = False
        self.done = asyncio.Event()
        self.spawned = asyncio.Event()  # the shell started (or failed to): kill can act
        self.shell: Process | None = None

    def info(self) -> ProcInfo:
        shell = self.shell
        code = shell.returncode if shell and self.done.is_set() else None
        status: Status = "running"
        if self.done.is_set():
            status = "killed" if self.killed else "exited"
        return ProcInfo(
            self.id,
            self.command,
            str(self.cwd),
            shell.pid if shell else self.pid,
            status,
            code,
            self.started_at,
            self.ended_at,
            self.buffer.total,
            self.session_id,
        )


class ProcessManager:
    """The background processes of one profile. Call shutdown() when done."""

    def __init__(
        self,
        *,
        max_processes: int = MAX_PROCESSES,
        buffer_chars: int = BUFFER_CHARS,
        kill_grace: float = KILL_GRACE,
        ledger: ProcessLedger | None = None,
        backends: Backends | None = None,
    ) -> None:
        # the terminal backends of the turns this manager serves (TurnContext.backend)
        self.backends = backends or Backends()
        self.max_processes = max_processes
        self.buffer_chars = buffer_chars
        self.kill_grace = kill_grace
        self.ledger = ledger
        self._procs: dict[str, _Proc] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` on every event (started, output, exited); returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: ProcessEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("process listener failed on %s", event.kind)

    def _running(self) -> int:
        return sum(1 for p in self._procs.values() if not p.done.is_set())

    def _forget_old(self) -> None:
        finished = [p for p in self._procs.values() if p.done.is_set()]
        for p in finished[: max(0, len(self._procs) - MAX_RECORDS + 1)]:
            del self._procs[p.id]

    async def start(
        self,
        command: str,
        cwd: Path,
        env: dict[str, str],
        *,
        session_id: str | None = None,
        backend: Backend | None = None,
    ) -> ProcInfo:
        """Start COMMAND in the background on BACKEND (default: this machine)."""
        if self._running() >= self.max_processes:
            raise ToolError(
                f"too many background processes: {self.max_processes} are running, which is "
                "the limit; kill one with process(action='kill') or wait for one to exit"
            )
        self._forget_old()
        proc_id = f"proc_{secrets.token_hex(3)}"
        while proc_id in self._procs:
            proc_id = f"proc_{secrets.token_hex(3)}"
        proc = _Proc(proc_id, command, cwd, session_id, self.buffer_chars)

        early: list[str] | None = []  # output before "started" is announced waits for it

        def on_output(text: str) -> None:
            proc.buffer.write(text)
            if early is not None:
                early.append(text)
            else:
                self._emit(ProcessEvent("output", proc.info(), text))

        self._procs[proc_id] = proc  # counts as running from here: concurrent starts see it
        try:
            if backend is None:
                from hermes.backends.local import LocalBackend

                backend = LocalBackend(cwd, Path(env.get("HOME") or Path.home()))
            proc.shell = await backend.start(command, on_output=on_output, cwd=cwd, env=env)
        except BaseException:
            del self._procs[proc_id]
            raise
        finally:
            proc.spawned.set()
        key = await self._record(proc.shell, command, cwd, "background", session_id, proc_id)
        task = asyncio.create_task(self._watch(proc, proc.shell, key), name=f"hermes-{proc_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        info = proc.info()
        self._emit(ProcessEvent("started", info))
        held, early = early, None
        if held:
            self._emit(ProcessEvent("output", proc.info(), "".join(held)))
        return info

    async def _watch(self, proc: _Proc, shell: Process, key: int | None) -> None:
        try:
            await shell.wait()
            await shell.drain()
        finally:
            shell.close()
            await asyncio.shield(self._unrecord(key))
            proc.ended_at = time.time()
            proc.done.set()
            self._emit(ProcessEvent("exited", proc.info()))

    async def _record(
        self,
        shell: Process,
        command: str,
        cwd: Path,
        kind: Literal["foreground", "background"],
        session_id: str | None,
        proc_id: str | None = None,
    ) -> int | None:
        pid = shell.local_pid
        if self.ledger is None or pid is None:  # only this machine's processes are recorded
            return None
        try:
            record = ProcRecord(
                pid=pid,
                start_ticks=start_ticks(pid),  # our child: its pid cannot be reused yet
                boot_id=boot_id(),
                command=command,
                cwd=str(cwd),
                kind=kind,
                proc_id=proc_id,
                session_id=session_id,
            )
            return await self.ledger.started(record)
        except Exception:
            log.exception("could not record process %d (%s)", pid, kind)
            return None

    async def _unrecord(self, key: int | None) -> None:
        if self.ledger is None or key is None:
            return
        try:
            await self.ledger.ended(key)
        except Exception:
            log.exception("could not record the end of process record %d", key)

    @contextlib.asynccontextmanager
    async def recorded(
        self, shell: Process, command: str, cwd: Path, session_id: str | None
    ) -> AsyncIterator[None]:
        """Keep a foreground command's group in the ledger while the block runs
        (the block must not leave it running)."""
        key = await self._record(shell, command, cwd, "foreground", session_id)
        try:
            yield
        finally:
            await asyncio.shield(self._unrecord(key))

    def remember(
        self,
        proc_id: str,
        command: str,
        cwd: str,
        pid: int,
        started_at: float,
        session_id: str | None,
        note: str,
    ) -> None:
        """Know a background process of an earlier run that is over now (killed
        as a leftover at start), so `process` can say what became of it."""
        if proc_id in self._procs:
            return
        proc = _Proc(proc_id, command, Path(cwd), session_id, self.buffer_chars)
        proc.pid = pid
        proc.started_at = started_at
        proc.ended_at = time.time()
        proc.killed = True
        proc.buffer.write(note + "\n")
        proc.done.set()
        proc.spawned.set()
        self._procs[proc_id] = proc
        self._forget_old()

    def _get(self, proc_id: str) -> _Proc:
        proc = self._procs.get(proc_id)
        if proc is None:
            known = ", ".join(self._procs) or "none"
            raise ToolError(f"no background process {proc_id!r} (known: {known})")
        return proc

    def info(self, proc_id: str) -> ProcInfo:
        return self._get(proc_id).info()

    def list(self) -> builtins.list[ProcInfo]:
        return [p.info() for p in self._procs.values()]

    def poll(self, proc_id: str) -> Poll:
        """Status plus the output since the previous poll (or wait)."""
        proc = self._get(proc_id)
        info = proc.info()
        text, missed = proc.buffer.since(proc.cursor)
        proc.cursor = proc.buffer.total
        return Poll(info, text, missed)

    def log(self, proc_id: str, tail: int | None = None) -> tuple[ProcInfo, str, int]:
        """Status, the last `tail` characters kept (all if None), and how many came before."""
        proc = self._get(proc_id)
        text = proc.buffer.text()
        if tail is not None and len(text) > tail:
            text = text[len(text) - tail :]
        return proc.info(), text, proc.buffer.total - len(text)

    async def wait(self, proc_id: str, seconds: float) -> Poll:
        """Return when the process exits or `seconds` pass (check info.status), like poll."""
        proc = self._get(proc_id)
        await wait_event(proc.done, seconds)
        return self.poll(proc_id)

    async def kill(self, proc_id: str) -> ProcInfo:
        """SIGTERM the process group, SIGKILL after the grace period; wait for the end."""
        proc = self._get(proc_id)
        await proc.spawned.wait()  # a process still starting is killed once it runs
        if not proc.done.is_set() and proc.shell is not None:
            proc.killed = True
            await proc.shell.terminate(self.kill_grace)
            await proc.done.wait()
        return proc.info()

    async def kill_session(self, session_id: str) -> int:
        """Kill the running processes a session started; how many."""
        running = [
            p.id for p in self.list() if p.session_id == session_id and p.status == "running"
        ]
        for proc_id in running:
            await self.kill(proc_id)
        return len(running)

    async def shutdown(self) -> None:
        """Kill every running process and end every task this manager started."""
        running = [p.id for p in self._procs.values() if not p.done.is_set()]
        await asyncio.gather(*(self.kill(i) for i in running), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.backends.close()
