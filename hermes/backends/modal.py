"""The modal backend: a Modal sandbox (the `modal` SDK, Apache-2.0, imported on
first use; credentials from `modal setup` or MODAL_TOKEN_ID/SECRET).

Hibernation is a filesystem snapshot: after terminal.idle_seconds unused,
`sandbox.snapshot_filesystem()` (an Image, kept until deleted) then
`sandbox.terminate()`, so nothing runs or bills; the next call creates a new
sandbox from that image. HOME/backends/modal-SCOPE.json holds the running
sandbox's id and the last snapshot's id, so a restarted gateway reattaches to
the sandbox (or wakes from the snapshot) instead of starting from scratch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from hermes.backends.base import BackendError
from hermes.backends.sandbox import Box, SandboxBackend, scope_file, sdk_module

if TYPE_CHECKING:
    from pathlib import Path

    from hermes.context import Profile
    from hermes.settings import ModalSettings


class _Stream(Protocol):
    def read(self) -> Any: ...


class _Stdin(Protocol):
    def write(self, data: bytes) -> None: ...
    def write_eof(self) -> None: ...
    def drain(self) -> None: ...


class _ContainerProcess(Protocol):
    stdin: _Stdin
    stdout: _Stream
    stderr: _Stream

    def wait(self) -> int: ...


class _Image(Protocol):
    object_id: str


class _Sandbox(Protocol):
    object_id: str

    def exec(
        self, *args: str, timeout: int | None = ..., text: bool = ...
    ) -> _ContainerProcess: ...
    def poll(self) -> int | None: ...
    def snapshot_filesystem(self) -> _Image: ...
    def terminate(self) -> None: ...


def load_sdk() -> Any:
    """The `modal` module (tests replace this with tests/fakes/modal_sdk.py)."""
    return sdk_module("modal", "modal")


class ModalBox:
    def __init__(self, sandbox: _Sandbox) -> None:
        self.sandbox = sandbox

    def exec(self, script: str, stdin: bytes | None, timeout: int) -> tuple[int, bytes, bytes]:
        proc = self.sandbox.exec("sh", "-c", script, timeout=timeout, text=False)
        if stdin:
            proc.stdin.write(stdin)
        proc.stdin.write_eof()
        proc.stdin.drain()
        out, err = _bytes(proc.stdout.read()), _bytes(proc.stderr.read())
        return proc.wait(), out, err


def _bytes(data: Any) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


class ModalBackend(SandboxBackend):
    name = "modal"

    def __init__(
        self, settings: ModalSettings, state_file: Path, cwd: str | None, idle_seconds: float
    ) -> None:
        super().__init__(state_file, cwd, idle_seconds)
        self.settings = settings
        self.sandbox: _Sandbox | None = None

    @classmethod
    def from_profile(cls, profile: Profile, scope: str) -> ModalBackend:
        t = profile.settings.terminal
        return cls(t.modal, scope_file(profile.home, "modal", scope), t.cwd, t.idle_seconds)

    def describe(self) -> str:
        found = self.sandbox.object_id if self.sandbox is not None else "not started"
        return f"modal sandbox {found} (app {self.settings.app})"

    def _create(self, snapshot: str | None) -> Box:
        sdk = load_sdk()
        app = sdk.App.lookup(self.settings.app, create_if_missing=True)
        if snapshot:
            image = sdk.Image.from_id(snapshot)
        else:
            image = sdk.Image.from_registry(self.settings.image)
        sandbox = cast("_Sandbox", sdk.Sandbox.create(app=app, image=image,
                                                      timeout=self.settings.timeout))  # fmt: skip
        self.sandbox = sandbox
        self.save({"sandbox": sandbox.object_id, "snapshot": snapshot})
        return ModalBox(sandbox)

    def connect(self) -> Box:
        state = self.state()
        if state.get("sandbox"):
            try:
                found = cast("_Sandbox", load_sdk().Sandbox.from_id(state["sandbox"]))
                if found.poll() is None:  # still running: reattach
                    self.sandbox = found
                    return ModalBox(found)
            except BackendError:
                raise
            except Exception:  # gone (not found, or ended): wake from the snapshot
                pass
        return self._create(state.get("snapshot"))

    def hibernate(self) -> None:
        sandbox = self.sandbox
        if sandbox is None:
            return
        image = sandbox.snapshot_filesystem()
        self.save({"sandbox": None, "snapshot": image.object_id})  # before it is gone
        sandbox.terminate()
        self.sandbox = None

    def wake(self) -> Box:
        return self.connect()


BACKEND = ModalBackend
