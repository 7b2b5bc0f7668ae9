"""The docker backend's engine: which CLI (docker, or podman which takes the
same subcommands and flags), whether its engine answers, and the one long-lived
container of a profile (or session), found again by its labels after a restart.

Only the CLI is used (no SDK): `info`, `image inspect`, `ps -a --filter label=`,
`inspect`, `run -d`, `start`, `pause`, `unpause`, `exec`."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hermes.aio import within
from hermes.backends.base import BackendError

# keeps the container up without a program of its own; exits at once on `docker stop`
KEEPALIVE = "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"


@dataclass(frozen=True)
class Spec:
    """What a container is made from; any change makes another container."""

    profile: str
    home: Path
    scope: str  # "profile" or the session id
    image: str
    workspace: Path  # bind-mounted at the same path inside
    network: str
    memory: str | None
    cpus: float | None

    def labels(self) -> dict[str, str]:
        made = repr((str(self.workspace), self.image, self.network, self.memory, self.cpus))
        return {
            "hermes.profile": self.profile,
            "hermes.home": str(self.home),
            "hermes.scope": self.scope,
            "hermes.config": hashlib.sha256(made.encode()).hexdigest()[:12],
        }

    def name(self) -> str:
        tag = hashlib.sha256(repr(sorted(self.labels().items())).encode()).hexdigest()[:10]
        safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in self.profile)
        return f"hermes-{safe}-{tag}"

    def run_args(self) -> list[str]:
        args = ["run", "-d", "--init", "--name", self.name(), "--network", self.network]
        for key, value in self.labels().items():
            args += ["--label", f"{key}={value}"]
        ws = str(self.workspace)
        args += ["--mount", f"type=bind,source={ws},target={ws}"]
        if self.memory:
            args += ["--memory", self.memory]
        if self.cpus:
            args += ["--cpus", f"{self.cpus:g}"]
        return [*args, self.image, "sh", "-c", KEEPALIVE]


async def cli_run(argv: list[str], timeout: float = 120) -> tuple[int, str, str]:  # noqa: ASYNC109
    """Run one CLI command to its end: (exit code, stdout, stderr)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise BackendError(f"cannot run {argv[0]}: {exc}") from exc
    try:
        out, err = await within(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, "", f"{' '.join(argv[:2])} did not answer within {timeout:g}s"
    code = proc.returncode
    return -1 if code is None else code, out.decode(errors="replace"), err.decode(errors="replace")


def _line(text: str) -> str:
    return " ".join(text.split())[:300]


async def pick_cli(wanted: str) -> str:
    """The CLI to use: terminal.docker.cli, or (auto) docker or podman, whichever is
    installed and has an engine that answers. BackendError says how to fix it."""
    names = ["docker", "podman"] if wanted == "auto" else [wanted]
    found = [(n, p) for n in names if (p := shutil.which(n)) is not None]
    if not found:
        raise BackendError(
            f"the docker backend needs the {' or '.join(names)} CLI and none is on PATH; "
            "install podman (apt install podman) or docker"
        )
    why = ""
    for name, path in found:
        code, _, err = await cli_run([path, "info"], timeout=30)
        if code == 0:
            return path
        why = why or f"{name} is installed but its engine does not answer ({_line(err)})"
    fix = (
        "start the docker daemon (systemctl start docker)"
        if found[0][0] == "docker"
        else "check `podman info`"
    )
    other = " or set terminal.docker.cli" if wanted == "auto" or len(found) > 1 else ""
    raise BackendError(f"{why}; {fix}{other}")


async def image_present(cli: str, image: str) -> None:
    code, _, _ = await cli_run([cli, "image", "inspect", image], timeout=60)
    if code != 0:
        tool = Path(cli).name
        raise BackendError(
            f"the image {image} (terminal.docker.image) is not in {tool}'s image store; "
            f"build or pull it (`{tool} pull {image}` or `{tool} build -t {image} .`)"
        )


async def find(cli: str, spec: Spec) -> tuple[str, str] | None:
    """The container made for SPEC (id, state: running, paused, exited, created...)."""
    argv = [cli, "ps", "-a", "--no-trunc", "--format", "{{.ID}}"]
    for key, value in spec.labels().items():
        argv += ["--filter", f"label={key}={value}"]
    code, out, err = await cli_run(argv, timeout=60)
    if code != 0:
        raise BackendError(f"{Path(cli).name} ps failed: {_line(err)}")
    ids = out.split()
    if not ids:
        return None
    code, out, err = await cli_run([cli, "inspect", "--format", "{{.State.Status}}", ids[0]])
    if code != 0:  # removed in between
        return None
    return ids[0], out.strip().lower()


async def create(cli: str, spec: Spec) -> str:
    """Make and start the container (the workspace must exist): its id."""
    code, out, err = await cli_run([cli, *spec.run_args()], timeout=300)
    if code != 0:
        if "already in use" in err:  # made meanwhile by another gateway or turn
            again = await find(cli, spec)
            if again is not None:
                return again[0]
        raise BackendError(f"could not create the container from {spec.image}: {_line(err)}")
    return out.strip().splitlines()[-1]


async def wake(cli: str, ident: str, state: str) -> None:
    """Bring a found container to running (unpause a paused one, start a stopped one)."""
    if state == "running":
        return
    verb = "unpause" if state == "paused" else "start"
    code, _, err = await cli_run([cli, verb, ident], timeout=120)
    if code != 0:
        raise BackendError(f"could not {verb} the container {ident[:12]}: {_line(err)}")


def exec_argv(cli: str, ident: str, *, interactive: bool) -> list[str]:
    return [cli, "exec", *(["-i"] if interactive else []), ident]
