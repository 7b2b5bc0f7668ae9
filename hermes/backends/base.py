"""The terminal backend interface: where the agent's commands run and its files
live. The tools (terminal, process, the file tools, search) and the approval
gate only ever talk to a `Backend`; none of them knows which one it is.

A backend holds one environment (one per profile, or per session with
`terminal.scope: session`): its tracked working directory `cwd`, a lock for
read-modify-write file edits, and whatever connection it needs. Paths are
POSIX paths *inside* that environment (held in `Path` objects, but only a
backend ever touches the disk they name). File methods raise OSError
subclasses (FileNotFoundError, IsADirectoryError, PermissionError) like the
os module does, whatever the backend; a backend that cannot reach its
environment at all raises BackendError, whose message says how to fix it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, ClassVar, Literal

from hermes.aio import within
from hermes.errors import ToolError

if TYPE_CHECKING:
    from hermes.context import Profile
    from hermes.risk.model import Probe

Kind = Literal["file", "dir", "link", "other"]  # other: a pipe, socket or device
Command = str | Sequence[str]  # a shell line (run by bash -c) or an argv
OnOutput = Callable[[str], None]
KILL_GRACE = 3.0  # seconds between SIGTERM and SIGKILL
DRAIN_SECONDS = 0.5  # after exit, how long to wait for the last output


def group_kill_line(pid: int, sig: int) -> str:
    """The POSIX shell line that sends SIG to process group PID, quietly (dash's
    `kill` takes `-SIG -PGID`, not `--`); exit 0 when it was delivered."""
    return f"kill -{int(sig)} -{int(pid)} 2>/dev/null"


class BackendError(ToolError):
    """The environment cannot be reached (or set up); the message says how to fix it."""


@dataclass(frozen=True)
class FileStat:
    kind: Kind  # after following symlinks: file, dir or other
    size: int
    mode: int  # permission bits
    mtime: float


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the directory listed or walked
    kind: Kind  # without following symlinks


@dataclass(frozen=True)
class Completed:
    returncode: int  # negative: killed by that signal
    stdout: bytes
    stderr: bytes
    timed_out: bool = False


@dataclass(frozen=True)
class Reach:
    """What the approval gate needs to know about where a backend's paths live."""

    description: str  # "this machine", "ssh deploy@build.example.com:22"
    home: Path  # the user's home directory in that environment
    host_paths: bool  # True: the paths are this machine's own files
    probe: Probe | None  # looks at the environment's disk (symlinks, existing files)


class Process(ABC):
    """A command started by a backend: its whole process tree is signalled together."""

    pid: int  # as the environment knows it (the process group's id)
    local_pid: int | None = None  # a process of this machine (for the process ledger)

    @property
    @abstractmethod
    def returncode(self) -> int | None:
        """The exit code once the command ended (negative: killed by that signal)."""

    @abstractmethod
    async def wait(self) -> int:
        """Wait for the command itself to end (children it left may still run)."""

    @abstractmethod
    async def drain(self, seconds: float = DRAIN_SECONDS) -> bool:
        """Wait until nothing holds the output open; False after `seconds`."""

    @abstractmethod
    async def signal(self, sig: int) -> None:
        """Send `sig` to the command and every process of its group."""

    @abstractmethod
    def close(self) -> None:
        """Stop reading output (leftover children's later writes fail)."""

    async def terminate(self, grace: float = KILL_GRACE) -> None:
        """SIGTERM the whole tree, SIGKILL it after `grace` seconds; wait for the end."""
        await self.signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await within(self.wait(), grace)
        await self.signal(signal.SIGKILL)  # children that ignored SIGTERM or outlived it
        await self.wait()

    async def settle(self, timeout: float | None) -> bool:  # noqa: ASYNC109 - it kills
        """Wait for the command (its tree terminated after TIMEOUT seconds) and for its
        last output; True if it timed out. Killed if the wait itself is cancelled."""
        timed_out = False
        try:
            try:
                await within(self.wait(), timeout)
            except TimeoutError:
                timed_out = True
                await self.terminate(grace=1.0)
            await self.drain()
        except BaseException:
            await self.kill()
            raise
        return timed_out

    async def kill(self) -> None:
        """SIGKILL the tree at once and stop reading (idempotent; never raises)."""
        with contextlib.suppress(Exception):
            await asyncio.shield(self.signal(signal.SIGKILL))
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await within(self.wait(), 2.0)
        self.close()


