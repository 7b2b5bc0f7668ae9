"""Helpers for the commands that act on a home's state.db, or on its running
gateway through the API (`hermes approvals`, `hermes tasks`, `hermes pairing`):
the home and its .env, state.db, an authenticated POST, and plain tables."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import socket
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes.errors import HermesError

if TYPE_CHECKING:
    from hermes.store.db import Conn


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
def state_db(home: Path, env: Mapping[str, str] | None = None) -> Iterator[Conn]:
    """The home's database (state.db, or its schema on PostgreSQL with
    HERMES_DATABASE_URL), opened and migrated, for the command line."""
    from hermes.store.db import open_db
    from hermes.store.where import locate_home

    where = locate_home(home, env)
    conn: Conn
    if isinstance(where, Path):
        try:
            conn = open_db(where)
        except (sqlite3.Error, OSError) as exc:
            raise HermesError(f"cannot open the state database {where}: {exc}") from None
    else:
        from hermes.store.pg import connect

        conn = connect(where)
    try:
        yield conn
    finally:
        close = getattr(conn, "close", None)
        if close is not None:
            close()


def gateway_post(
    home: Path, env: dict[str, str], path: str, body: dict[str, str], unknown: str
) -> dict[str, Any] | None:
    """POST to the running gateway's API; its JSON answer, or None when no gateway
    runs. A 404 is raised as HermesError(unknown), another refusal with the
    gateway's own words."""
    import httpx

    from hermes.pidfile import read_state

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
        code, message = api_error(data)
        if response.status_code == 404 and code != "unknown_route":
            raise HermesError(unknown)  # an unknown id (not an older gateway's missing route)
        raise HermesError(message or f"the gateway answered {response.status_code}")
    return data


def api_error(data: object) -> tuple[str | None, str | None]:
    """(code, message) of the gateway's one error shape, `{"error": {"message", "type",
    "code"}}`; (None, None) when `data` is not one."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, None
    code, message = error.get("code"), error.get("message")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) and message else None,
    )


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
