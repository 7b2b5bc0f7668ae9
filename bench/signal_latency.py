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

import sys
import tempfile
from pathlib import Path
from typing import Any

from latency_common import Logged, bench_home, count, measure, report, start_gateway

from hermes.testing import ScriptedModel
from tests.fakes.signal_cli import ACCOUNT, USER, FakeSignalCli


def answer(request: Any) -> str:
    return f"re: {str(request.messages[-1]['content']).split()[-1]}"


def run(root: Path, alone: int, burst: int) -> str:
    model = ScriptedModel().start()
    model.reply_with(answer, times=None)
    try:
        with FakeSignalCli() as fake:
            env = {
                "SIGNAL_HTTP_URL": fake.base_url,
                "SIGNAL_ACCOUNT": ACCOUNT,
                "GATEWAY_ALLOW_ALL_USERS": "true",
            }
            home = bench_home(root / "home", model, env)
            gw = start_gateway(home, "signal", lambda: fake.streams)
            try:
                replies = Logged(fake, lambda: fake.sent, lambda m: str(m.get("message")))

                def say(tag: str, chat: int | None) -> None:
                    sender = USER if chat is None else f"+49152{chat:08d}"
                    fake.user_says(f"ping {tag}", sender=sender, uuid=None)

                return report(measure(replies, gw, say, alone, burst))
            finally:
                gw.stop()
    finally:
        model.stop()


def main() -> int:
    messages = count()
    with tempfile.TemporaryDirectory() as tmp:
        print("Signal: message -> reply, zero-latency model")
        print(run(Path(tmp), messages, messages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
