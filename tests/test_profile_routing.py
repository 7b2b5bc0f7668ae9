"""Routing chats to profiles inside one gateway (SPEC §9, seed 004's acceptance
criteria): a real `hermes gateway run` of the default profile, python-telegram-bot
polling a fake Bot API with a forum whose topics are routed to the profiles
`career` and `systems`, each profile with its own scripted model."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hermes.testing import RecordedRequest, ScriptedModel
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import GatewayProcess, make_home
from tests.tools_helpers import wait_until

TOKEN = "123456:ROUTES-token"
FORUM = -1003961179976
DM = 4242
CAREER_TOPICS = list(range(100, 117))  # 17 topics routed to career
SYSTEMS_TOPICS = list(range(200, 217))  # 17 to systems (one through telegram.topic_profiles)
OTHER_TOPICS = list(range(300, 316))  # 16 not routed: the gateway's own profile
ECHO = 'echo "HH=$HERMES_HOME|H=$HOME|M=$PROFILE_MARK|CWD=$(pwd)"'


def echo_environment(tag: str) -> Callable[[RecordedRequest], object]:
    """A model whose first answer runs ECHO, and whose second reports its output."""

    def answer(request: RecordedRequest) -> object:
        last = request.messages[-1]
        if last["role"] == "user":
            return ("terminal", {"command": ECHO})
        return f"{tag} saw {last['content']}"

    return answer


class Setup:
    def __init__(self, root: Path, telegram: FakeTelegram) -> None:
        self.root = root
        self.models = {name: ScriptedModel(model=f"{name}-model").start() for name in PROFILES}
        self.user_homes = {name: root.parent / f"{name}-user" for name in PROFILES}
        routes: dict[str, object] = {str(t): "career" for t in CAREER_TOPICS}
        routes.update({str(t): "systems" for t in SYSTEMS_TOPICS[1:]})
        config = {
            "server": {"port": 0},
            "telegram": {
                "base_url": telegram.base_url,
                "topic_profiles": {f"{FORUM}:{SYSTEMS_TOPICS[0]}": "systems"},
            },
            "gateway": {"profile_routes": {"telegram": {str(FORUM): routes}}},
        }
        make_home(
            root,
            self.models["default"],
            config,
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "GATEWAY_ALLOW_ALL_USERS": "true",
                "HERMES_API_KEY": "k",
                "PROFILE_MARK": "default",
                "HOME": str(self.user_homes["default"]),
            },
        )
        for name in ("career", "systems"):
            env = {"PROFILE_MARK": name}
            if name == "career":  # systems keeps the HOME it inherits
                env["HOME"] = str(self.user_homes[name])
            make_home(self.home(name), self.models[name], {}, env)
        for name in PROFILES:
            memories = self.home(name) / "memories"
            memories.mkdir(parents=True, exist_ok=True)
            (memories / "MEMORY.md").write_text(f"The {name} memory note.\n")

    def home(self, name: str) -> Path:
        return self.root if name == "default" else self.root / "profiles" / name

    def expected_home_var(self, name: str) -> str:
        """HOME as the profile's turns must see it."""
        if name == "systems":
            return os.environ["HOME"]  # inherited from the gateway's environment
        return str(self.user_homes[name])

    def stop(self) -> None:
        for model in self.models.values():
            model.stop()


PROFILES = ("default", "career", "systems")


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.fixture
def setup(tmp_path: Path, telegram: FakeTelegram) -> Iterator[Setup]:
    s = Setup(tmp_path / "root", telegram)
    yield s
    s.stop()


def shown(telegram: FakeTelegram, chat: int, thread: int | None = None) -> list[str]:
    """The bot's messages in a chat's thread as they read now (streamed drafts edited)."""
    current = telegram.messages_in(chat)
    return [
        current[int(m["message_id"])]
        for m in list(telegram.sent)
        if int(m["chat_id"]) == chat and m.get("message_thread_id") == thread
    ]


def user_texts(home: Path) -> list[str]:
    with sqlite3.connect(home / "state.db") as conn:
        rows = conn.execute("SELECT content FROM messages WHERE role = 'user'").fetchall()
    return [str(r[0]) for r in rows]


