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

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from latency_common import Logged, bench_home, count, measure, report, start_gateway

from hermes.testing import ScriptedModel
from tests.fakes.homeassistant_api import FakeHomeAssistant

TAG = re.compile(r"m\d{6}")


def answer(request: Any) -> str:
    found = TAG.findall(str(request.messages[-1]["content"]))  # old -> new: the new one
    return f"re: {found[-1] if found else '?'}"


def run(root: Path, alone: int, burst: int) -> str:
    model = ScriptedModel().start()
    model.reply_with(answer, times=None)
    try:
        with FakeHomeAssistant() as fake:
            for i in range(burst):
                fake.add_entity(f"sensor.bench_{i}", "start")
            fake.add_entity("sensor.bench_alone", "start")
            section = {"watch": ["sensor"], "cooldown_seconds": 0, "ping_interval": 30}
            env = {"HASS_URL": fake.url, "HASS_TOKEN": fake.token}
            home = bench_home(root / "home", model, env, homeassistant=section)
            gw = start_gateway(home, "homeassistant", lambda: fake.subscriptions)
            try:
                notes = Logged(
                    fake, lambda: fake.service_calls, lambda c: str(c["data"].get("message"))
                )
                notes.missing = "notifications missing"

                def change(tag: str, entity: int | None) -> None:
                    fake.set_state(f"sensor.bench_{'alone' if entity is None else entity}", tag)

                return report(measure(notes, gw, change, alone, burst), "changes")
            finally:
                gw.stop()
    finally:
        model.stop()


def main() -> int:
    changes = count("changes")
    with tempfile.TemporaryDirectory() as tmp:
        print("Home Assistant: state change -> notification, zero-latency model")
        print(run(Path(tmp), changes, changes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
