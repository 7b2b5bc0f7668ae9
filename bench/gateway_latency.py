"""What the gateway adds to a turn: message in -> reply delivered, minus the
model's own time. The model is hermes.testing.ScriptedModel (loopback,
answers at once), so the difference is the gateway: storing the inbound row,
queueing, the conversation's writes, the draft and the ledger.

    .venv/bin/python bench/gateway_latency.py [-n 200]

Prints medians and p90 of: the model call alone (an OpenAI-compatible HTTP
round trip), a chat message through the gateway to its delivered reply, and
an OpenAI-API request through the gateway's HTTP server (openai package).
Target: the gateway adds < 50 ms at the median. Exit status 1 when missed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from hermes.gateway.core import Gateway
from hermes.gateway.events import Inbound, Outbound, Target
from hermes.home import load_profile
from hermes.platforms.adapter import Adapter, Sink
from hermes.platforms.spec import Capabilities
from hermes.server.server import HttpServer, build_app
from hermes.store import Store
from hermes.testing import ScriptedModel

TARGET_MS = 50.0


class BenchChat(Adapter):
    name = "bench"
    trusted = True
    capabilities = Capabilities(max_length=4096, can_edit=False)

    def __init__(self) -> None:
        self.sink: Sink | None = None
        self.connected = asyncio.Event()
        self.delivered: asyncio.Queue[str] = asyncio.Queue()

    async def run(self, sink: Sink) -> None:
        self.sink = sink
        self.state = "connected"
        self.connected.set()
        await asyncio.Event().wait()

    async def send(self, message: Outbound) -> str:
        self.delivered.put_nowait(message.text)
        return "1"

    async def edit(self, target: Target, message_id: str, text: str) -> None:
        return None


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def main(n: int) -> int:
    model = ScriptedModel().start()
    model.reply_with(lambda request: "pong", times=None)
    root = Path(tempfile.mkdtemp(prefix="hermes-bench-"))
    (root / "config.yaml").write_text(
        f"model:\n  provider: custom\n  base_url: {model.base_url}\n  model: bench\n"
        "  max_retries: 0\n"
    )
    profile = load_profile(env={"HERMES_HOME": str(root), "HOME": str(root)})
    store = await Store.open(profile.db_path)
    chat = BenchChat()
    gw = Gateway(profile, store, [chat], api_key="bench-key")
    await gw.start()
    server = HttpServer(build_app(gw), "127.0.0.1", 0)
    await server.start()

    direct: list[float] = []
    async with httpx.AsyncClient() as client:
        body = {"model": "bench", "messages": [{"role": "user", "content": "ping"}]}
        for _ in range(n):
            started = time.perf_counter()
            (await client.post(f"{model.base_url}/chat/completions", json=body)).raise_for_status()
            direct.append((time.perf_counter() - started) * 1000)

    await chat.connected.wait()
    assert chat.sink is not None
    through: list[float] = []
    for i in range(n):
        event = Inbound("bench", "1", "me", f"ping {i}", f"u{i}")
        started = time.perf_counter()
        await chat.sink(event)
        await chat.delivered.get()
        through.append((time.perf_counter() - started) * 1000)

    from openai import AsyncOpenAI

    api: list[float] = []
    client_ = AsyncOpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="bench-key")
    for _ in range(n):
        started = time.perf_counter()
        await client_.chat.completions.create(
            model="hermes", messages=[{"role": "user", "content": "ping"}]
        )
        api.append((time.perf_counter() - started) * 1000)
    await client_.close()

    await server.stop()
    await gw.drain(0)
    await gw.close()
    await store.close()
    model.stop()

    base = statistics.median(direct)
    print(f"model call alone:          median {base:6.1f} ms  p90 {pct(direct, 0.9):6.1f} ms")
    for label, values in (("chat message -> reply:", through), ("OpenAI API via gateway:", api)):
        med = statistics.median(values)
        print(
            f"{label:26} median {med:6.1f} ms  p90 {pct(values, 0.9):6.1f} ms"
            f"  (gateway adds {med - base:5.1f} ms)"
        )
    added = statistics.median(through) - base
    print(
        f"target: gateway adds < {TARGET_MS:.0f} ms to a chat turn -> "
        f"{'ok' if added < TARGET_MS else 'MISSED'}"
    )
    return 0 if added < TARGET_MS else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200)
    sys.exit(asyncio.run(main(parser.parse_args().n)))
