"""Where a profile's service file lives, whether a service manager answers here,
and the detached process used where none does.

Service files: systemd user units in `$XDG_CONFIG_HOME/systemd/user` (default
`~/.config/systemd/user`), system units in `/etc/systemd/system` (or
`$HERMES_SYSTEMD_SYSTEM_DIR`, for tests and unusual layouts), LaunchAgents in
`~/Library/LaunchAgents` on macOS. `HERMES_SERVICE_MANAGER=none` makes every
command act as if no service manager were running (always a detached process).

Whatever started it, a gateway's truth is its home: it holds HOME/gateway.pid
locked while it runs (hermes.app), so "running" and "stopped" are
read from the lock, never from a pid that may have been reused.

Every systemctl/launchctl call gets an explicit environment (the command's, as
read once) and a timeout, so a hung bus never hangs the CLI.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hermes.errors import HermesError
from hermes.pidfile import STATE_FILE, read_state, running_pid, runtime_dir
from hermes.service.units import launchd_label, plist_name, unit_name

Kind = Literal["systemd-user", "systemd-system", "launchd"]
SYSTEM_DIR_ENV = "HERMES_SYSTEMD_SYSTEM_DIR"
MANAGER_ENV = "HERMES_SERVICE_MANAGER"
CALL_SECONDS = 20.0  # a systemctl/launchctl call (start waits for the unit to start)
PROBE_SECONDS = 3.0  # asking whether a manager runs at all
_LIVE_STATES = {"running", "degraded", "starting", "initializing", "maintenance"}
_POLL = 0.05


@dataclass(frozen=True)
class Service:
    """One place a profile's gateway can be installed as a service."""

    kind: Kind
    name: str  # unit file name, or launchd label
    path: Path  # the unit file or plist

    @property
    def title(self) -> str:
        """How messages name it: `systemd user unit hermes-gateway.service`."""
        if self.kind == "launchd":
            return f"launchd agent {self.name}"
        scope = "user" if self.kind == "systemd-user" else "system"
        return f"systemd {scope} unit {self.name}"

    @property
    def manager_title(self) -> str:
        return {
            "systemd-user": "systemd user manager",
            "systemd-system": "systemd system manager",
            "launchd": "launchd",
        }[self.kind]


def _home_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or str(Path.home()))


def user_unit_dir(env: Mapping[str, str]) -> Path:
    config = env.get("XDG_CONFIG_HOME", "").strip()
    return (Path(config) if config else _home_dir(env) / ".config") / "systemd" / "user"


def system_unit_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get(SYSTEM_DIR_ENV, "").strip() or "/etc/systemd/system")


def services(profile: str, env: Mapping[str, str], platform: str = sys.platform) -> list[Service]:
    """The places this platform can install PROFILE's gateway, preferred first."""
    if platform == "darwin":
        agents = _home_dir(env) / "Library" / "LaunchAgents"
        return [Service("launchd", launchd_label(profile), agents / plist_name(profile))]
    name = unit_name(profile)
    return [
        Service("systemd-user", name, user_unit_dir(env) / name),
        Service("systemd-system", name, system_unit_dir(env) / name),
    ]


class Managers:
    """Which service managers answer here; each asked at most once per command."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self._usable: dict[Kind, bool] = {}

    @property
    def disabled(self) -> bool:
        return self.env.get(MANAGER_ENV, "").strip().lower() == "none"

    def usable(self, kind: Kind) -> bool:
        if self.disabled:
            return False
        if kind not in self._usable:
            self._usable[kind] = self._probe(kind)
        return self._usable[kind]

    def _probe(self, kind: Kind) -> bool:
        if kind == "launchd":
            return sys.platform == "darwin" and self._answers(["launchctl", "print", _domain()])
        scope = ["--user"] if kind == "systemd-user" else []
        try:
            out = subprocess.run(
                ["systemctl", *scope, "is-system-running"],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=PROBE_SECONDS,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return out.stdout.strip() in _LIVE_STATES

    def _answers(self, argv: list[str]) -> bool:
        try:
            done = subprocess.run(
                argv,
                env=self.env,
                capture_output=True,
                timeout=PROBE_SECONDS,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def call(
        self, argv: list[str], *, check: bool = True, timeout: float = CALL_SECONDS
    ) -> subprocess.CompletedProcess[str]:
        """Run a systemctl/launchctl command; with CHECK a failure is one HermesError line."""
        shown = " ".join(argv)
        try:
            done = subprocess.run(
                argv,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise HermesError(f"`{shown}` did not answer within {timeout:.0f}s") from None
        except OSError as exc:
            raise HermesError(f"cannot run `{shown}`: {exc.strerror or exc}") from None
        if check and done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()
            detail = said[-1] if said else f"exit code {done.returncode}"
            raise HermesError(f"`{shown}` failed: {detail}")
        return done


def _domain() -> str:
    return f"gui/{os.getuid()}"


def systemctl(service: Service, *args: str) -> list[str]:
    """The systemctl command line for SERVICE's manager."""
    scope = ["--user"] if service.kind == "systemd-user" else []
    return ["systemctl", *scope, *args]


def enable(service: Service, managers: Managers) -> None:
    """Make the manager read the (new) file and start the gateway at login/boot."""
    if service.kind == "launchd":
        managers.call(["launchctl", "bootout", f"{_domain()}/{service.name}"], check=False)
        managers.call(["launchctl", "bootstrap", _domain(), str(service.path)])
        return
    managers.call(systemctl(service, "daemon-reload"))
    managers.call(systemctl(service, "enable", service.name))


