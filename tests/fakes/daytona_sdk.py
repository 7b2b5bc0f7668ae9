"""A fake of the `daytona` SDK's objects that hermes/backends/daytona.py uses,
as documented: Daytona(config?) with create(params?) / get(id), DaytonaConfig,
CreateSandboxFromImageParams, sandbox.id / .state ("started", "stopped"),
sandbox.process.exec(command, cwd=None, timeout=None) -> ExecuteResponse
(exit_code, result: stdout and stderr together), sandbox.fs.upload_file(bytes,
path), sandbox.stop() / start(). A `DaytonaWorld` is the module the backend
loads (tests replace hermes.backends.daytona.load_sdk); it records every call."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.sandbox_root import Calls, popen


class DaytonaError(Exception):
    pass


@dataclass
class DaytonaConfig:
    api_key: str | None = None
    api_url: str | None = None
    target: str | None = None


@dataclass
class CreateSandboxFromImageParams:
    image: str


@dataclass
class ExecuteResponse:
    exit_code: int
    result: str


class _Process:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def exec(self, command: str, cwd: str | None = None, timeout: int | None = None,
             env: dict[str, str] | None = None) -> ExecuteResponse:  # fmt: skip
        s = self._sandbox
        s.world.calls.add("exec", s.id)
        if s.state != "started":
            raise DaytonaError(f"sandbox {s.id} is not running (state {s.state})")
        proc = popen(s.root, ["sh", "-c", command])
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.communicate()
            raise DaytonaError("command timed out") from exc
        return ExecuteResponse(proc.returncode, (out + err).decode("utf-8", "surrogateescape"))


class _Fs:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def upload_file(self, file: bytes, remote_path: str) -> None:
        s = self._sandbox
        s.world.calls.add("fs.upload_file", remote_path)
        if s.state != "started":
            raise DaytonaError(f"sandbox {s.id} is not running")
        path = Path(remote_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file)


class Sandbox:
    def __init__(self, world: DaytonaWorld, sandbox_id: str, root: Path, image: str) -> None:
        self.world, self.id, self.root, self.image = world, sandbox_id, root, image
        self.state = "started"
        self.process = _Process(self)
        self.fs = _Fs(self)

    def stop(self) -> None:
        self.world.calls.add("stop", self.id)
        self.state = "stopped"

    def start(self) -> None:
        self.world.calls.add("start", self.id)
        self.state = "started"


class Daytona:
    def __init__(self, world: DaytonaWorld, config: DaytonaConfig | None = None) -> None:
        self.world, self.config = world, config

    def create(self, params: CreateSandboxFromImageParams | None = None) -> Sandbox:
        w = self.world
        w.calls.add("create", params.image if params else "")
        n = len(w.sandboxes) + 1
        root = w.base / f"sandbox-{n}"
        root.mkdir(parents=True)
        sandbox = w.sandboxes[f"sandbox-{n}"] = Sandbox(w, f"sandbox-{n}", root, "")
        return sandbox

    def get(self, sandbox_id: str) -> Sandbox:
        self.world.calls.add("get", sandbox_id)
        if sandbox_id not in self.world.sandboxes:
            raise DaytonaError(f"sandbox {sandbox_id} not found")
        return self.world.sandboxes[sandbox_id]


class DaytonaWorld:
    """The fake `daytona` module plus the server's state."""

    DaytonaConfig = DaytonaConfig
    CreateSandboxFromImageParams = CreateSandboxFromImageParams

    def __init__(self, base: Path) -> None:
        self.base = base
        self.calls = Calls()
        self.sandboxes: dict[str, Sandbox] = {}

    def Daytona(self, config: DaytonaConfig | None = None) -> Daytona:
        return Daytona(self, config)
