"""`hermes approvals list | approve ID | deny ID | classify COMMAND...`.

The owner's side of the approval gate (hermes/gateway/approvals.py). A
decision goes through the running gateway when there is one, so the waiting
work resumes at once; with no gateway it is written to state.db, and the
gateway resumes the work when it starts. `classify` shows what the gate would
think of a shell command, without running anything.

The helpers below (home, state.db, the gateway's API, tables) serve
`hermes tasks` too.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hermes.errors import HermesError
from hermes.store import approval_ops
from hermes.store.approval_ops import ApprovalRow

NOT_RUNNING = "The gateway is not running: the work resumes when it starts (hermes gateway run)."


def cmd_approvals(args: argparse.Namespace) -> int:
    if args.action == "classify":
        return _classify(args)
    home, env = local_home(args)
    if args.action == "list":
        with state_db(home) as conn:
            rows = approval_ops.listing(conn, status=None if args.all else "pending")
        if args.json:
            print(json.dumps({"approvals": [row.to_json() for row in rows]}, indent=2))
        else:
            print(format_list(rows, args.all, time.time()))
        return 0
    if args.action in ("approve", "deny"):
        print(decide(home, env, args.id, args.action == "approve"))
        return 0
    raise HermesError(f"unknown approvals action {args.action!r} (see `hermes approvals --help`)")


def decide(home: Path, env: dict[str, str], approval_id: str, approve: bool) -> str:
    """Decide through the running gateway, else in state.db; the line to print."""
    by = whoami()
    decision = "approve" if approve else "deny"
    unknown = f"no approval {approval_id!r} (see `hermes approvals list`)"
    path = f"/api/hermes/approvals/{approval_id}"
    data = gateway_post(home, env, path, {"decision": decision, "by": by}, unknown)
    if data is not None:
        return str(data["message"])
    with state_db(home) as conn:
        row, changed = approval_ops.decide(conn, approval_id, approve, by, time.time())
    if row is None:
        raise HermesError(unknown)
    if not changed:
        raise HermesError(f"approval {row.id} was already {row.status} by {row.decided_by}")
    verb = "Approved" if approve else "Denied"
    outcome = "" if approve else " (it will not run)"
    return f"{verb} {row.id}: {one_line(row.action, 200)}{outcome}\n{NOT_RUNNING}"


def format_list(rows: Sequence[ApprovalRow], everything: bool, now: float) -> str:
    """A table, newest first; with `everything` the decided ones too, with their status."""
    if not rows:
        return "No approvals." if everything else "No pending approvals."
    lines = [["ID", "STATUS", "RISK", "AGE", "ORIGIN", "ACTION"]]
    lines += [
        [r.id, r.status, r.risk, ago(now - r.created_at), r.origin or "-", one_line(r.action)]
        for r in rows
    ]
    if everything:
        return "\n".join(table(lines))
    intro = "Pending approvals (decide with: hermes approvals approve|deny ID):"
    return "\n".join([intro, *table([line[:1] + line[2:] for line in lines])])


def _classify(args: argparse.Namespace) -> int:
    from hermes.home import load_profile
    from hermes.risk import Where, classify_command

    words = list(args.command)
    if words[:1] == ["--"]:
        words = words[1:]
    as_json = args.json or words[-1:] == ["--json"]
    if words[-1:] == ["--json"]:
        words = words[:-1]
    command = " ".join(words).strip()
    if not command:
        raise HermesError("give the shell command to classify, e.g. hermes approvals classify ls")
    profile = load_profile(getattr(args, "profile", None))
    home = Path(profile.env.get("HOME") or Path.home())
    found = classify_command(command, Where(cwd=profile.workspace, home=home))
    print(json.dumps(found.to_json()) if as_json else f"{found.risk}: {found.reason}")
    return 0


# ----- shared with `hermes tasks` --------------------------------------------------


def local_home(args: argparse.Namespace) -> tuple[Path, dict[str, str]]:
    """The profile's home and environment (.env over os.environ). Only state.db and
    .env are needed: a broken config.yaml must not keep the owner from deciding."""
    from hermes.envfile import read_env_file
    from hermes.home import ensure_home, resolve_home

    env = dict(os.environ)
    _, home = resolve_home(getattr(args, "profile", None), env)
    ensure_home(home)
    env.update(read_env_file(home / ".env"))
    return home, env


@contextlib.contextmanager
def state_db(home: Path) -> Iterator[sqlite3.Connection]:
    from hermes.store.db import open_db

    path = home / "state.db"
    try:
        conn = open_db(path)
    except (sqlite3.Error, OSError) as exc:
        raise HermesError(f"cannot open the state database {path}: {exc}") from None
    try:
        yield conn
    finally:
        conn.close()


def gateway_post(
    home: Path, env: dict[str, str], path: str, body: dict[str, str], unknown: str
) -> dict[str, Any] | None:
    """POST to the running gateway's API; its JSON answer, or None when no gateway
    runs. A 404 is raised as HermesError(unknown), another refusal with the
    gateway's own words."""
    import httpx

    from hermes.gateway.runner import read_state

    state = read_state(home)
    if state is None:
        return None
    url = str(state["url"])
    headers = {"Authorization": f"Bearer {env.get('HERMES_API_KEY', '')}"}
    try:
        response = httpx.post(f"{url}{path}", json=body, headers=headers, timeout=30)
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise HermesError(f"the gateway at {url} did not answer ({exc}); is it running?") from exc
    if response.status_code == 401:
        raise HermesError("the gateway refused HERMES_API_KEY from .env; was it changed?")
    if response.status_code != 200 or not isinstance(data, dict):
        error = data.get("error") if isinstance(data, dict) else None
        if response.status_code == 404 and isinstance(error, str):
            raise HermesError(unknown)  # (an unknown route's 404 has {"error": {"message"}})
        if isinstance(error, dict):
            error = error.get("message")
        raise HermesError(str(error or f"the gateway answered {response.status_code}"))
    return data


def whoami() -> str:
    """Who decided, for the record: `cli (USER@HOST)`."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = str(os.getuid())
    return f"cli ({user}@{socket.gethostname()})"


def ago(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"


def one_line(text: str, limit: int = 60) -> str:
    """The first line of text, cut to `limit` characters; `…` marks a cut."""
    lines = text.strip().splitlines() or [""]
    first = lines[0].rstrip()
    if len(first) > limit:
        return first[: limit - 1].rstrip() + "…"
    return first + (" …" if len(lines) > 1 else "")


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
