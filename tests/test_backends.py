"""The terminal backends (hermes/backends/): one tool-level suite run against
each backend (local; ssh against a real OpenSSH server on loopback; docker on a
real engine; singularity, modal and daytona on fakes of their CLI / SDK), then
what only ssh has: host keys pinned on first use, a dropped connection, the
errors `hermes doctor` shows, and a whole turn (`hermes -z`) on the ssh backend
with the approval gate in front of it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sshd_helpers import Sshd, keygen
from tools_helpers import make_ctx, pid_alive, wait_until

from hermes.aio import within
from hermes.approvals.gate import ApprovalGate, NobodyToAsk
from hermes.backends.base import BackendError
from hermes.backends.local import LocalBackend
from hermes.backends.pool import backend_for
from hermes.backends.ssh import SshBackend
from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.messages import ToolCall
from hermes.settings import (
    ApprovalSettings,
    DockerSettings,
    Settings,
    SshSettings,
    TerminalSettings,
)
from hermes.testing import ScriptedModel
from hermes.tools.files import TOOLS as FILE_TOOLS
from hermes.tools.search import TOOLS as SEARCH_TOOLS
from hermes.tools.terminal import PROCESS, TERMINAL
from tests.cli_helpers import run_hermes
from tests.container_helpers import remove_containers
from tests.fakes.sandbox_root import fake_backend

T = {t.name: t for t in [*FILE_TOOLS, *SEARCH_TOOLS, TERMINAL, PROCESS]}


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


def settings_for(kind: str, workspace: Path, sshd: Sshd, key: Path | None = None) -> Settings:
    if kind == "local":
        return Settings(terminal=TerminalSettings(cwd=str(workspace)))
    ssh = SshSettings(
        host="127.0.0.1", port=sshd.port, user=sshd.user, key=str(key or sshd.client_key)
    )
    return Settings(terminal=TerminalSettings(backend="ssh", cwd=str(workspace), ssh=ssh))


@pytest.fixture(params=["local", "ssh", "docker", "singularity", "modal", "daytona"])
async def ctx(
    request: pytest.FixtureRequest, tmp_path: Path, sshd: Sshd, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TurnContext]:
    env = {"ONLY_IN_CTX": "from-ctx"}
    workspace = str(tmp_path / "workspace")
    cli = None
    if request.param in ("singularity", "modal", "daytona"):  # fakes: tests/fakes/
        fields, more, _ = fake_backend(request.param, tmp_path / "fake", monkeypatch)
        terminal = TerminalSettings(backend=request.param, cwd=workspace)
        settings = Settings(terminal=replace(terminal, **fields))
        env.update(more)
    elif request.param == "docker":  # a real engine; skipped, with why, where none answers
        cli, image = request.getfixturevalue("container_image")
        docker = DockerSettings(image=image, cli=Path(cli).name)
        terminal = TerminalSettings(backend="docker", cwd=workspace, docker=docker)
        settings = Settings(terminal=terminal)
    else:
        settings = settings_for(request.param, tmp_path / "workspace", sshd)
    context = make_ctx(tmp_path / "home", settings=settings, env=env)
    yield context
    await context.processes.shutdown()
    if cli is not None:
        remove_containers(cli, tmp_path / "home")


async def alive(ctx: TurnContext, pid: int) -> bool:
    """Whether PID runs where the backend runs commands (a container has pids of its
    own), asked through the backend itself; a zombie counts as dead."""
    done = await ctx.backend.run(
        ["sh", "-c", f'grep -q "^State:.*[RSDT]" /proc/{int(pid)}/status 2>/dev/null']
    )
    return done.returncode == 0


async def dead(ctx: TurnContext, pid: int) -> bool:
    return not await alive(ctx, pid)


def pids_in(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"^PID (\d+)$", text, re.MULTILINE)]


def body(out: str) -> list[str]:
    return out.splitlines()[1:]


# --- the same cases on every backend ---------------------------------------------------


async def test_output_stderr_and_exit_code(ctx: TurnContext) -> None:
    out = await TERMINAL.run({"command": "echo hello; echo oops >&2; exit 3"}, ctx)
    assert out.startswith("[exit code 3,")
    assert body(out) == ["hello", "oops"]


async def test_env_cwd_and_empty_stdin(ctx: TurnContext, tmp_path: Path) -> None:
    out = await TERMINAL.run({"command": 'echo "$ONLY_IN_CTX"; pwd; cat; echo done'}, ctx)
    assert body(out) == ["from-ctx", str(tmp_path / "workspace"), "done"]
    assert (tmp_path / "workspace").is_dir()  # created on first use


async def test_cwd_persists_between_calls_and_files_follow_it(
    ctx: TurnContext, tmp_path: Path
) -> None:
    out = await TERMINAL.run({"command": "mkdir -p sub/deeper && cd sub"}, ctx)
    assert out.endswith(f"[working directory is now {tmp_path / 'workspace' / 'sub'}]")
    assert body(await TERMINAL.run({"command": "pwd"}, ctx)) == [str(tmp_path / "workspace/sub")]
    await T["write_file"].run({"path": "here.txt", "content": "x\n"}, ctx)
    assert (tmp_path / "workspace/sub/here.txt").read_text() == "x\n"
    await TERMINAL.run({"command": "cd deeper; exit 4"}, ctx)  # an exit still reports it
    assert body(await TERMINAL.run({"command": "pwd"}, ctx))[0].endswith("/sub/deeper")
    await TERMINAL.run({"command": "(cd /); cd /nonexistent"}, ctx)  # failed cd: unchanged
    assert body(await TERMINAL.run({"command": "pwd"}, ctx))[0].endswith("/sub/deeper")


async def test_timeout_kills_the_command_and_its_children(ctx: TurnContext) -> None:
    out = await TERMINAL.run({"command": "sleep 300 & echo PID $!; sleep 300", "timeout": 1}, ctx)
    assert "timed out after 1s" in out
    [child] = pids_in(out)
    await wait_until(lambda: dead(ctx, child))


async def test_background_process_then_kill_its_tree(ctx: TurnContext) -> None:
    out = await TERMINAL.run(
        {"command": "sleep 300 & echo PID $!; echo started; sleep 300", "background": True}, ctx
    )
    proc_id = re.search(r"background process (proc_\w+)", out)
    assert proc_id is not None, out
    pid = proc_id.group(1)
    await wait_until(lambda: "started" in ctx.processes.log(pid)[1])
    [child] = pids_in(ctx.processes.log(pid)[1])
    assert await alive(ctx, child)
    killed = await PROCESS.run({"action": "kill", "id": pid}, ctx)
    assert "Killed." in killed and "killed" in killed
    await wait_until(lambda: dead(ctx, child))


async def test_a_start_cancelled_before_its_pipes_connect_kills_the_group(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A SIGTERM to `hermes -z` that landed while the pipes of a just-forked command
    were still connecting left the turn waiting forever (Python 3.11 killed only the
    shell, and the shell's child held stdout open)."""
    backend = LocalBackend(tmp_path, tmp_path)
    pid_file = tmp_path / "child.pid"
    start = asyncio.ensure_future(
        backend.start(f"sleep 300 & echo $! > {pid_file}; wait", on_output=lambda _: None)
    )
    for _ in range(2):  # the start forks in its second step; its pipes connect later
        await asyncio.sleep(0)
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text().strip()):  # the loop stays blocked
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.01)  # noqa: ASYNC251 - the loop must not run: the pipes would connect
    start.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(start, 10)
    child = int(pid_file.read_text())
    await wait_until(lambda: not pid_alive(child))
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []  # reaped once