def say(telegram: FakeTelegram, text: str, thread: int | None) -> None:
    if thread is None:
        telegram.user_says(DM, text, user_id=DM)
    else:
        telegram.user_says(
            FORUM, text, user_id=DM, thread_id=thread, chat_type="supergroup", title="Forum"
        )


async def test_profile_names_the_routed_profile_and_unrouted_chats_stay_default(
    setup: Setup, telegram: FakeTelegram
) -> None:
    gw = await GatewayProcess(setup.root).ready()
    cases = {CAREER_TOPICS[0]: "career", SYSTEMS_TOPICS[0]: "systems", SYSTEMS_TOPICS[1]: "systems"}
    cases.update({OTHER_TOPICS[0]: "default", None: "default"})  # an unmapped topic, the DM
    for thread in cases:
        say(telegram, "/profile", thread)

    def answered() -> bool:
        return all(shown(telegram, DM if t is None else FORUM, t) for t in cases)

    await wait_until(answered, 30, why=gw.log)
    for thread, name in cases.items():
        [reply] = shown(telegram, DM if thread is None else FORUM, thread)
        assert reply == f"Profile: {name} (home {setup.home(name)})"
    assert await gw.stop() == 0
    assert "routed chats are served by profiles: career, systems" in gw.output()


async def test_fifty_concurrent_turns_in_three_profiles_stay_isolated(
    setup: Setup, telegram: FakeTelegram
) -> None:
    for name, model in setup.models.items():
        model.reply_with(echo_environment(name), times=None)
    gw = await GatewayProcess(setup.root).ready()
    topics = {"career": CAREER_TOPICS, "systems": SYSTEMS_TOPICS, "default": OTHER_TOPICS}
    for threads in topics.values():
        for thread in threads:
            say(telegram, f"topic {thread}: where am I?", thread)

    def done() -> bool:
        replies = [shown(telegram, FORUM, t) for ts in topics.values() for t in ts]
        return all(r and " saw " in r[-1] for r in replies)

    await wait_until(done, 120, why=lambda: f"{len(telegram.sent)} sent\n{gw.log()}")
    assert await gw.stop() == 0

    for name, threads in topics.items():
        home = setup.home(name)
        expected = f"HH={home}|H={setup.expected_home_var(name)}|M={name}|CWD={home / 'workspace'}"
        for thread in threads:
            [reply] = shown(telegram, FORUM, thread)
            assert reply.startswith(f"{name} saw ") and expected in reply, (thread, reply)
        # its own session store: exactly its topics' messages
        wanted = sorted(f"[Ada]\ntopic {t}: where am I?" for t in threads)  # a group: who spoke
        assert sorted(user_texts(home)) == wanted
        # its own model, prompt and memory
        model = setup.models[name]
        assert len(model.requests) == 2 * len(threads)
        asked = {
            int(m.group(1))
            for r in model.requests
            if (m := re.search(r"topic (\d+):", str(r.messages[1]["content"])))
        }
        assert asked == set(threads)
        for request in model.requests:
            system = str(request.messages[0]["content"])
            assert f"The {name} memory note." in system
            others = [n for n in PROFILES if n != name]
            assert not any(f"The {o} memory note." in system for o in others)


async def test_memory_written_in_a_routed_topic_lands_in_that_profile(
    setup: Setup, telegram: FakeTelegram
) -> None:
    career = setup.models["career"]
    career.tool_call("memory", {"action": "add", "target": "memory", "text": "likes tea"})
    career.reply("Noted.")
    gw = await GatewayProcess(setup.root).ready()
    say(telegram, "remember that I like tea", CAREER_TOPICS[0])
    await wait_until(lambda: shown(telegram, FORUM, CAREER_TOPICS[0]) == ["Noted."], 30)
    assert await gw.stop() == 0
    assert "likes tea" in (setup.home("career") / "memories" / "MEMORY.md").read_text()
    for name in ("default", "systems"):
        assert "likes tea" not in (setup.home(name) / "memories" / "MEMORY.md").read_text()


