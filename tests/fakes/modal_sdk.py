"""A fake of the `modal` SDK's objects that hermes/backends/modal.py uses, as
documented: App.lookup, Image.from_registry / Image.from_id, Sandbox.create /
Sandbox.from_id, sandbox.exec -> ContainerProcess (stdin.write / write_eof /
drain, stdout.read, stderr.read, wait), sandbox.poll, snapshot_filesystem ->
Image (object_id im-...), terminate. A `ModalWorld` is the module the backend
loads (tests replace hermes.backends.modal.load_sdk); it records every call."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.fakes.sandbox_root import Calls, popen


class NotFoundError(Exception):
    pass


class SandboxTerminatedError(Exception):
    pass


class _Stdin:
    def __init__(self, proc: ContainerProcess) -> None:
        self._proc = proc

    def write(self, data: bytes) -> None:
        self._proc.input += data

    def write_eof(self) -> None:
        pass

    def drain(self) -> None:
        pass


class _Stream:
    def __init__(self, proc: ContainerProcess, index: int) -> None:
        self._proc, self._index = proc, index

    def read(self) -> bytes | str:
        data = self._proc.finish()[self._index]
        return data if not self._proc.text else data.decode()


class ContainerProcess:
    def __init__(self, popen_: subprocess.Popen[bytes], timeout: int | None, text: bool) -> None:
        self._popen, self._timeout, self.text = popen_, timeout, text
        self.input = b""
        self._done: tuple[bytes, bytes] | None = None
        self.stdin = _Stdin(self)
        self.stdout = _Stream(self, 0)
        self.stderr = _Stream(self, 1)

    def finish(self) -> tuple[bytes, bytes]:
        if self._done is None:
            self._done = self._popen.communicate(self.input, timeout=self._timeout)
        return self._done

    def wait(self) -> int:
        self.finish()
        return self._popen.returncode

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode


class Image:
    def __init__(self, object_id: str, root: Path | None) -> None:
        self.object_id, self.root = object_id, root


class Sandbox:
    def __init__(self, world: ModalWorld, object_id: str, root: Path) -> None:
        self.world, self.object_id, self.root = world, object_id, root
        self.running = True

    def exec(self, *args: str, timeout: int | None = None, text: bool = True) -> ContainerProcess:
        self.world.calls.add("exec", self.object_id)
        if not self.running:
            raise SandboxTerminatedError(f"sandbox {self.object_id} has finished")
        return ContainerProcess(popen(self.root, list(args)), timeout, text)

    def poll(self) -> int | None:
        self.world.calls.add("poll", self.object_id)
        return None if self.running else 0

    def snapshot_filesystem(self) -> Image:
        self.world.calls.add("snapshot_filesystem", self.object_id)
        n = len(self.world.images) + 1
        image = Image(f"im-snap{n}", self.world.base / "images" / f"im-snap{n}")
        shutil.copytree(self.root, image.root or self.root, symlinks=True)
        self.world.images[image.object_id] = image
        return image

    def terminate(self) -> None:
        self.world.calls.add("terminate", self.object_id)
        self.running = False
        shutil.rmtree(self.root, ignore_errors=True)


class _Apps:
    def __init__(self, world: ModalWorld) -> None:
        self.world = world

    def lookup(self, name: str, *, create_if_missing: bool = False) -> str:
        self.world.calls.add("App.lookup", name)
        return name


class _Images:
    def __init__(self, world: ModalWorld) -> None:
        self.world = world

    def from_registry(self, tag: str) -> Image:
        self.world.calls.add("Image.from_registry", tag)
        return Image(f"im-registry-{tag}", None)

    def from_id(self, image_id: str) -> Image:
        self.world.calls.add("Image.from_id", image_id)
        if image_id not in self.world.images:
            raise NotFoundError(f"image {image_id} not found")
        return self.world.images[image_id]


class _Sandboxes:
    def __init__(self, world: ModalWorld) -> None:
        self.world = world

    def create(self, *args: str, app: Any = None, image: Image | None = None,
               timeout: int = 300) -> Sandbox:  # fmt: skip
        w = self.world
        w.calls.add("Sandbox.create", image.object_id if image else "")
        assert app is not None, "a sandbox outside a container needs an app"
        n = len(w.sandboxes) + 1
        root = w.base / "sandboxes" / f"sb-{n}"
        if image is not None and image.root is not None:
            shutil.copytree(image.root, root, symlinks=True)
        else:
            root.mkdir(parents=True)
        sandbox = w.sandboxes[f"sb-{n}"] = Sandbox(w, f"sb-{n}", root)
        return sandbox

    def from_id(self, sandbox_id: str) -> Sandbox:
        self.world.calls.add("Sandbox.from_id", sandbox_id)
        if sandbox_id not in self.world.sandboxes:
            raise NotFoundError(f"sandbox {sandbox_id} not found")
        return self.world.sandboxes[sandbox_id]


class ModalWorld:
    """The fake `modal` module plus the server's state (sandboxes, images)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.calls = Calls()
        self.sandboxes: dict[str, Sandbox] = {}
        self.images: dict[str, Image] = {}
        self.App = _Apps(self)
        self.Image = _Images(self)
        self.Sandbox = _Sandboxes(self)

    def running(self) -> list[str]:
        return [i for i, s in self.sandboxes.items() if s.running]
