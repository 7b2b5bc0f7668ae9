"""`hermes pairing list | approve PLATFORM CODE | revoke PLATFORM USER`.

The owner's side of pairing (hermes/gateway/access.py): an unknown sender got
a code from the bot; approving it here lets them talk to the bot from then
on. Works whether or not the gateway is running: both share state.db.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path

from hermes.cli.shared import table
from hermes.errors import HermesError
from hermes.store import Store
from hermes.store.pairing_ops import PairedUser, PairingCode
from hermes.store.where import Database, locate_home

_ALLOWLIST_SUFFIX = "_ALLOWED_USERS"


def cmd_pairing(args: argparse.Namespace) -> int:
    from hermes.envfile import read_env_file
    from hermes.home import ensure_home, resolve_home

    # only state.db and .env are needed: a broken config.yaml must not stop the owner
    env = dict(os.environ)
    _, home = resolve_home(getattr(args, "profile", None), env)
    ensure_home(home)
    if args.action not in ("list", "approve", "revoke"):
        raise HermesError(f"unknown pairing action {args.action!r} (see `hermes pairing --help`)")
    env.update(read_env_file(home / ".env"))
    print(asyncio.run(run(args, locate_home(home, env), env)))
    if args.action == "approve":
        _wake_gateway(home, env)
    return 0


async def run(args: argparse.Namespace, db_path: Database, env: Mapping[str, str]) -> str:
    """Do the action in args against the database at db_path; return the output."""
    from hermes.gateway.access import Access

    async with await Store.open(db_path) as store:
        access = Access(store, env)
        if args.action == "approve":
            user = await access.approve(args.platform, args.code)
            return (
                f"Approved {_who(user.user, user.user_name)} on {user.platform}: "
                "they can talk to the bot now."
            )
        if args.action == "revoke":
            gone = await access.revoke(args.platform, args.user)
            if gone is None:
                raise HermesError(
                    f"no approved {args.platform.strip().lower()} user {args.user!r} "
                    "(see `hermes pairing list`)"
                )
            return f"Revoked {_who(gone.user, gone.user_name)} on {gone.platform}."
        pending, approved = await access.pending(), await access.approved()
        return format_list(pending, approved, _allowlists(env), time.time())


def _allowlists(env: Mapping[str, str]) -> dict[str, list[str]]:
    """{PLATFORM}_ALLOWED_USERS that are set: platform -> ids."""
    from hermes.gateway.access import allowed_ids

    found: dict[str, list[str]] = {}
    for key in sorted(env):
        if key.endswith(_ALLOWLIST_SUFFIX) and key != _ALLOWLIST_SUFFIX:
            platform = key.removesuffix(_ALLOWLIST_SUFFIX).lower()
            ids = sorted(allowed_ids(env, platform))
            if ids:
                found[platform] = ids
    return found


def _who(user: str, name: str | None) -> str:
    return f"{name} ({user})" if name else user


def _ago(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    return "just now" if minutes < 1 else f"{minutes} min ago"


def _in(seconds: float) -> str:
    return f"in {max(1, round(seconds / 60))} min"


def format_list(
    pending: list[PairingCode],
    approved: list[PairedUser],
    allowlists: Mapping[str, list[str]],
    now: float,
) -> str:
    """Pending codes, then approved users, then the allowlists from the environment."""
    from hermes.gateway.access import when

    lines: list[str] = []
    if pending:
        lines.append(
            "Pending pairing requests (approve with: hermes pairing approve PLATFORM CODE):"
        )
        rows = [("PLATFORM", "CODE", "USER", "ASKED", "EXPIRES")]
        rows += [
            (
                c.platform,
                c.code,
                _who(c.user, c.user_name),
                _ago(now - c.created_at),
                _in(c.expires_at - now),
            )
            for c in pending
        ]
        lines += table(rows)
    else:
        lines.append("No pending pairing requests.")
    lines.append("")
    if approved:
        lines.append("Approved users (revoke with: hermes pairing revoke PLATFORM USER):")
        users: list[tuple[str, ...]] = [("PLATFORM", "USER", "APPROVED")]
        users += [(u.platform, _who(u.user, u.user_name), when(u.approved_at)) for u in approved]
        lines += table(users)
    else:
        lines.append("No approved users.")
    for platform, ids in allowlists.items():
        variable = f"{platform.upper()}{_ALLOWLIST_SUFFIX}"
        lines.append(f"Also allowed on {platform} by {variable}: {', '.join(ids)}")
    return "\n".join(lines)


def _wake_gateway(home: Path, env: Mapping[str, str]) -> None:
    """Tell a running gateway to send what approving queued (the welcome) now."""
    import httpx

    from hermes.pidfile import read_state

    state = read_state(home)
    if state is None:
        return
    headers = {"Authorization": f"Bearer {env.get('HERMES_API_KEY', '')}"}
    with contextlib.suppress(httpx.HTTPError):  # else it sends it at its next look anyway
        httpx.post(f"{state['url']}/api/hermes/wake", headers=headers, timeout=5)
