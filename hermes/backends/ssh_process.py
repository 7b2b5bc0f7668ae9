"""A command of the ssh backend: the remote wrapper that runs it, and the
process handle that reads the ssh client's output.

Each command runs under a small POSIX wrapper on the remote side: it reports
its pid on stderr (sshd starts every session in a session of its own, so that
pid is the process group of the command and all its children: `kill -SIG -PID`
reaches the whole tree), enters the working directory (creating it when
missing), sets the turn's variables, runs the command and reports its exit
code. Those reports are framed by a random token and never reach the caller;
the exit report lets `wait` return while a leftover child still holds the
channel open.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import re
import shlex
import signal
from collections.abc import Awaitable, Callable, Mapping

from hermes.aio import wait_event
from hermes.backends.base import DRAIN_SECONDS, Command, OnOutput, Process

# variables about this machine that make no sense on another one
_HOST_ONLY = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "SHLVL",
                        "TMPDIR", "HOSTNAME", "TERM", "MAIL", "DISPLAY", "WAYLAND_DISPLAY",
                        "LD_LIBRARY_PATH", "LD_PRELOAD", "VIRTUAL_ENV", "PYTHONPATH",
                        "PYTHONHOME", "_", "COLUMNS", "LINES", "PS1", "LS_COLORS"})  # fmt: skip
_HOST_PREFIXES = ("XDG_", "SSH_", "DBUS_", "GPG_", "KRB5")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def remote_env(env: Mapping[str, str]) -> dict[str, str]:
    """The turn's variables worth setting on another machine."""
    return {
        k: v
        for k, v in env.items()
        if _NAME.fullmatch(k) and k not in _HOST_ONLY and not k.startswith(_HOST_PREFIXES)
    }


class RemoteProtocol(asyncio.SubprocessProtocol):
    """Reads the ssh client's stdout (the command's output) and stderr (the
    command's stderr, the wrapper's reports, ssh's own errors)."""

    def __init__(self, mark: bytes, on_output: OnOutput, on_stderr: OnOutput) -> None:
        self._mark = mark
        self._out = codecs.getincrementaldecoder("utf-8")("replace")
        self._err = codecs.getincrementaldecoder("utf-8")("replace")
        self._on_output, self._on_stderr = on_output, on_stderr
        self._held = b""
        self.errors = ""  # ssh's and the command's stderr, the first 4 KB (for errors)
        self.remote_pid: int | None = None
        self.exit_code: int | None = None
        self.started = asyncio.Event()  # the pid is known, or the client ended
        self.ended = asyncio.Event()  # the command reported its exit, or the client ended
        self.closed = asyncio.Event()  # the client ended and every pipe closed

    def _emit_err(self, data: bytes, final: bool = False) -> None:
        text = self._err.decode(data, final)
        if text:
            if len(self.errors) < 4096:
                self.errors += text[: 4096 - len(self.errors)]
            self._on_stderr(text)

    def _report(self, line: bytes) -> None:
        kind, _, value = line.decode("ascii", "replace").partition(" ")
        if kind == "pid" and value.isdigit():
            self.remote_pid = int(value)
            self.started.set()
        elif kind == "exit" and value.lstrip("-").isdigit():
            self.exit_code = int(value)
            self.ended.set()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            text = self._out.decode(data)
            if text:
                self._on_output(text)
            return
        buf = self._held + data
        while True:
            at = buf.find(self._mark)
            if at < 0:
                keep = next(
                    (k for k in range(min(len(buf), len(self._mark) - 1), 0, -1)
                     if buf.endswith(self._mark[:k])),
                    0,
                )  # fmt: skip
                self._emit_err(buf[: len(buf) - keep])
                self._held = buf[len(buf) - keep :]
                return
            self._emit_err(buf[:at])
            end = buf.find(b"\n", at)
            if end < 0:
                self._held = buf[at:]
                return
            self._report(buf[at + len(self._mark) : end])
            buf = buf[end + 1 :]

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            tail = self._out.decode(b"", final=True)
            if tail:
                self._on_output(tail)
        elif fd == 2:
            self._emit_err(self._held, final=True)
            self._held = b""

    def process_exited(self) -> None:
        self.started.set()
        self.ended.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


class SshProcess(Process):
    def __init__(
        self,
        kill_group: Callable[[int, int], Awaitable[bool]],
        transport: asyncio.SubprocessTransport,
        protocol: RemoteProtocol,
    ) -> None:
        self._kill_group = kill_group
        self._transport = transport
        self._protocol = protocol
        self.pid = protocol.remote_pid or 0
        self._signalled: int | None = None

    @property
    def returncode(self) -> int | None:
        if self._protocol.exit_code is not None:
            return self._protocol.exit_code
        if self._signalled is not None and self._protocol.ended.is_set():
            return -self._signalled
        return self._transport.get_returncode()

    async def wait(self) -> int:
        await self._protocol.ended.wait()
        code = self.returncode
        return -1 if code is None else code

    async def drain(self, seconds: float = DRAIN_SECONDS) -> bool:
        return await wait_event(self._protocol.closed, seconds)

    async def signal(self, sig: int) -> None:
        if self._protocol.ended.is_set() or not self.pid:
            return
        self._signalled = sig
        done = await self._kill_group(self.pid, sig)
        if sig == signal.SIGKILL and done:
            # the wrapper leads the group: it is gone, whoever still holds the output
            self._protocol.ended.set()

    def close(self) -> None:
        if self._transport.get_returncode() is None:
            with contextlib.suppress(ProcessLookupError):
                self._transport.terminate()  # the local client; the channel closes
        self._transport.close()


def wrapper(mark: str, command: Command, cwd: str | None, env: Mapping[str, str]) -> str:
    lines = [f"printf '\\036{mark} pid %s\\n' \"$$\" >&2"]
    if cwd is not None:
        q = shlex.quote(cwd)
        lines.append(f"cd -- {q} 2>/dev/null || {{ mkdir -p -- {q} && cd -- {q}; }} || exit 126")
    lines += [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    if isinstance(command, str):
        # --norc: bash reads ~/.bashrc in every shell sshd starts otherwise; the login
        # shell already did, and its exports are inherited
        lines.append(
            "if command -v bash >/dev/null 2>&1; then set -- bash --norc; else set -- sh; fi"
        )
        lines.append(f'"$@" -c {shlex.quote(command)}')
    else:
        lines.append(shlex.join(command))
    lines.append(f'c=$?; printf \'\\036{mark} exit %s\\n\' "$c" >&2; exit "$c"')
    return "\n".join(lines)
