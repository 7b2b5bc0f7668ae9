"""What the fake sandbox SDKs (modal_sdk.py, daytona_sdk.py) share: a sandbox's
"filesystem" is a per-sandbox root directory (its HOME; snapshots copy it),
and its commands are real processes on this machine (so absolute paths are
this machine's, like a sandbox with the test's directories mounted)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Calls:
    """Every SDK call made, in order: (name, detail)."""

    made: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, detail: str = "") -> None:
        self.made.append((name, detail))

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.made if n == name)

    def names(self) -> list[str]:
        return [n for n, _ in self.made if n != "exec"]


def popen(root: Path, argv: list[str]) -> subprocess.Popen[bytes]:
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(root)}
    return subprocess.Popen(
        argv,
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def fake_backend(
    kind: str, base: Path, monkeypatch: Any
) -> tuple[dict[str, Any], dict[str, str], Any]:
    """Set up the fake behind backend KIND (singularity, modal, daytona): the
    TerminalSettings fields, the profile's env additions, and the fake's state
    (the modal/daytona world, or the apptainer state directory)."""
    from hermes.settings import SingularitySettings

    if kind == "singularity":
        state, bin_dir = base / "apptainer", base / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        shim = bin_dir / "apptainer"
        fake = Path(__file__).with_name("apptainer_cli.py")
        shim.write_text(f'#!/bin/sh\nexec {sys.executable} {fake} --state {state} "$@"\n')
        shim.chmod(0o755)
        image = base / "image.sif"
        image.write_bytes(b"SIF fake image")
        path = f"{bin_dir}:{os.environ.get('PATH', os.defpath)}"
        return {"singularity": SingularitySettings(image=str(image))}, {"PATH": path}, state
    if kind == "modal":
        from tests.fakes.modal_sdk import ModalWorld

        world: Any = ModalWorld(base / "modal")
        monkeypatch.setattr("hermes.backends.modal.load_sdk", lambda: world)
        return {}, {}, world
    from tests.fakes.daytona_sdk import DaytonaWorld

    world = DaytonaWorld(base / "daytona")
    monkeypatch.setattr("hermes.backends.daytona.load_sdk", lambda: world)
    return {}, {}, world
