"""Replicas on PostgreSQL (docs/scale-out.md), measured with real `hermes
gateway run` processes, a real PostgreSQL server (initialised privately, as
the tests do: tests/pg_helpers.py) and the scripted model answering at once.

    .venv/bin/python bench/cluster.py [--quick] [--only latency|api|chats|failover]

Prints:
  * one API turn's latency, SQLite vs PostgreSQL (median of sequential
    /v1/chat/completions with a server-side session each, one replica);
  * turns per second and gateway CPU per turn with 1, 2 and 3 replicas:
    /v1/chat/completions from 32 concurrent clients spread over the replicas
    (API turns run on the replica that gets the request);
  * the same for chat turns: 300 Telegram chats (the fake Bot API) x 2
    messages, all sent at once; the active replica polls, stores and sends,
    and the chats spread over the replicas (hermes/gateway/spread.py), each
    running at most gateway.max_concurrent_turns (16) at once; and how many
    turns each replica ran;
  * failover: SIGKILL of the replica holding the lease until another says it
    is active, with cluster.lease_seconds 15 (the default) and 5 (median of 3).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import yaml
from gateway_process import GatewayProcess, write_home

from hermes.testing import ScriptedModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tests.fakes.telegram_api import FakeTelegram
from tests.pg_helpers import PgServer

KEY = "bench-key"
TOKEN = "123456:BENCH-token"


def home_for(root: Path, model: ScriptedModel, url: str | None, lease: float = 15.0) -> Path:
    home = root / f"home{len(list(root.iterdir()))}"
    write_home(home, model, KEY)
    config = yaml.safe_load((home / "config.yaml").read_text())
    config["gateway"] = {"max_concurrent_turns": 256}
    config["cluster"] = {"lease_seconds": lease}
    (home / "config.yaml").write_text(yaml.safe_dump(config))
    if url:
        with (home / ".env").open("a") as env:
            env.write(f"HERMES_DATABASE_URL={url}\n")
    return home


def role(gw: GatewayProcess) -> str | None:
    try:
        return json.loads(gw.state.read_text()).get("role")
    except (OSError, ValueError):
        return None


def wait_active(replicas: list[GatewayProcess], seconds: float = 60.0) -> GatewayProcess:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for r in replicas:
            if r.proc.poll() is None and role(r) == "active":
                return r
        time.sleep(0.01)
    raise SystemExit("no replica became active")


async def turns(urls: list[str], count: int, clients: int) -> tuple[list[float], float]:
    """`count` API turns from `clients` concurrent clients, round-robin over urls."""
    latencies: list[float] = []
    numbers = iter(range(count))
    headers = {"Authorization": f"Bearer {KEY}"}

    async def client(http: httpx.AsyncClient) -> None:
        for i in numbers:
            body = {"model": "hermes", "messages": [{"role": "user", "content": f"ping {i}"}]}
            started = time.perf_counter()
            response = await http.post(
                f"{urls[i % len(urls)]}/v1/chat/completions",
                json=body,
                headers={**headers, "X-Hermes-Session-Id": f"s{i}"},
            )
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return latencies, time.perf_counter() - started


def latency(root: Path, model: ScriptedModel, url: str | None, count: int) -> float:
    gw = GatewayProcess(home_for(root, model, url))
    try:
        asyncio.run(turns([gw.url], 20, 1))  # warm up
        lat, _ = asyncio.run(turns([gw.url], count, 1))
        return statistics.median(lat)
    finally:
        gw.stop()


def throughput(root: Path, model: ScriptedModel, pg: PgServer, n: int, count: int) -> None:
    home = home_for(root, model, pg.database())
    replicas = [GatewayProcess(home, env={"HERMES_REPLICA": f"r{i}"}) for i in range(n)]
    try:
        wait_active(replicas)
        urls = [r.url for r in replicas]
        asyncio.run(turns(urls, 64, 16))  # warm up
        cpu = sum(r.cpu_ms() for r in replicas)
        lat, wall = asyncio.run(turns(urls, count, 32))
        spent = sum(r.cpu_ms() for r in replicas) - cpu
        print(
            f"  {n} replica(s): {count / wall:6.0f} turns/s, {spent / count:5.2f} ms CPU per turn,"
            f" p50 {statistics.median(lat):5.1f} ms"
        )
    finally:
        for r in replicas:
            r.stop()


def chat_throughput(
    root: Path, model: ScriptedModel, pg: PgServer, n: int, chats: int, each: int
) -> None:
    """CHATS Telegram chats send EACH messages at once; N replicas answer them."""
    url = pg.database()
    home = home_for(root, model, url)
    ids = list(range(10_000, 10_000 + chats + 20))
    with FakeTelegram(TOKEN) as telegram:
        config = yaml.safe_load((home / "config.yaml").read_text())
        config["telegram"] = {"base_url": telegram.base_url}
        config["gateway"] = {"max_concurrent_turns": 16}
        (home / "config.yaml").write_text(yaml.safe_dump(config))
        with (home / ".env").open("a") as env:
            env.write(
                f"TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_ALLOWED_USERS={','.join(map(str, ids))}\n"
            )
        replicas = [GatewayProcess(home, env={"HERMES_REPLICA": f"r{i}"}) for i in range(n)]

        def answered(chat_ids: list[int], count: int, seconds: float = 600) -> None:
            deadline = time.monotonic() + seconds
            while sum(len(telegram.messages_in(c)) for c in chat_ids) < count:
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {sum(len(telegram.messages_in(c)) for c in chat_ids)}")
                time.sleep(0.05)

        try:
            wait_active(replicas)
            asyncio.run(turns([r.url for r in replicas], len(replicas), 1))  # warm every one up
            for c in ids[:20]:
                telegram.user_says(c, "hello", user_id=c)
            answered(ids[:20], 20)
            cpus = [r.cpu_ms() for r in replicas]
            cpu = sum(cpus)
            started = time.perf_counter()
            for m in range(each):
                for c in ids[20:]:
                    telegram.user_says(c, f"message {m}", user_id=c)
            answered(ids[20:], chats * each)
            wall = time.perf_counter() - started
            spent = sum(r.cpu_ms() for r in replicas) - cpu
            time.sleep(15 / 3 + 0.5)  # each replica's count is written at its next beat
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute('SET search_path TO "hermes_default"')
                took = [int(t) for (t,) in conn.execute("SELECT turns FROM replicas ORDER BY id")]
            count = chats * each
            shares = [
                f"{(r.cpu_ms() - c) / count:.1f}" for r, c in zip(replicas, cpus, strict=True)
            ]
            print(
                f"  {n} replica(s): {count / wall:6.0f} turns/s, {spent / count:5.2f}"
                f" ms CPU per turn (by replica: {' + '.join(shares)}); turns per replica {took}"
            )
        finally:
            for r in replicas:
                r.stop()


def failover(root: Path, model: ScriptedModel, pg: PgServer, lease: float, runs: int) -> None:
    home = home_for(root, model, pg.database(), lease)
    replicas = [GatewayProcess(home, env={"HERMES_REPLICA": f"r{i}"}) for i in range(3)]
    times: list[float] = []
    try:
        for _ in range(runs):
            holder = wait_active(replicas)
            time.sleep(lease / 2)  # mid-way between two renewals, on average
            holder.proc.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            holder.proc.wait()
            others = [r for r in replicas if r is not holder]
            wait_active(others, lease * 3)
            times.append(time.perf_counter() - killed)
            name = holder.state.parent.name
            replicas = [*others, GatewayProcess(home, env={"HERMES_REPLICA": name})]
        print(
            f"  lease {lease:.0f} s: failover median {statistics.median(times):.1f} s"
            f" (runs: {', '.join(f'{t:.1f}' for t in times)})"
        )
    finally:
        for r in replicas:
            r.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the turns, one failover")
    parser.add_argument("--only", choices=("latency", "api", "chats", "failover"))
    args = parser.parse_args()
    run = {args.only} if args.only else {"latency", "api", "chats", "failover"}
    scale = 10 if args.quick else 1
    pg = PgServer()
    pg.start()
    try:
        with ScriptedModel() as model, tempfile.TemporaryDirectory() as tmp:
            model.reply_with(lambda request: "pong", times=None)
            root = Path(tmp)
            if "latency" in run:
                print("one API turn, sequential (median):")
                sqlite_ms = latency(root, model, None, 300 // scale)
                pg_ms = latency(root, model, pg.database(), 300 // scale)
                print(f"  SQLite {sqlite_ms:.1f} ms · PostgreSQL {pg_ms:.1f} ms")
            if "api" in run:
                print("API turns from 32 clients spread over the replicas:")
                for n in (1, 2, 3):
                    throughput(root, model, pg, n, 2000 // scale)
            if "chats" in run:
                print("chat turns (Telegram) spread over the replicas:")
                for n in (1, 2, 3):
                    chat_throughput(root, model, pg, n, 300 // scale, 2)
            if "failover" in run:
                print("failover after SIGKILL of the lease holder:")
                for lease in (15.0, 5.0):
                    failover(root, model, pg, lease, 1 if args.quick else 3)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
