"""The round trip of one tool call from an execute_code script: a script calls
`read_file` of a small file N times (one after another) through hermes_tools,
the unix-socket RPC and the agent loop's run_tool (the approval gate first, as in
a real turn), timing each call inside the script; for comparison the same call
through run_tool directly (no script, no RPC). Local backend.

    .venv/bin/python bench/execute_code_rpc.py [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from tools_helpers import make_ctx

from hermes.agent.loop import Loop
from hermes.approvals.gate import ApprovalGate, NobodyToAsk
from hermes.providers.base import Provider
from hermes.settings import ApprovalSettings, ExecuteCodeSettings, Settings, TerminalSettings
from hermes.tools.execute_code import EXECUTE_CODE
from hermes.tools.registry import default_tools

SCRIPT = """
import json, time
from hermes_tools import read_file
times = []
for _ in range({calls}):
    began = time.perf_counter()
    read_file("small.txt")
    times.append((time.perf_counter() - began) * 1000)
print("TIMES", json.dumps(times))
"""


def _stats(times: list[float]) -> str:
    times = sorted(times)
    p90 = times[int(len(times) * 0.9) - 1]
    return f"median {statistics.median(times):5.2f} ms · p90 {p90:5.2f} ms"


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "ws").mkdir()
        (root / "ws" / "small.txt").write_text("hello\n" * 10)
        settings = Settings(
            terminal=TerminalSettings(cwd=str(root / "ws")),
            execute_code=ExecuteCodeSettings(max_tool_calls=calls),
        )
        ctx = make_ctx(root / "home", settings=settings)
        loop = Loop(
            provider=cast("Provider", None),
            system_prompt="",
            tools={t.name: t for t in default_tools()},
            ctx=ctx,
            hooks=[ApprovalGate(ApprovalSettings(), NobodyToAsk())],
        )
        ctx.run_tool = loop.run_unattended
        direct = []
        for _ in range(calls):
            began = time.perf_counter()
            await loop.run_unattended("read_file", {"path": "small.txt"})
            direct.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        result = await EXECUTE_CODE.run({"code": SCRIPT.format(calls=calls)}, ctx)
        whole = time.perf_counter() - began
        await ctx.processes.shutdown()
    line = next((x for x in result.splitlines() if x.startswith("TIMES ")), None)
    if line is None:
        raise SystemExit(f"the script failed:\n{result}")
    rpc = json.loads(line[len("TIMES ") :])
    print(f"read_file via execute_code RPC ({calls} calls): {_stats(rpc)}")
    print(f"read_file via run_tool directly ({calls} calls): {_stats(direct)}")
    print(f"whole execute_code call (python start + {calls} calls): {whole * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
