"""The local backend: commands run on this machine (`bash -c` in a session of
its own), files are this machine's files. File work runs in a thread so the
event loop stays free."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import stat as statmod
import subprocess
import tempfile
import threading
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from hermes.aio import wait_event
from hermes.approvals.probe import LocalProbe
from hermes.backends.base import (
    DRAIN_SECONDS,
    Backend,
    Command,
    Entry,
    FileStat,
    Kind,
    OnOutput,
    Process,
    Reach,
)
from hermes.context import Profile
from hermes.errors import ToolError


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, on_output: OnOutput, on_stderr: OnOutput, stdin: bytes | None) -> None:
        self._streams = {1: on_output, 2: on_stderr}
        self._decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in (1, 2)}
        self._stdin = stdin
        self.exited = asyncio.Event()  # the shell itself ended
        self.closed = asyncio.Event()  # every pipe closed (no more output)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._stdin is None:
            return
        assert isinstance(transport, asyncio.SubprocessTransport)
        pipe = transport.get_pipe_transport(0)
        if isinstance(pipe, asyncio.WriteTransport):
            pipe.write(self._stdin)
            pipe.close()  # the command sees end of file after the data

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        text = self._decoders[fd].decode(data)
        if text:
            self._streams[fd](text)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd in self._decoders:
            tail = self._decoders[fd].decode(b"", final=True)
            if tail:
                self._streams[fd](tail)

    def process_exited(self) -> None:
        self.exited.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


def shell() -> str:
    return "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"


class LocalProcess(Process):
    """A command in a new session (its own process group) on this machine."""

    def __init__(self, transport: asyncio.SubprocessTransport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self.pid = transport.get_pid()
        self.local_pid = self.pid

    @property
    def returncode(self) -> int | None:
        return self._transport.get_returncode()

    async def wait(self) -> int:
        await self._protocol.exited.wait()
        code = self.returncode
        return -1 if code is None else code

    async def drain(self, seconds: float = DRAIN_SECONDS) -> bool:
        return await wait_event(self._protocol.closed, seconds)

    async def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def close(self) -> None:
        self._transport.close()


def _kind(mode: int) -> Kind:
    if statmod.S_ISLNK(mode):
        return "link"
    if statmod.S_ISDIR(mode):
        return "dir"
    return "file" if statmod.S_ISREG(mode) else "other"


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step (a temp file renamed over it)."""
    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _stat(path: Path) -> FileStat | None:
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return FileStat(_kind(st.st_mode), st.st_size, st.st_mode & 0o7777, st.st_mtime)


def _read(path: Path, limit: int | None) -> bytes:
    with path.open("rb") as f:
        return f.read() if limit is None else f.read(limit)


def _listdir(path: Path) -> list[Entry]:
    with os.scandir(path) as it:
        found = [Entry(e.name, _kind(e.stat(follow_symlinks=False).st_mode)) for e in it]
    return sorted(found, key=lambda e: e.path)


def _walk(
    base: Path, skip: frozenset[str], most: int, stop: threading.Event
) -> tuple[list[Entry], bool]:
    found: list[Entry] = []
    for root, dirs, names in os.walk(base):
        if stop.is_set():  # the awaiting call was cancelled
            return found, False
        dirs[:] = sorted(d for d in dirs if d not in skip)
        rel = Path(root).relative_to(base)
        for name in sorted(names):
            if len(found) >= most:
                return found, False
            path = Path(root, name)
            kind: Kind = "link" if path.is_symlink() else "file"
            found.append(Entry((rel / name).as_posix(), kind))
    return found, True


async def _spawn(
    spawning: Coroutine[Any, Any, tuple[asyncio.SubprocessTransport, _Protocol]],
) -> tuple[asyncio.SubprocessTransport, _Protocol]:
    """Start a process that a cancellation cannot cut in half.

    On Python 3.11, a cancel that lands while `subprocess_exec` still connects the
    pipes (the child may already run) kills only the shell and then waits until every
    pipe is closed; a child the shell left holds stdout open, so the caller never ends
    (seen: SIGTERM to `hermes -z` during `sleep 300 & wait`). So the start runs to its
    end in a task of its own, and a cancelled caller has the whole group killed."""
    start = asyncio.ensure_future(spawning)
    try:
        return await asyncio.shield(start)
    except asyncio.CancelledError:
        start.add_done_callback(_kill_group)  # even if the waits below are cancelled too
        await asyncio.wait([start])  # a moment: the pipes connect
        if not start.cancelled() and start.exception() is None:
            await LocalProcess(*start.result()).kill()  # reaped by asyncio, then closed
        raise


def _kill_group(start: asyncio.Future[tuple[asyncio.SubprocessTransport, _Protocol]]) -> None:
    if not start.cancelled() and start.exception() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(start.result()[0].get_pid(), signal.SIGKILL)


class LocalBackend(Backend):
    name = "local"

    def __init__(self, cwd: Path, home: Path) -> None:
        super().__init__(cwd)
        self.home = home

    @classmethod
    def from_profile(cls, profile: Profile, scope: str) -> LocalBackend:
        home = profile.env.get("HOME")
        return cls(profile.workspace, Path(home) if home else Path.home())

    def where(self) -> Reach:
        return Reach("this machine", self.home, True, LocalProbe())

    async def start(
        self,
        command: Command,
        *,
        on_output: OnOutput,
        on_stderr: OnOutput | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> LocalProcess:
        where = cwd or self.cwd
        argv: Sequence[str] = [shell(), "-c", command] if isinstance(command, str) else command
        loop = asyncio.get_running_loop()
        try:
            where.mkdir(parents=True, exist_ok=True)  # the workspace, on first use
            spawning = loop.subprocess_exec(
                lambda: _Protocol(on_output, on_stderr or on_output, stdin),
                *argv,
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if on_stderr is None else subprocess.PIPE,
                cwd=where,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
            transport, protocol = await _spawn(spawning)
        except OSError as exc:
            if str(exc.filename) == str(where):
                raise ToolError(
                    f"working directory {where}: {exc.strerror}; create it first"
                ) from exc
            raise ToolError(f"could not start the command in {where}: {exc.strerror}") from exc
        return LocalProcess(transport, protocol)

    async def read_bytes(self, path: Path, limit: int | None = None) -> bytes:
        return await asyncio.to_thread(_read, path, limit)

    async def open_read(self, path: Path) -> BinaryIO:
        return await asyncio.to_thread(path.open, "rb")

    async def write_bytes(self, path: Path, data: bytes) -> None:
        await asyncio.to_thread(atomic_write, path, data)

    async def stat(self, path: Path) -> FileStat | None:
        return await asyncio.to_thread(_stat, path)

    async def exists(self, path: Path) -> bool:
        return await asyncio.to_thread(os.path.lexists, path)

    async def realpath(self, path: Path) -> str:
        return await asyncio.to_thread(os.path.realpath, path)

    async def mkdir(self, path: Path) -> None:
        await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)

    async def listdir(self, path: Path) -> list[Entry]:
        return await asyncio.to_thread(_listdir, path)

    async def walk(
        self, base: Path, skip_dirs: frozenset[str], most: int
    ) -> tuple[list[Entry], bool]:
        stop = threading.Event()  # a cancelled call must not leave the walk running
        try:
            return await asyncio.to_thread(_walk, base, skip_dirs, most, stop)
        finally:
            stop.set()


BACKEND = LocalBackend
