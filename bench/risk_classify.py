"""Cost of the approval gate's classifier: time per command over the blind
table of tests/test_risk_table.py (418 commands: parse with tree-sitter-bash,
unwrap, run every rule).

    .venv/bin/python bench/risk_classify.py [-n 5]

Target: median < 1 ms and p99 < 5 ms per command. Exit status 1 when missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hermes.risk import Where, classify_command
from tests.test_risk_table import TABLE

WHERE = Where(cwd=Path("/home/alice/workspace"), home=Path("/home/alice"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="rounds over the table (default 5)")
    args = parser.parse_args()
    classify_command("true", WHERE)  # the parser is built once per process
    times: list[float] = []
    for _ in range(args.n):
        for command, _level, _why in TABLE:
            started = time.perf_counter()
            classify_command(command, WHERE)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    median = statistics.median(times)
    p99 = times[int(len(times) * 0.99)]
    print(f"{len(times)} classifications: median {median:.3f} ms, p99 {p99:.3f} ms")
    return 0 if median < 1 and p99 < 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
