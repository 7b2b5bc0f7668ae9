"""`hermes profile create|list|use|show|delete|rename`: the words and tables
around hermes.profiles, which does the work."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hermes import profiles
from hermes.cli.shared import table
from hermes.errors import HermesError
from hermes.home import DEFAULT_PROFILE, home_root, profile_home, resolve_home
from hermes.service.units import unit_name

Env = dict[str, str]


def cmd_profile(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    actions: dict[str, Callable[[argparse.Namespace, Path, Env], int]] = {
        "create": _create,
        "list": _list,
        "use": _use,
        "show": _show,
        "delete": _delete,
        "rename": _rename,
    }
    return actions[args.action](args, home_root(env), env)


def _create(args: argparse.Namespace, root: Path, env: Env) -> int:
    name = args.name
    source: tuple[str, Path] | None = None
    if args.clone:  # from -p NAME, else the active profile
        source = resolve_home(getattr(args, "profile", None), env)
    home = profiles.create_profile(root, name, source[1] if source else None)
    print(f"Created profile {name} at {home} ({profiles.skill_count(home)} bundled skills).")
    if source is not None:
        print(
            f"Copied config.yaml, .env and SOUL.md from profile {source[0]} (no sessions/memory)."
        )
    command = f"hermes -p {name}"
    if not args.no_alias:
        try:
            path = profiles.install_alias(name, home, env)
        except HermesError as exc:
            print(f"warning: {exc}", file=sys.stderr)
        else:
            print(f"Command: {path} (`{name} ...` runs `hermes -p {name} ...`)")
            if profiles.alias_on_path(env):
                command = name
            else:
                print(
                    f"note: {path.parent} is not on your PATH: add it "
                    '(export PATH="$HOME/.local/bin:$PATH" in ~/.profile), '
                    f"or type `hermes -p {name}`"
                )
    print(f"Next: `{command} setup` (its model and key), then `{command} gateway start`.")
    return 0


def _platforms(status: profiles.ProfileStatus) -> str:
    return ", ".join(f"{n} ({state})" for n, state in sorted(status.platforms.items()))


def _as_json(status: profiles.ProfileStatus) -> dict[str, Any]:
    return {
        "name": status.name,
        "active": status.active,
        "home": str(status.home),
        "model": status.model,
        "config_error": status.config_error,
        "gateway": "running" if status.pid else "stopped",
        "pid": status.pid,
        "platforms": status.platforms,
        "alias": str(status.alias) if status.alias else None,
    }


def _list(args: argparse.Namespace, root: Path, env: Env) -> int:
    statuses = [profiles.profile_status(root, n, env) for n, _ in profiles.all_profiles(root)]
    if args.json:
        print(json.dumps([_as_json(s) for s in statuses], indent=2))
    else:
        rows = [("", "PROFILE", "MODEL", "GATEWAY", "PLATFORMS")]
        rows += [
            ("*" if s.active else "", s.name, s.model or "config error", s.gateway, _platforms(s))
            for s in statuses
        ]
        print("\n".join(table(rows)))
    if not any(s.active for s in statuses):
        chosen = profiles.active_name(root)
        print(
            f"warning: the active profile {chosen!r} does not exist; "
            "run `hermes profile use default`",
            file=sys.stderr,
        )
    return 0


def _use(args: argparse.Namespace, root: Path, env: Env) -> int:
    name = args.name
    home = profiles.existing_profile(root, name) if name != DEFAULT_PROFILE else root
    profiles.set_active(root, name)
    if name == DEFAULT_PROFILE:
        print(f"Using the default profile ({root}) when no -p is given.")
    else:
        print(
            f"Using profile {name} ({home}) when no -p is given; "
            "`hermes profile use default` switches back."
        )
    return 0


def _show(args: argparse.Namespace, root: Path, env: Env) -> int:
    name = args.name
    home = profiles.existing_profile(root, name)
    status = profiles.profile_status(root, name, env)
    sessions = profiles.session_count(home)
    model = status.model or f"config error: {status.config_error}"
    gateway = status.gateway
    if status.platforms:
        gateway += f"; platforms: {_platforms(status)}"
    rows = [
        ("Profile:", name + (" (active)" if status.active else "")),
        ("Home:", str(home)),
        ("Model:", model),
        ("Gateway:", gateway),
        ("Service:", unit_name(name)),
        ("Sessions:", "unreadable state.db" if sessions is None else str(sessions)),
        ("Skills:", str(profiles.skill_count(home))),
    ]
    if name != DEFAULT_PROFILE:
        rows.append(("Command:", str(status.alias or f"none (type `hermes -p {name}`)")))
    print("\n".join(table(rows)))
    return 0


def _confirm(name: str, yes: bool) -> Callable[[Path], bool]:
    def ask(home: Path) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise HermesError(
                f"deleting profile {name!r} removes all its data; pass --yes to confirm"
            )
        answer = input(f"Delete profile {name} and everything in {home}? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    return ask


def _delete(args: argparse.Namespace, root: Path, env: Env) -> int:
    name = args.name
    was_active = profiles.active_name(root) == name
    alias = profiles.delete_profile(root, name, env, _confirm(name, args.yes))
    print(f"Deleted profile {name} ({profile_home(root, name)}).")
    if alias is not None:
        print(f"Removed the command {alias}.")
    if was_active:
        print("The default profile is used again when no -p is given.")
    return 0


def _rename(args: argparse.Namespace, root: Path, env: Env) -> int:
    old, new = args.old, args.new
    was_active = profiles.active_name(root) == old
    renamed = profiles.rename_profile(root, old, new, env)
    print(f"Renamed profile {old} to {new}: {renamed.home}")
    if renamed.alias is not None:
        print(f"Command: {renamed.alias} (replaces {old})")
    if renamed.alias_problem is not None:
        print(f"warning: {renamed.alias_problem}", file=sys.stderr)
    if was_active:
        print(f"{new} stays the profile used when no -p is given.")
    return 0
