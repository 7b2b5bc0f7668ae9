"""The round trip of one tool call from an execute_code script: a script calls
`read_file` of a small file N times (one after another) through hermes_tools,
the unix-socket RPC and the agent loop's run_tool (the approval gate first, as in
a real turn), timing each call inside the script; for comparison the same call
through run_tool directly (no script, no RPC), and the RPC round trip alone (a
call of a tool the script may not call: refused by the server, nothing run).
On the local backend, and on the ssh backend against a throwaway sshd on
loopback (tests/sshd_helpers.py; the RPC socket forwarded over the ssh master,
the file read over ssh) when this machine has sshd (N/10 read_file calls there:
each takes several ssh commands).

    .venv/bin/python bench/execute_code_rpc.py [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sshd_helpers import SSHD, Sshd
from tools_helpers import make_ctx

from hermes.agent.loop import Loop
from hermes.approvals.gate import ApprovalGate, NobodyToAsk
from hermes.providers.base import Provider
from hermes.settings import (
    ApprovalSettings,
    ExecuteCodeSettings,
    Settings,
    SshSettings,
    TerminalSettings,
)
from hermes.tools.execute_code import EXECUTE_CODE
from hermes.tools.registry import default_tools

SCRIPT = """
import json, time
from hermes_tools import ToolFailed, call, read_file
times, bare = [], []
for _ in range({calls}):
    began = time.perf_counter()
    read_file("small.txt")
    times.append((time.perf_counter() - began) * 1000)
for _ in range({bare}):
    began = time.perf_counter()
    try:
        call("no_such_tool")
    except ToolFailed:
        pass
    bare.append((time.perf_counter() - began) * 1000)
print("TIMES", json.dumps(times))
print("BARE", json.dumps(bare))
"""


def _stats(times: list[float]) -> str:
    times = sorted(times)
    p90 = times[int(len(times) * 0.9) - 1]
    return f"median {statistics.median(times):5.2f} ms · p90 {p90:5.2f} ms"


async def measure(name: str, root: Path, terminal: TerminalSettings, calls: int, bare: int) -> None:
    (root / "ws").mkdir(parents=True)
    (root / "ws" / "small.txt").write_text("hello\n" * 10)
    settings = Settings(terminal=terminal, execute_code=ExecuteCodeSettings(max_tool_calls=calls))
    ctx = make_ctx(root / "home", settings=settings)
    loop = Loop(
        provider=cast("Provider", None),
        system_prompt="",
        tools={t.name: t for t in default_tools()},
        ctx=ctx,
        hooks=[ApprovalGate(ApprovalSettings(), NobodyToAsk())],
    )
    ctx.run_tool = loop.run_unattended
    try:
        await loop.run_unattended("read_file", {"path": "small.txt"})  # connect, warm up
        direct = []
        for _ in range(calls):
            began = time.perf_counter()
            await loop.run_unattended("read_file", {"path": "small.txt"})
            direct.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        script = SCRIPT.format(calls=calls, bare=bare)
        result = await EXECUTE_CODE.run({"code": script}, ctx)
        whole = time.perf_counter() - began
    finally:
        await ctx.processes.shutdown()
        await ctx.backend.close()
    found = {x.split(" ", 1)[0]: x.split(" ", 1)[1] for x in result.splitlines() if " " in x}
    if "TIMES" not in found or "BARE" not in found:
        raise SystemExit(f"the script failed on {name}:\n{result}")
    rpc, alone = json.loads(found["TIMES"]), json.loads(found["BARE"])
    print(f"{name}: RPC round trip alone ({bare} refused calls): {_stats(alone)}")
    print(f"{name}: read_file via execute_code RPC ({calls} calls): {_stats(rpc)}")
    print(f"{name}: read_file via run_tool directly ({calls} calls): {_stats(direct)}")
    print(f"{name}: whole execute_code call (python start + all calls): {whole * 1000:.0f} ms")


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        local = TerminalSettings(cwd=str(root / "local/ws"))
        await measure("local", root / "local", local, calls, calls)
        if not os.access(SSHD, os.X_OK):
            print(f"ssh: skipped ({SSHD} is missing: scripts/install test installs it)")
            return
        sshd = Sshd(root / "sshd")
        sshd.start()
        try:
            ssh = SshSettings(
                host="127.0.0.1", port=sshd.port, user=sshd.user, key=str(sshd.client_key)
            )
            terminal = TerminalSettings(backend="ssh", cwd=str(root / "ssh/ws"), ssh=ssh)
            await measure("ssh (loopback)", root / "ssh", terminal, max(calls // 10, 1), calls)
        finally:
            sshd.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
