"""The docker backend (hermes/backends/docker.py) against a real engine: podman
(installed by `scripts/install test`) or docker, with an image made from this
machine's own programs (tests/container_helpers.py), no registry. Skipped, with
the reason, only where no engine answers."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from container_helpers import (
    no_engine_reason,
    real_engine,
    remove_containers,
)
from tools_helpers import make_ctx, wait_until

from hermes.backends.base import BackendError
from hermes.backends.docker import DockerBackend
from hermes.backends.pool import backend_for
from hermes.context import TurnContext
from hermes.settings import DockerSettings, Settings, TerminalSettings
from hermes.tools.files import TOOLS as FILE_TOOLS
from hermes.tools.terminal import TERMINAL

T = {t.name: t for t in FILE_TOOLS}
ENGINE = real_engine()
pytestmark = pytest.mark.skipif(ENGINE is None, reason=no_engine_reason())


@pytest.fixture
def image(container_image: tuple[str, str]) -> str:
    return container_image[1]


def settings(workspace: Path, image: str, **docker: object) -> Settings:
    cli = Path(ENGINE or "docker").name
    section = DockerSettings(image=image, cli=cli, **docker)  # type: ignore[arg-type]
    return Settings(terminal=TerminalSettings(backend="docker", cwd=str(workspace), docker=section))


@pytest.fixture
async def ctx(tmp_path: Path, image: str) -> AsyncIterator[TurnContext]:
    context = make_ctx(
        tmp_path / "home",
        settings=settings(tmp_path / "workspace", image),
        env={"ONLY_IN_CTX": "from-ctx"},
    )
    yield context
    await context.processes.shutdown()
    assert ENGINE is not None
    remove_containers(ENGINE, tmp_path / "home")


def body(out: str) -> list[str]:
    return out.splitlines()[1:]


def engine(*args: str) -> str:
    assert ENGINE is not None
    return subprocess.run([ENGINE, *args], capture_output=True, text=True, check=True).stdout


def inspect(ident: str) -> dict[str, object]:
    found = json.loads(engine("inspect", ident))[0]
    assert isinstance(found, dict)
    return found


async def alive(ctx: TurnContext, pid: int) -> bool:
    """Whether PID runs in the container (its pid namespace is not this machine's)."""
    done = await ctx.backend.run(
        ["sh", "-c", f'grep -q "^State:.*[RSD]" /proc/{int(pid)}/status 2>/dev/null']
    )
    return done.returncode == 0


async def dead(ctx: TurnContext, pid: int) -> bool:
    return not await alive(ctx, pid)


async def test_commands_env_cwd_and_the_container_made(ctx: TurnContext, tmp_path: Path) -> None:
    out = await TERMINAL.run(
        {"command": 'echo "$ONLY_IN_CTX"; pwd; cat; echo oops >&2; test -e /.dockerenv -o '
         '-e /run/.containerenv && echo contained; exit 3'}, ctx
    )  # fmt: skip
    assert out.startswith("[exit code 3,")
    assert body(out) == ["from-ctx", str(tmp_path / "workspace"), "oops", "contained"]
    backend = ctx.backend
    assert isinstance(backend, DockerBackend) and backend.ident is not None
    made = inspect(backend.ident)
    config, host = made["Config"], made["HostConfig"]
    assert isinstance(config, dict) and isinstance(host, dict)
    assert config["Labels"]["hermes.profile"] == "default"
    assert config["Labels"]["hermes.home"] == str(tmp_path / "home")
    assert host["NetworkMode"] == "none"
    mounts = [(m["Source"], m["Destination"]) for m in made["Mounts"]]  # type: ignore[attr-defined]
    assert (str(tmp_path / "workspace"), str(tmp_path / "workspace")) in mounts
    ping = await TERMINAL.run({"command": "cat /proc/net/dev | grep -c :"}, ctx)
    assert body(ping) == ["1"]  # only the loopback interface: no network
    assert "container" in backend.where().description  # what the approval gate shows
    await backend.write_bytes(Path("/opt/inside/blob"), bytes(range(256)))  # not the host's
    assert await backend.read_bytes(Path("/opt/inside/blob")) == bytes(range(256))
    assert not await asyncio.to_thread(Path("/opt/inside/blob").exists)


async def test_a_signal_reaches_the_command_in_the_container(ctx: TurnContext) -> None:
    out_lines: list[str] = []
    script = "trap 'echo got-term; exit 7' TERM; echo ready; sleep 300 & wait"
    proc = await ctx.backend.start(script, on_output=out_lines.append)
    await wait_until(lambda: "ready" in "".join(out_lines))
    await proc.signal(signal.SIGTERM)
    await wait_until(lambda: proc.returncode is not None)
    assert proc.returncode in (7, -signal.SIGTERM)
    proc.close()


async def test_found_again_by_label_paused_and_stopped(ctx: TurnContext, tmp_path: Path) -> None:
    await TERMINAL.run({"command": "echo kept > /root/state"}, ctx)
    first = ctx.backend
    assert isinstance(first, DockerBackend) and first.ident is not None
    made = first.ident
    await first.suspend()
    assert inspect(first.spec.name())["State"]["Status"] == "paused"  # type: ignore[index]
    await first.close()
    again = backend_for(ctx.profile)  # as after a gateway restart
    assert isinstance(again, DockerBackend)
    assert (await again.run("cat /root/state")).stdout == b"kept\n"
    assert again.ident == made  # the same container, unpaused
    engine("stop", "-t", "0", made)
    third = backend_for(ctx.profile)
    assert (await third.run("cat /root/state")).stdout == b"kept\n"  # started again
    listed = engine("ps", "-aq", "--filter", f"label=hermes.home={tmp_path / 'home'}")
    assert len(listed.split()) == 1  # never duplicated


async def test_session_scope_network_and_limits(tmp_path: Path, image: str) -> None:
    s = settings(tmp_path / "ws", image, network="host", memory="256m", cpus=0.5)
    s.terminal.scope = "session"
    ctx = make_ctx(tmp_path / "home", settings=s)
    other = make_ctx(tmp_path / "home", settings=s, processes=ctx.processes)
    other.session_id = "s2"
    try:
        await TERMINAL.run({"command": "touch /root/only-s1"}, ctx)
        done = await other.backend.run("ls /root")
        assert b"only-s1" not in done.stdout
        first, second = ctx.backend, other.backend
        assert isinstance(first, DockerBackend) and isinstance(second, DockerBackend)
        assert first.ident != second.ident
        host = inspect(first.ident or "")["HostConfig"]
        assert isinstance(host, dict)
        assert (host["NetworkMode"], host["Memory"], host["NanoCpus"]) == (
            "host",
            256 * 1024 * 1024,
            500_000_000,
        )
    finally:
        await ctx.processes.shutdown()
        assert ENGINE is not None
        remove_containers(ENGINE, tmp_path / "home")


async def test_errors_say_what_to_fix(tmp_path: Path, image: str) -> None:
    unset = settings(tmp_path / "ws", image)
    unset.terminal.docker.image = None
    none = make_ctx(tmp_path / "a", settings=unset)
    with pytest.raises(BackendError, match=r"terminal.docker.image is not set; set it with"):
        backend_for(none.profile)
    missing = backend_for(make_ctx(tmp_path / "b", settings=settings(tmp_path, "nope:1")).profile)
    with pytest.raises(BackendError, match=r"the image nope:1 .* build or pull it"):
        await missing.check()
    s = settings(tmp_path / "c/ws", image)
    s.terminal.docker.cli = "docker"  # /usr/local/bin/docker: a CLI without an engine here
    nodocker = backend_for(make_ctx(tmp_path / "c", settings=s).profile)
    if real_engine() != "docker":
        with pytest.raises(BackendError, match=r"(start the docker daemon|docker CLI and none)"):
            await nodocker.check()
    good_ctx = make_ctx(tmp_path / "d", settings=settings(tmp_path / "d/ws", image))
    try:
        assert "container hermes-default-" in await backend_for(good_ctx.profile).check()
        (tmp_path / "d/ws").rmdir()  # the mount source goes: an error, not an empty dir
        with pytest.raises(BackendError, match=r"the workspace .*d/ws mounted in .* is missing"):
            await backend_for(good_ctx.profile).open()
    finally:
        assert ENGINE is not None
        remove_containers(ENGINE, tmp_path / "d")
