"""Shell processes: one `bash -c` in its own process group, and the manager of
a profile's background processes (bounded output, poll/log/wait/kill, events).

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
import codecs
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hermes.errors import ToolError
from hermes.tools.proc_ledger import ProcessLedger, ProcRecord, boot_id, start_ticks

log = logging.getLogger(__name__)

MAX_PROCESSES = 16  # background processes running at once, per manager
MAX_RECORDS = 64  # finished processes are forgotten (oldest first) past this
BUFFER_CHARS = 200_000  # output kept per background process
KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL
DRAIN_SECONDS = 0.5  # after exit, how long to wait for the last output

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


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, on_output: Callable[[str], None]) -> None:
        self._on_output = on_output
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.exited = asyncio.Event()  # the shell itself ended
        self.closed = asyncio.Event()  # every pipe closed (no more output)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            self._on_output(text)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self._on_output(tail)

    def process_exited(self) -> None:
        self.exited.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


def _shell() -> str:
    return "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"


class ShellProcess:
    """`bash -c COMMAND` in a new session (its own process group); stdin is /dev/null."""

    def __init__(self, transport: asyncio.SubprocessTransport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self.pid = transport.get_pid()

    @classmethod
    async def start(
        cls, command: str, cwd: Path, env: dict[str, str], on_output: Callable[[str], None]
    ) -> ShellProcess:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _Protocol(on_output),
                _shell(),
                "-c",
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            if str(exc.filename) == str(cwd):
                raise ToolError(
                    f"working directory {cwd}: {exc.strerror}; create it first"
                ) from exc
            raise ToolError(f"could not start the command in {cwd}: {exc.strerror}") from exc
        return cls(transport, protocol)

    @property
    def returncode(self) -> int | None:
        return self._transport.get_returncode()

    async def wait(self) -> int:
        """Wait for the shell to exit (children it left behind may still run)."""
        await self._protocol.exited.wait()
        code = self.returncode
        return -1 if code is None else code

    async def drain(self, seconds: float = DRAIN_SECONDS) -> bool:
        """Wait until no process holds the output open; False after `seconds`."""
        try:
            await asyncio.wait_for(self._protocol.closed.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def terminate(self, grace: float = KILL_GRACE) -> None:
        """SIGTERM the whole group, then SIGKILL it after `grace` seconds."""
        self.signal_group(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._protocol.exited.wait(), grace)
        self.signal_group(signal.SIGKILL)  # children that ignored SIGTERM or outlived the shell
        await self._protocol.exited.wait()

    def close(self) -> None:
        """Stop reading output (later writes by leftover children get EPIPE)."""
        self._transport.close()


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
        self.shell: ShellProcess | None = None

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
    ) -> None:
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
        self, command: str, cwd: Path, env: dict[str, str], *, session_id: str | None = None
    ) -> ProcInfo:
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

        def on_output(text: str) -> None:
            proc.buffer.write(text)
            self._emit(ProcessEvent("output", proc.info(), text))

        self._procs[proc_id] = proc  # counts as running from here: concurrent starts see it
        try:
            proc.shell = await ShellProcess.start(command, cwd, env, on_output)
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
        return info

    async def _watch(self, proc: _Proc, shell: ShellProcess, key: int | None) -> None:
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
        shell: ShellProcess,
        command: str,
        cwd: Path,
        kind: Literal["foreground", "background"],
        session_id: str | None,
        proc_id: str | None = None,
    ) -> int | None:
        if self.ledger is None:
            return None
        try:
            record = ProcRecord(
                pid=shell.pid,
                start_ticks=start_ticks(shell.pid),  # our child: its pid cannot be reused yet
                boot_id=boot_id(),
                command=command,
                cwd=str(cwd),
                kind=kind,
                proc_id=proc_id,
                session_id=session_id,
            )
            return await self.ledger.started(record)
        except Exception:
            log.exception("could not record process %d (%s)", shell.pid, kind)
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
        self, shell: ShellProcess, command: str, cwd: Path, session_id: str | None
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
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.done.wait(), seconds)
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

    async def shutdown(self) -> None:
        """Kill every running process and end every task this manager started."""
        running = [p.id for p in self._procs.values() if not p.done.is_set()]
        await asyncio.gather(*(self.kill(i) for i in running), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
