"""`hermes doctor`'s look at cron: results kept because their target could not
be reached (see hermes/gateway/kept.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hermes.cli.doctor import Finding, ok, warn


def check_kept_results(path: Path) -> list[Finding]:
    from hermes.store import kept_ops

    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            count, why = kept_ops.summary(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return []  # an old or damaged state.db: check_db reports it
    if not count:
        return [ok("every cron result reached its target")]
    fix = (
        "send /sethome in the chat that should get them"
        if why and "home" in why
        else "configure that platform (or change the job's target: hermes cron edit ID --deliver)"
    )
    return [
        warn(
            f"{count} cron result(s) could not be delivered ({why}); they are kept and "
            "delivered late once the target can be reached",
            fix,
        )
    ]
