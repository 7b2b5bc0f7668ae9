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

import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway_process import GatewayProcess
from latency_common import Logged, bench_home, count, measure, report, start_gateway

from hermes.testing import ScriptedModel
from tests.fakes import whatsapp_bridge as bridge_fake
from tests.fakes import whatsapp_cloud as cloud_fake

TAG = re.compile(r"m\d{6}")


def answer(request: Any) -> str:
    found = TAG.findall(str(request.messages[-1]["content"]))
    return f"re: {found[-1] if found else '?'}"


def text(sent: Any) -> str:
    return str(sent["text"] if isinstance(sent["text"], str) else sent["text"]["body"])


def number(chat: int | None) -> str:
    """The one chat for messages alone, 100 chats for the burst."""
    return str(4915_100_000_000 + (0 if chat is None else 1 + chat % 100))


def measured(fake: Any, gw: GatewayProcess, say: Callable[[str, str], None], n: int) -> str:
    replies = Logged(fake, lambda: fake.sent, text)
    timings = measure(replies, gw, lambda tag, chat: say(tag, number(chat)), n, n)
    return report(timings, over=" over 100 chats", indent="  ")


def run_cloud(root: Path, model: ScriptedModel, messages: int) -> str:
    with cloud_fake.FakeWhatsAppCloud() as fake:
        env = {k: getattr(cloud_fake, v) for k, v in CLOUD.items()}
        env["GATEWAY_ALLOW_ALL_USERS"] = "true"
        home = bench_home(root / "cloud", model, env, whatsapp={"graph_url": fake.base_url})
        gw = start_gateway(home, "whatsapp")
        try:
            with fake.cond:
                fake.webhook_url = f"{gw.url}/webhooks/whatsapp"
            return measured(fake, gw, fake.user_says, messages)
        finally:
            gw.stop()


def run_bridge(root: Path, model: ScriptedModel, messages: int) -> str:
    with bridge_fake.FakeWhatsAppBridge() as fake:
        env = {
            "WHATSAPP_BRIDGE_URL": fake.base_url,
            "WHATSAPP_BRIDGE_TOKEN": bridge_fake.TOKEN,
            "GATEWAY_ALLOW_ALL_USERS": "true",
        }
        home = bench_home(root / "bridge", model, env)
        gw = start_gateway(home, "whatsapp")
        try:
            return measured(fake, gw, lambda t, n: fake.user_says(t, f"+{n}"), messages)
        finally:
            gw.stop()


CLOUD = {
    "WHATSAPP_TOKEN": "TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID": "PHONE_NUMBER_ID",
    "WHATSAPP_APP_SECRET": "APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN": "VERIFY_TOKEN",
}


def main() -> int:
    messages = count()
    model = ScriptedModel().start()
    model.reply_with(answer, times=None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print("WhatsApp Cloud API: signed webhook -> Graph API reply, zero-latency model")
            print(run_cloud(Path(tmp), model, messages))
            print("WhatsApp bridge: long-poll -> POST /send, zero-latency model")
            print(run_bridge(Path(tmp), model, messages))
    finally:
        model.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
