"""`hermes gateway install/uninstall/start/stop/restart/status/list`: the unit and
plist files checked by systemd-analyze and plistlib, and the detached gateway
(no service manager runs here) driven through the real CLI with real signals."""

from __future__ import annotations

import os
import plistlib
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hermes.pidfile import running_pid
from hermes.service.manager import Managers
from hermes.service.units import (
    ServiceSpec,
    launchd_label,
    launchd_plist,
    plist_name,
    systemd_unit,
    unit_name,
)
from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.gateway_helpers import make_home
from tests.tools_helpers import pid_alive

PYTHON = os.path.abspath(sys.executable)


@pytest.fixture
def root(tmp_path: Path, model: ScriptedModel) -> Iterator[Path]:
    """A root home (the default profile) whose gateway binds a free port; every
    gateway still running in it or its profiles is killed after the test."""
    root = make_home(tmp_path / "hermes root", model, {"server": {"port": 0}})
    yield root
    for home in [root, *root.glob("profiles/*")]:
        pid = running_pid(home)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def env(tmp_path: Path, root: Path) -> dict[str, str]:
    """The CLI's environment: homes and unit dirs in tmp_path, no service manager."""
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CONFIG_HOME", "SUDO_USER")}
    (tmp_path / "user").mkdir()
    return {
        **env,
        "HERMES_HOME": str(root),
        "HOME": str(tmp_path / "user"),
        "HERMES_SYSTEMD_SYSTEM_DIR": str(tmp_path / "etc"),
        "HERMES_SERVICE_MANAGER": "none",
    }


