"""The cron scheduler inside the gateway: claim due jobs, run them as tasks.

Event-driven: it sleeps until the earliest `next_run_at` in state.db (one
indexed MIN query) or until `wake()` (a job was added, changed or removed;
other processes poke the gateway with SIGUSR1, see hermes/pidfile.py poke). There is no
tick: an idle scheduler with 10,000 jobs does nothing until the first is due.
It still looks at the wall clock at least every MAX_SLEEP seconds, because
the event loop's clock is monotonic and does not see a suspended machine or
a clock that was set.

Each due job is claimed in one transaction (hermes/store/cron_ops.py) that
creates its run's task (kind ``cron``); the TaskRunner runs it in a fresh
session like any task, under the tasks' concurrency limit, and delivers the
result through the ledger. At start, jobs that came due while the gateway
was down are claimed at once, one run per job, then their schedule resumes.

At start, next runs computed in another zone than `cron.timezone` (the setting
changed) are computed again (`jobs.sync_zone`); `set_zone` does it for a
gateway that reloads its config. A run whose target cannot be reached is kept
and delivered late once it can be (hermes/gateway/kept.py, every round).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Protocol
from zoneinfo import ZoneInfo

from hermes.aio import wait_event
from hermes.cron import jobs
from hermes.gateway.kept import deliver_kept, warn_kept
from hermes.gateway.ports import Services
from hermes.store import cron_ops

log = logging.getLogger("hermes.gateway")
MAX_SLEEP = 60.0
BATCH = 500  # claims per transaction; more due jobs are claimed in the next round


class Launcher(Protocol):
    async def launch_ids(self, task_ids: list[str]) -> None:
        """Start the task rows TASK_IDS (claimed cron runs)."""


class SchedulerHost(Services, Protocol):
    """What the scheduler uses of the gateway."""

    @property
    def tasks(self) -> Launcher: ...


class Scheduler:
    def __init__(self, gw: SchedulerHost, tz: ZoneInfo) -> None:
        self.gw = gw
        self.tz = tz
        # who claimed a run, for the record (unique per gateway object, tests run two)
        self.owner = f"gateway {socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Jobs changed (or the home channel): look again for the next due one."""
        self._wake.set()

    async def set_zone(self, tz: ZoneInfo) -> int:
        """cron.timezone changed (a config reload): recompute the stored next runs
        in `tz` and go on in it. How many jobs got a new next run."""
        self.tz = tz
        changed: int = await self.gw.store.run(jobs.recompute_next_runs, tz, self.gw.clock())
        if changed:
            log.info("cron: %d next run(s) recomputed in %s", changed, tz.key)
        self.wake()
        return changed

    async def run(self) -> None:
        gw = self.gw
        changed = await gw.store.run(jobs.sync_zone, self.tz, gw.clock())
        if changed:
            log.info("cron: %d next run(s) recomputed in %s (the zone changed)", changed, self.tz)
        while True:
            self._wake.clear()
            claimed = await gw.store.run(
                cron_ops.claim_due,
                gw.clock(),
                self.owner,
                jobs.next_of(self.tz),
                BATCH,
                set(gw.adapters),
            )
            # the runs just claimed, and any `hermes cron run` queued from the command line
            claimed += await gw.store.run(cron_ops.adopt, self.owner)
            await warn_kept(gw, claimed)
            await gw.tasks.launch_ids(claimed)
            if claimed:
                log.info("cron: started %d run(s): %s", len(claimed), ", ".join(claimed[:20]))
            try:
                await deliver_kept(gw, self.tz)
            except Exception:  # never stops the scheduler; tried again next round
                log.exception("cron: delivering kept results failed")
            if len(claimed) >= BATCH:
                continue
            due = await gw.store.run(cron_ops.next_due)
            wait = MAX_SLEEP if due is None else min(MAX_SLEEP, max(0.0, due - gw.clock() + 0.001))
            if wait > 0:
                await wait_event(self._wake, wait)
