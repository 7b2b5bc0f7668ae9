"""Wake-from-hibernation time on the backends that hibernate (singularity,
modal, daytona), against the tests' fakes (tests/fakes/): a command runs, the
backend hibernates after terminal.idle_seconds (1 s here), then the next
command is timed (it wakes the environment first). Prints the wake time, a
warm command's time, and the calls each fake recorded for the wake.

    .venv/bin/python bench/backend_wake.py [--rounds 3]

The fakes run commands on this machine, so this is Hermes's own overhead on a
wake (state file, SDK calls, the first exec), not a cloud provider's latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from tools_helpers import make_ctx  # noqa: E402

from hermes.backends.pool import backend_for  # noqa: E402
from hermes.settings import Settings, TerminalSettings  # noqa: E402
from tests.fakes.sandbox_root import fake_backend  # noqa: E402


class Patch:
    """monkeypatch's setattr, for outside pytest."""

    def setattr(self, target: str, value: Any) -> None:
        module, name = target.rsplit(".", 1)
        setattr(__import__(module, fromlist=[name]), name, value)


def calls_of(kind: str, fake: Any) -> list[str]:
    if kind == "singularity":
        lines = (fake / "calls.jsonl").read_text().splitlines()
        return [" ".join(json.loads(x)[:2]) for x in lines]
    return [name for name, _ in fake.calls.made]


async def bench(kind: str, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fields, env, fake = fake_backend(kind, Path(tmp) / "fake", Patch())
        terminal = replace(TerminalSettings(backend=kind, idle_seconds=1), **fields)
        ctx = make_ctx(Path(tmp) / "home", settings=Settings(terminal=terminal), env=env)
        backend: Any = backend_for(ctx.profile)
        await backend.run("true")
        wakes, warm, woke_with = [], [], []
        for _ in range(rounds):
            while not backend.idle.asleep:  # noqa: ASYNC110 - a bench polls the fake
                await asyncio.sleep(0.05)
            before = len(calls_of(kind, fake))
            t = time.perf_counter()
            await backend.run("true")
            wakes.append(time.perf_counter() - t)
            woke_with = calls_of(kind, fake)[before:]
            t = time.perf_counter()
            await backend.run("true")
            warm.append(time.perf_counter() - t)
        await backend.close()
        counts = {c: woke_with.count(c) for c in dict.fromkeys(woke_with)}
        print(f"{kind:12} wake {statistics.median(wakes) * 1000:7.1f} ms   warm "
              f"{statistics.median(warm) * 1000:6.1f} ms   wake calls {counts}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for kind in ("singularity", "modal", "daytona"):
        asyncio.run(bench(kind, args.rounds))


if __name__ == "__main__":
    main()
