"""A backend on a remote sandbox reached through an SDK's request/response
`exec` (modal.py, daytona.py): the SDK specifics are a `Box` (run one shell
script, blocking) plus how to create, hibernate, wake and find the sandbox
again (its id is kept in HOME/backends/NAME-SCOPE.json).

`run` (what the file methods use) is one exec under coreutils `timeout`.
`start` detaches the command in the sandbox (`setsid`, its own process group)
with output to files under /tmp/.hermes/procs/ID, and a task owned by the
process polls them (one exec per poll) until the exit code is written or the
group leader is gone; signals are one `kill -SIG -PID` exec."""

from __future__ import annotations

import asyncio
import base64
import codecs
import json
import re
import secrets
import shlex
from abc import abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from hermes.backends.base import (
    DRAIN_SECONDS,
    BackendError,
    Command,
    Completed,
    OnOutput,
    Process,
    Reach,
    group_kill_line,
)
from hermes.backends.idle import IdleTimer
from hermes.backends.shell_files import ShellFilesBackend
from hermes.backends.ssh_process import remote_env

CHUNK = 1 << 20  # output bytes fetched per poll and stream


class Box(Protocol):
    def exec(self, script: str, stdin: bytes | None, timeout: int) -> tuple[int, bytes, bytes]:
        """Run `sh -c SCRIPT` in the sandbox to the end: (exit code, stdout, stderr)."""


def sdk_module(module: str, backend: str) -> Any:
    """The SDK, imported on first use, or a one-line error saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise BackendError(
            f"terminal.backend {backend} needs the {module!r} package: "
            f"pip install 'hermes[{backend}]' (in the venv Hermes runs from)"
        ) from exc


def inner_script(command: Command, cwd: str | None, env: Mapping[str, str]) -> str:
    """The shell text run inside the environment: enter (create) cwd, set the
    turn's variables, run the command."""
    lines = []
    if cwd is not None:
        q = shlex.quote(cwd)
        lines.append(f"cd -- {q} 2>/dev/null || {{ mkdir -p -- {q} && cd -- {q}; }} || exit 126")
    lines += [f"export {k}={shlex.quote(v)}" for k, v in remote_env(env).items()]
    if isinstance(command, str):
        lines.append(
            "if command -v bash >/dev/null 2>&1; then set -- bash --norc; else set -- sh; fi"
        )
        lines.append(f'exec "$@" -c {shlex.quote(command)}')
    else:
        lines.append("exec " + shlex.join(command))
    return "\n".join(lines)


_LAUNCH = r"""D=$1; mkdir -p "$D" || exit 1; : > "$D/out"; : > "$D/err"
if [ "$2" = in ]; then cat > "$D/in"; i=$D/in; else i=/dev/null; fi
if [ "$3" = join ]; then e=$D/out; else e=$D/err; fi
setsid sh -c 'echo $$ > "$1/pid.t"; mv "$1/pid.t" "$1/pid"; sh -c "$2"; echo $? > "$1/code.t"
mv "$1/code.t" "$1/code"' sh "$D" "$4" < "$i" >> "$D/out" 2>> "$e" &
n=0; while [ ! -s "$D/pid" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done; cat "$D/pid"
"""
_POLL = r"""D=$1; c=$(cat "$D/code" 2>/dev/null); p=$(cat "$D/pid" 2>/dev/null)
if [ -z "$c" ]; then s=; [ -n "$p" ] && s=$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)
  if [ -z "$s" ] || [ "$s" = Z ]; then c=gone; fi; fi
printf '%s\n' "$c"
tail -c +$(($2 + 1)) "$D/out" 2>/dev/null | head -c $4 | base64 -w0; echo
tail -c +$(($3 + 1)) "$D/err" 2>/dev/null | head -c $4 | base64 -w0; echo
o=$(stat -c %s "$D/out" 2>/dev/null || echo 0); e=$(stat -c %s "$D/err" 2>/dev/null || echo 0)
if [ -n "$c" ] && [ "$o" -le $(($2 + $4)) ] && [ "$e" -le $(($3 + $4)) ]; then rm -rf -- "$D"; fi"""


