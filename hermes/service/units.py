"""The service files of a profile's gateway: a systemd unit and a launchd plist.

Pure text, no I/O, so what `hermes gateway install` writes can be checked
without a service manager. Both run `<python> -m hermes [-p NAME] gateway run`
with HERMES_HOME set to the root home (so a profile resolves exactly as it does
in the shell that installed it), restart the gateway when it crashes but not
when it was stopped on purpose (a clean exit), and give it longer than
`gateway.drain_seconds` to finish running turns after SIGTERM.
"""

from __future__ import annotations

import math
import plistlib
import re
from dataclasses import dataclass
from pathlib import Path

from hermes.errors import HermesError
from hermes.home import DEFAULT_PROFILE

RESTART_SECONDS = 5  # pause before a crashed gateway is started again
STOP_MARGIN_SECONDS = 15  # past drain_seconds, before the manager kills the gateway
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


@dataclass(frozen=True)
class ServiceSpec:
    """What a service file says: which profile, where, with which interpreter."""

    profile: str  # "default" or a profile name
    home: Path  # the profile's home (working directory, logs)
    root: Path  # the root home: HERMES_HOME of the service
    python: str  # absolute path of the interpreter (a venv's python, not resolved)
    drain_seconds: float
    path_env: str  # PATH the service sees: the one it was installed from

    @property
    def out_log(self) -> Path:
        """Where the gateway's stdout/stderr go (a failed start says why there)."""
        return self.home / "logs" / "gateway.out"


def unit_name(profile: str) -> str:
    """`hermes-gateway.service` for the default profile, else `hermes-gateway-NAME.service`."""
    return (
        "hermes-gateway.service"
        if profile == DEFAULT_PROFILE
        else f"hermes-gateway-{profile}.service"
    )


def launchd_label(profile: str) -> str:
    """`ai.hermes.gateway` for the default profile, else `ai.hermes.gateway-NAME`."""
    return "ai.hermes.gateway" if profile == DEFAULT_PROFILE else f"ai.hermes.gateway-{profile}"


def plist_name(profile: str) -> str:
    return f"{launchd_label(profile)}.plist"


def gateway_argv(spec: ServiceSpec) -> list[str]:
    """The gateway's command line: `-p NAME` only for a named profile."""
    profile = [] if spec.profile == DEFAULT_PROFILE else ["-p", spec.profile]
    return [spec.python, "-m", "hermes", *profile, "gateway", "run"]


def stop_timeout(drain_seconds: float) -> int:
    """Seconds a manager waits after SIGTERM before SIGKILL: the drain, and some."""
    return math.ceil(drain_seconds) + STOP_MARGIN_SECONDS


def systemd_unit(spec: ServiceSpec, *, system_user: str | None = None) -> str:
    """The unit file. SYSTEM_USER given: a system unit (multi-user.target, User=);
    else a user unit (default.target)."""
    for value in (spec.python, str(spec.home), str(spec.root), spec.path_env):
        _check_printable(value)
    argv = " ".join(_quote(word.replace("$", "$$")) for word in gateway_argv(spec))
    lines = [
        "# Written by `hermes gateway install`; `hermes gateway uninstall` removes it.",
        "[Unit]",
        f"Description=Hermes gateway (profile {spec.profile})",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={argv}",
        f"Environment={_quote(f'HERMES_HOME={spec.root}')}",
        f"Environment={_quote(f'PATH={spec.path_env}')}",
        "Environment=PYTHONUNBUFFERED=1",
        f"WorkingDirectory={_escape(str(spec.home))}",
    ]
    if system_user is not None:
        lines.append(f"User={system_user}")
    lines += [
        "Restart=on-failure",
        f"RestartSec={RESTART_SECONDS}",
        "KillSignal=SIGTERM",
        # SIGTERM to the gateway only: it drains its turns and ends their processes
        "KillMode=mixed",
        f"TimeoutStopSec={stop_timeout(spec.drain_seconds)}",
        f"StandardOutput=append:{_escape(str(spec.out_log))}",
        f"StandardError=append:{_escape(str(spec.out_log))}",
        "",
        "[Install]",
        f"WantedBy={'multi-user.target' if system_user is not None else 'default.target'}",
    ]
    return "\n".join(lines) + "\n"


def launchd_plist(spec: ServiceSpec) -> bytes:
    """The LaunchAgent plist (XML). KeepAlive restarts the gateway only when it did
    not exit cleanly, so `hermes gateway stop` (SIGTERM, exit 0) keeps it stopped."""
    data = {
        "Label": launchd_label(spec.profile),
        "ProgramArguments": gateway_argv(spec),
        "EnvironmentVariables": {
            "HERMES_HOME": str(spec.root),
            "PATH": spec.path_env,
            "PYTHONUNBUFFERED": "1",
        },
        "WorkingDirectory": str(spec.home),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": RESTART_SECONDS,
        "ExitTimeOut": stop_timeout(spec.drain_seconds),
        "StandardOutPath": str(spec.out_log),
        "StandardErrorPath": str(spec.out_log),
    }
    return plistlib.dumps(data, fmt=plistlib.FMT_XML, sort_keys=False)


def _check_printable(value: str) -> None:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise HermesError(
            f"{value!r} holds a control character, which a service file cannot carry; "
            "use a path without newlines or tabs"
        )


def _escape(value: str) -> str:
    """Escape systemd's `%` specifiers."""
    return value.replace("%", "%%")


def _quote(word: str) -> str:
    """One systemd word: plain if it can be, else double-quoted with C escapes."""
    word = _escape(word)
    if _PLAIN_WORD.fullmatch(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
