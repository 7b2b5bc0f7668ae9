"""The cost of one `terminal` tool call per terminal backend: `true` run through
the tool (the cwd tracking, the process ledger's absence, output capture) on
the local backend, on the ssh backend against a private sshd on loopback
(the tests' tests/sshd_helpers.py; needs `scripts/install test`) and on the
docker backend when an engine answers here (podman from `scripts/install test`,
with the tests' locally imported image, tests/container_helpers.py), plus one
file round trip (`read_file` of a small file) on each.

    .venv/bin/python bench/backend_call.py [--calls 50]

The ssh numbers are per command over the shared master connection (made once
before the timing starts); the first connection is reported on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from container_helpers import engine_env, ensure_image, real_engine, remove_containers
from sshd_helpers import Sshd
from tools_helpers import make_ctx

from hermes.context import TurnContext
from hermes.settings import DockerSettings, Settings, SshSettings, TerminalSettings
from hermes.tools.files import TOOLS as FILE_TOOLS
from hermes.tools.terminal import TERMINAL

READ_FILE = next(t for t in FILE_TOOLS if t.name == "read_file")


async def _median_ms(calls: int, run: object) -> tuple[float, float]:
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        await run()  # type: ignore[operator]
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1]


async def _measure(name: str, ctx: TurnContext, calls: int) -> None:
    began = time.perf_counter()
    await ctx.backend.open()
    first = (time.perf_counter() - began) * 1000
    (ctx.cwd / "small.txt").write_text("hello\n" * 10)
    term = await _median_ms(calls, lambda: TERMINAL.run({"command": "true"}, ctx))
    read = await _median_ms(calls, lambda: READ_FILE.run({"path": "small.txt"}, ctx))
    print(
        f"{name:6} open {first:7.1f} ms · terminal `true` median {term[0]:6.1f} ms "
        f"p90 {term[1]:6.1f} ms · read_file median {read[0]:6.1f} ms p90 {read[1]:6.1f} ms"
    )
    await ctx.processes.shutdown()


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        workspace = root / "workspace"
        workspace.mkdir()
        local = Settings(terminal=TerminalSettings(cwd=str(workspace)))
        await _measure("local", make_ctx(root / "home-local", settings=local), calls)
        sshd = Sshd(root / "sshd")
        sshd.start()
        try:
            ssh = SshSettings(
                host="127.0.0.1", port=sshd.port, user=sshd.user, key=str(sshd.client_key)
            )
            remote = Settings(terminal=TerminalSettings(backend="ssh", cwd=str(workspace), ssh=ssh))
            await _measure("ssh", make_ctx(root / "home-ssh", settings=remote), calls)
        finally:
            sshd.stop()
        engine = real_engine()
        if engine is None:
            print("docker: no engine answers here (scripts/install test installs podman)")
            return
        os.environ.update(engine_env(engine, root))  # the engine's own config, as in the tests
        docker = DockerSettings(image=ensure_image(engine, root), cli=Path(engine).name)
        inside = Settings(
            terminal=TerminalSettings(backend="docker", cwd=str(workspace), docker=docker)
        )
        try:
            await _measure("docker", make_ctx(root / "home-docker", settings=inside), calls)
        finally:
            remove_containers(engine, root / "home-docker")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    asyncio.run(main(parser.parse_args().calls))
