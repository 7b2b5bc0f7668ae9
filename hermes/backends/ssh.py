"""The ssh backend: commands run on another machine over OpenSSH (the shared
master connection of ssh_link.py, each command under the wrapper of
ssh_process.py), files are that machine's files (shell_files.py)."""

from __future__ import annotations

import asyncio
import secrets
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hermes.aio import within
from hermes.backends.base import BackendError, Command, OnOutput, Reach, group_kill_line
from hermes.backends.shell_files import ShellFilesBackend
from hermes.backends.ssh_link import SshLink
from hermes.backends.ssh_process import RemoteProtocol, SshProcess, remote_env, wrapper

if TYPE_CHECKING:
    from hermes.context import Profile


class SshProbe:
    """The approval gate's look at the remote disk (hermes.risk.model.Probe):
    synchronous, over the shared master connection (the gate runs its
    assessment in a worker thread, so the wait does not hold the event loop)."""

    def __init__(self, link: SshLink) -> None:
        self.link = link
        self._real: dict[str, str] = {}  # one probe judges one call: answers are kept

    def realpath(self, path: str) -> str:
        found = self._real.get(path)
        if found is None:
            found = self._real[path] = self._realpath(path)
        return found

    def _realpath(self, path: str) -> str:
        try:
            done = self.link.run_sync(f"realpath -m -- {shlex.quote(path)}")
        except (OSError, subprocess.TimeoutExpired, BackendError):
            return path
        found = done.stdout.decode("utf-8", "replace").rstrip("\n")
        return found if done.returncode == 0 and found else path

    def exists(self, path: str) -> bool:
        q = shlex.quote(path)
        try:
            done = self.link.run_sync(f"[ -e {q} ] || [ -L {q} ]")
        except (OSError, subprocess.TimeoutExpired, BackendError):
            return True  # cannot tell: assume the worse case
        return done.returncode == 0


class SshBackend(ShellFilesBackend):
    name = "ssh"

    def __init__(self, link: SshLink, cwd: str | None = None) -> None:
        super().__init__(Path(cwd or "~"))
        self.link = link
        self._configured = cwd
        self.home: Path | None = None  # the remote home, learnt at open()

    @classmethod
    def from_profile(cls, profile: Profile, scope: str) -> SshBackend:
        s = profile.settings.terminal.ssh
        if not s.host:
            raise BackendError(
                "terminal.backend is ssh but terminal.ssh.host is not set; set it with "
                "`hermes config set terminal.ssh.host HOST` (and terminal.ssh.user, "
                "terminal.ssh.key)"
            )
        key = None
        if s.key:
            raw = s.key
            if raw == "~" or raw.startswith("~/"):
                raw = profile.env.get("HOME", str(Path.home())) + raw[1:]
            key = Path(raw) if Path(raw).is_absolute() else profile.home / raw
        link = SshLink(
            s.host,
            user=s.user,
            port=s.port,
            key=key,
            state_dir=profile.home / "ssh",
            connect_timeout=s.connect_timeout,
        )
        return cls(link, profile.settings.terminal.cwd)

    async def open(self) -> None:
        await self.link.connect()
        if self.home is not None:
            return
        out: list[str] = []
        proc = await self._spawn(
            ["sh", "-c", 'printf "%s" "$HOME"'], out.append, None, None, {}, None
        )
        code = await proc.wait()
        await proc.drain()  # the output can arrive after the exit
        proc.close()
        if code != 0 or not out:
            raise BackendError(f"{self.link.describe()}: could not learn the remote home")
        self.home = Path("".join(out).strip() or "/")
        configured = self._configured
        if not configured or configured == "~":
            self.cwd = self.home
        elif configured.startswith("~/"):
            self.cwd = self.home / configured[2:]
        else:
            self.cwd = self.home / configured  # an absolute path stays as it is

    async def close(self) -> None:
        await self.link.close()

    def where(self) -> Reach:
        return Reach(self.link.describe(), self.home or Path("/"), False, SshProbe(self.link))

    async def kill_group(self, pid: int, sig: int) -> bool:
        """Send SIG to remote process group PID; whether it was delivered."""
        proc = await asyncio.create_subprocess_exec(
            *self.link.argv(group_kill_line(pid, sig)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            return await within(proc.wait(), 15) == 0
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return False

    async def start(
        self,
        command: Command,
        *,
        on_output: OnOutput,
        on_stderr: OnOutput | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> SshProcess:
        await self.open()
        where = str(cwd or self.cwd)
        return await self._spawn(command, on_output, on_stderr, where, env or {}, stdin)

    async def _spawn(
        self,
        command: Command,
        on_output: OnOutput,
        on_stderr: OnOutput | None,
        cwd: str | None,
        env: Mapping[str, str],
        stdin: bytes | None,
    ) -> SshProcess:
        mark = f"hermes-{secrets.token_hex(6)}"
        script = wrapper(mark, command, cwd, remote_env(env))
        if on_stderr is None:  # the command's stderr joins its stdout on the remote side
            script = script.replace("\nc=$?;", " 2>&1\nc=$?;", 1)
        remote = "exec sh -c " + shlex.quote(script)
        loop = asyncio.get_running_loop()
        framing = b"\x1e" + mark.encode() + b" "
        transport, protocol = await loop.subprocess_exec(
            lambda: RemoteProtocol(framing, on_output, on_stderr or on_output),
            *self.link.argv(remote),
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if stdin is not None:
            pipe = transport.get_pipe_transport(0)
            if isinstance(pipe, asyncio.WriteTransport):
                pipe.write(stdin)
                pipe.close()
        await protocol.started.wait()
        if protocol.remote_pid is None:  # the client ended before the command started
            await protocol.closed.wait()
            transport.close()
            raise self.link.error(protocol.errors)
        return SshProcess(self.kill_group, transport, protocol)


BACKEND = SshBackend