class ShellProbe:
    """The approval gate's look at the environment's disk (hermes.risk.model.Probe),
    synchronous (the gate asks from a worker thread): RUN runs one shell line
    there and returns (exit code, stdout)."""

    def __init__(self, run: Callable[[str], tuple[int, bytes]]) -> None:
        self._run = run
        self._real: dict[str, str] = {}  # one probe judges one call: answers are kept

    def realpath(self, path: str) -> str:
        if path not in self._real:
            try:
                code, out = self._run(f"realpath -m -- {shlex.quote(path)}")
            except Exception:
                code, out = 1, b""
            found = out.decode("utf-8", "replace").rstrip("\n")
            self._real[path] = found if code == 0 and found else path
        return self._real[path]

    def exists(self, path: str) -> bool:
        q = shlex.quote(path)
        try:
            return self._run(f"[ -e {q} ] || [ -L {q} ]")[0] == 0
        except Exception:
            return True  # cannot tell: assume the worse case


class PolledProcess(Process):
    """A command detached in the sandbox, its output read from files by polling."""

    def __init__(
        self, backend: SandboxBackend, folder: str, pid: int, on_out: OnOutput, on_err: OnOutput
    ) -> None:
        self._backend, self._dir, self.pid = backend, folder, pid
        self._on = {1: on_out, 2: on_err}
        self._decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in (1, 2)]
        self._code: int | None = None
        self._signalled: int | None = None
        self.ended = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._poll())

    @property
    def returncode(self) -> int | None:
        return self._code

    async def _poll(self) -> None:
        offsets = [0, 0]
        pause = 0.02
        while True:
            args = [self._dir, str(offsets[0]), str(offsets[1]), str(CHUNK)]
            try:
                done = await self._backend.exec_script(_POLL, *args, timeout=60)
            except BackendError:
                done = Completed(1, b"", b"")
            lines = done.stdout.split(b"\n")
            if done.returncode != 0 or len(lines) < 3:
                await asyncio.sleep(1.0)  # the sandbox could not be reached: try again
                continue
            state, got, more = lines[0].decode().strip(), False, False
            for i, raw in enumerate(lines[1:3]):
                data = base64.b64decode(raw)
                if data:
                    got, more = True, more or len(data) >= CHUNK
                    offsets[i] += len(data)
                    self._on[i + 1](self._decoders[i].decode(data))
            if state and not more:  # the code was read first: that was all the output
                for i in (0, 1):
                    tail = self._decoders[i].decode(b"", final=True)
                    if tail:
                        self._on[i + 1](tail)
                if state.lstrip("-").isdigit():
                    self._code = int(state)
                else:
                    self._code = -(self._signalled or 9)
                self.ended.set()
                return
            pause = 0.02 if got else min(pause * 2, 0.5)
            await asyncio.sleep(pause)

    async def wait(self) -> int:
        await self.ended.wait()
        return -1 if self._code is None else self._code

    async def drain(self, seconds: float = DRAIN_SECONDS) -> bool:
        return self.ended.is_set()  # the last poll read everything up to the exit

    async def signal(self, sig: int) -> None:
        if self.ended.is_set():
            return
        self._signalled = sig
        await self._backend.exec_script(group_kill_line(self.pid, sig), timeout=30)

    def close(self) -> None:
        if not self._task.done():
            self._task.cancel()


