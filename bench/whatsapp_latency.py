"""Inbound -> reply latency on WhatsApp: a real `hermes gateway run` process, a
zero-latency model (the scripted model, answering at once), and

  * the Cloud API: the fake of Meta (tests/fakes/whatsapp_cloud.py) POSTs each
    message to /webhooks/whatsapp, signed like Meta; the reply goes out through
    its Graph API. Latency: from queuing the webhook to the reply at the fake.
  * a bridge: the fake bridge of docs/whatsapp-bridge.md (long-poll in, POST /send
    out). Latency: from the message entering the bridge to the reply at the fake.

For each: 200 messages one at a time in one chat (each once the previous reply
arrived): p50/p99; and a burst of 200 messages over 100 chats: wall time, messages/s,
p50/p99 under that load. --quick runs a tenth. No targets: it prints numbers only.

    .venv/bin/python bench/whatsapp_latency.py [--quick]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway_load import connected, pct
from gateway_process import GatewayProcess

from hermes.testing import ScriptedModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.*
from tests.fakes import whatsapp_bridge as bridge_fake
from tests.fakes import whatsapp_cloud as cloud_fake
from tests.gateway_helpers import make_home

TAG = re.compile(r"m\d{6}")


def answer(request: Any) -> str:
    found = TAG.findall(str(request.messages[-1]["content"]))
    return f"re: {found[-1] if found else '?'}"


def wait(fake: Any, replies: list[str], seen: dict[str, float], gw: GatewayProcess) -> None:
    """Until every reply is in fake.sent; when each arrived goes in SEEN."""
    deadline = time.monotonic() + 300
    read = 0
    while True:
        with fake.cond:
            new = fake.sent[read:]
            read += len(new)
        now = time.perf_counter()
        for sent in new:
            text = sent["text"] if isinstance(sent["text"], str) else sent["text"]["body"]
            seen.setdefault(text, now)
        if all(r in seen for r in replies):
            return
        if time.monotonic() > deadline or gw.proc.poll() is not None:
            raise SystemExit(f"{sum(r not in seen for r in replies)} replies missing:\n{gw.tail()}")
        with fake.cond:
            fake.cond.wait(0.01)


def measure(
    fake: Any, gw: GatewayProcess, say: Callable[[str, str], None], alone: int, burst: int
) -> str:
    counter, sent, seen = iter(range(1_000_000)), {}, {}

    def one(chat: str) -> str:
        tag = f"m{next(counter):06d}"
        sent[f"re: {tag}"] = time.perf_counter()
        say(tag, chat)
        return f"re: {tag}"

    wait(fake, [one("0") for _ in range(5)], seen, gw)  # warm up
    lone = []
    for _ in range(alone):
        reply = one("0")
        wait(fake, [reply], seen, gw)
        lone.append((seen[reply] - sent[reply]) * 1000)
    started = time.perf_counter()
    many = [one(str(1 + i % 100)) for i in range(burst)]
    wait(fake, many, seen, gw)
    wall = max(seen[r] for r in many) - started
    under = [(seen[r] - sent[r]) * 1000 for r in many]
    return (
        f"  alone: p50 {statistics.median(lone):.1f} ms, p99 {pct(lone, 0.99):.1f} ms "
        f"({alone} messages)\n"
        f"  burst: {burst} messages over 100 chats in {wall:.2f} s = {burst / wall:.0f}/s, "
        f"p50 {statistics.median(under):.0f} ms, p99 {pct(under, 0.99):.0f} ms"
    )


def start(home: Path) -> GatewayProcess:
    gw = GatewayProcess(home)
    deadline = time.monotonic() + 30
    while not connected(home):
        if time.monotonic() > deadline or gw.proc.poll() is not None:
            gw.stop()
            raise SystemExit(f"whatsapp did not connect:\n{gw.tail()}")
        time.sleep(0.01)
    return gw


def number(chat: str) -> str:
    return str(4915_100_000_000 + int(chat))


def run_cloud(root: Path, model: ScriptedModel, alone: int, burst: int) -> str:
    with cloud_fake.FakeWhatsAppCloud() as fake:
        env = {k: getattr(cloud_fake, v) for k, v in CLOUD.items()}
        home = make_home(
            root / "cloud",
            model,
            {"server": {"port": 0}, "whatsapp": {"graph_url": fake.base_url}},
            {**env, "GATEWAY_ALLOW_ALL_USERS": "true", "HERMES_API_KEY": "bench"},
        )
        gw = start(home)
        try:
            with fake.cond:
                fake.webhook_url = f"{gw.url}/webhooks/whatsapp"
            return measure(fake, gw, lambda t, c: fake.user_says(t, number(c)), alone, burst)
        finally:
            gw.stop()


def run_bridge(root: Path, model: ScriptedModel, alone: int, burst: int) -> str:
    with bridge_fake.FakeWhatsAppBridge() as fake:
        home = make_home(
            root / "bridge",
            model,
            {"server": {"port": 0}},
            {
                "WHATSAPP_BRIDGE_URL": fake.base_url,
                "WHATSAPP_BRIDGE_TOKEN": bridge_fake.TOKEN,
                "GATEWAY_ALLOW_ALL_USERS": "true",
                "HERMES_API_KEY": "bench",
            },
        )
        gw = start(home)
        try:
            say = lambda t, c: fake.user_says(t, f"+{number(c)}")  # noqa: E731
            return measure(fake, gw, say, alone, burst)
        finally:
            gw.stop()


CLOUD = {
    "WHATSAPP_TOKEN": "TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID": "PHONE_NUMBER_ID",
    "WHATSAPP_APP_SECRET": "APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN": "VERIFY_TOKEN",
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    args = parser.parse_args()
    count = 20 if args.quick else 200
    model = ScriptedModel().start()
    model.reply_with(answer, times=None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print("WhatsApp Cloud API: signed webhook -> Graph API reply, zero-latency model")
            print(run_cloud(Path(tmp), model, count, count))
            print("WhatsApp bridge: long-poll -> POST /send, zero-latency model")
            print(run_bridge(Path(tmp), model, count, count))
    finally:
        model.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
