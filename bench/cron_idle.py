"""What 10,000 scheduled cron jobs cost an idle gateway: CPU, memory, start time.

    .venv/bin/python bench/cron_idle.py [--jobs 10000] [--seconds 30] [--starts 5]

Two temporary homes: one with `--jobs` cron jobs (inserted with
hermes.cron.jobs.create on one connection before any gateway runs; each at a
random minute and hour on one weekday that is neither today nor tomorrow in
the configured zone, so none comes due), one with none. For each,
`python -m hermes gateway run` is started `--starts` times in turn (the median
time until gateway.json appears is its start time); the last two stay up, and
after `--settle` seconds both are measured over the same `--seconds` window:
CPU time (utime + stime from /proc/PID/stat, ms and % of one core) and RSS
(VmRSS from /proc/PID/status, at the end of the window).

The scheduler is event-driven (hermes/gateway/scheduler.py): it sleeps until
the earliest next_run_at, so the number of jobs should cost next to nothing
while none is due. Targets: idle CPU < 1% of a core and RSS < 10 MiB more
than with no jobs. Exit status 1 when either is missed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway_process import GatewayProcess, write_home

from hermes.cron import jobs
from hermes.store import cron_ops
from hermes.store.db import open_db
from hermes.testing import ScriptedModel

ZONE = "UTC"
TARGET_CPU_PCT = 1.0
TARGET_RSS_MIB = 10.0


def add_jobs(home: Path, count: int) -> tuple[float, float]:
    """`count` weekly jobs, none due for at least a day: the seconds it took, and
    the hours until the first is due."""
    tz = ZoneInfo(ZONE)
    now = time.time()
    today = (datetime.fromtimestamp(now, tz).weekday() + 1) % 7  # cron: 0 is Sunday
    weekday = (today + 3) % 7
    pick = random.Random(7)
    started = time.perf_counter()
    conn = open_db(home / "state.db")
    try:
        for i in range(count):
            jobs.create(
                conn,
                schedule=f"{pick.randrange(60)} {pick.randrange(24)} * * {weekday}",
                prompt=f"idle bench job {i}",
                profile="default",
                created_by="cli",
                tz=tz,
                now=now,
                deliver="none",
            )
        took = time.perf_counter() - started
        first = cron_ops.next_due(conn)
    finally:
        conn.close()
    return took, ((first or now) - now) / 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs (default 10000)")
    parser.add_argument("--seconds", type=float, default=30, help="measured window (default 30)")
    parser.add_argument("--settle", type=float, default=3, help="wait after start (default 3)")
    parser.add_argument("--starts", type=int, default=5, help="timed starts per home (default 5)")
    args = parser.parse_args()
    with ScriptedModel(model="bench") as model, tempfile.TemporaryDirectory() as tmp:
        homes = {"0 jobs": Path(tmp) / "empty", f"{args.jobs} jobs": Path(tmp) / "full"}
        for home in homes.values():
            write_home(home, model, "bench-idle-key", ZONE)
        took, hours = add_jobs(homes[f"{args.jobs} jobs"], args.jobs)
        size = (homes[f"{args.jobs} jobs"] / "state.db").stat().st_size / 2**20
        print(
            f"inserted {args.jobs} jobs in {took:.1f} s (state.db {size:.1f} MiB),"
            f" the first due in {hours:.0f} h"
        )

        starts: dict[str, list[float]] = {label: [] for label in homes}
        running: dict[str, GatewayProcess] = {}
        try:
            for round_ in range(args.starts):
                for label, home in homes.items():
                    gateway = GatewayProcess(home)
                    starts[label].append(gateway.start_s)
                    if round_ < args.starts - 1:
                        gateway.stop()
                    else:
                        running[label] = gateway
            time.sleep(args.settle)
            before = {label: (time.monotonic(), g.cpu_ms()) for label, g in running.items()}
            time.sleep(args.seconds)
            cpu, rss = {}, {}  # label -> (ms used, % of one core); label -> MiB
            for label, g in running.items():
                since, used_before = before[label]
                used = g.cpu_ms() - used_before
                cpu[label] = (used, used / 10 / (time.monotonic() - since))
                rss[label] = g.rss_mib()
        finally:
            for g in running.values():
                g.stop()

    for label in homes:
        used, share = cpu[label]
        print(
            f"{label:>11}: start median {statistics.median(starts[label]) * 1000:6.0f} ms"
            f" (of {args.starts}), idle CPU {used:6.0f} ms in {args.seconds:g} s"
            f" = {share:5.2f}% of a core, RSS {rss[label]:6.1f} MiB"
        )
    empty, full = homes
    extra_cpu = cpu[full][1] - cpu[empty][1]
    extra_rss = rss[full] - rss[empty]
    extra_start = (statistics.median(starts[full]) - statistics.median(starts[empty])) * 1000
    print(
        f"{'difference':>11}: start {extra_start:+6.0f} ms, CPU {extra_cpu:+5.2f}% of a core,"
        f" RSS {extra_rss:+5.1f} MiB"
    )
    ok = cpu[full][1] < TARGET_CPU_PCT and extra_rss < TARGET_RSS_MIB
    print(
        f"target: idle CPU < {TARGET_CPU_PCT:g}% of a core and RSS < +{TARGET_RSS_MIB:g} MiB"
        f" with {args.jobs} jobs -> {'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
