"""The gateway under load, as a real `hermes gateway run` process with the web
chat, the OpenAI-compatible API and Telegram (python-telegram-bot polling a
local fake Bot API server) all enabled, and the `openai` package as client.

    .venv/bin/python bench/gateway_load.py [--quick]

Prints:
  * idle RSS once every platform is connected (target <= 60 MB);
  * /v1/chat/completions against a zero-latency model (the scripted model,
    answering at once): p50/p99 at 1 client, requests/s and p50/p99 at 16
    concurrent clients (targets: p50 < 15 ms at 1 client, >= 200 requests/s);
  * RSS after 10,000 requests over 1,000 server-side sessions
    (X-Hermes-Session-Id), and after a second 10,000 (targets: <= 120 MB, no
    growth on the second);
  * 1,000 concurrent sessions against a model that takes 1 s to answer
    (`gateway.max_concurrent_turns: 1000`), sent by a hand-written client so
    the load generator is not what is measured: wall time until every answer
    is in (target <= 2 s), and the CPU the gateway spent (per turn).
Exit status 1 when a target is missed. --quick runs a tenth of everything;
--only concurrent (or load) runs one part.
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

import yaml
from gateway_process import GatewayProcess, write_home
from openai import AsyncOpenAI
from slow_model import SlowModel

from hermes.testing import ScriptedModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes
from tests.fakes.telegram_api import FakeTelegram

KEY = "bench-key"
TOKEN = "123456:BENCH-token"


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def configure(home: Path, **sections: dict[str, object]) -> None:
    path = home / "config.yaml"
    config = yaml.safe_load(path.read_text())
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    path.write_text(yaml.safe_dump(config))


def connected(home: Path) -> bool:
    state = json.loads((home / "gateway.json").read_text())
    return all(s == "connected" for s in state.get("platforms", {}).values())


async def timed_requests(
    client: AsyncOpenAI, count: int, clients: int, sessions: int = 0
) -> tuple[list[float], float]:
    """`count` requests from `clients` concurrent clients; latencies (ms) and wall (s)."""
    latencies: list[float] = []
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            headers = {"X-Hermes-Session-Id": f"s{i % sessions}"} if sessions else None
            started = time.perf_counter()
            await client.chat.completions.create(
                model="hermes",
                messages=[{"role": "user", "content": f"ping {i}"}],
                extra_headers=headers,
            )
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, time.perf_counter() - started


async def load(root: Path, scale: int) -> list[str]:
    misses: list[str] = []
    model = ScriptedModel().start()
    model.reply_with(lambda request: "pong", times=None)
    with FakeTelegram(TOKEN) as telegram:
        home = root / "load"
        write_home(home, model, KEY)
        configure(home, telegram={"base_url": telegram.base_url})
        with (home / ".env").open("a") as env:
            env.write(f"TELEGRAM_BOT_TOKEN={TOKEN}\nGATEWAY_ALLOW_ALL_USERS=true\n")
        gw = GatewayProcess(home)
        try:
            deadline = time.monotonic() + 30
            while not connected(home):
                if time.monotonic() > deadline:
                    raise SystemExit(f"platforms did not connect:\n{gw.tail()}")
                await asyncio.sleep(0.05)
            idle = gw.rss_mib()
            print(f"started in {gw.start_s * 1000:.0f} ms; idle RSS {idle:.1f} MiB (target <= 60)")
            if idle > 60:
                misses.append("idle RSS")
            client = AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0)
            await timed_requests(client, 50, 1)  # warm up: imports, first connections
            one, _ = await timed_requests(client, 1000 // scale, 1)
            p50 = statistics.median(one)
            print(f"1 client:    p50 {p50:5.1f} ms  p99 {pct(one, 0.99):5.1f} ms (target p50 < 15)")
            if p50 >= 15:
                misses.append("p50 at 1 client")
            cpu, own = gw.cpu_ms(), time.process_time()
            many, wall = await timed_requests(client, 4000 // scale, 16)
            rps = len(many) / wall
            print(
                f"16 clients:  p50 {statistics.median(many):5.1f} ms  p99 {pct(many, 0.99):5.1f} ms"
                f"  {rps:.0f} requests/s (target >= 200)"
            )
            print(
                f"  CPU per request: gateway {(gw.cpu_ms() - cpu) / len(many):.2f} ms,"
                f" client + model {(time.process_time() - own) * 1000 / len(many):.2f} ms"
            )
            if rps < 200:
                misses.append("requests/s at 16 clients")
            rss = []
            for round_ in (1, 2):
                _, wall = await timed_requests(client, 10_000 // scale, 16, 1000 // scale)
                rss.append(gw.rss_mib())
                print(
                    f"after {round_ * 10_000 // scale} requests over {1000 // scale} sessions:"
                    f" RSS {rss[-1]:.1f} MiB ({10_000 // scale / wall:.0f} requests/s)"
                )
            print(f"growth on the second round: {rss[1] - rss[0]:+.1f} MiB (target <= 120, ~0)")
            if rss[0] > 120 or rss[1] - rss[0] > 5:
                misses.append("RSS under load")
            await client.close()
        finally:
            gw.stop()
            model.stop()
    return misses


async def raw_completion(url: str, session: str) -> str:
    """One /v1/chat/completions request on its own connection, written by hand:
    a load generator light enough that 1,000 at once measure the gateway, not
    the client (the openai package costs ~3 ms of CPU per request)."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"model": "hermes", "messages": [{"role": "user", "content": "work"}]})
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\n"
        f"authorization: Bearer {KEY}\r\ncontent-type: application/json\r\n"
        f"x-hermes-session-id: {session}\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head.encode() + body.encode())
    answer = (await reader.read()).decode()
    writer.close()
    if not answer.startswith("HTTP/1.1 200"):
        raise SystemExit(f"the gateway answered: {answer[:300]}")
    return answer