async def test_background_process_exit_code(ctx: TurnContext) -> None:
    info = await ctx.processes.start(
        "echo bye; exit 4", ctx.cwd, ctx.env, session_id="s1", backend=ctx.backend
    )
    poll = await ctx.processes.wait(info.id, 20)
    assert (poll.info.status, poll.info.exit_code, poll.output) == ("exited", 4, "bye\n")


async def test_files_write_read_patch_search(ctx: TurnContext, tmp_path: Path) -> None:
    out = await T["write_file"].run({"path": "src/a.py", "content": "one\ntwo\nthree\n"}, ctx)
    assert out.startswith("Created") and (tmp_path / "workspace/src/a.py").is_file()
    assert await T["read_file"].run({"path": "src/a.py", "offset": 2, "limit": 1}, ctx) == (
        "     2\ttwo\n[lines 2-2 of 3; continue with offset=3]"
    )
    await T["patch"].run({"path": "src/a.py", "old": "two", "new": "TWO"}, ctx)
    assert (tmp_path / "workspace/src/a.py").read_text() == "one\nTWO\nthree\n"
    (tmp_path / "workspace/src/b.txt").write_text("TWO as well\n")
    (tmp_path / "workspace/.git").mkdir()
    (tmp_path / "workspace/.git/c").write_text("TWO hidden\n")
    out = await T["search_files"].run({"pattern": "TWO"}, ctx)
    assert out.splitlines() == ["src/a.py:2: TWO", "src/b.txt:1: TWO as well"]
    out = await T["search_files"].run({"pattern": "TWO", "glob": "*.py"}, ctx)
    assert out == "src/a.py:2: TWO"
    with pytest.raises(ToolError, match="no such file"):
        await T["read_file"].run({"path": "missing.txt"}, ctx)
    with pytest.raises(ToolError, match="is a directory"):
        await T["read_file"].run({"path": "src"}, ctx)
    with pytest.raises(ToolError, match="old text not found"):
        await T["patch"].run({"path": "src/a.py", "old": "four", "new": "x"}, ctx)


