"""Hibernation when idle (hermes/backends/idle.py) and reattaching after a
restart, on the singularity, modal and daytona backends against their fakes
(tests/fakes/apptainer_cli.py, modal_sdk.py, daytona_sdk.py), asserting on the
calls each made. The tool-level suite for these backends is tests/test_backends.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from tools_helpers import make_ctx, wait_until

from hermes.backends.pool import backend_for
from hermes.settings import Settings, TerminalSettings
from tests.fakes.sandbox_root import fake_backend


def profile_for(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idle: int = 1):
    fields, env, fake = fake_backend(kind, tmp_path / "fake", monkeypatch)
    terminal = replace(TerminalSettings(backend=kind, idle_seconds=idle), **fields)
    ctx = make_ctx(tmp_path / "home", settings=Settings(terminal=terminal), env=env)
    return ctx.profile, fake


async def remembers_through_hibernation(backend, fake_calls) -> None:  # type: ignore[no-untyped-def]
    done = await backend.run("echo kept > ~/state.txt && echo ok")
    assert done.stdout == b"ok\n"
    await wait_until(lambda: backend.idle.asleep)
    before = len(fake_calls())
    done = await backend.run("cat ~/state.txt")  # wakes it
    assert done.stdout == b"kept\n" and not backend.idle.asleep
    return before  # type: ignore[return-value]


async def test_modal_snapshots_and_terminates_when_idle_then_wakes_from_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, world = profile_for("modal", tmp_path, monkeypatch)
    backend = backend_for(profile)
    await remembers_through_hibernation(backend, lambda: world.calls.made)
    assert world.calls.names().count("snapshot_filesystem") == 1
    assert world.calls.count("terminate") == 1 and world.calls.count("Sandbox.create") == 2
    assert ("Image.from_id", "im-snap1") in world.calls.made  # woken from the snapshot
    assert world.running() == ["sb-2"]
    stored = json.loads((profile.home / "backends/modal-profile.json").read_text())
    assert stored == {"sandbox": "sb-2", "snapshot": "im-snap1"}
    await backend.close()
    again = backend_for(profile)  # a restarted gateway reattaches by the stored id
    assert (await again.run("cat ~/state.txt")).stdout == b"kept\n"
    assert (
        world.calls.count("Sandbox.create") == 2 and ("Sandbox.from_id", "sb-2") in world.calls.made
    )
    await again.close()


async def test_modal_wakes_from_the_snapshot_after_a_restart_while_asleep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, world = profile_for("modal", tmp_path, monkeypatch)
    backend = backend_for(profile)
    await backend.run("echo kept > ~/state.txt")
    await wait_until(lambda: backend.idle.asleep)
    await backend.close()
    again = backend_for(profile)
    assert (await again.run("cat ~/state.txt")).stdout == b"kept\n"
    assert world.calls.count("Sandbox.create") == 2 and world.running() == ["sb-2"]
    await again.close()


async def test_daytona_stops_when_idle_starts_on_the_next_call_and_is_found_by_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, world = profile_for("daytona", tmp_path, monkeypatch)
    backend = backend_for(profile)
    await remembers_through_hibernation(backend, lambda: world.calls.made)
    assert world.calls.names() == ["create", "stop", "start"]
    assert world.sandboxes["sandbox-1"].state == "started"
    await backend.close()
    again = backend_for(profile)
    assert (await again.run("cat ~/state.txt")).stdout == b"kept\n"
    assert world.calls.names() == ["create", "stop", "start", "get"]  # no second create
    await again.close()


async def test_nothing_hibernates_while_a_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, world = profile_for("daytona", tmp_path, monkeypatch)
    backend = backend_for(profile)
    out: list[str] = []
    proc = await backend.start("sleep 2.5; echo done", on_output=out.append)
    assert await proc.wait() == 0 and "done\n" in "".join(out)
    assert "stop" not in world.calls.names()  # idle for 1 s, but busy for 2.5
    await wait_until(lambda: backend.idle.asleep)
    await backend.close()


async def test_singularity_stops_its_instance_when_idle_and_starts_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile, state = profile_for("singularity", tmp_path, monkeypatch)
    backend = backend_for(profile)

    def calls() -> list[list[str]]:
        return [json.loads(x) for x in (state / "calls.jsonl").read_text().splitlines()]

    await remembers_through_hibernation(backend, calls)
    kinds = [" ".join(c[:2]) for c in calls() if c[0] != "exec"]
    assert kinds == ["instance list", "overlay create", "instance start", "instance stop",
                     "instance list", "instance start"]  # fmt: skip
    assert (profile.home / "singularity/overlay.img").is_file()  # created on first use
    await backend.close()
    again = backend_for(profile)  # found again by name: not started twice
    assert (await again.run("cat ~/state.txt")).stdout == b"kept\n"
    assert [" ".join(c[:2]) for c in calls() if c[0] != "exec"][-1] == "instance list"
    await again.close()


async def test_a_missing_sdk_says_how_to_install_it(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, settings=Settings(terminal=TerminalSettings(backend="modal")))
    backend = backend_for(ctx.profile)
    with pytest.raises(Exception, match=r"pip install 'hermes\[modal\]'"):
        await backend.run("true")
