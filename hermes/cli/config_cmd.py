"""`hermes [-p NAME] config get KEY | set KEY VALUE | show | path`."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
from pathlib import Path
from typing import Any

from hermes.errors import HermesError


def format_value(value: Any) -> str:
    """Scalars as plain text (None -> null, bools lower-case); collections as YAML."""
    if value is None:
        return "null"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        if not value:
            return "{}" if isinstance(value, dict) else "[]"
        import yaml

        dumped: str = yaml.safe_dump(value, sort_keys=False, default_flow_style=False)
        return dumped.rstrip("\n")
    return str(value)


def tell_gateway(name: str, home: Path, key: str) -> None:
    """A gateway running for the profile reloads its settings (SIGHUP); a setting
    it binds at start is applied by a restart only, which is said instead."""
    from hermes.gateway.reload import needs_restart
    from hermes.pidfile import read_state, running_pid
    from hermes.profiles import command_for

    pid = running_pid(home)
    if pid is None:
        return  # the next start reads the file
    if not needs_restart(key):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGHUP)
            print(f"the running gateway (pid {pid}) reloads it now")
            return
    if read_state(home) is not None:  # the profile's own gateway
        restart = f"`{command_for(name, dict(os.environ))} gateway restart`"
    else:  # the gateway of another profile, serving this one's routed chats
        restart = f"the gateway that serves it (pid {pid})"
    print(f"restart the gateway to apply: {restart}")


def cmd_config(args: argparse.Namespace) -> int:
    from hermes.home import ensure_home, load_profile, resolve_home

    action = args.action
    if action in ("path", "set"):
        name, home = resolve_home(args.profile, dict(os.environ))
        ensure_home(home)
        path = home / "config.yaml"
        if action == "path":
            print(path)
            return 0
        from hermes.config_edit import set_value

        value = set_value(path, args.key, args.value)
        print(f"{args.key} = {format_value(value)}")
        tell_gateway(name, home, args.key)
        return 0

    from hermes.config import get_dotted, settings_to_dict

    profile = load_profile(args.profile)
    if action == "get":
        print(format_value(get_dotted(profile.settings, args.key)))
        return 0
    if action == "show":
        print(format_value(settings_to_dict(profile.settings)))
        return 0
    raise HermesError(f"unknown config action {action!r}; use get, set, show or path")
