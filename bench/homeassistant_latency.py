"""State change -> notification latency through Home Assistant: a real `hermes gateway
run` process watching the fake Home Assistant (tests/fakes/homeassistant_api.py) over
its WebSocket API, a zero-latency model (the scripted model, answering at once), the
answer sent back as `persistent_notification.create` over REST.

    .venv/bin/python bench/homeassistant_latency.py [--quick]

  * alone: 200 state changes one at a time (each once the previous notification
    arrived): p50/p99 from the change at the fake to the notification at the fake;
  * burst: 200 changes of 200 entities at once: wall time until every notification
    arrived, changes/s, and p50/p99 latency under that load (every change is a turn
    in the one `homeassistant:events` chat, so they queue behind each other).
--quick runs a tenth. No targets: it prints numbers only.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway_load import connected, pct
from gateway_process import GatewayProcess

from hermes.testing import ScriptedModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.*
from tests.fakes.homeassistant_api import FakeHomeAssistant
from tests.gateway_helpers import make_home

TAG = re.compile(r"m\d{6}")


def answer(request: Any) -> str:
    found = TAG.findall(str(request.messages[-1]["content"]))  # old -> new: the new one
    return f"re: {found[-1] if found else '?'}"


class Notes:
    """When each notification reached the fake (polled under its condition)."""

    def __init__(self, fake: FakeHomeAssistant) -> None:
        self.fake, self.seen, self.read = fake, {}, 0

    def poll(self) -> None:
        with self.fake.cond:
            calls = self.fake.service_calls[self.read :]
            self.read += len(calls)
        now = time.perf_counter()
        for call in calls:
            self.seen.setdefault(str(call["data"].get("message")), now)

    def wait(self, texts: list[str], seconds: float, gw: GatewayProcess) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self.poll()
            if all(t in self.seen for t in texts):
                return
            if time.monotonic() > deadline or gw.proc.poll() is not None:
                missing = sum(t not in self.seen for t in texts)
                raise SystemExit(f"{missing} of {len(texts)} notifications missing:\n{gw.tail()}")
            with self.fake.cond:
                self.fake.cond.wait(0.01)


def run(root: Path, alone: int, burst: int) -> str:
    model = ScriptedModel().start()
    model.reply_with(answer, times=None)
    counter = iter(range(1_000_000))
    try:
        with FakeHomeAssistant() as fake:
            for i in range(burst):
                fake.add_entity(f"sensor.bench_{i}", "start")
            fake.add_entity("sensor.bench_alone", "start")
            section = {"watch": ["sensor"], "cooldown_seconds": 0, "ping_interval": 30}
            home = make_home(
                root / "home",
                model,
                {"server": {"port": 0}, "homeassistant": section},
                {"HASS_URL": fake.url, "HASS_TOKEN": fake.token, "HERMES_API_KEY": "bench"},
            )
            gw = GatewayProcess(home)
            try:
                deadline = time.monotonic() + 30
                while not (connected(home) and fake.subscriptions):
                    if time.monotonic() > deadline or gw.proc.poll() is not None:
                        raise SystemExit(f"homeassistant did not connect:\n{gw.tail()}")
                    time.sleep(0.01)
                notes, sent = Notes(fake), {}

                def change(entity: str) -> str:
                    tag = f"m{next(counter):06d}"
                    sent[f"re: {tag}"] = time.perf_counter()
                    fake.set_state(entity, tag)
                    return f"re: {tag}"

                for _ in range(5):  # warm up: first-turn imports, connections
                    notes.wait([change("sensor.bench_alone")], 30, gw)
                lone = []
                for _ in range(alone):
                    reply = change("sensor.bench_alone")
                    notes.wait([reply], 30, gw)
                    lone.append((notes.seen[reply] - sent[reply]) * 1000)
                started = time.perf_counter()
                many = [change(f"sensor.bench_{i}") for i in range(burst)]
                notes.wait(many, 300, gw)
                wall = max(notes.seen[r] for r in many) - started
                under = [(notes.seen[r] - sent[r]) * 1000 for r in many]
            finally:
                gw.stop()
    finally:
        model.stop()
    return (
        f"alone: p50 {statistics.median(lone):.1f} ms, p99 {pct(lone, 0.99):.1f} ms "
        f"({alone} changes)\n"
        f"burst: {burst} changes in {wall:.2f} s = {burst / wall:.0f}/s, "
        f"p50 {statistics.median(under):.0f} ms, p99 {pct(under, 0.99):.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the changes")
    args = parser.parse_args()
    count = 20 if args.quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        print("Home Assistant: state change -> notification, zero-latency model")
        print(run(Path(tmp), count, count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
