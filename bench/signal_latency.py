"""Inbound -> reply latency on Signal: a real `hermes gateway run` process reading the
loopback signal-cli daemon (tests/fakes/signal_cli.py) over server-sent events, a
zero-latency model (the scripted model, answering at once), the reply sent back with
the `send` JSON-RPC call.

    .venv/bin/python bench/signal_latency.py [--quick]

  * alone: 200 DMs one at a time (each once the previous reply arrived): p50/p99
    from the event pushed at the daemon to the reply's `send` at the daemon (the
    typing indicator's calls go out during the turn);
  * burst: 200 DMs from 200 users at once: wall time until every reply arrived,
    messages/s, and p50/p99 latency under that load.
--quick runs a tenth. No targets: it prints numbers only.
"""

from __future__ import annotations

import argparse
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
from tests.fakes.signal_cli import ACCOUNT, USER, FakeSignalCli
from tests.gateway_helpers import make_home


def answer(request: Any) -> str:
    return f"re: {str(request.messages[-1]['content']).split()[-1]}"


class Replies:
    """When each reply reached the daemon (polled under its condition)."""

    def __init__(self, fake: FakeSignalCli) -> None:
        self.fake, self.seen, self.read = fake, {}, 0

    def poll(self) -> None:
        with self.fake.cond:
            sent = self.fake.sent[self.read :]
            self.read += len(sent)
        now = time.perf_counter()
        for message in sent:
            self.seen.setdefault(str(message.get("message")), now)

    def wait(self, texts: list[str], seconds: float, gw: GatewayProcess) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self.poll()
            if all(t in self.seen for t in texts):
                return
            if time.monotonic() > deadline or gw.proc.poll() is not None:
                missing = sum(t not in self.seen for t in texts)
                raise SystemExit(f"{missing} of {len(texts)} replies missing:\n{gw.tail()}")
            with self.fake.cond:
                self.fake.cond.wait(0.01)


def run(root: Path, alone: int, burst: int) -> str:
    model = ScriptedModel().start()
    model.reply_with(answer, times=None)
    counter = iter(range(1_000_000))
    try:
        with FakeSignalCli() as fake:
            home = make_home(
                root / "home",
                model,
                {"server": {"port": 0}},
                {
                    "SIGNAL_HTTP_URL": fake.base_url,
                    "SIGNAL_ACCOUNT": ACCOUNT,
                    "GATEWAY_ALLOW_ALL_USERS": "true",
                    "HERMES_API_KEY": "bench",
                },
            )
            gw = GatewayProcess(home)
            try:
                deadline = time.monotonic() + 30
                while not (connected(home) and fake.streams):
                    if time.monotonic() > deadline or gw.proc.poll() is not None:
                        raise SystemExit(f"signal did not connect:\n{gw.tail()}")
                    time.sleep(0.01)
                replies, sent = Replies(fake), {}

                def say(sender: str) -> str:
                    tag = f"m{next(counter):06d}"
                    sent[f"re: {tag}"] = time.perf_counter()
                    fake.user_says(f"ping {tag}", sender=sender, uuid=None)
                    return f"re: {tag}"

                for _ in range(5):  # warm up: first-turn imports, connections
                    replies.wait([say(USER)], 30, gw)
                lone = []
                for _ in range(alone):
                    reply = say(USER)
                    replies.wait([reply], 30, gw)
                    lone.append((replies.seen[reply] - sent[reply]) * 1000)
                started = time.perf_counter()
                many = [say(f"+49152{i:08d}") for i in range(burst)]
                replies.wait(many, 300, gw)
                wall = max(replies.seen[r] for r in many) - started
                under = [(replies.seen[r] - sent[r]) * 1000 for r in many]
            finally:
                gw.stop()
    finally:
        model.stop()
    return (
        f"alone: p50 {statistics.median(lone):.1f} ms, p99 {pct(lone, 0.99):.1f} ms "
        f"({alone} messages)\n"
        f"burst: {burst} messages in {wall:.2f} s = {burst / wall:.0f}/s, "
        f"p50 {statistics.median(under):.0f} ms, p99 {pct(under, 0.99):.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    args = parser.parse_args()
    count = 20 if args.quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        print("Signal: message -> reply, zero-latency model")
        print(run(Path(tmp), count, count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