async def slow_model(root: Path, scale: int) -> list[str]:
    sessions = 1000 // scale
    model = SlowModel(delay=1.0, text="done")  # its own process: see bench/slow_model.py
    home = root / "slow"
    write_home(home, model, KEY)  # type: ignore[arg-type]
    configure(home, gateway={"max_concurrent_turns": sessions})
    gw = GatewayProcess(home)
    try:
        await raw_completion(gw.url, "warm-up")  # first-use imports, as in a running gateway
        model.arrivals()
        cpu, own, theirs = gw.cpu_ms(), time.process_time(), model.cpu_ms()
        started, since = time.perf_counter(), time.monotonic()
        answers = await asyncio.gather(
            *(raw_completion(gw.url, f"slow{i}") for i in range(sessions))
        )
        assert all('"done"' in a for a in answers), answers[:3]
        wall = time.perf_counter() - started
        print(f"{sessions} concurrent sessions, model takes 1 s: all done in {wall:.2f} s")
        reach = sorted(t - since for t in model.arrivals())
        print(
            f"  (target <= 2 s); requests reached the model after"
            f" {reach[0]:.2f} s (first) to {reach[-1]:.2f} s (last)"
        )
        spent, client = gw.cpu_ms() - cpu, time.process_time() - own
        print(
            f"  CPU: gateway {spent / 1000:.2f} s ({spent / sessions:.2f} ms per turn),"
            f" client {client:.2f} s, model {(model.cpu_ms() - theirs) / 1000:.2f} s"
        )
    finally:
        gw.stop()
        model.stop()
    return ["1,000 slow sessions"] if wall > 2 else []


async def main(quick: bool, only: str | None) -> int:
    scale = 10 if quick else 1
    root = Path(tempfile.mkdtemp(prefix="hermes-bench-"))
    misses = []
    if only in (None, "concurrent"):
        misses += await slow_model(root, scale)
    if only in (None, "load"):
        misses += await load(root, scale)
    print("targets: " + ("all met" if not misses else "MISSED " + ", ".join(misses)))
    return 1 if misses else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", choices=("concurrent", "load"), help="run one phase: the 1,000 slow sessions"
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.quick, args.only)))