def hermes(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_hermes(Path(env["HERMES_HOME"]), *args, env=env, clean=True, timeout=90)


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert result.returncode == code, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    return result.stdout


def user_unit(env: dict[str, str], name: str = "hermes-gateway.service") -> Path:
    return Path(env["HOME"]) / ".config" / "systemd" / "user" / name


def system_unit(env: dict[str, str], name: str = "hermes-gateway.service") -> Path:
    return Path(env["HERMES_SYSTEMD_SYSTEM_DIR"]) / name


def started_pid(out: str) -> int:
    match = re.search(
        r"started \(pid (\d+), detached: [^)]+\); web chat: http://127\.0\.0\.1:\d+", out
    )
    assert match, out
    return int(match.group(1))


def wait_for(check: Callable[[], bool], seconds: float, why: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds}s: {why}"
        time.sleep(0.02)


def verify(unit: Path, tmp_path: Path, *, user: bool) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` on UNIT (a user manager needs a runtime dir, even offline)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is missing: scripts/install adds Debian's systemd package")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    scope = ["--user"] if user else []
    return subprocess.run(
        ["systemd-analyze", "verify", *scope, str(unit)],
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_COLOR": "0"},
        capture_output=True,
        text=True,
        timeout=30,
    )


def assert_verified(unit: Path, tmp_path: Path, *, user: bool) -> None:
    result = verify(unit, tmp_path, user=user)
    assert (result.returncode, result.stdout + result.stderr) == (0, ""), unit.read_text()


# -- the service files ------------------------------------------------------------------


def test_names_of_units_and_plists() -> None:
    assert unit_name("default") == "hermes-gateway.service"
    assert unit_name("coder") == "hermes-gateway-coder.service"
    assert (launchd_label("default"), plist_name("default")) == (
        "ai.hermes.gateway",
        "ai.hermes.gateway.plist",
    )
    assert plist_name("coder") == "ai.hermes.gateway-coder.plist"


def test_installed_user_system_and_profile_units_pass_systemd_verify(
    tmp_path: Path, env: dict[str, str], root: Path, model: ScriptedModel
) -> None:
    make_home(root / "profiles" / "coder", model, {"gateway": {"drain_seconds": 40}})
    ok(hermes(env, "gateway", "install"))
    ok(hermes(env, "gateway", "install", "--system"))
    ok(hermes(env, "-p", "coder", "gateway", "install"))
    user, system = user_unit(env), system_unit(env)
    coder = user_unit(env, "hermes-gateway-coder.service")
    assert_verified(user, tmp_path, user=True)
    assert_verified(system, tmp_path, user=False)
    assert_verified(coder, tmp_path, user=True)

    text = user.read_text()
    assert any(f"ExecStart={p} -m hermes gateway run\n" in text for p in (PYTHON, f'"{PYTHON}"'))
    assert f'Environment="HERMES_HOME={root}"' in text  # the root: profiles resolve alike
    assert f"WorkingDirectory={root}\n" in text
    assert "Restart=on-failure" in text and "KillSignal=SIGTERM" in text
    assert "After=network-online.target" in text and "Wants=network-online.target" in text
    assert "WantedBy=default.target" in text and "User=" not in text
    assert int(re.findall(r"TimeoutStopSec=(\d+)", text)[0]) > 20  # default drain_seconds

    me = pwd.getpwuid(os.getuid()).pw_name
    assert f"User={me}\n" in system.read_text()
    assert "WantedBy=multi-user.target" in system.read_text()

    coder_text = coder.read_text()
    assert "-m hermes -p coder gateway run" in coder_text
    assert f'Environment="HERMES_HOME={root}"' in coder_text
    assert f"WorkingDirectory={root}/profiles/coder\n" in coder_text
    assert int(re.findall(r"TimeoutStopSec=(\d+)", coder_text)[0]) > 40


def test_a_system_unit_run_through_sudo_runs_as_the_invoking_user(
    env: dict[str, str],
) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    ok(hermes({**env, "SUDO_USER": me}, "gateway", "install", "--system"))
    assert f"User={me}\n" in system_unit(env).read_text()


def test_odd_paths_are_quoted_so_systemd_reads_them_back(tmp_path: Path) -> None:
    odd = tmp_path / "my 100% home"
    odd.mkdir()
    python = odd / "py thon"
    python.symlink_to(PYTHON)
    spec = ServiceSpec("coder", odd / "profiles" / "coder", odd, str(python), 20, "/usr/bin:/bin")
    unit = tmp_path / "hermes-gateway-coder.service"
    unit.write_text(systemd_unit(spec))
    assert_verified(unit, tmp_path, user=True)
    # the check bites: a unit whose interpreter does not exist is refused
    unit.write_text(systemd_unit(ServiceSpec("coder", odd, odd, "/nonexistent/python", 20, "")))
    assert verify(unit, tmp_path, user=True).returncode != 0


def test_the_launchd_plist_is_well_formed_with_the_keys_launchd_needs(tmp_path: Path) -> None:
    root = tmp_path / "root & <home>"
    spec = ServiceSpec("coder", root / "profiles" / "coder", root, PYTHON, 30, "/usr/bin:/bin")
    data = launchd_plist(spec)
    assert ET.fromstring(data).tag == "plist"
    plist = plistlib.loads(data)
    assert plist["Label"] == "ai.hermes.gateway-coder"
    assert plist["ProgramArguments"] == [PYTHON, "-m", "hermes", "-p", "coder", "gateway", "run"]
    assert plist["EnvironmentVariables"]["HERMES_HOME"] == str(root)
    assert plist["WorkingDirectory"] == str(root / "profiles" / "coder")
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    out = str(root / "profiles" / "coder" / "logs" / "gateway.out")
    assert plist["StandardOutPath"] == plist["StandardErrorPath"] == out
    assert plist["ExitTimeOut"] > 30
    default = plistlib.loads(launchd_plist(ServiceSpec("default", root, root, PYTHON, 20, "")))
    assert default["Label"] == "ai.hermes.gateway"
    assert default["ProgramArguments"] == [PYTHON, "-m", "hermes", "gateway", "run"]


# -- install / uninstall ----------------------------------------------------------------


def test_install_refuses_to_overwrite_a_different_unit_and_uninstall_removes_it(
    env: dict[str, str],
) -> None:
    unit = user_unit(env)
    out = ok(hermes(env, "gateway", "install"))
    assert "the unit is written" in out and "will run a detached process instead" in out
    written = unit.read_text()
    unit.write_text(written + "# my change\n")

    refused = hermes(env, "gateway", "install")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "pass --force" in refused.stderr
    assert unit.read_text().endswith("# my change\n")

    assert "the unit is replaced" in ok(hermes(env, "gateway", "install", "--force"))
    assert unit.read_text() == written
    assert "the unit is unchanged" in ok(hermes(env, "gateway", "install"))

    assert f"removed systemd user unit hermes-gateway.service ({unit})" in ok(
        hermes(env, "gateway", "uninstall")
    )
    assert not unit.exists()
    assert "no systemd user unit hermes-gateway.service installed" in ok(
        hermes(env, "gateway", "uninstall")
    )


def test_without_a_user_manager_install_says_start_runs_a_detached_process(
    env: dict[str, str],
) -> None:
    auto = {k: v for k, v in env.items() if k != "HERMES_SERVICE_MANAGER"}
    if Managers(auto).usable("systemd-user"):
        pytest.skip("a systemd user manager runs here: install would enable the unit for real")
    out = ok(hermes(auto, "gateway", "install"))
    assert out.startswith("no systemd user manager here: the unit is written")
    assert "`hermes gateway start` will run a detached process instead" in out


def test_a_profiles_commands_suggest_commands_for_that_profile(
    env: dict[str, str], root: Path, model: ScriptedModel
) -> None:
    make_home(root / "profiles" / "coder", model, {"server": {"port": 0}})
    status = ok(hermes(env, "-p", "coder", "gateway", "status"), 3)
    assert "(`hermes -p coder gateway install` starts it at login)" in status
    out = ok(hermes(env, "-p", "coder", "gateway", "install"))
    assert "`hermes -p coder gateway start` will run a detached process instead" in out
    assert "`hermes gateway" not in out


def test_both_a_user_and_a_system_unit_are_warned_about(env: dict[str, str]) -> None:
    first = hermes(env, "gateway", "install")
    assert first.returncode == 0 and "warning" not in first.stderr
    both = hermes(env, "gateway", "install", "--system")
    assert both.returncode == 0
    assert "warning: both a user unit" in both.stderr and "system unit" in both.stderr
    status = hermes(env, "gateway", "status")
    assert "warning: both a user unit" in status.stderr
    assert f"service: systemd user unit hermes-gateway.service at {user_unit(env)}" in status.stdout
    ok(hermes(env, "gateway", "uninstall", "--system"))
    assert "warning" not in hermes(env, "gateway", "status").stderr


# -- the detached gateway ----------------------------------------------------------------


def test_start_status_start_again_restart_stop(env: dict[str, str], root: Path) -> None:
    pid = started_pid(ok(hermes(env, "gateway", "start")))
    assert running_pid(root) == pid

    status = ok(hermes(env, "gateway", "status"))
    assert f"default gateway: running (pid {pid}, up " in status
    assert "web chat: http://127.0.0.1:" in status and "platforms: web connected" in status
    assert "service: none installed" in status

    again = ok(hermes(env, "gateway", "start"))
    assert again.startswith(f"default gateway already running (pid {pid})")

    restarted = ok(hermes(env, "gateway", "restart"))
    assert f"default gateway stopped (pid {pid}, SIGTERM)" in restarted
    new_pid = started_pid(restarted)
    assert new_pid != pid and not pid_alive(pid) and running_pid(root) == new_pid

    assert ok(hermes(env, "gateway", "stop")).strip() == (
        f"default gateway stopped (pid {new_pid}, SIGTERM)"
    )
    assert not pid_alive(new_pid)
    stopped = hermes(env, "gateway", "status")
    assert ok(stopped, 3).startswith("default gateway: stopped\n")
    assert ok(hermes(env, "gateway", "stop")).strip() == "default gateway not running"
    assert "Stopping: finishing running turns" in (root / "logs" / "gateway.out").read_text()


def test_a_killed_gateway_leaves_stale_files_that_status_reports_and_cleans(
    env: dict[str, str], root: Path
) -> None:
    pid = started_pid(ok(hermes(env, "gateway", "start")))
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: running_pid(root) is None, 10, "the killed gateway let go of its lock")
    assert (root / "gateway.json").exists() and (root / "gateway.pid").read_text().strip()

    assert "default  stopped (stale pid file)" in ok(hermes(env, "gateway", "list"))
    status = hermes(env, "gateway", "status")
    assert ok(status, 3).startswith(
        "default gateway: stopped (removed a stale pid file from a crash)\n"
    )
    assert not (root / "gateway.json").exists() and not (root / "gateway.pid").read_text()
    assert ok(hermes(env, "gateway", "status"), 3).startswith("default gateway: stopped\n")


