"""`hermes cluster status | adopt`: the profile's replicas on PostgreSQL
(hermes/gateway/cluster.py, docs/scale-out.md)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from hermes.cli.shared import state_db, table
from hermes.errors import HermesError


def cmd_cluster(args: argparse.Namespace) -> int:
    from hermes.home import ensure_home, resolve_home
    from hermes.store.where import locate_home

    env = dict(os.environ)
    _, home = resolve_home(getattr(args, "profile", None), env)
    ensure_home(home)
    where = locate_home(home, env)
    if not hasattr(where, "schema"):
        raise HermesError(
            "this profile keeps its state in state.db (SQLite, one machine): there is no"
            " cluster. Set HERMES_DATABASE_URL=postgresql://... to run replicas"
            " (docs/scale-out.md)"
        )
    if args.action == "adopt":
        return _adopt(home)
    if args.action != "status":
        raise HermesError(f"unknown cluster action {args.action!r} (see `hermes cluster --help`)")
    with state_db(home, env) as conn:
        report = status(conn, _lease_seconds(args))
    report["schema"] = str(getattr(where, "schema", ""))
    if getattr(args, "json", False):
        print(json.dumps(report, indent=2))
    else:
        print("\n".join(render(report)))
    return 0


def status(conn: Any, lapse: float = 15.0) -> dict[str, Any]:
    """LAPSE: cluster.lease_seconds; a replica not seen for twice that is "gone"."""
    from hermes.store import cluster_ops as ops

    now = ops.now(conn)
    replicas = ops.replicas(conn)
    leases = ops.leases(conn)
    holder = {lease.holder: lease for lease in leases if lease.holder and lease.expires_at > now}
    chats = ops.claims(conn)

    return {
        "now": now,
        "replicas": [
            {
                "id": r.id,
                "host": r.host,
                "pid": r.pid,
                # a replica not seen for two leases is gone (killed, its machine down)
                "role": r.role if now - r.seen_at <= 2 * lapse else "gone",
                "seen_seconds_ago": round(now - r.seen_at, 1),
                "volume": r.volume,
                "lease": holder[r.id].name if r.id in holder else None,
                "chats": chats.get(r.id, 0),  # whose turns it runs now
                "turns": r.turns,  # chat turns it took on since it started
            }
            for r in replicas
        ],
        "leases": [
            {
                "name": lease.name,
                "holder": lease.holder,
                "token": lease.token,
                "expires_in": round(lease.expires_at - now, 1) if lease.holder else None,
            }
            for lease in leases
        ],
        "work": ops.held_work(conn),
    }


def _lease_seconds(args: argparse.Namespace) -> float:
    from hermes.home import load_profile

    try:
        return float(load_profile(getattr(args, "profile", None)).settings.cluster.lease_seconds)
    except HermesError:  # a broken config.yaml: the default
        return 15.0


def render(report: dict[str, Any]) -> list[str]:
    lines = [f"Schema {report.get('schema', '')}"]
    rows = [["REPLICA", "ROLE", "SEEN", "HOLDS", "CHATS", "TURNS"]]
    for r in report["replicas"]:
        seen, lease = f"{r['seen_seconds_ago']}s ago", r["lease"] or "-"
        rows.append([r["id"], r["role"], seen, lease, str(r["chats"]), str(r["turns"])])
    lines += table(rows) if len(rows) > 1 else ["no replicas have run yet"]
    for lease in report["leases"]:
        if lease["holder"]:
            left = lease["expires_in"]
            state = f"held by {lease['holder']} (token {lease['token']}, {left}s left)"
        else:
            state = f"free (token {lease['token']})"
        lines.append(f"Lease {lease['name']}: {state}")
    work = report["work"]
    lines.append(
        "Work in hand: " + ", ".join(f"{n} {k}" for k, n in work.items() if k != "unknown")
    )
    if work.get("unknown"):
        lines.append(
            f"! {work['unknown']} repl(ies) may not have arrived (a replica stopped while"
            " sending them); the chats were told"
        )
    return lines


def _adopt(home: Any) -> int:
    from hermes.gateway.cluster import VOLUME_KEY, volume_id
    from hermes.store import cluster_ops as ops

    volume = volume_id(home)
    with state_db(home) as conn:
        ops.adopt_volume(conn, VOLUME_KEY, volume)
    print(f"This home ({home}, volume {volume}) is the profile's volume now.")
    return 0