async def test_the_backend_file_interface(ctx: TurnContext, tmp_path: Path) -> None:
    backend = ctx.backend
    await backend.open()
    data = bytes(range(256)) * 10
    target = tmp_path / "workspace/bin/blob"
    await backend.write_bytes(target, data)
    assert await backend.read_bytes(target) == data
    assert await backend.read_bytes(target, 5) == data[:5]
    target.chmod(0o600)
    await backend.write_bytes(target, b"new")  # the mode is kept
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o600
    st = await backend.stat(target)
    assert st is not None and (st.kind, st.size, st.mode) == ("file", 3, 0o600)
    assert await backend.stat(tmp_path / "nothing") is None
    (tmp_path / "workspace/bin/link").symlink_to(target)
    assert [(e.path, e.kind) for e in await backend.listdir(target.parent)] == [
        ("blob", "file"),
        ("link", "link"),
    ]
    assert await backend.realpath(target.parent / "link") == str(target)
    assert await backend.exists(target.parent / "link")
    with pytest.raises(FileNotFoundError):
        await backend.read_bytes(tmp_path / "nothing")
    done = await backend.run(["sh", "-c", "cat; echo err >&2; exit 2"], stdin=b"in")
    assert (done.returncode, done.stdout, done.stderr) == (2, b"in", b"err\n")
    slow = await backend.run("sleep 30", timeout=0.5)
    assert slow.timed_out


async def test_the_gate_refuses_hard_commands_and_sees_links(ctx: TurnContext) -> None:
    gate = ApprovalGate(ApprovalSettings(mode="off"), NobodyToAsk())
    call = ToolCall("c1", "terminal", "{}")
    refused = await gate.before(call, {"command": "rm -rf /"}, ctx)
    assert isinstance(refused, str) and refused.startswith("Refused:")
    await TERMINAL.run({"command": "ln -s / rootlink"}, ctx)  # the gate must look at the disk
    refused = await gate.before(call, {"command": "rm -rf rootlink/"}, ctx)
    assert isinstance(refused, str) and refused.startswith("Refused:")
    assert await gate.before(call, {"command": "ls rootlink/"}, ctx) is None


# --- ssh only ----------------------------------------------------------------------


def ssh_ctx(sshd: Sshd, tmp_path: Path, key: Path | None = None) -> TurnContext:
    return make_ctx(
        tmp_path / "home", settings=settings_for("ssh", tmp_path / "workspace", sshd, key)
    )


async def test_host_key_is_pinned_and_a_changed_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    ctx = ssh_ctx(sshd, tmp_path)
    try:
        assert body(await TERMINAL.run({"command": "echo up"}, ctx)) == ["up"]
        pinned = (tmp_path / "home/ssh/known_hosts").read_text()
        assert f"[127.0.0.1]:{sshd.port}" in pinned
        await ctx.processes.backends.close()  # the master goes: the next command reconnects
        sshd.restart(new_host_key=True)
        with pytest.raises(ToolError, match=r"host key changed since it was first pinned"):
            await TERMINAL.run({"command": "echo again"}, ctx)
        assert (tmp_path / "home/ssh/known_hosts").read_text() == pinned  # not replaced
    finally:
        await ctx.processes.shutdown()


async def test_a_dropped_connection_is_made_again(sshd: Sshd, tmp_path: Path) -> None:
    ctx = ssh_ctx(sshd, tmp_path)
    try:
        assert body(await TERMINAL.run({"command": "echo one"}, ctx)) == ["one"]
        backend = ctx.backend
        assert isinstance(backend, SshBackend) and backend.link.alive()
        check = await asyncio.to_thread(
            subprocess.run,
            [*backend.link.argv("true")[:-2], "-O", "check", backend.link.destination],
            capture_output=True,
            text=True,
        )
        master = int(re.findall(r"pid=(\d+)", check.stderr + check.stdout)[0])
        os.kill(master, signal.SIGKILL)
        await wait_until(lambda: not pid_alive(master))
        assert body(await TERMINAL.run({"command": "echo two"}, ctx)) == ["two"]
        assert backend.link.alive()
        sshd.restart()  # the listener restarts; the connection made before stays usable
        assert body(await TERMINAL.run({"command": "echo three"}, ctx)) == ["three"]
    finally:
        await ctx.processes.shutdown()


