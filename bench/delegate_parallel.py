"""Three delegated subtasks in parallel against the same work done one after
another: an in-process gateway (tests/gateway_helpers.py FakeChat) whose scripted
model takes --think seconds per child answer (a stand-in for a real model's
latency). Parallel: one `delegate` call with three tasks; sequential: three
`delegate` calls of one task each. Prints the wall time of each (median of
--runs) and their ratio.

    .venv/bin/python bench/delegate_parallel.py [--think 1.0] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hermes.testing import ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.tools_helpers import wait_until

GOALS = ("alpha", "beta", "gamma")


def responder(think: float, parallel: bool) -> Any:
    def answer(request: Any) -> object:
        messages = request["messages"]
        if "sub-agent" in str(messages[1]["content"]):
            time.sleep(think)  # the model "thinking" (the scripted server is threaded)
            return "child result"
        done = sum(1 for m in messages if m["role"] == "tool")
        if parallel:
            if done:
                return "done"
            return ("delegate", {"tasks": [{"goal": g} for g in GOALS]})
        if done == len(GOALS):
            return "done"
        return ("delegate", {"tasks": [{"goal": GOALS[done]}]})

    return answer


async def one_run(think: float, parallel: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp, ScriptedModel() as model:
        home = make_home(Path(tmp) / "home", model)
        chat = FakeChat()
        model.reply_with(responder(think, parallel), times=None)
        async with running_gateway(home, [chat]):
            began = time.perf_counter()
            await chat.say("do the three things")
            await wait_until(lambda: "done" in chat.shown(), 60)
            return time.perf_counter() - began


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    par = [await one_run(args.think, True) for _ in range(args.runs)]
    seq = [await one_run(args.think, False) for _ in range(args.runs)]
    p, s = statistics.median(par), statistics.median(seq)
    print(f"3 children, model {args.think:.1f} s per answer, median of {args.runs} runs")
    print(f"parallel (one delegate call)    {p:6.2f} s")
    print(f"sequential (three calls)        {s:6.2f} s")
    print(f"ratio parallel/sequential       {p / s:6.2f}")


if __name__ == "__main__":
    asyncio.run(main())
