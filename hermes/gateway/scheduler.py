"""The cron scheduler inside the gateway: claim due jobs, run them as tasks.

Event-driven: it sleeps until the earliest `next_run_at` in state.db (one
indexed MIN query) or until `wake()` (a job was added, changed or removed;
other processes poke the gateway with SIGUSR1, see runner.py). There is no
tick: an idle scheduler with 10,000 jobs does nothing until the first is due.
It still looks at the wall clock at least every MAX_SLEEP seconds, because
the event loop's clock is monotonic and does not see a suspended machine or
a clock that was set.

Each due job is claimed in one transaction (hermes/store/cron_ops.py) that
creates its run's task (kind ``cron``); the TaskRunner runs it in a fresh
session like any task, under the tasks' concurrency limit, and delivers the
result through the ledger. At start, jobs that came due while the gateway
was down are claimed at once, one run per job, then their schedule resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from hermes.cron import jobs
from hermes.store import cron_ops

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway

log = logging.getLogger("hermes.gateway")
MAX_SLEEP = 60.0
BATCH = 500  # claims per transaction; more due jobs are claimed in the next round


class Scheduler:
    def __init__(self, gw: Gateway, tz: ZoneInfo) -> None:
        self.gw = gw
        self.tz = tz
        # who claimed a run, for the record (unique per gateway object, tests run two)
        self.owner = f"gateway {socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Jobs changed: look again for the next due one."""
        self._wake.set()

    async def run(self) -> None:
        gw = self.gw
        following = jobs.next_of(self.tz)
        while True:
            self._wake.clear()
            claimed = await gw.store.run(
                cron_ops.claim_due, gw.clock(), self.owner, following, BATCH
            )
            # the runs just claimed, and any `hermes cron run` queued from the command line
            claimed += await gw.store.run(cron_ops.adopt, self.owner)
            await gw.tasks.launch_ids(claimed)
            if claimed:
                log.info("cron: started %d run(s): %s", len(claimed), ", ".join(claimed[:20]))
            if len(claimed) >= BATCH:
                continue
            due = await gw.store.run(cron_ops.next_due)
            wait = MAX_SLEEP if due is None else min(MAX_SLEEP, max(0.0, due - gw.clock() + 0.001))
            if wait > 0 and not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
