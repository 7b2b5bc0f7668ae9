"""The docker backend: commands run in one long-lived container per profile (or
per session with terminal.scope: session), through the docker CLI or podman's
(docker_engine.py). The container is labelled with the profile and the Hermes
home and found again by those labels after a restart; the profile's workspace
is bind-mounted at the same path inside; the network is off unless
terminal.docker.network says otherwise.

Each command runs under the ssh backend's wrapper (ssh_process.py) started by
`exec ... setsid -w sh -c WRAPPER`: the wrapper leads a new session, so
`exec ... sh -c 'kill -SIG -PGID'` reaches the command's whole tree. Files go
through the container's shell (shell_files.py)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hermes.backends import docker_engine as engine
from hermes.backends.base import BackendError, Command, OnOutput, Reach, group_kill_line
from hermes.backends.shell_files import ShellFilesBackend
from hermes.backends.ssh_process import RemoteProtocol, SshProcess, remote_env, wrapper

if TYPE_CHECKING:
    from hermes.context import Profile


class DockerProbe:
    """The approval gate's look at the container's disk (hermes.risk.model.Probe);
    synchronous: the gate runs it in a worker thread."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv  # `CLI exec ID`
        self._real: dict[str, str] = {}

    def _sh(self, script: str, path: str) -> subprocess.CompletedProcess[bytes] | None:
        try:
            return subprocess.run(
                [*self.argv, "sh", "-c", script, "sh", path],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=15,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None

    def realpath(self, path: str) -> str:
        if path not in self._real:
            done = self._sh('realpath -m -- "$1"', path)
            found = done.stdout.decode("utf-8", "replace").rstrip("\n") if done else ""
            self._real[path] = found if done and done.returncode == 0 and found else path
        return self._real[path]

    def exists(self, path: str) -> bool:
        done = self._sh('[ -e "$1" ] || [ -L "$1" ]', path)
        return done is None or done.returncode == 0  # cannot tell: assume the worse case


class DockerBackend(ShellFilesBackend):
    name = "docker"

    def __init__(self, spec: engine.Spec, cli: str = "auto") -> None:
        super().__init__(spec.workspace)
        self.spec = spec
        self.wanted_cli = cli
        self.cli: str | None = None  # the CLI's path, picked at open()
        self.ident: str | None = None  # the container's id
        self.home: Path | None = None  # the container's $HOME, learnt at open()
        self._lock = asyncio.Lock()

    @classmethod
    def from_profile(cls, profile: Profile, scope: str) -> DockerBackend:
        s = profile.settings.terminal.docker
        if not s.image:
            raise BackendError(
                "terminal.backend is docker but terminal.docker.image is not set; set it with "
                "`hermes config set terminal.docker.image IMAGE` (an image with sh, GNU "
                "coreutils, find and setsid, e.g. debian:12)"
            )
        spec = engine.Spec(
            profile=profile.name,
            home=profile.home,
            scope=scope,
            image=s.image,
            workspace=profile.workspace,
            network=s.network,
            memory=s.memory,
            cpus=s.cpus,
        )
        return cls(spec, s.cli)

    def describe(self) -> str:
        tool = Path(self.cli).name if self.cli else "docker"
        return f"{tool} container {self.spec.name()} (image {self.spec.image})"

    # ----- life cycle --------------------------------------------------------

    async def open(self) -> None:
        if self.ident is not None:
            return
        async with self._lock:
            if self.ident is not None:
                return
            cli = self.cli = self.cli or await engine.pick_cli(self.wanted_cli)
            workspace = self.spec.workspace
            found = await engine.find(cli, self.spec)
            if found is None:
                await engine.image_present(cli, self.spec.image)
                try:
                    workspace.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise BackendError(
                        f"cannot create the workspace {workspace} to mount in the container "
                        f"({exc.strerror}); set terminal.cwd to a directory Hermes can create"
                    ) from exc
                ident = await engine.create(cli, self.spec)
            else:
                if not workspace.is_dir():  # the mount would be an empty, dead directory
                    raise BackendError(
                        f"the workspace {workspace} mounted in {self.describe()} is missing; "
                        f"recreate the directory, or remove the container "
                        f"(`{Path(cli).name} rm -f {self.spec.name()}`) to get a new one"
                    )
                ident, state = found
                await engine.wake(cli, ident, state)
            self.ident = ident
            if self.home is None:
                await self._learn_home()

    async def _learn_home(self) -> None:
        out: list[str] = []
        proc = await self._spawn(["sh", "-c", 'printf "%s" "$HOME"'], out.append, None, {}, None)
        if await proc.wait() != 0:
            raise BackendError(f"{self.describe()}: could not run sh in the container")
        await proc.drain()
        proc.close()
        self.home = Path("".join(out).strip() or "/")

    async def close(self) -> None:
        """The container stays (running) for the next use and the next start."""

    async def suspend(self) -> None:
        """Pause the container (its processes freeze; the next command unpauses it)."""
        if self.ident is None or self.cli is None:
            return
        code, _, err = await engine.cli_run([self.cli, "pause", self.ident])
        if code != 0 and "not running" not in err:
            raise BackendError(f"could not pause {self.describe()}: {' '.join(err.split())}")
        self.ident = None  # the next open() finds it paused and unpauses it

    async def resume(self) -> None:
        await self.open()

    async def check(self) -> str:
        cli = self.cli = self.cli or await engine.pick_cli(self.wanted_cli)
        await engine.image_present(cli, self.spec.image)
        return await super().check()

    def where(self) -> Reach:
        argv = engine.exec_argv(self.cli or "docker", self.ident or self.spec.name(),
                                interactive=False)  # fmt: skip
        return Reach(self.describe(), self.home or Path("/root"), False, DockerProbe(argv))

    # ----- processes ---------------------------------------------------------

    async def kill_group(self, pid: int, sig: int) -> bool:
        """Send SIG to process group PID inside the container; whether it was delivered."""
        if self.cli is None or self.ident is None:
            return False
        argv = engine.exec_argv(self.cli, self.ident, interactive=False)
        code, _, _ = await engine.cli_run(
            [*argv, "sh", "-c", group_kill_line(pid, sig)], timeout=15
        )
        return code == 0

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
        try:
            return await self._spawn(command, on_output, on_stderr, env or {}, stdin, where)
        except BackendError:
            self.ident = None  # gone or stopped meanwhile: the next command looks again
            raise

    async def _spawn(
        self,
        command: Command,
        on_output: OnOutput,
        on_stderr: OnOutput | None,
        env: Mapping[str, str],
        stdin: bytes | None,
        cwd: str | None = None,
    ) -> SshProcess:
        assert self.cli is not None and self.ident is not None
        mark = f"hermes-{secrets.token_hex(6)}"
        script = wrapper(mark, command, cwd, remote_env(env))
        if on_stderr is None:  # the command's stderr joins its stdout inside
            script = script.replace("\nc=$?;", " 2>&1\nc=$?;", 1)
        argv = engine.exec_argv(self.cli, self.ident, interactive=stdin is not None)
        loop = asyncio.get_running_loop()
        framing = b"\x1e" + mark.encode() + b" "
        transport, protocol = await loop.subprocess_exec(
            lambda: RemoteProtocol(framing, on_output, on_stderr or on_output),
            *argv,
            "setsid",
            "-w",
            "sh",
            "-c",
            script,
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
        if protocol.remote_pid is None:  # exec failed before the command started
            await protocol.closed.wait()
            transport.close()
            text = " ".join(protocol.errors.split())[:300] or "no reason given"
            raise BackendError(f"{self.describe()}: could not run the command: {text}")
        return SshProcess(self.kill_group, transport, protocol)


BACKEND = DockerBackend
