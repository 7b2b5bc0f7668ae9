"""The singularity backend: commands run in an Apptainer (or SingularityCE)
container from a SIF image, with a writable overlay in the Hermes home that
keeps installed packages and files between commands and restarts.

One persistent *instance* per environment (`apptainer instance start
--overlay OVERLAY IMAGE NAME`), each command an `apptainer exec
instance://NAME` of it: a writable overlay image can be opened by one
container at a time, so per-command `exec IMAGE` would serialise a background
process against everything else. The instance is found again by its name
(derived from the Hermes home and scope) after a restart; when idle it is
stopped (`instance stop`) and started again by the next call. Files go
through the container's shell (shell_files.py)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hermes.backends.base import BackendError, Command, OnOutput, Process, Reach
from hermes.backends.idle import IdleTimer
from hermes.backends.local import LocalBackend
from hermes.backends.sandbox import ShellProbe, inner_script
from hermes.backends.shell_files import ShellFilesBackend

if TYPE_CHECKING:
    from hermes.context import Profile

INSTALL = (
    "install Apptainer (https://apptainer.org/docs/admin/main/installation.html) or "
    "SingularityCE so `apptainer` or `singularity` is on PATH"
)


class SingularityBackend(ShellFilesBackend):
    name = "singularity"

    def __init__(
        self,
        image: Path,
        overlay: Path,
        *,
        overlay_mb: int,
        instance: str,
        cli_env: Mapping[str, str],
        state_dir: Path,
        cwd: str | None,
        idle_seconds: float,
    ) -> None:
        super().__init__(Path(cwd or "~"))
        self.image, self.overlay, self.overlay_mb = image, overlay, overlay_mb
        self.instance = instance
        self._cli_env = dict(cli_env)
        self._configured = cwd
        self._runner = LocalBackend(state_dir, state_dir)  # spawns the CLI on this machine
        self._procs: list[Process] = []
        self._opened = False
        self.home: Path | None = None
        self.idle = IdleTimer(idle_seconds, self.suspend, self.resume, self._busy)

    @classmethod
    def from_profile(cls, profile: Profile, scope: str) -> SingularityBackend:
        s = profile.settings.terminal.singularity
        if not s.image:
            raise BackendError(
                "terminal.backend is singularity but terminal.singularity.image is not set; "
                "set it to a SIF file with `hermes config set terminal.singularity.image "
                "PATH.sif`"
            )
        tag = hashlib.sha256(f"{profile.home.resolve()}\0{scope}".encode()).hexdigest()[:12]
        overlay = _path(profile, s.overlay)
        if scope != "profile":  # each session its own overlay (one writer per image)
            overlay = overlay.with_name(f"{overlay.stem}-{tag}{overlay.suffix}")
        return cls(
            _path(profile, s.image),
            overlay,
            overlay_mb=s.overlay_mb,
            instance=f"hermes-{tag}",
            cli_env=profile.env,
            state_dir=profile.home,
            cwd=profile.settings.terminal.cwd,
            idle_seconds=profile.settings.terminal.idle_seconds,
        )

    # ----- the CLI -----------------------------------------------------------

    def cli(self) -> str:
        for name in ("apptainer", "singularity"):
            found = shutil.which(name, path=self._cli_env.get("PATH", os.defpath))
            if found:
                return found
        raise BackendError(f"neither apptainer nor singularity is installed: {INSTALL}")

    async def _cli(self, *args: str, what: str) -> str:
        out: list[str] = []
        proc = await self._runner.start(
            [self.cli(), *args], on_output=out.append, env=self._cli_env
        )
        code = await proc.wait()
        await proc.drain()
        proc.close()
        text = "".join(out)
        if code != 0:
            last = text.strip().splitlines()[-1:] or [f"exit code {code}"]
            raise BackendError(f"apptainer could not {what}: {last[0]}")
        return text

    async def _running(self) -> bool:
        text = await self._cli("instance", "list", "--json", what="list its instances")
        try:
            found = json.loads(text or "{}").get("instances") or []
        except (ValueError, AttributeError):
            return False
        return any(isinstance(i, dict) and i.get("instance") == self.instance for i in found)

    async def _start_instance(self) -> None:
        if not self.image.is_file():
            raise BackendError(
                f"terminal.singularity.image {self.image} does not exist; build or pull a SIF "
                "there (e.g. `apptainer build image.sif docker://debian:bookworm`)"
            )
        if not self.overlay.exists():  # created on first use
            self.overlay.parent.mkdir(parents=True, exist_ok=True)
            if self.overlay.suffix == ".img":
                await self._cli(
                    "overlay", "create", "--size", str(self.overlay_mb), str(self.overlay),
                    what=f"create the overlay {self.overlay}",
                )  # fmt: skip
            else:
                self.overlay.mkdir()
        await self._cli(
            "instance", "start", "--overlay", str(self.overlay), str(self.image), self.instance,
            what=f"start instance {self.instance} of {self.image}",
        )  # fmt: skip

    # ----- life cycle --------------------------------------------------------

    async def open(self) -> None:
        if not self._opened:
            if not await self._running():  # found again by name after a restart
                await self._start_instance()
            self._opened = True
        await self.idle.use()
        if self.home is None:
            done = await self.run(["sh", "-c", 'printf "%s" "$HOME"'], timeout=60)
            self.home = Path(done.stdout.decode().strip() or "/")
            c = self._configured
            if not c or c == "~":
                self.cwd = self.home
            else:
                self.cwd = self.home / c[2:] if c.startswith("~/") else self.home / c

    async def suspend(self) -> None:
        await self._cli("instance", "stop", self.instance, what=f"stop {self.instance}")

    async def resume(self) -> None:
        if not await self._running():
            await self._start_instance()

    async def close(self) -> None:
        await self.idle.close()  # the instance keeps running for the next gateway

    def _busy(self) -> bool:
        self._procs = [p for p in self._procs if p.returncode is None]
        return bool(self._procs)

    def where(self) -> Reach:
        return Reach(f"apptainer instance {self.instance} ({self.image.name})",
                     self.home or Path("/"), False, ShellProbe(self._probe))  # fmt: skip

    def _probe(self, line: str) -> tuple[int, bytes]:
        if self.idle.asleep:
            raise BackendError("asleep")  # the gate then assumes the worse case
        argv = [self.cli(), "exec", "--cleanenv", f"instance://{self.instance}", "sh", "-c", line]
        done = subprocess.run(argv, env=self._cli_env, capture_output=True, timeout=30, check=False)
        return done.returncode, done.stdout

    # ----- processes ---------------------------------------------------------

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
        if not self._opened:
            await self.open()
        else:
            await self.idle.use()
        where = None if cwd is None and self.home is None else str(cwd or self.cwd)
        script = inner_script(command, where, env or {})
        argv = [self.cli(), "exec", "--cleanenv", f"instance://{self.instance}", "sh", "-c", script]
        proc = await self._runner.start(
            argv, on_output=on_output, on_stderr=on_stderr, env=self._cli_env, stdin=stdin
        )
        self._procs.append(proc)
        return proc


def _path(profile: Profile, raw: str) -> Path:
    if raw == "~" or raw.startswith("~/"):
        raw = profile.env.get("HOME", str(Path.home())) + raw[1:]
    return Path(raw) if Path(raw).is_absolute() else profile.home / raw


BACKEND = SingularityBackend
