"""`hermes tasks list | show ID | cancel ID`: background, walkaway and
delegated tasks (hermes/gateway/tasks.py) as stored in state.db.

Listing and showing read state.db directly. A cancel goes through the running
gateway when there is one (it stops the run at once and tells the chat);
with no gateway the row is marked cancelled here, its pending approvals are
voided, and the chat's note is queued for the gateway to send when it starts.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hermes.cli.shared import (
    ago,
    gateway_post,
    local_home,
    one_line,
    state_db,
    table,
    whoami,
)
from hermes.errors import HermesError
from hermes.store import approval_ops, task_ops, task_tree
from hermes.store.db import Conn
from hermes.store.gateway_ops import NewDelivery
from hermes.store.task_ops import TaskEvent, TaskRow

LIST_EVENTS = 5  # the last events each task shows in `list --json`


def cmd_tasks(args: argparse.Namespace) -> int:
    from hermes.server.api_work import task_json

    home, env = local_home(args)
    tz = hermes_zone(home)
    if args.action == "list":
        with state_db(home) as conn:
            rows = task_ops.listing(conn, open_only=not args.all)
            found = [task_json(conn, row, LIST_EVENTS) for row in rows] if args.json else []
            parents = task_ops.in_sessions(conn, [r.parent for r in rows if r.parent])
        if args.json:
            print(json.dumps({"tasks": found}, indent=2))
        else:
            print(format_list(rows, args.all, parents))
        return 0
    if args.action == "show":
        with state_db(home) as conn:
            row = task_ops.get(conn, args.id)
            if row is None:
                raise HermesError(_unknown(args.id))
            if args.json:
                print(json.dumps(task_json(conn, row, 10_000), indent=2))
                return 0
            events = task_ops.events(conn, row.id, 10_000)
            parent = (
                task_ops.in_sessions(conn, [row.parent]).get(row.parent) if row.parent else None
            )
            children = task_ops.children_of(conn, row.session_id) if row.session_id else []
        print(format_task(row, events, tz, parent=parent, children=children))
        return 0
    if args.action == "cancel":
        print(cancel(home, env, args.id))
        return 0
    raise HermesError(f"unknown tasks action {args.action!r} (see `hermes tasks --help`)")


def _unknown(task_id: str) -> str:
    return f"no task {task_id!r} (see `hermes tasks list --all`)"


def cancel(home: Path, env: dict[str, str], task_id: str) -> str:
    """Cancel through the running gateway, else in state.db; the line to print."""
    by = whoami()
    path = f"/api/hermes/tasks/{task_id}/cancel"
    data = gateway_post(home, env, path, {"by": by}, _unknown(task_id))
    if data is not None:
        return str(data["message"])
    now = time.time()
    with state_db(home) as conn:
        row = task_ops.get(conn, task_id)
        if row is None:
            raise HermesError(_unknown(task_id))
        if row.finished:
            raise HermesError(f"task {row.id} already {row.status}")
        if not _cancel_row(conn, row, by, now):
            raise HermesError(f"task {row.id} had just finished")
        # the cascade TaskRunner.stop does in a gateway: the open children its
        # agent delegated, and theirs, each cancelled the same way
        below = task_ops.open_descendants(conn, row.session_id) if row.session_id else []
        children = [child.id for child in below if _cancel_row(conn, child, by, now)]
    told = "\nThe gateway is not running: the chat is told when it starts." if row.origin else ""
    also = f" and its delegated task(s) {', '.join(children)}" if children else ""
    return f"Cancelled {row.id}{also}.{told}"


def _cancel_row(conn: Conn, row: TaskRow, by: str, now: float) -> bool:
    """Mark ROW cancelled with its chat's note, and void its pending approvals."""
    if not task_ops.finish(
        conn, row.id, "cancelled", now, error=f"cancelled by {by}", delivery=_note(row, by)
    ):
        return False
    approval_ops.cancel_owner(conn, f"task:{row.id}", by, now)
    return True


def _note(row: TaskRow, by: str) -> NewDelivery | None:
    """The chat's "cancelled" message, under the key the gateway uses for the
    task's result (so the chat gets one or the other, once). None for a child
    whose parent waits for it: the parent's tool result says it."""
    from hermes.gateway.tasks import cancelled_text, to_origin

    if row.waited:
        return None
    return to_origin(row, f"task:{row.id}:result", cancelled_text(row, by))