class Backend(ABC):
    """One execution environment. See the module docstring and docs/backends.md."""

    name: ClassVar[str]

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd  # where the next command starts: the terminal tool tracks `cd`
        self.edit_lock = asyncio.Lock()  # held across each read-modify-write of a file

    @classmethod
    @abstractmethod
    def from_profile(cls, profile: Profile, scope: str) -> Backend:
        """The backend as the profile's settings describe it; `scope` is "profile"
        or the session id (terminal.scope: session). Must not do I/O."""

    # ----- life cycle (no-ops where a backend has nothing to do) -------------

    async def open(self) -> None:  # noqa: B027 - a no-op unless overridden
        """Connect / create the environment; cheap when already open. Every other
        method may call it."""

    async def close(self) -> None:  # noqa: B027 - a no-op unless overridden
        """Let go of connections; the environment itself may persist."""

    async def suspend(self) -> None:  # noqa: B027 - a no-op unless overridden
        """Hibernate the environment where the backend can (it wakes on the next use)."""

    async def resume(self) -> None:  # noqa: B027 - a no-op unless overridden
        """Wake a suspended environment."""

    @abstractmethod
    def where(self) -> Reach:
        """Where paths live, for the approval gate (valid after open())."""

    async def check(self) -> str:
        """For `hermes doctor`: connect and run `true`; returns what was reached,
        raises BackendError saying how to fix it."""
        await self.open()
        done = await self.run("true", timeout=30)  # the shell's builtin: no PATH needed
        if done.returncode != 0:
            raise BackendError(f"`true` failed with exit code {done.returncode}")
        return self.where().description

    # ----- processes ---------------------------------------------------------

    @abstractmethod
    async def start(
        self,
        command: Command,
        *,
        on_output: OnOutput,
        on_stderr: OnOutput | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> Process:
        """Start COMMAND in its own process group in `cwd` (default self.cwd).
        Output is pushed to `on_output` as it arrives; stderr goes there too unless
        `on_stderr` is given. `stdin` is fed then closed (None: empty). `env` is
        the turn's environment: the local backend runs with exactly it, a remote
        one sets the variables that are not about this machine (PATH, HOME, ...)."""

    async def run(
        self,
        command: Command,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - it kills the command, not only the wait
    ) -> Completed:
        """Run COMMAND to the end and collect its output; after `timeout` seconds
        its tree is killed and `timed_out` set."""
        out: list[str] = []
        err: list[str] = []
        proc = await self.start(
            command, on_output=out.append, on_stderr=err.append, cwd=cwd, env=env, stdin=stdin
        )
        timed_out = await proc.settle(timeout)
        proc.close()
        code = proc.returncode
        return Completed(
            -1 if code is None else code,
            "".join(out).encode("utf-8"),
            "".join(err).encode("utf-8"),
            timed_out,
        )

    # ----- files -------------------------------------------------------------

    @abstractmethod
    async def read_bytes(self, path: Path, limit: int | None = None) -> bytes:
        """The file's bytes (the first `limit` of them when given)."""

    async def open_read(self, path: Path) -> BinaryIO:
        """A readable binary file object of the file (reading it may block: do that
        in a thread). A remote backend fetches the file; the local one streams it."""
        return io.BytesIO(await self.read_bytes(path))

    @abstractmethod
    async def write_bytes(self, path: Path, data: bytes) -> None:
        """Replace the file in one step (a temp file renamed over it), creating
        missing parent directories; a symlink's target is written, an existing
        file keeps its permission bits (new ones get 0644)."""

    @abstractmethod
    async def stat(self, path: Path) -> FileStat | None:
        """What is at `path` (following symlinks), or None when nothing is."""

    @abstractmethod
    async def exists(self, path: Path) -> bool:
        """Whether anything is at `path`, a dangling symlink too."""

    @abstractmethod
    async def realpath(self, path: Path) -> str:
        """The path with symlinks resolved (missing parts kept as they are)."""

    @abstractmethod
    async def mkdir(self, path: Path) -> None:
        """Create the directory and its parents (fine when it exists)."""

    @abstractmethod
    async def listdir(self, path: Path) -> list[Entry]:
        """The directory's entries, sorted by name."""

    @abstractmethod
    async def walk(
        self, base: Path, skip_dirs: frozenset[str], most: int
    ) -> tuple[list[Entry], bool]:
        """Every non-directory under `base` (not following directory links,
        not entering directories named in `skip_dirs`), paths relative to `base`
        in sorted walk order; at most `most`, and whether that is all of them."""

    async def read_many(self, paths: Sequence[Path], max_bytes: int) -> list[bytes | None]:
        """Each path's bytes, or None when it is not a regular file, is bigger than
        `max_bytes` or cannot be read (search reads many files in one go)."""
        found: list[bytes | None] = []
        for path in paths:
            st = await self.stat(path)
            if st is None or st.kind != "file" or st.size > max_bytes:
                found.append(None)
                continue
            try:
                found.append(await self.read_bytes(path))
            except OSError:
                found.append(None)
        return found
