"""`hermes gateway install|uninstall|start|stop|restart|reload|status|list`.

A profile's gateway runs under a service manager when one is usable and its
unit (or LaunchAgent) is installed; otherwise `start` runs it as a detached
process, which is what happens in containers, WSL and CI where no systemd
manager runs. Each message says which of the two was used. `status` exits 0
when the gateway runs and 3 when it does not, like `systemctl status`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hermes.context import Profile
from hermes.errors import HermesError
from hermes.home import DEFAULT_PROFILE, home_root, load_profile, validate_profile_name
from hermes.pidfile import read_state, running_pid
from hermes.service import manager
from hermes.service.manager import Managers, Service
from hermes.service.units import ServiceSpec, gateway_argv, launchd_plist, systemd_unit

START_SECONDS = 60.0  # a gateway not serving by then is reported, not waited for
SIGKILL_AFTER_SECONDS = 10.0  # past drain_seconds, `stop` gives up waiting and kills
STALE = "removed a stale pid file from a crash"


@dataclass(frozen=True)
class _Target:
    """The profile a command acts on, and where its services would be."""

    profile: Profile
    root: Path
    env: dict[str, str]  # the command's environment (without the home's .env)
    managers: Managers
    services: list[Service]

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def home(self) -> Path:
        return self.profile.home

    def installed(self) -> list[Service]:
        return [s for s in self.services if s.path.exists()]

    def service(self, system: bool) -> Service:
        kind = (
            "launchd"
            if sys.platform == "darwin"
            else "systemd-system"
            if system
            else "systemd-user"
        )
        return next(s for s in self.services if s.kind == kind)


def cmd_service(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.action == "list":
        return _list(env)
    system = bool(getattr(args, "system", False))
    if system and sys.platform == "darwin":
        raise HermesError(
            "--system is for systemd on Linux; on macOS the gateway is your LaunchAgent: "
            "drop --system"
        )
    if system and env.get("SUDO_USER") and not env.get("HERMES_HOME"):
        env["HOME"] = _user_home(env["SUDO_USER"], env)  # the invoker's ~/.hermes, not root's
    profile = load_profile(getattr(args, "profile", None), env=env)
    target = _Target(
        profile, home_root(env), env, Managers(env), manager.services(profile.name, env)
    )
    if args.action == "install":
        return _install(target, system, bool(args.force))
    if args.action == "uninstall":
        return _uninstall(target, system)
    if args.action == "start":
        return _start(target)
    if args.action == "stop":
        return _stop(target)
    if args.action == "restart":
        _stop(target)
        return _start(target)
    if args.action == "reload":
        return _reload(target)
    return _status(target)


def _cmd(t: _Target) -> str:
    """How the user types a command for this profile: `hermes -p NAME` or its wrapper."""
    from hermes.profiles import command_for

    return command_for(t.name, t.env)


def _user_home(user: str, env: dict[str, str]) -> str:
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
        return env.get("HOME", "")


def _system_user(env: dict[str, str]) -> str:
    """Who a system unit runs as: the user behind sudo, else the current one."""
    if env.get("SUDO_USER"):
        return env["SUDO_USER"]
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _spec(t: _Target) -> ServiceSpec:
    return ServiceSpec(
        profile=t.name,
        home=t.home,
        root=t.root,
        python=os.path.abspath(sys.executable),  # a venv's python: never resolve the link
        drain_seconds=t.profile.settings.gateway.drain_seconds,
        path_env=t.env.get("PATH", os.defpath),
    )


# -- install / uninstall ------------------------------------------------------------


def _install(t: _Target, system: bool, force: bool) -> int:
    service = t.service(system)
    spec = _spec(t)
    if service.kind == "launchd":
        content = launchd_plist(spec)
    else:
        content = systemd_unit(spec, system_user=_system_user(t.env) if system else None).encode()
    try:
        existing: bytes | None = service.path.read_bytes()
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise HermesError(f"cannot read {service.path}: {exc.strerror or exc}") from None
    if existing is not None and existing != content and not force:
        raise HermesError(
            f"{service.path} already exists and differs from what install would write: "
            "pass --force to replace it"
        )
    if existing != content:
        _write(service.path, content, system, t.name)
    done = "written" if existing is None else "replaced" if existing != content else "unchanged"
    if t.managers.usable(service.kind):
        manager.enable(service, t.managers)
        when = "at boot" if service.kind == "systemd-system" else "at login"
        start = f"start it now: `{_cmd(t)} gateway start`"
        now = "it runs now" if service.kind == "launchd" else start
        print(f"installed {service.title} at {service.path} ({done}); it starts {when}; {now}")
    else:
        print(
            f"{_why_unmanaged(t, service)}: the unit is {done} ({service.path}); "
            f"`{_cmd(t)} gateway start` will run a detached process instead"
        )
    _warn_both(t)
    return 0


def _write(path: Path, content: bytes, system: bool, name: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(content)
        tmp.chmod(0o644)
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        flag = "" if name == DEFAULT_PROFILE else f" -p {name}"  # sudo may not find a wrapper
        hint = (
            f"; a system unit needs root: `sudo hermes{flag} gateway install --system`"
            if system
            else ""
        )
        raise HermesError(f"cannot write {path}: {exc.strerror or exc}{hint}") from None


def _uninstall(t: _Target, system: bool) -> int:
    service = t.service(system)
    if not service.path.exists():
        print(f"no {service.title} installed for profile {t.name} (nothing at {service.path})")
        return 0
    usable = t.managers.usable(service.kind)
    if usable:
        manager.disable(service, t.managers)  # stops the gateway it runs
    try:
        service.path.unlink()
    except OSError as exc:
        hint = "; run it with sudo" if system else ""
        raise HermesError(f"cannot remove {service.path}: {exc.strerror or exc}{hint}") from None
    if usable:
        manager.reload(service, t.managers)
        print(f"removed {service.title} ({service.path}); it was stopped and disabled")
    else:
        print(f"removed {service.title} ({service.path})")
    return 0


def _why_unmanaged(t: _Target, service: Service) -> str:
    if t.managers.disabled:
        return f"service managers are off ({manager.MANAGER_ENV}=none)"
    return f"no {service.manager_title} here"


def _warn_both(t: _Target) -> None:
    kinds = {s.kind: s for s in t.installed()}
    if "systemd-user" in kinds and "systemd-system" in kinds:
        print(
            f"hermes: warning: both a user unit ({kinds['systemd-user'].path}) and a system "
            f"unit ({kinds['systemd-system'].path}) exist for profile {t.name}: they would run "
            f"two gateways on one home; remove one with `{_cmd(t)} gateway uninstall [--system]`",
            file=sys.stderr,
        )


# -- start / stop ---------------------------------------------------------------------


def _managed(t: _Target) -> tuple[Service | None, str]:
    """The installed service whose manager runs here, or None and why not."""
    if t.managers.disabled:
        return None, f"{manager.MANAGER_ENV}=none"
    installed = t.installed()
    for service in installed:
        if t.managers.usable(service.kind):
            return service, ""
    if not installed and any(t.managers.usable(s.kind) for s in t.services):
        return None, f"no service installed, `{_cmd(t)} gateway install` makes one"
    return None, "no service manager here"


def _start(t: _Target) -> int:
    pid = running_pid(t.home)
    if pid is not None:
        print(f"{t.name} gateway already running (pid {pid}){_url(read_state(t.home))}")
        return 0
    if manager.clear_stale(t.home):
        print(f"{t.name} gateway: {STALE}")
    service, why = _managed(t)
    out_log = _spec(t).out_log
    if service is not None:
        manager.start(service, t.managers)
        state = manager.wait_serving(t.home, START_SECONDS)
        if state is None:
            raise HermesError(
                f"{service.title} was started but the gateway is not serving after "
                f"{START_SECONDS:.0f}s; see {out_log}"
            )
        print(f"{t.name} gateway started via {service.title} (pid {state['pid']}){_url(state)}")
        return 0
    argv = gateway_argv(_spec(t))
    proc, offset = manager.spawn_gateway(argv, t.home, {**t.env, "HERMES_HOME": str(t.root)})
    state = manager.wait_serving(t.home, START_SECONDS, proc)
    if state is None:
        code = proc.poll()
        if code is None:
            raise HermesError(
                f"the gateway (pid {proc.pid}) is not serving after {START_SECONDS:.0f}s; "
                f"it goes on starting in the background: see {out_log}"
            )
        print(
            f"hermes: the gateway exited while starting (exit code {code}); the end of {out_log}:",
            file=sys.stderr,
        )
        for line in manager.tail(out_log, offset):
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"{t.name} gateway started (pid {proc.pid}, detached: {why}){_url(state)}")
    return 0


def _stop(t: _Target) -> int:
    pid = running_pid(t.home)
    if pid is None:
        stale = manager.clear_stale(t.home)
        print(f"{t.name} gateway not running" + (f" ({STALE})" if stale else ""))
        return 0
    seconds = t.profile.settings.gateway.drain_seconds + SIGKILL_AFTER_SECONDS
    service, _ = _managed(t)
    if service is not None and manager.is_active(service, t.managers):
        manager.stop(service, t.managers, seconds + 5)
        if running_pid(t.home) is None:
            print(f"{t.name} gateway stopped via {service.title} (pid {pid})")
            return 0
    if manager.stop_gateway(t.home, pid, seconds):
        print(f"{t.name} gateway stopped (pid {pid}, SIGTERM)")
    else:
        manager.clear_stale(t.home)
        print(
            f"hermes: warning: the {t.name} gateway (pid {pid}) did not stop within "
            f"{seconds:.0f}s of SIGTERM, so it was killed (SIGKILL); "
            "its unfinished turns resume at the next start",
            file=sys.stderr,
        )
    return 0


def _reload(t: _Target) -> int:
    """SIGHUP: the running gateway loads config.yaml and .env again (both were just
    validated by loading the profile for this command)."""
    pid = running_pid(t.home)
    if pid is None:
        print(f"{t.name} gateway not running (it reads config.yaml and .env when it starts)")
        return 0
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        raise HermesError(f"cannot signal the gateway (pid {pid}): {exc.strerror}") from None
    print(
        f"{t.name} gateway (pid {pid}) reloads config.yaml and .env now; "
        f"`{_cmd(t)} logs` says which changes wait for a restart"
    )
    return 0


# -- status / list ------------------------------------------------------------------------


def _status(t: _Target) -> int:
    pid = running_pid(t.home)
    if pid is None:
        stale = manager.clear_stale(t.home)
        print(f"{t.name} gateway: stopped" + (f" ({STALE})" if stale else ""))
        _print_services(t)
        return 3
    state = read_state(t.home)
    if state is None or state.get("pid") != pid:
        print(f"{t.name} gateway: running (pid {pid}, starting up)")
    else:
        print(f"{t.name} gateway: running (pid {pid}{_uptime(state)})")
        print(f"  web chat: {state.get('url')}")
        print(f"  platforms: {_platforms(state) or 'none'}")
        for line in _flow(state):
            print(f"    {line}")
    _print_services(t)
    return 0


def _print_services(t: _Target) -> None:
    installed = t.installed()
    if not installed:
        print(f"  service: none installed (`{_cmd(t)} gateway install` starts it at login)")
    for service in installed:
        if t.managers.usable(service.kind):
            state = manager.describe_state(service, t.managers)
        else:
            state = _why_unmanaged(t, service)
        print(f"  service: {service.title} at {service.path} ({state})")
    _warn_both(t)


def _list(env: dict[str, str]) -> int:
    root = home_root(env)
    homes = [(DEFAULT_PROFILE, root)]
    profiles = root / "profiles"
    if profiles.is_dir():
        for path in sorted(profiles.iterdir()):
            if path.is_dir() and _valid_name(path.name):
                homes.append((path.name, path))
    rows = [("PROFILE", "STATE", "PID", "PLATFORMS")]
    for name, home in homes:
        pid = running_pid(home)
        state = read_state(home) if pid is not None else None
        if pid is not None:
            rows.append((name, "running", str(pid), _platforms(state) or "-"))
        else:
            stopped = "stopped (stale pid file)" if manager.has_stale(home) else "stopped"
            rows.append((name, stopped, "-", "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[3]
        )
    return 0


def _valid_name(name: str) -> bool:
    try:
        validate_profile_name(name)
    except HermesError:
        return False
    return True


def _url(state: dict[str, object] | None) -> str:
    url = state.get("url") if state else None
    return f"; web chat: {url}" if url else ""


def _flow(state: dict[str, object], now: float | None = None) -> list[str]:
    """Per platform, when a message last came in and went out (gateway.json)."""
    import time

    details = state.get("platform_details")
    if not isinstance(details, dict):
        return []
    now = time.time() if now is None else now

    def ago(value: object) -> str:
        if not isinstance(value, int | float):
            return "none yet"
        return f"{max(0, round(now - value))}s ago"

    lines = [
        f"{name}: last message in {ago(d.get('last_inbound'))}, last sent {ago(d.get('last_sent'))}"
        for name, d in details.items()
        if isinstance(d, dict) and name != "web"
    ]
    flow = ("state", "last_inbound", "last_sent")
    lines += [  # what a platform reports beyond its state (Matrix: encrypted rooms)
        f"{name}: {key.replace('_', ' ')}: {value}"
        for name, d in details.items()
        if isinstance(d, dict)
        for key, value in d.items()
        if key not in flow and isinstance(value, str) and value
    ]
    return lines


def _platforms(state: dict[str, object] | None) -> str:
    platforms = state.get("platforms") if state else None
    if not isinstance(platforms, dict):
        return ""
    return ", ".join(f"{name} {status}" for name, status in platforms.items())


def _uptime(state: dict[str, object]) -> str:
    started = state.get("started_at")
    if not isinstance(started, int | float):
        return ""
    seconds = max(0, int(time.time() - started))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f", up {days}d {hours}h"
    if hours:
        return f", up {hours}h {minutes}m"
    return f", up {minutes}m {secs}s" if minutes else f", up {secs}s"
