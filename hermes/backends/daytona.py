"""The daytona backend: a Daytona sandbox (the `daytona` SDK, Apache-2.0,
imported on first use; key from DAYTONA_API_KEY, see the SDK's docs).

Hibernation is Daytona's own stop: after terminal.idle_seconds unused
`sandbox.stop()` (the filesystem is kept, compute is released); the next call
`sandbox.start()`s it again. HOME/backends/daytona-SCOPE.json holds the
sandbox id, so a restarted gateway finds it with `Daytona.get(id)` instead of
creating another. Daytona's `process.exec` returns stdout and stderr joined and
takes no stdin: stdin is uploaded with `fs.upload_file`, and stderr is carried
back base64-encoded after a separator."""

from __future__ import annotations

import base64
import secrets
import shlex
from typing import TYPE_CHECKING, Any, Protocol, cast

from hermes.backends.sandbox import Box, SandboxBackend, scope_file, sdk_module

if TYPE_CHECKING:
    from pathlib import Path

    from hermes.context import Profile
    from hermes.settings import DaytonaSettings

SEP = b"\x1ehermes-stderr\x1e"


class _Response(Protocol):
    exit_code: int
    result: str


class _ProcessApi(Protocol):
    def exec(self, command: str, cwd: str | None = ..., timeout: int | None = ...) -> _Response: ...


class _FsApi(Protocol):
    def upload_file(self, file: bytes, remote_path: str) -> None: ...


class _Sandbox(Protocol):
    id: str
    state: Any
    process: _ProcessApi
    fs: _FsApi

    def start(self) -> None: ...
    def stop(self) -> None: ...


def load_sdk() -> Any:
    """The `daytona` module (tests replace this with tests/fakes/daytona_sdk.py)."""
    return sdk_module("daytona", "daytona")


class DaytonaBox:
    def __init__(self, sandbox: _Sandbox) -> None:
        self.sandbox = sandbox

    def exec(self, script: str, stdin: bytes | None, timeout: int) -> tuple[int, bytes, bytes]:
        tag = secrets.token_hex(6)
        inp = f"/tmp/.hermes/in-{tag}"
        err = f"/tmp/.hermes/err-{tag}"
        source = "/dev/null"
        if stdin is not None:
            self.sandbox.fs.upload_file(stdin, inp)
            source = inp
        wrapped = (
            f"mkdir -p /tmp/.hermes; {{ {script}; }} < {source} 2> {err}; c=$?; "
            f"printf '\\036hermes-stderr\\036'; base64 -w0 {err}; rm -f {err} {inp}; exit $c"
        )
        got = self.sandbox.process.exec("sh -c " + shlex.quote(wrapped), timeout=timeout)
        raw = got.result.encode("utf-8", "surrogateescape")
        out, _, tail = raw.rpartition(SEP)
        return got.exit_code, out, base64.b64decode(tail.strip() or b"")


class DaytonaBackend(SandboxBackend):
    name = "daytona"

    def __init__(
        self, settings: DaytonaSettings, state_file: Path, cwd: str | None, idle_seconds: float
    ) -> None:
        super().__init__(state_file, cwd, idle_seconds)
        self.settings = settings
        self.sandbox: _Sandbox | None = None
        self._client: Any = None

    @classmethod
    def from_profile(cls, profile: Profile, scope: str) -> DaytonaBackend:
        t = profile.settings.terminal
        return cls(t.daytona, scope_file(profile.home, "daytona", scope), t.cwd, t.idle_seconds)

    def describe(self) -> str:
        found = self.sandbox.id if self.sandbox is not None else "not started"
        return f"daytona sandbox {found}"

    def client(self) -> Any:
        if self._client is None:
            sdk = load_sdk()
            target = self.settings.target
            config = sdk.DaytonaConfig(target=target) if target else None
            self._client = sdk.Daytona(config) if config is not None else sdk.Daytona()
        return self._client

    def connect(self) -> Box:
        sdk, client = load_sdk(), self.client()
        known = self.state().get("sandbox")
        found: _Sandbox | None = None
        if known:
            try:
                found = cast("_Sandbox", client.get(known))
            except Exception:  # deleted meanwhile: make a new one
                found = None
        if found is None:
            if self.settings.image:
                params = sdk.CreateSandboxFromImageParams(image=self.settings.image)
                found = cast("_Sandbox", client.create(params))
            else:
                found = cast("_Sandbox", client.create())
            self.save({"sandbox": found.id})
        if str(getattr(found.state, "value", found.state)).lower() != "started":
            found.start()
        self.sandbox = found
        return DaytonaBox(found)

    def hibernate(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()

    def wake(self) -> Box:
        if self.sandbox is None:
            return self.connect()
        self.sandbox.start()
        return DaytonaBox(self.sandbox)


BACKEND = DaytonaBackend