def test_a_gateway_that_ignores_sigterm_is_killed_with_a_warning(
    env: dict[str, str], root: Path, model: ScriptedModel
) -> None:
    make_home(root, model, {"server": {"port": 0}, "gateway": {"drain_seconds": 0}})
    pid = started_pid(ok(hermes(env, "gateway", "start")))
    os.kill(pid, signal.SIGSTOP)  # a hung gateway: SIGTERM stays pending
    stopped = hermes(env, "gateway", "stop")
    assert stopped.returncode == 0
    assert f"gateway (pid {pid}) did not stop within 10s of SIGTERM" in stopped.stderr
    assert "(SIGKILL)" in stopped.stderr
    assert not pid_alive(pid) and not (root / "gateway.json").exists()


def test_a_gateway_that_cannot_start_shows_why(
    env: dict[str, str], root: Path, model: ScriptedModel
) -> None:
    make_home(root, model, {"server": {"port": 0, "host": "0.0.0.0"}})  # no key: refused
    failed = hermes(env, "gateway", "start")
    assert failed.returncode == 1
    assert "the gateway exited while starting (exit code 1)" in failed.stderr
    assert "HERMES_API_KEY is not set" in failed.stderr


def test_list_shows_every_profile_and_which_one_runs(
    env: dict[str, str], root: Path, model: ScriptedModel
) -> None:
    make_home(root / "profiles" / "coder", model, {"server": {"port": 0}})
    out = ok(hermes(env, "-p", "coder", "gateway", "start"))
    assert out.startswith("coder gateway started")
    pid = started_pid(out)
    lines = ok(hermes(env, "gateway", "list")).splitlines()
    assert lines[0].split() == ["PROFILE", "STATE", "PID", "PLATFORMS"]
    assert lines[1].split() == ["default", "stopped", "-", "-"]
    assert lines[2].split() == ["coder", "running", str(pid), "web", "connected"]
    assert ok(hermes(env, "gateway", "stop", "-p", "coder")).startswith("coder gateway stopped")
