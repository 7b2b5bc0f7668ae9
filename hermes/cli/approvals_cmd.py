"""`hermes approvals list | approve ID | deny ID | classify COMMAND...`.

The owner's side of the approval gate (hermes/gateway/approvals.py). A
decision goes through the running gateway when there is one, so the waiting
work resumes at once; with no gateway it is written to state.db, and the
gateway resumes the work when it starts. `classify` shows what the gate would
think of a shell command, without running anything.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

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
    from hermes.approvals.probe import LocalProbe
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
    where = Where(
        cwd=profile.workspace,
        home=home,
        hermes_root=profile.root,
        hermes_home=profile.home,
        probe=LocalProbe(),
    )
    found = classify_command(command, where)
    print(json.dumps(found.to_json()) if as_json else f"{found.risk}: {found.reason}")
    return 0
