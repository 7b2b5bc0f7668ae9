"""`hermes [-p NAME] config get KEY | set KEY VALUE | show | path`."""

from __future__ import annotations

import argparse
import dataclasses
import os
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


def cmd_config(args: argparse.Namespace) -> int:
    from hermes.home import ensure_home, load_profile, resolve_home

    action = args.action
    if action in ("path", "set"):
        _, home = resolve_home(args.profile, dict(os.environ))
        ensure_home(home)
        path = home / "config.yaml"
        if action == "path":
            print(path)
            return 0
        from hermes.config_edit import set_value

        value = set_value(path, args.key, args.value)
        print(f"{args.key} = {format_value(value)}")
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
