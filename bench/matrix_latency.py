"""Inbound-to-reply latency through Matrix: a real `hermes gateway run` on a real Synapse
homeserver on loopback (tests/synapse_helpers.py; `scripts/install test` installs it
into .venv-synapse), with a zero-latency model (the scripted model, answering at once).

    .venv/bin/python bench/matrix_latency.py [--quick] [--messages N]

After a few warm-up turns, N messages (default 40; --quick 10) one at a time in a DM,
each sent once the previous reply arrived: from the user's send (PUT .../send) to the
moment the user's own /sync shows the bot's reply with its final text (a message or an
edit). Prints the median and p90, and the median to the first event of the reply.
No targets: it prints numbers only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from gateway_load import pct
from gateway_process import GatewayProcess
from latency_common import bench_home

from hermes.testing import ScriptedModel
from tests.synapse_helpers import MatrixUser, Synapse, dm, joined


async def wait(check: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def one(user: MatrixUser, room: str, bot: str, n: int) -> tuple[float, float]:
    """Send message N; (ms to the reply's first event, ms to its final text)."""
    before = len(user.bot_messages(room, bot))
    started = time.perf_counter()
    await user.say(room, f"msg {n:06d} end")
    first: float | None = None
    final = f"re: msg {n:06d} end"
    while True:
        await user.sync(timeout_ms=5000)
        shown = user.bot_messages(room, bot)
        if len(shown) > before and first is None:
            first = (time.perf_counter() - started) * 1000
        if any(m.body == final for m in shown[before:]):
            done = (time.perf_counter() - started) * 1000
            return first if first is not None else done, done


async def bench(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Synapse(Path(tmp) / "synapse") as synapse:
        user, bot = synapse.register(), synapse.register()
        with ScriptedModel() as model:
            model.reply_with(lambda r: f"re: {r.messages[-1]['content']}", times=None)
            env = {
                "MATRIX_HOMESERVER": synapse.url,
                "MATRIX_USER_ID": bot.user_id,
                "MATRIX_ACCESS_TOKEN": bot.token,
                "MATRIX_ALLOWED_USERS": user.user_id,
            }
            home = bench_home(Path(tmp) / "home", model, env)
            gateway = GatewayProcess(home)
            try:

                async def up() -> bool:
                    state = json.loads((home / "gateway.json").read_text())
                    return bool(state.get("platforms", {}).get("matrix") == "connected")

                await wait(up, 60, "the gateway to connect to Synapse")
                room = await dm(user, bot.user_id)
                await wait(lambda: joined(user, room, bot.user_id), 30, "the bot to join")
                await user.sync(timeout_ms=0)
                for n in range(3):  # warm-up
                    await one(user, room, bot.user_id, 900000 + n)
                firsts, finals = [], []
                for n in range(count):
                    first, final = await one(user, room, bot.user_id, n)
                    firsts.append(first)
                    finals.append(final)
            finally:
                gateway.stop()
    print(f"matrix (Synapse {synapse.url}), {count} messages one at a time:")
    print(
        f"  inbound-to-reply (final text): median {statistics.median(finals):.0f} ms, "
        f"p90 {pct(finals, 0.9):.0f} ms"
    )
    print(f"  inbound-to-first-reply-event: median {statistics.median(firsts):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 messages")
    parser.add_argument("--messages", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(bench(10 if args.quick else args.messages))


if __name__ == "__main__":
    main()