async def test_send_message_from_a_routed_topic_goes_to_that_topic(
    setup: Setup, telegram: FakeTelegram
) -> None:
    """`origin` in a routed profile's turn is the routed chat and thread."""
    career = setup.models["career"]
    career.tool_call("send_message", {"target": "origin", "message": "a note, sent first"})
    career.reply("Sent it.")
    gw = await GatewayProcess(setup.root).ready()
    topic = CAREER_TOPICS[1]
    say(telegram, "send me a note", topic)
    # (the reply's draft, shown from the turn's start, is edited to "Sent it.")
    done = lambda: sorted(shown(telegram, FORUM, topic)) == ["Sent it.", "a note, sent first"]  # noqa: E731
    await wait_until(done, 30, why=lambda: str(shown(telegram, FORUM, topic)))
    assert await gw.stop() == 0
    [result] = [m for m in career.requests[-1].messages if m["role"] == "tool"]
    assert result["content"].startswith(f"Sent to telegram:{FORUM}:{topic}")
    assert shown(telegram, DM) == []


async def test_a_cron_job_made_in_a_routed_topic_runs_there_under_its_profile(
    setup: Setup, telegram: FakeTelegram
) -> None:
    career = setup.models["career"]
    topic = CAREER_TOPICS[3]
    career.tool_call(
        "cron", {"action": "create", "schedule": "every day at 7:00", "prompt": "job hunt brief"}
    )
    career.reply("Scheduled.")
    gw = await GatewayProcess(setup.root).ready()
    say(telegram, "brief me every morning", topic)
    await wait_until(lambda: shown(telegram, FORUM, topic) == ["Scheduled."], 30)
    with sqlite3.connect(setup.home("career") / "state.db") as conn:
        [(job_id, origin)] = conn.execute("SELECT id, origin FROM cron_jobs").fetchall()
    assert origin == f"telegram:{FORUM}:{topic}"
    with sqlite3.connect(setup.root / "state.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM cron_jobs").fetchone() == (0,)

    career.reply("Three new openings today.")
    run = subprocess.run(
        [sys.executable, "-m", "hermes", "-p", "career", "cron", "run", job_id],
        env={**os.environ, "HERMES_HOME": str(setup.root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    brief = "Three new openings today."
    await wait_until(lambda: any(brief in t for t in shown(telegram, FORUM, topic)), 30, gw.log)
    assert await gw.stop() == 0
    assert career.last_user_text().endswith("job hunt brief")
    assert setup.models["default"].requests == []
    # its work is logged in its own home, not in the listening profile's
    career_log = (setup.home("career") / "logs" / "gateway.log").read_text()
    assert '"msg": "tool cron: create ok' in career_log and "cron: started 1 run" in career_log
    assert all(json.loads(line)["profile"] == "career" for line in career_log.splitlines())
    own_log = (setup.root / "logs" / "gateway.log").read_text()
    assert "tool cron" not in own_log and "cron: started" not in own_log


async def test_a_routed_profiles_own_gateway_cannot_run_beside_it(
    setup: Setup, telegram: FakeTelegram
) -> None:
    gw = await GatewayProcess(setup.root).ready()
    other = subprocess.run(
        [sys.executable, "-m", "hermes", "-p", "career", "gateway", "run"],
        env={**os.environ, "HERMES_HOME": str(setup.root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode != 0
    assert f"(pid {gw.proc.pid})" in other.stderr
    assert await gw.stop() == 0


def test_a_route_to_a_missing_profile_is_refused_with_the_fix(tmp_path: Path) -> None:
    root = make_home(
        tmp_path / "root",
        None,
        {"server": {"port": 0}, "telegram": {"topic_profiles": {"-100:6": "nobody"}}},
        {"HERMES_API_KEY": "k"},
    )
    result = subprocess.run(
        [sys.executable, "-m", "hermes", "gateway", "run"],
        env={**os.environ, "HERMES_HOME": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "routes chats to profile 'nobody', which does not exist" in result.stderr
    assert "hermes profile create nobody" in result.stderr
    assert not (root / "profiles" / "nobody").exists()
