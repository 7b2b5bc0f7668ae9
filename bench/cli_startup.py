"""Start-up cost of the `hermes` command: median wall time of `hermes --help`.

    .venv/bin/python bench/cli_startup.py [-n 30]

Target: median < 0.15 s. Exit status 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_S = 0.15


def time_once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="timed runs (default 30)")
    args = parser.parse_args()
    argv = [sys.executable, "-m", "hermes", "--help"]
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "HERMES_HOME": home}
        time_once(argv, env)  # warm the OS file cache and the bytecode caches
        times = sorted(time_once(argv, env) for _ in range(args.n))
    median = statistics.median(times)
    p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
    verdict = "ok" if median < TARGET_S else "TOO SLOW"
    print(
        f"hermes --help: median {median * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
        f"min {times[0] * 1000:.0f} ms over {args.n} runs "
        f"(target < {TARGET_S * 1000:.0f} ms: {verdict})"
    )
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
