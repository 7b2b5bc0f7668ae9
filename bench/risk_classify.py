"""Cost and accuracy of the approval gate's classifier over its blind tables:
tests/test_risk_table.py (the everyday table), tests/test_risk_evasions.py
(the evasions of issue 12) and bench/risk_heldout.py (a held-out table nobody
tuned the classifier against: it measures how well the rules generalize).

    .venv/bin/python bench/risk_classify.py [-n 5] [--misses]

Time: each round classifies every row of every table (parse with
tree-sitter-bash, unwrap, run every rule). Target: median < 1 ms and
p99 < 5 ms per command. Exit status 1 when missed; accuracy never changes
the exit status.

Accuracy, per table and for all together:
  recall on dangerous  rows expected medium/high/hard classified at least medium
  hard blocked         rows expected hard classified hard
  false pos. > none    rows expected none classified above none
  false pos. >= medium rows expected none classified medium or above
  low-as-low           rows expected low classified low
  exact match          rows classified at the expected level (for rows that
                       state a minimum, e.g. the control plane's "at least
                       high" or a held-out row marked "min", any level at or
                       above it)
`--misses` lists every row of every table that is not an exact match, with the
reason given.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import risk_heldout
from hermes.risk import Where, classify_command
from tests import test_risk_evasions, test_risk_table

LEVELS = ("none", "low", "medium", "high", "hard")


def rank(level: str) -> int:
    return LEVELS.index(level)


@dataclass(frozen=True)
class Row:
    table: str
    group: str
    command: str
    expected: str
    at_least: bool
    why: str
    where: Where


def all_rows() -> list[Row]:
    rows = [
        Row("risk_table", "", command, level, False, why, test_risk_table.WHERE)
        for command, level, why in test_risk_table.TABLE
    ]
    rows += [
        Row("evasions", c.group, c.command, c.expected, c.at_least, c.why, c.where)
        for c in test_risk_evasions.CASES
    ]
    rows += [
        Row("heldout", "", row[0], row[1], row[3:] == ("min",), row[2], risk_heldout.WHERE)
        for row in risk_heldout.HELDOUT
    ]
    return rows


def matches(row: Row, got: str) -> bool:
    if row.at_least:
        return rank(got) >= rank(row.expected)
    return got == row.expected


def ratio(hits: int, total: int) -> str:
    if not total:
        return "-"
    return f"{hits}/{total} {100 * hits / total:5.1f}%"


def scores(verdicts: list[tuple[Row, str]]) -> dict[str, str]:
    dangerous = [got for row, got in verdicts if rank(row.expected) >= rank("medium")]
    hard = [got for row, got in verdicts if row.expected == "hard"]
    benign = [got for row, got in verdicts if row.expected == "none"]
    low = [got for row, got in verdicts if row.expected == "low"]
    return {
        "rows": str(len(verdicts)),
        "recall on dangerous": ratio(
            sum(rank(g) >= rank("medium") for g in dangerous), len(dangerous)
        ),
        "hard blocked": ratio(sum(g == "hard" for g in hard), len(hard)),
        "false pos. > none": ratio(sum(g != "none" for g in benign), len(benign)),
        "false pos. >= medium": ratio(sum(rank(g) >= rank("medium") for g in benign), len(benign)),
        "low-as-low": ratio(sum(g == "low" for g in low), len(low)),
        "exact match": ratio(sum(matches(r, g) for r, g in verdicts), len(verdicts)),
    }


def report(verdicts: list[tuple[Row, str]]) -> None:
    columns = {
        "risk_table": scores([v for v in verdicts if v[0].table == "risk_table"]),
        "evasions": scores([v for v in verdicts if v[0].table == "evasions"]),
        "heldout": scores([v for v in verdicts if v[0].table == "heldout"]),
        "all": scores(verdicts),
    }
    width = max(len(c) for col in columns.values() for c in col.values()) + 2
    print(f"{'':22}" + "".join(f"{name:>{width}}" for name in columns))
    for metric in columns["all"]:
        print(f"{metric:22}" + "".join(f"{col[metric]:>{width}}" for col in columns.values()))


def print_misses(verdicts: list[tuple[Row, str]], reasons: dict[tuple[str, str], str]) -> None:
    missed = [(row, got) for row, got in verdicts if not matches(row, got)]
    print(f"\n{len(missed)} misses (expected -> got: command  [why] reason)")
    for row, got in missed:
        where = f"{row.table}/{row.group}" if row.group else row.table
        wanted = f">={row.expected}" if row.at_least else row.expected
        command = row.command.replace("\n", "⏎")
        reason = reasons[(row.command, str(row.where.cwd))]
        print(f"[{where}] {wanted} -> {got}: {command}\n    [{row.why}] {reason}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="rounds over the tables (default 5)")
    parser.add_argument("--misses", action="store_true", help="list every row that misses")
    args = parser.parse_args()
    rows = all_rows()
    classify_command("true", rows[0].where)  # the parser is built once per process

    verdicts: list[tuple[Row, str]] = []
    reasons: dict[tuple[str, str], str] = {}
    for row in rows:
        assessment = classify_command(row.command, row.where)
        verdicts.append((row, assessment.risk))
        reasons[(row.command, str(row.where.cwd))] = assessment.reason

    times: list[float] = []
    for _ in range(args.n):
        for row in rows:
            started = time.perf_counter()
            classify_command(row.command, row.where)
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    median = statistics.median(times)
    p99 = times[int(len(times) * 0.99)]

    report(verdicts)
    if args.misses:
        print_misses(verdicts, reasons)
    print(f"\n{len(times)} classifications: median {median:.3f} ms, p99 {p99:.3f} ms")
    return 0 if median < 1 and p99 < 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
