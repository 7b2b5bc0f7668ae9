"""`hermes update`: bring the bundled skills of this version into the default
home and every profile (hermes.skills_sync keeps what the user changed), then
say how to upgrade the package itself. Offline: nothing is downloaded, and pip
is never run behind the user's back (it may be a system or managed install)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import hermes
from hermes.home import home_root
from hermes.pidfile import running_pid
from hermes.profiles import all_profiles, command_for
from hermes.skills_sync import sync_skills


def upgrade_hint() -> str:
    """The one command that upgrades the installed code: a git pull for a source
    checkout (editable install), else pip in this interpreter's environment."""
    python = shlex.quote(str(Path(sys.executable).absolute()))
    checkout = Path(hermes.__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / ".git").exists():
        where = shlex.quote(str(checkout))
        return (
            f"To upgrade Hermes itself (a source checkout): "
            f"git -C {where} pull && {python} -m pip install -e {where}"
        )
    return f"To upgrade Hermes itself: {python} -m pip install -U hermes"


def cmd_update(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    root = home_root(env)
    homes = [(name, home) for name, home in all_profiles(root) if home.is_dir()]
    if not homes:
        print(f"No Hermes home at {root} yet; it gets the bundled skills when first used.")
    failed = False
    for name, home in homes:
        try:
            report = sync_skills(home / "skills")
        except OSError as exc:
            print(f"{name}: cannot sync skills in {home / 'skills'}: {exc}", file=sys.stderr)
            failed = True
            continue
        print(f"{name}: {report.summary()}")
    print(upgrade_hint())
    running = [name for name, home in homes if running_pid(home) is not None]
    if running:
        commands = ", ".join(f"`{command_for(name, env)} gateway restart`" for name in running)
        print(f"After upgrading, restart the running gateways: {commands}")
    return 1 if failed else 0
