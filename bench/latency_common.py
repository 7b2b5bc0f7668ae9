"""What the per-platform latency benches share: a bench home, a gateway started and
waited on until its platform connected, an `Arrivals` waiter that notes when each reply
reached the platform's fake, the "alone then burst" measurement and its printout."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway_load import connected, pct
from gateway_process import GatewayProcess

from hermes.testing import ScriptedModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.*
from tests.gateway_helpers import make_home


def bench_home(path: Path, model: ScriptedModel, env: dict[str, str], **sections: Any) -> Path:
    """A home serving on a free port, with an API key, SECTIONS in config.yaml, ENV in .env."""
    return make_home(
        path, model, {"server": {"port": 0}, **sections}, {**env, "HERMES_API_KEY": "bench"}
    )


def start_gateway(
    home: Path, name: str, ready: Callable[[], object] = lambda: True
) -> GatewayProcess:
    """`hermes gateway run` on HOME, once every platform is connected and READY() holds."""
    gw = GatewayProcess(home)
    try:
        deadline = time.monotonic() + 30
        while not (connected(home) and ready()):
            if time.monotonic() > deadline or gw.proc.poll() is not None:
                raise SystemExit(f"{name} did not connect:\n{gw.tail()}")
            time.sleep(0.01)
    except BaseException:
        gw.stop()
        raise
    return gw


class Arrivals:
    """When each text first showed up at a fake: `poll` reads what arrived since the last
    poll into `seen`; `pause` waits a little for more."""

    missing = "replies missing"

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.seen: dict[str, float] = {}

    def poll(self) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        with self.fake.cond:
            self.fake.cond.wait(0.01)

    def wait(self, texts: list[str], seconds: float, gw: GatewayProcess) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self.poll()
            if all(t in self.seen for t in texts):
                return
            if time.monotonic() > deadline or gw.proc.poll() is not None:
                missing = sum(t not in self.seen for t in texts)
                raise SystemExit(f"{missing} of {len(texts)} {self.missing}:\n{gw.tail()}")
            self.pause()


class Logged(Arrivals):
    """Arrivals in a list the fake appends to under its condition `cond`."""

    def __init__(
        self, fake: Any, entries: Callable[[], list[Any]], text: Callable[[Any], str]
    ) -> None:
        super().__init__(fake)
        self.entries, self.text, self.read = entries, text, 0

    def poll(self) -> None:
        with self.fake.cond:
            new = self.entries()[self.read :]
            self.read += len(new)
        now = time.perf_counter()
        for entry in new:
            self.seen.setdefault(self.text(entry), now)


@dataclass
class Timings:
    alone: list[float]  # ms, one message at a time
    burst: list[float]  # ms, every message sent at once
    wall: float  # s, from the burst's first message to its last reply


def measure(
    arrivals: Arrivals,
    gw: GatewayProcess,
    say: Callable[[str, int | None], None],
    alone: int,
    burst: int,
) -> Timings:
    """SAY(tag, None) in the one chat for warm-up and the ALONE messages, each once the
    previous reply ("re: TAG") arrived; then SAY(tag, i) for i < BURST all at once."""
    counter, sent = iter(range(1_000_000)), {}

    def one(chat: int | None) -> str:
        tag = f"m{next(counter):06d}"
        sent[f"re: {tag}"] = time.perf_counter()
        say(tag, chat)
        return f"re: {tag}"

    for _ in range(5):  # warm up: first-turn imports, connections
        arrivals.wait([one(None)], 30, gw)
    lone = []
    for _ in range(alone):
        reply = one(None)
        arrivals.wait([reply], 30, gw)
        lone.append((arrivals.seen[reply] - sent[reply]) * 1000)
    started = time.perf_counter()
    many = [one(i) for i in range(burst)]
    arrivals.wait(many, 300, gw)
    wall = max(arrivals.seen[r] for r in many) - started
    return Timings(lone, [(arrivals.seen[r] - sent[r]) * 1000 for r in many], wall)


def report(t: Timings, noun: str = "messages", over: str = "", indent: str = "") -> str:
    alone, burst = len(t.alone), len(t.burst)
    return (
        f"{indent}alone: p50 {statistics.median(t.alone):.1f} ms, "
        f"p99 {pct(t.alone, 0.99):.1f} ms ({alone} {noun})\n"
        f"{indent}burst: {burst} {noun}{over} in {t.wall:.2f} s = {burst / t.wall:.0f}/s, "
        f"p50 {statistics.median(t.burst):.0f} ms, p99 {pct(t.burst, 0.99):.0f} ms"
    )


def count(noun: str = "messages") -> int:
    """200, or 20 with --quick."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help=f"a tenth of the {noun}")
    return 20 if parser.parse_args().quick else 200
