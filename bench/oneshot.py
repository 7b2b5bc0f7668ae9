"""`hermes -z hello` against a zero-latency OpenAI-compatible server, fresh home each run.

    .venv/bin/python bench/oneshot.py [-n 20]

The server is hermes.testing.ScriptedModel (loopback, answers at once).
Prints the median and p90 wall time and the peak RSS of the child processes.
Target: median < 0.5 s. Exit status 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hermes.testing import ScriptedModel

TARGET_S = 0.5
ANSWER = "Hello! How can I help?"


def run_once(base_url: str, root: Path, n: int) -> float:
    home = root / f"home{n}"
    home.mkdir()
    (home / "config.yaml").write_text(
        f"model:\n  provider: custom\n  base_url: {base_url}\n  model: bench\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root), "HERMES_HOME": str(home)}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "hermes", "-z", "hello"],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    if result.returncode != 0 or result.stdout != ANSWER + "\n":
        raise SystemExit(f"run {n} failed ({result.returncode}): {result.stderr.strip()}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="timed runs (default 20)")
    args = parser.parse_args()
    with ScriptedModel(model="bench") as model, tempfile.TemporaryDirectory() as tmp:
        model.reply_with(lambda request: ANSWER, times=None)
        root = Path(tmp)
        run_once(model.base_url, root, 0)  # warm-up (file and bytecode caches)
        times = sorted(run_once(model.base_url, root, n) for n in range(1, args.n + 1))
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    median = statistics.median(times)
    p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
    verdict = "ok" if median < TARGET_S else "TOO SLOW"
    print(
        f"hermes -z hello: median {median * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
        f"min {times[0] * 1000:.0f} ms over {args.n} runs; peak child RSS {peak_mib:.0f} MiB "
        f"(target < {TARGET_S * 1000:.0f} ms: {verdict})"
    )
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
