"""Messages per second through each chat platform adapter: a real `hermes
gateway run` process configured for one platform only (Telegram, Discord or
Slack), talking to that platform's loopback fake from tests/fakes/, against a
zero-latency model (the scripted model, answering at once).

    .venv/bin/python bench/platform_load.py [--quick] [--only telegram,discord,slack]

For each platform, after a few warm-up turns:
  * alone: 200 messages one at a time in one chat, each sent once the previous
    reply was delivered: p50/p99 from the user's message to the bot's final
    reply text at the fake, and how many replies were first posted as a partial
    draft (their final text waits for the platform's edit interval, 1-1.5 s);
  * burst: 600 messages over 100 chats sent at once (every chat's first, then
    every chat's second, ...): wall time until every reply has been delivered
    to the fake, messages/s, CPU ms per message of the gateway process (utime +
    stime from /proc) and of this process (fakes, scripted model, client),
    p50/p99 latency under that load, and the gateway's RSS after.
A reply counts as delivered when its final text ("re: msg NNNNNN end") is in a
message the bot sent or edited at the fake. --quick runs a tenth (alone:
20 messages). No targets: it prints numbers only.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway_load import pct
from latency_common import Arrivals, start_gateway

from hermes.testing import ScriptedModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.*
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import make_home

TAG = re.compile(r"msg \d{6} end")
REPLY = re.compile(r"re: msg \d{6} end")
DISCORD_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.bench.token"
TELEGRAM_TOKEN = "123456:BENCH-token"


@dataclass
class Rig:
    """One platform's fake, as the gateway's config sees it and as a user drives it."""

    fake: Any  # FakeTelegram | FakeDiscord | FakeSlack: all keep .sent and .edits
    config: dict[str, Any]
    env: dict[str, str]
    say: Callable[[int, str], None]  # chat number, text


@contextmanager
def telegram(chats: int) -> Iterator[Rig]:
    with FakeTelegram(TELEGRAM_TOKEN) as fake:
        ids = [10_000 + n for n in range(chats)]
        yield Rig(
            fake,
            {"telegram": {"base_url": fake.base_url}},
            {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN},
            lambda n, text: fake.user_says(ids[n], text, user_id=ids[n]),
        )


@contextmanager
def discord(chats: int) -> Iterator[Rig]:
    with FakeDiscord(DISCORD_TOKEN, heartbeat_ms=41_250) as fake:  # Discord's own interval
        users = [str(600_000_000_000_000_000 + n) for n in range(chats)]
        dms = [fake.dm(u) for u in users]
        yield Rig(
            fake,
            {"discord": {"base_url": fake.api_url}},
            {"DISCORD_BOT_TOKEN": DISCORD_TOKEN},
            lambda n, text: fake.user_says(dms[n], text, users[n]),
        )


@contextmanager
def slack(chats: int) -> Iterator[Rig]:
    with FakeSlack() as fake:
        yield Rig(
            fake,
            {"slack": {"base_url": fake.api_url}},
            {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_APP_TOKEN": fake.app_token},
            lambda n, text: fake.user_says(f"D{n:08d}", text, user=f"U{n:08d}"),
        )


PLATFORMS = {"telegram": telegram, "discord": discord, "slack": slack}


class Replies(Arrivals):
    """When each final reply text first showed up at the fake (read incrementally)."""

    missing = "replies not delivered"

    def __init__(self, fake: Any) -> None:
        super().__init__(fake)
        self.drafts = 0  # replies first sent as a partial text (the rest came by an edit)
        self._read = {"sent": 0, "edits": 0}

    def poll(self) -> None:
        now = time.perf_counter()
        for name, start in self._read.items():
            entries = getattr(self.fake, name)[start:]  # appended by the fake's threads
            self._read[name] = start + len(entries)
            for entry in entries:
                text = str(entry.get("text") or entry.get("content") or "").strip()
                if REPLY.fullmatch(text):
                    self.seen.setdefault(text, now)
                elif name == "sent" and text.startswith("re:"):
                    self.drafts += 1

    def pause(self) -> None:
        time.sleep(0.0005)  # polling the fake's state, with a deadline


def answer(request: Any) -> str:
    match = TAG.search(str(request.messages[-1]["content"]))
    return f"re: {match.group(0) if match else '?'}"


def run(name: str, root: Path, total: int, chats: int, alone: int) -> str:
    model = ScriptedModel().start()
    model.reply_with(answer, times=None)
    counter = iter(range(1_000_000))
    try:
        with PLATFORMS[name](chats + 1) as rig:  # the last chat: warm-up and `alone`
            env = {"HERMES_API_KEY": "bench-key", "GATEWAY_ALLOW_ALL_USERS": "true", **rig.env}
            home = make_home(root / name, model, {"server": {"port": 0}, **rig.config}, env)
            gw = start_gateway(home, name)
            try:
                replies = Replies(rig.fake)
                sent: dict[str, float] = {}

                def say(chat: int) -> str:
                    tag = f"msg {next(counter):06d} end"
                    sent[f"re: {tag}"] = time.perf_counter()
                    rig.say(chat, tag)
                    return f"re: {tag}"

                for _ in range(5):  # warm up: first-turn imports, connections
                    replies.wait([say(chats)], 30, gw)
                lone: list[float] = []
                drafts = replies.drafts
                for _ in range(alone):
                    reply = say(chats)
                    replies.wait([reply], 30, gw)
                    lone.append((replies.seen[reply] - sent[reply]) * 1000)
                drafts, cpu, own = replies.drafts - drafts, gw.cpu_ms(), time.process_time()
                started = time.perf_counter()
                burst = []
                for i in range(total):
                    burst.append(say(i % chats))
                    replies.poll()
                replies.wait(burst, 300, gw)
                wall = max(replies.seen[r] for r in burst) - started
                cpu_per = (gw.cpu_ms() - cpu) / total
                own_per = (time.process_time() - own) * 1000 / total
                rss = gw.rss_mib()
                under = [(replies.seen[r] - sent[r]) * 1000 for r in burst]
            finally:
                gw.stop()
    finally:
        model.stop()
    return (
        f"{name:<9} {statistics.median(lone):6.1f} {pct(lone, 0.99):6.1f} {drafts:6d}"
        f" {total / wall:8.0f} {wall:6.2f} {cpu_per:7.2f} {own_per:7.2f}"
        f" {statistics.median(under):7.0f} {pct(under, 0.99):7.0f} {rss:6.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    parser.add_argument("--only", default=",".join(PLATFORMS), help="comma-separated platforms")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if unknown := [n for n in names if n not in PLATFORMS]:
        parser.error(f"unknown platform {unknown[0]!r}; use one of {', '.join(PLATFORMS)}")
    scale = 10 if args.quick else 1
    total, chats, alone = 600 // scale, 100 // scale, 200 // scale
    root = Path(tempfile.mkdtemp(prefix="hermes-bench-"))
    print(f"alone: {alone} messages one at a time; burst: {total} messages over {chats} chats")
    print(
        "platform  alone (ms)           burst: msgs/s  wall s  CPU ms/msg      latency (ms)  RSS\n"
        "           p50    p99 drafts                          gw   bench     p50     p99  MiB"
    )
    for name in names:
        print(run(name, root, total, chats, alone), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
