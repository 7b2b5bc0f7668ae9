"""`hermes usage [--since T] [--by day|model|session] [--json]`: tokens and cost
from state.db, summed per day (in `cron.timezone`, the zone Hermes shows times
in), model or session. Cost as the provider reported it, else priced from
`usage.prices`, else "not known" with how to price it (hermes/usage.py)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hermes.cli.shared import state_db, table
from hermes.usage import By, Line, group, unpriced_hint


def since_time(text: str, tz: ZoneInfo) -> float:
    """`7d`, `2h`... before now, or an ISO date/time (in `tz` when it has no offset)."""
    from hermes.cli.logs_cmd import parse_since

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return parse_since(text, datetime.now(tz)).timestamp()
    return (when if when.tzinfo is not None else when.replace(tzinfo=tz)).timestamp()


def cmd_usage(args: argparse.Namespace) -> int:
    from hermes.cron.schedule import zone
    from hermes.home import load_profile
    from hermes.store import ops

    profile = load_profile(getattr(args, "profile", None))
    tz = zone(profile.settings.cron.timezone)
    since = since_time(args.since, tz) if args.since else None
    with state_db(profile.home) as conn:
        rows = ops.usage_rows(conn, since)
    by: By = args.by
    lines, total = group(rows, by, tz, profile.settings.usage.prices)
    if args.json:
        print(json.dumps(to_json(lines, total, by, tz), indent=2))
    else:
        print(format_usage(lines, total, by, tz, args.since))
    return 0


def to_json(lines: list[Line], total: Line, by: By, tz: ZoneInfo) -> dict[str, Any]:
    def one(line: Line) -> dict[str, Any]:
        known = line.unpriced < line.turns or not line.turns
        return {
            by if line.key != "total" else "total": line.key,
            "turns": line.turns,
            "prompt_tokens": line.prompt,
            "completion_tokens": line.completion,
            "cached_tokens": line.cached,
            "cost_usd": round(line.cost, 6) if known else None,
            "turns_not_priced": line.unpriced,
        }

    return {"by": by, "timezone": tz.key, "lines": [one(x) for x in lines], "total": one(total)}


def format_usage(lines: list[Line], total: Line, by: By, tz: ZoneInfo, since: str | None) -> str:
    if not total.turns:
        when = f" since {since}" if since else ""
        return f"No model turns recorded{when}."
    head = {"day": f"DAY ({tz.key})", "model": "MODEL", "session": "SESSION"}[by]
    rows = [[head, "TURNS", "IN", "CACHED", "OUT", "COST"]]
    for line in [*lines, total]:
        rows.append(
            [
                "total" if line is total else line.key,
                f"{line.turns:,}",
                f"{line.prompt:,}",
                f"{line.cached:,}",
                f"{line.completion:,}",
                line.cost_text(),
            ]
        )
    out = table(rows)
    hint = unpriced_hint(total)
    return "\n".join([*out, *([f"Note: {hint}"] if hint else [])])