class SandboxBackend(ShellFilesBackend):
    """A remote sandbox behind an SDK; see the module docstring."""

    def __init__(self, state_file: Path, cwd: str | None, idle_seconds: float) -> None:
        super().__init__(Path(cwd or "~"))
        self.state_file = state_file
        self._configured = cwd
        self.box: Box | None = None
        self.home: Path | None = None
        self._procs: list[PolledProcess] = []
        self._open_lock = asyncio.Lock()
        self.idle = IdleTimer(idle_seconds, self.suspend, self.resume, self._busy)

    # ----- what each SDK provides (blocking; run in a worker thread) ----------

    @abstractmethod
    def connect(self) -> Box:
        """Find the stored sandbox again (waking it) or create one; store its id."""

    @abstractmethod
    def hibernate(self) -> None:
        """Put the sandbox to sleep (store what wakes it)."""

    @abstractmethod
    def wake(self) -> Box:
        """Wake the sandbox hibernate() put to sleep."""

    @abstractmethod
    def describe(self) -> str: ...

    def state(self) -> dict[str, Any]:
        try:
            found = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def save(self, state: Mapping[str, Any]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(state)))
        tmp.replace(self.state_file)

    # ----- life cycle --------------------------------------------------------

    async def open(self) -> None:
        async with self._open_lock:
            if self.box is None:
                self.box = await asyncio.to_thread(self.connect)
        await self.idle.use()
        if self.home is None:
            done = await self.exec_script('printf "%s" "$HOME"', timeout=60)
            self.home = Path(done.stdout.decode().strip() or "/")
            c = self._configured
            if not c or c == "~":
                self.cwd = self.home
            else:
                self.cwd = self.home / c[2:] if c.startswith("~/") else self.home / c

    async def suspend(self) -> None:
        await asyncio.to_thread(self.hibernate)

    async def resume(self) -> None:
        self.box = await asyncio.to_thread(self.wake)

    async def close(self) -> None:
        await self.idle.close()
        for proc in self._procs:
            proc.close()

    def _busy(self) -> bool:
        self._procs = [p for p in self._procs if not p.ended.is_set()]
        return bool(self._procs)

    def where(self) -> Reach:
        return Reach(self.describe(), self.home or Path("/"), False, ShellProbe(self._probe))

    def _probe(self, line: str) -> tuple[int, bytes]:
        box = self.box
        if box is None or self.idle.asleep:
            raise BackendError("asleep")  # the gate then assumes the worse case
        code, out, _ = box.exec(line, None, 30)
        return code, out

    # ----- commands ----------------------------------------------------------

    async def exec_script(
        self,
        script: str,
        *args: str,
        stdin: bytes | None = None,
        timeout: int = 300,  # noqa: ASYNC109
    ) -> Completed:
        """`sh -c SCRIPT sh ARGS...` in the sandbox (no idle bookkeeping)."""
        if self.box is None:
            await self.open()
        box = self.box
        assert box is not None
        line = shlex.join(["sh", "-c", script, "sh", *args])
        try:
            code, out, err = await asyncio.to_thread(box.exec, line, stdin, timeout + 30)
        except BackendError:
            raise
        except Exception as exc:  # the SDK's own errors: say what failed
            raise BackendError(f"{self.describe()}: {type(exc).__name__}: {exc}") from exc
        return Completed(code, out, err)

    async def run(
        self,
        command: Command,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - it kills the command
    ) -> Completed:
        await self.open()
        inner = inner_script(command, str(cwd or self.cwd), env or {})
        limit = timeout or 86400
        done = await self.exec_script(
            'timeout -k 2 "$1" sh -c "$2"', f"{limit:g}", inner, stdin=stdin, timeout=int(limit)
        )
        timed_out = timeout is not None and done.returncode in (124, 137)
        return Completed(done.returncode, done.stdout, done.stderr, timed_out)

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
        await self.open()
        folder = f"/tmp/.hermes/procs/{secrets.token_hex(8)}"
        inner = inner_script(command, str(cwd or self.cwd), env or {})
        how = ("in" if stdin is not None else "-", "join" if on_stderr is None else "split")
        done = await self.exec_script(_LAUNCH, folder, *how, inner, stdin=stdin, timeout=60)
        pid = done.stdout.decode().strip()
        if done.returncode != 0 or not re.fullmatch(r"\d+", pid):
            text = done.stderr.decode("utf-8", "replace").strip()
            raise BackendError(f"{self.describe()}: could not start the command: {text}")
        proc = PolledProcess(self, folder, int(pid), on_output, on_stderr or on_output)
        self._procs.append(proc)
        return proc


def scope_file(home: Path, backend: str, scope: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", scope)
    return home / "backends" / f"{backend}-{safe}.json"
