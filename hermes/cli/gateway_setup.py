"""`hermes gateway setup`: connect a messaging platform (seed 000's quick setup).

The wizard lists every platform of the registry (hermes/platforms) and whether
it is configured, asks for the chosen one's variables, checks them with the
platform when its module declares `check` (nothing is written when they fail),
saves them in the home's .env (mode 0600) and offers to start the gateway, or to
restart it when it runs. Scripts give the same answers as flags:

    hermes gateway setup --platform slack --set SLACK_BOT_TOKEN=xoxb-... \\
        --set SLACK_APP_TOKEN=xapp-... [--no-check] [--no-start]
    hermes gateway setup --list
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from hermes.errors import HermesError
from hermes.platforms import platform as find_platform
from hermes.platforms.spec import Platform

SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|KEY")


# ----- the core: what to save, checked ------------------------------------------------


def platforms() -> list[Platform]:
    """The platforms that need setting up (the web chat is always there)."""
    from hermes.platforms import every

    return [p for p in every() if not p.local]


def listing(env: Mapping[str, str]) -> list[str]:
    """One line per platform: name, title, configured or how to configure it."""
    from hermes.platforms import every

    rows = []
    for p in every():
        state = "always on" if p.local else "configured" if p.configured(env) else p.how
        rows.append((p.name, p.title, state))
    width = max(len(name) for name, _, _ in rows)
    return [f"{name.ljust(width)}  {title}: {state}" for name, title, state in rows]


def variables(p: Platform) -> tuple[str, ...]:
    return (*p.required, *(v for v in p.optional if v not in p.required))


def secret(p: Platform, var: str) -> bool:
    """Typed hidden: a credential, or a name that says it is a secret."""
    return any(c.var == var for c in p.credentials) or bool(SECRET.search(var))


def parse_sets(items: list[str]) -> dict[str, str]:
    """`--set VAR=VALUE` flags as a dict."""
    values: dict[str, str] = {}
    for item in items:
        var, eq, value = item.partition("=")
        var = var.strip()
        if not eq or not var:
            raise HermesError(f"--set expects VAR=VALUE, got {item!r}")
        if not value.strip():
            raise HermesError(f"--set {var}= has no value: give one, as {var}=VALUE")
        values[var] = value.strip()
    return values


def plan(p: Platform, given: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """The values to save: only the platform's variables, and with what ENV holds
    already, every required one."""
    known = variables(p)
    for var in given:
        if var not in known:
            raise HermesError(f"{var} is not a {p.name} setting; {p.name} reads {', '.join(known)}")
    missing = [v for v in p.required if not (given.get(v) or env.get(v, "").strip())]
    if missing and not p.configured({**env, **given}):  # nor by one of its alternatives
        more = " ".join(f"--set {v}=..." for v in missing)
        raise HermesError(f"{p.name} needs {', '.join(missing)} too: add {more} ({p.how})")
    return dict(given)


def check(p: Platform, env: Mapping[str, str]) -> str | None:
    """Ask the platform whether the credentials in ENV work: None, or what is wrong.
    Blocking: call it outside an event loop."""
    checker = p.check
    if checker is None:
        return None
    try:
        result = checker(env)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except Exception as exc:  # a check that breaks is a failed check, said in one line
        return f"the check failed ({type(exc).__name__}: {exc})"
    return None if result is None else str(result)


def save(home: Path, values: Mapping[str, str]) -> list[str]:
    from hermes.envfile import set_env_value

    env_file = home / ".env"
    for var, value in values.items():
        set_env_value(env_file, var, value)
    return [f"{var} saved in {env_file} (mode 0600)" for var in values]


# ----- the gateway after saving -------------------------------------------------------


def gateway_action(home: Path) -> tuple[str | None, int | None]:
    """("start" | "restart" | None, pid): what applies new credentials. None: a gateway
    of another profile serves this home (it must be restarted by whoever runs it)."""
    from hermes.pidfile import read_state, running_pid

    pid = running_pid(home)
    if pid is None:
        return "start", None
    return ("restart" if read_state(home) is not None else None), pid


def run_gateway_action(action: str, profile: str | None) -> int:
    from hermes.cli.service_cmd import cmd_service

    return cmd_service(argparse.Namespace(action=action, profile=profile, system=False))


# ----- gathering answers ----------------------------------------------------------------


def _wizard(
    chosen: str | None, env: Mapping[str, str], home: Path
) -> tuple[Platform, dict[str, str]]:
    from prompt_toolkit.shortcuts import choice as select
    from prompt_toolkit.shortcuts import prompt

    print(f"Hermes gateway setup for {home} (↑/↓ to move, Enter to choose, Ctrl-C to cancel)")
    if chosen is None:
        found = platforms()
        labels = [
            (p.name, f"{p.title}: {'configured' if p.configured(env) else 'not configured'}")
            for p in found
        ]
        first = next((p.name for p in found if not p.configured(env)), found[0].name)
        chosen = select("Which platform?", options=labels, default=first)
    p = find_platform(chosen)
    values: dict[str, str] = {}
    for var in variables(p):
        have = bool(env.get(var, "").strip())
        need = var in p.required and not have and not p.alternatives  # (one way will do)
        note = "Enter keeps the one you have" if have else "" if need else "optional, Enter skips"
        label = f"{var} ({note}): " if note else f"{var}: "
        while True:
            answer = prompt(label, is_password=secret(p, var)).strip()
            if answer or not need:
                break
            print(f"{var} is needed: {p.how}")
        if answer:
            values[var] = answer
    return p, values


def cmd_gateway_setup(args: argparse.Namespace) -> int:
    from hermes.envfile import read_env_file
    from hermes.home import ensure_home, resolve_home

    profile = getattr(args, "profile", None)
    env = dict(os.environ)
    name, home = resolve_home(profile, env)
    ensure_home(home)
    env.update(read_env_file(home / ".env"))
    if args.list:
        print("\n".join(listing(env)))
        return 0
    if args.set and not args.platform:
        raise HermesError("--set needs --platform NAME: the platform the variables are for")
    interactive = not args.set and sys.stdin.isatty() and sys.stdout.isatty()
    if interactive:
        try:
            p, given = _wizard(args.platform, env, home)
        except (KeyboardInterrupt, EOFError):
            print("gateway setup cancelled: nothing was changed", file=sys.stderr)
            return 130
    elif args.platform:
        p, given = find_platform(args.platform), parse_sets(args.set or [])
    else:
        raise HermesError(
            "hermes gateway setup needs a terminal; in scripts pass --platform NAME "
            "--set VAR=VALUE ... [--no-start] (`--list` shows the platforms)"
        )
    if p.local:
        raise HermesError(f"the {p.name} platform needs no setup: it is always on")
    values = plan(p, given, env)
    if not args.no_check and p.check:
        problem = check(p, {**env, **values})
        if problem is not None:
            raise HermesError(f"{p.title} check failed: {problem}; nothing was saved")
        print(f"✓ {p.title} accepted the credentials")
    for line in save(home, values):
        print(f"✓ {line}")
    if not values:
        print(f"nothing changed: {p.title} keeps the values it has")
    return _after_save(args, name, home, interactive, bool(values))


def _after_save(
    args: argparse.Namespace, name: str, home: Path, interactive: bool, changed: bool
) -> int:
    from hermes.profiles import command_for

    command = command_for(name, dict(os.environ))
    action, pid = gateway_action(home)
    if action is None:
        print(f"restart the gateway that serves this profile (pid {pid}) to apply")
        return 0
    if action == "restart" and not changed:
        return 0  # nothing new for the running gateway
    question = (
        f"Restart the gateway (pid {pid}) so it uses them?"
        if action == "restart"
        else "Start the gateway now?"
    )
    if args.no_start or (interactive and not _confirm(question)):
        print(f"{action} it when ready: `{command} gateway {action}`")
        return 0
    return run_gateway_action(action, getattr(args, "profile", None))


def _confirm(question: str) -> bool:
    from prompt_toolkit.shortcuts import confirm

    try:
        return bool(confirm(question))
    except (KeyboardInterrupt, EOFError):
        return False