def hermes_zone(home: Path) -> ZoneInfo:
    """The zone Hermes shows times in (cron.timezone, else the machine's). A config
    that does not load does not stop a listing: the machine's zone then."""
    from hermes.config import load_settings
    from hermes.cron.schedule import zone
    from hermes.errors import ConfigError

    try:
        return zone(load_settings(home / "config.yaml").cron.timezone)
    except (ConfigError, HermesError, OSError):
        return zone(None)


def format_list(
    rows: list[TaskRow], everything: bool, parents: dict[str, TaskRow] | None = None
) -> str:
    """Ages, not clock times: they read the same in every zone. A delegated child is
    "↳ ID", right under its parent task when that is listed; else its prompt says
    who delegated it (task_tree)."""
    if not rows:
        return "No tasks." if everything else "No open tasks (hermes tasks list --all shows all)."
    now = time.time()
    lines = [["ID", "KIND", "STATUS", "AGE", "ORIGIN", "PROMPT"]]
    for line in task_tree.nest(rows, parents or {}):
        r, about = line.row, one_line(task_tree.headline(line.row), 50)
        name = r.id
        if line.child:
            name = "  " * max(0, line.level - 1) + "↳ " + r.id
            if line.level == 0:
                about += f" ({_by_whom(line.parent_task, r)})"
        lines.append([name, r.kind, r.status, ago(now - r.created_at), r.origin or "-", about])
    return "\n".join(table(lines))


def _by_whom(parent: TaskRow | None, row: TaskRow) -> str:
    if parent is not None:
        return f"delegated by {parent.id}"
    return f"delegated by the agent in session {row.parent}"


def hermes_zone_default() -> ZoneInfo:
    from hermes.cron.schedule import zone

    return zone(None)


def _stamp(at: float, tz: ZoneInfo, form: str) -> str:
    return datetime.fromtimestamp(at, tz).strftime(form)


def _ago(seconds: float) -> str:
    age = ago(seconds)
    return age if age == "just now" else f"{age} ago"


def _when(at: float | None, tz: ZoneInfo) -> str:
    if at is None:
        return "-"
    left = at - time.time()
    when = f"in {ago(left)}" if left >= 60 else _ago(-left)
    return f"{_stamp(at, tz, '%Y-%m-%d %H:%M:%S %Z')} ({when})"


def format_task(
    row: TaskRow,
    events: list[TaskEvent],
    tz: ZoneInfo | None = None,
    *,
    parent: TaskRow | None = None,
    children: list[TaskRow] | None = None,
) -> str:
    """The task's fields (times in the Hermes zone, named), its events oldest first,
    then its result or error. A delegated child names who delegated it (PARENT: the
    task in whose session that ran, if any), its depth and deadline; a task whose
    agent delegated lists its CHILDREN."""
    tz = tz or hermes_zone_default()
    fields = [
        ("Task", f"{row.id} ({row.kind})"),
        ("Status", row.status),
        ("Origin", row.origin or "-"),
        ("Session", row.session_id or "-"),
    ]
    if row.parent:
        fields += [
            ("Parent", f"{_by_whom(parent, row)} (depth {row.depth})"),
            ("Deadline", _when(row.deadline, tz)),
        ]
    fields += [
        ("Created", _when(row.created_at, tz)),
        ("Started", _when(row.started_at, tz)),
        ("Finished", _when(row.finished_at, tz)),
    ]
    lines = [f"{name + ':':<10}{value}" for name, value in fields]
    lines += ["", "Prompt:", *_indent(row.prompt)]
    if children:
        lines += ["", "Delegated tasks:"]
        lines += [
            f"  ↳ {c.id}  {c.status:<16}  {one_line(task_tree.headline(c), 60)}" for c in children
        ]
    lines += ["", f"Events ({tz.key}):" if events else "Events: none"]
    lines += [
        f"  {_stamp(e.at, tz, '%H:%M:%S')}  {e.kind:<8}  {one_line(e.text, 200)}" for e in events
    ]
    if row.result:
        lines += ["", "Result:", *_indent(row.result)]
    if row.error:
        lines += ["", "Error:", *_indent(row.error)]
    return "\n".join(lines)


def _indent(text: str) -> list[str]:
    return ["  " + line for line in text.strip().splitlines()]
