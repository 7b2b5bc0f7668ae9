"""Benchmark session search over a large state.db.

    .venv/bin/python bench/session_search.py [--messages 1000000] [--queries 400]

Builds (once, cached in bench/.data/, which git ignores) a state.db with the
real schema holding N messages spread over many sessions: text drawn from a
vocabulary with a Zipf-like distribution (common English and tech words on
top, a long tail of rare invented words), user/assistant turns with some tool
calls and tool outputs. Then times queries (common words, rare words,
multi-word questions, no-match, odd characters) through the real async
Store.search, as the session_search tool calls it, and prints p50/p99 in ms
per kind and overall, and the database size.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import string
import sys
import time
from pathlib import Path

from hermes.store import Store
from hermes.store.db import open_db

VERSION = 2  # bump when the generated data changes
DATA_DIR = Path(__file__).resolve().parent / ".data"
TAIL_WORDS = 60_000
ZIPF_S = 1.05
START = 1_735_689_600.0  # 2025-01-01

_COMMON_TEXT = """
the to and a of is in it you that for i this on with be can we do not your have
what if are so but as at use or from by an will just my need there was how file
run error like code function test should would get make data set one all could
when then new which check here also now server config look python line fix
change build work path value add list want first try issue output message time
using output version install update command problem user project default model
script return call name type log see api request response database query table
string number open close start stop read write branch commit merge deploy docker
container image service port network key token password cache memory disk cpu
process thread async await loop event queue worker job task schedule cron backup
import module package dependency library framework release feature bug report
client browser page link email calendar meeting note reminder travel flight hotel
budget invoice payment account bank price order shipping recipe dinner grocery
garden weather music playlist book article paper research summary draft review
"""
COMMON = list(dict.fromkeys(_COMMON_TEXT.split()))
_SYLLABLE_TEXT = """
ka to ri men sol ver an el dor qui ba ne lo tra zu pi gre mo fa lin ost ux ce rha wen
sta bri kol nur vex ja plo tem hus gar oki del fen yor
"""
_SYLLABLES = _SYLLABLE_TEXT.split()


def vocabulary(rng: random.Random) -> list[str]:
    words = list(COMMON)
    seen = set(words)
    while len(words) < len(COMMON) + TAIL_WORDS:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def build(path: Path, messages: int, seed: int = 7) -> None:
    """Write a state.db with `messages` messages at path (via a temp file)."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    cum = list(itertools.accumulate(1.0 / (rank + 1) ** ZIPF_S for rank in range(len(words))))
    tmp = path.with_suffix(".building")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    conn = open_db(tmp)
    now = START
    written = 0
    session_no = 0
    started = time.perf_counter()
    conn.execute("BEGIN")
    while written < messages:
        session_no += 1
        count = min(messages - written, rng.randint(2, 60))
        rows: list[tuple[str, int, str, str, str | None, str | None, str | None, float]] = []
        sid = time.strftime("%Y%m%d_%H%M%S", time.gmtime(now)) + f"_{session_no:06x}"
        first = ""
        for seq in range(1, count + 1):
            now += rng.uniform(5, 120)
            role = "user" if seq % 2 == 1 else "assistant"
            calls = None
            if role == "assistant" and rng.random() < 0.25 and seq < count:
                args = json.dumps({"command": " ".join(rng.choices(words, cum_weights=cum, k=3))})
                calls = json.dumps([{"id": f"c{seq}", "name": "terminal", "arguments": args}])
                text = ""
            else:
                size = rng.randint(3, 30) if role == "user" else rng.randint(10, 90)
                text = " ".join(rng.choices(words, cum_weights=cum, k=size))
            first = first or text
            rows.append((sid, seq, role, text, calls, None, None, now))
            if calls is not None:  # its tool output (not indexed, but stored)
                output = " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(5, 60)))
                rows.append((sid, seq, "tool", output, None, f"c{seq}", "terminal", now))
        title = " ".join(first.split()[:6]) or None
        conn.execute(
            "INSERT INTO sessions(id, source, title, model, created_at, updated_at)"
            " VALUES (?, ?, ?, 'bench:model', ?, ?)",
            (sid, rng.choice(["cli", "telegram", "discord"]), title, rows[0][7], now),
        )
        conn.executemany(
            "INSERT INTO messages(session_id, seq, role, content, tool_calls, tool_call_id,"
            " name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        written += len(rows)
        if session_no % 2000 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            rate = written / (time.perf_counter() - started)
            print(f"  {written:,} messages ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.rename(path)


def queries(count: int, seed: int = 11) -> list[tuple[str, str]]:
    """(kind, query) pairs: common, rare, multi-word, no-match and odd characters."""
    rng = random.Random(seed)
    words = vocabulary(random.Random(7))  # the same words the data was built from
    common = words[:80]
    rare = words[len(COMMON) + 2000 :]
    out: list[tuple[str, str]] = []
    for i in range(count):
        kind = ("common", "rare", "multi-word", "no-match", "odd")[i % 5]
        if kind == "common":
            query = rng.choice(common)
        elif kind == "rare":
            query = rng.choice(rare)
        elif kind == "multi-word":
            picks = rng.sample(common, rng.randint(1, 3)) + rng.sample(words[80:5000], 1)
            rng.shuffle(picks)
            query = " ".join(["how did we", *picks])
        elif kind == "no-match":
            query = "".join(rng.choices(string.ascii_lowercase, k=9)) + "q"
        else:
            query = f'{rng.choice(common)}:"{rng.choice(common)} -({rng.choice(rare)}*'
        out.append((kind, query))
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(path: Path, count: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    hits: dict[str, int] = {}
    async with await Store.open(path) as store:
        exclude = (await store.list_sessions(limit=1))[0].id  # the "current" session
        for _, query in queries(20, seed=3):  # warm the caches a little
            await store.search(query, max_results=5, exclude_session=exclude)
        for kind, query in queries(count):
            started = time.perf_counter()
            found = await store.search(query, max_results=5, exclude_session=exclude)
            timings.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
            hits[kind] = hits.get(kind, 0) + len(found)
    for kind, values in timings.items():
        p50, p99 = percentile(values, 50), percentile(values, 99)
        print(
            f"{kind:>11}: p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   max {max(values):7.2f} ms"
            f"   ({len(values)} queries, "
            f"{hits[kind] / len(values):.1f} hits each)"
        )
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--rebuild", action="store_true", help="build the data again")
    args = parser.parse_args(argv)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"state-{args.messages}-v{VERSION}.db"
    if args.rebuild or not path.exists():
        print(f"building {path} with {args.messages:,} messages…", file=sys.stderr)
        started = time.perf_counter()
        build(path, args.messages)
        print(f"built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    size = path.stat().st_size
    print(f"database: {path.name}, {args.messages:,} messages, {size / 2**20:,.0f} MiB")
    timings = asyncio.run(measure(path, args.queries))
    every = [v for values in timings.values() for v in values]
    print(
        f"{'all':>11}: p50 {statistics.median(every):7.2f} ms   "
        f"p99 {percentile(every, 99):7.2f} ms   ({len(every)} queries)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
