"""Skipped platform updates in state.db: the gateway's side of the adapters'
`DeadLetters` protocol (hermes/platforms/adapter.py), and the summary the
status route gives the dashboard."""

from __future__ import annotations

from typing import Any

from hermes.store import Store, skipped_ops

PREVIEW = 300  # characters of a skipped update's raw JSON shown by the dashboard


class StoredDeadLetters:
    """DeadLetters in the listening gateway's state.db."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(
        self, platform: str, update_id: str, error: str, raw: str, attempts: int, at: float
    ) -> None:
        await self.store.run(skipped_ops.record, platform, update_id, error, raw, attempts, at)


async def summary(store: Store, now: float, limit: int = 20) -> dict[str, Any]:
    """The last week's skipped updates: a count per platform and the newest ones."""
    since = now - skipped_ops.SHOWN_SECONDS
    counts = await store.run(skipped_ops.counts, since)
    rows = await store.run(skipped_ops.recent, since, limit)
    return {
        "counts": counts,
        "recent": [
            {
                "platform": r.platform,
                "update_id": r.update_id,
                "error": r.error,
                "attempts": r.attempts,
                "at": r.skipped_at,
                "raw": r.raw if len(r.raw) <= PREVIEW else r.raw[: PREVIEW - 1] + "…",
            }
            for r in rows
        ],
    }