def disable(service: Service, managers: Managers) -> None:
    """Stop and forget the service (the file is removed by the caller)."""
    if service.kind == "launchd":
        managers.call(["launchctl", "bootout", f"{_domain()}/{service.name}"], check=False)
        return
    managers.call(systemctl(service, "disable", "--now", service.name), check=False)


def reload(service: Service, managers: Managers) -> None:
    if service.kind != "launchd":
        managers.call(systemctl(service, "daemon-reload"), check=False)


def start(service: Service, managers: Managers) -> None:
    if service.kind == "launchd":
        target = f"{_domain()}/{service.name}"
        if managers.call(["launchctl", "print", target], check=False).returncode != 0:
            managers.call(["launchctl", "bootstrap", _domain(), str(service.path)])
        managers.call(["launchctl", "kickstart", target])
        return
    managers.call(systemctl(service, "start", service.name))


def is_active(service: Service, managers: Managers) -> bool:
    """Whether the manager runs the gateway right now (not one started by hand)."""
    if service.kind == "launchd":
        return False  # stopping a launchd gateway is a plain SIGTERM (see stop_gateway)
    done = managers.call(systemctl(service, "is-active", service.name), check=False)
    return done.stdout.strip() in {"active", "activating", "reloading"}


def stop(service: Service, managers: Managers, seconds: float) -> None:
    """`systemctl stop`: returns once the gateway drained and exited (or SECONDS)."""
    managers.call(systemctl(service, "stop", service.name), timeout=seconds)


def describe_state(service: Service, managers: Managers) -> str:
    """`active, enabled` / `loaded` ...: what the manager says of SERVICE."""
    if service.kind == "launchd":
        done = managers.call(["launchctl", "print", f"{_domain()}/{service.name}"], check=False)
        return "loaded" if done.returncode == 0 else "not loaded"
    active = managers.call(systemctl(service, "is-active", service.name), check=False)
    enabled = managers.call(systemctl(service, "is-enabled", service.name), check=False)
    return f"{active.stdout.strip() or 'unknown'}, {enabled.stdout.strip() or 'unknown'}"


# -- the gateway's own files: stale ones, and the detached process ---------------


def clear_stale(home: Path) -> bool:
    """Remove what a gateway that died without cleaning up (SIGKILL, a crash) left:
    a pid in gateway.pid that nobody holds locked, a gateway.json. True if any.

    Taking the lock ourselves proves no gateway runs; the pid file is truncated,
    not deleted, so a gateway starting right now never locks a file nobody sees."""
    found = False
    try:
        fd: int | None = os.open(runtime_dir(home) / "gateway.pid", os.O_RDWR)
    except FileNotFoundError:
        fd = None
    except OSError:
        return False
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a gateway runs (or is starting): nothing is stale
            if os.fstat(fd).st_size > 0:
                os.ftruncate(fd, 0)
                found = True
        state = runtime_dir(home) / STATE_FILE
        if state.exists():
            state.unlink(missing_ok=True)
            found = True
    finally:
        if fd is not None:
            os.close(fd)
    return found


def has_stale(home: Path) -> bool:
    """Like clear_stale, but only looks (for `hermes gateway list`)."""
    if running_pid(home) is not None:
        return False
    pid_file = runtime_dir(home) / "gateway.pid"
    with contextlib.suppress(OSError):
        if pid_file.stat().st_size > 0:
            return True
    return (runtime_dir(home) / STATE_FILE).exists()


def spawn_gateway(
    argv: list[str], home: Path, env: Mapping[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ARGV (`python -m hermes [-p NAME] gateway run`) in its own session,
    immune to the terminal closing, its output appended to HOME/logs/gateway.out.
    Returns the process and where this run's output starts in that file."""
    log = home / "logs" / "gateway.out"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        os.fchmod(out.fileno(), 0o600)
        offset = out.tell()
        proc = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return proc, offset


def wait_serving(
    home: Path, seconds: float, proc: subprocess.Popen[bytes] | None = None
) -> dict[str, object] | None:
    """Wait until the gateway of HOME serves (its gateway.json names the pid that
    holds the lock), or PROC exits, or SECONDS pass. Its state, or None."""
    deadline = time.monotonic() + seconds
    while True:
        state = read_state(home)
        pid = running_pid(home)
        serving = state is not None and pid is not None and state.get("pid") == pid
        if serving and (proc is None or pid == proc.pid):
            return state
        if proc is not None and proc.poll() is not None:
            return None
        if time.monotonic() > deadline:
            return None
        time.sleep(_POLL)


def stop_gateway(home: Path, pid: int, seconds: float) -> bool:
    """SIGTERM the gateway PID of HOME and wait until it let go of its lock; after
    SECONDS, SIGKILL it. True if it stopped by itself."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    except PermissionError:
        raise HermesError(
            f"the gateway (pid {pid}) belongs to another user: stop it as that user "
            "(or with sudo: `sudo hermes gateway stop`)"
        ) from None
    if _wait_released(home, pid, seconds):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_released(home, pid, 10.0)
    return False


def _wait_released(home: Path, pid: int, seconds: float) -> bool:
    """Wait until PID let go of HOME's lock and has exited (it lets go just before)."""
    deadline = time.monotonic() + seconds
    while running_pid(home) == pid or _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL)
    return True


def _running(pid: int) -> bool:
    """True while PID runs; a zombie (exited, not yet reaped) has stopped."""
    if not Path("/proc/self").exists():  # no /proc (macOS): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def tail(path: Path, offset: int, lines: int = 10) -> list[str]:
    """The last LINES lines written to PATH after OFFSET."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]