async def test_connection_errors_say_what_to_fix(sshd: Sshd, tmp_path: Path) -> None:
    stranger = keygen(tmp_path / "stranger_key")
    wrong_key = backend_for(ssh_ctx(sshd, tmp_path / "a", key=stranger).profile)
    with pytest.raises(BackendError, match=r"authentication failed with the key .*stranger_key"):
        await wrong_key.check()
    missing = backend_for(ssh_ctx(sshd, tmp_path / "b", key=tmp_path / "nokey").profile)
    with pytest.raises(BackendError, match=r"the key file .*nokey does not exist"):
        await missing.check()
    settings = settings_for("ssh", tmp_path, sshd)
    settings.terminal.ssh.port = 1  # nothing listens there
    closed = backend_for(make_ctx(tmp_path / "c", settings=settings).profile)
    with pytest.raises(BackendError, match=r"ssh .*127\.0\.0\.1:1 is unreachable"):
        await closed.check()
    good = backend_for(ssh_ctx(sshd, tmp_path / "d").profile)
    try:
        assert await good.check() == f"ssh {sshd.user}@127.0.0.1:{sshd.port}"
    finally:
        await good.close()


def test_a_turn_runs_on_the_ssh_backend_and_hard_is_refused_there(
    sshd: Sshd, tmp_path: Path, model: ScriptedModel
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    lines = ["model:", "  provider: custom", f"  base_url: {model.base_url}", "  model: m"]
    (home / "config.yaml").write_text("\n".join([*lines, *sshd.config_lines(tmp_path)]) + "\n")
    model.tool_call("terminal", {"command": 'echo "over ${SSH_CONNECTION:+ssh}"; cd /tmp'})
    model.tool_call("terminal", {"command": "pwd"})
    model.tool_call("terminal", {"command": "rm -rf /"})
    model.reply("done")
    result = run_hermes(home, "-z", "work remotely", clean=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, "done\n"), result.stderr
    results = [m["content"] for r in model.requests for m in r.messages if m["role"] == "tool"][-3:]
    assert "over ssh" in results[0]  # sshd set SSH_CONNECTION: it ran over ssh
    assert body(results[1]) == ["/tmp"]
    assert results[2].startswith("Refused:")
    system = model.requests[0].messages[0]["content"]
    assert f"tools run on ssh {sshd.user}@127.0.0.1:{sshd.port}, not on this machine" in system


def test_config_set_validates_the_backend_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bad = run_hermes(home, "config", "set", "terminal.backend", "sssh", clean=True)
    assert bad.returncode != 0
    from hermes.backends import names

    assert f"unknown terminal backend 'sssh'; valid backends: {names()}" in bad.stderr
    good = run_hermes(home, "config", "set", "terminal.backend", "ssh", clean=True)
    assert good.returncode == 0, good.stderr
    assert "backend: ssh" in (home / "config.yaml").read_text()


async def test_session_scope_gives_each_session_its_own_cwd(tmp_path: Path, sshd: Sshd) -> None:
    settings = settings_for("local", tmp_path / "workspace", sshd)
    settings.terminal.scope = "session"
    first = make_ctx(tmp_path / "home", settings=settings)
    second = make_ctx(tmp_path / "home", settings=settings, processes=first.processes)
    second.session_id = "s2"
    try:
        await TERMINAL.run({"command": "mkdir -p a && cd a"}, first)
        assert body(await TERMINAL.run({"command": "pwd"}, second)) == [str(tmp_path / "workspace")]
        assert first.backend is not second.backend
        settings.terminal.scope = "profile"
        assert first.backend is second.backend
    finally:
        await first.processes.shutdown()


async def test_signals_reach_the_whole_remote_group(sshd: Sshd, tmp_path: Path) -> None:
    ctx = ssh_ctx(sshd, tmp_path)
    try:
        backend = ctx.backend
        out: list[str] = []
        script = "trap 'echo got-term; exit 7' TERM; echo ready; sleep 300 & wait"
        proc = await backend.start(script, on_output=out.append)
        await wait_until(lambda: "ready" in "".join(out))
        await proc.signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) in (7, -signal.SIGTERM)
        proc.close()
    finally:
        await ctx.processes.shutdown()


def test_doctor_reaches_the_backend_or_says_why(sshd: Sshd, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text("\n".join(sshd.config_lines(tmp_path / "ws")) + "\n")
    out = run_hermes(home, "doctor", "--offline", clean=True).stdout
    assert "terminal backend ssh: not checked (offline)" in out
    out = run_hermes(home, "doctor", clean=True).stdout
    assert f"terminal backend ssh: ssh {sshd.user}@127.0.0.1:{sshd.port} runs commands" in out
    lines = sshd.config_lines(tmp_path / "ws", key=keygen(tmp_path / "stranger"))
    (home / "config.yaml").write_text("\n".join(lines) + "\n")
    out = run_hermes(home, "doctor", clean=True).stdout
    assert re.search(r"terminal backend ssh: ssh .* authentication failed with the key", out), out
