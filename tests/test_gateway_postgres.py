"""The gateway on PostgreSQL (HERMES_DATABASE_URL), as a Telegram user sees it:
`hermes gateway run` as a real process, a real PostgreSQL server, the real
python-telegram-bot against the fake Bot API, the scripted model."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hermes.store.pg import schema_for
from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import GatewayProcess, make_home
from tests.tools_helpers import wait_until

TOKEN = "123456:TEST-token"
CHAT = 4242


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram, pg_url: str) -> Path:
    return make_home(
        tmp_path / "home",
        model,
        {"server": {"port": 0}, "telegram": {"base_url": telegram.base_url}},
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "HERMES_API_KEY": "k",
            "TELEGRAM_ALLOWED_USERS": str(CHAT),
            "HERMES_DATABASE_URL": pg_url,
        },
    )


def shown(telegram: FakeTelegram) -> list[str]:
    return list(telegram.messages_in(CHAT).values())


def rows(url: str, sql: str, schema: str = "hermes_default") -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return list(conn.execute(sql).fetchall())


async def test_a_chat_is_kept_in_postgresql_not_in_state_db(
    home: Path, model: ScriptedModel, telegram: FakeTelegram, pg_url: str
) -> None:
    gw = await GatewayProcess(home).ready()
    model.reply("Hi Ada, I am Hermes.")
    telegram.user_says(CHAT, "hello", user_id=CHAT)
    await wait_until(lambda: shown(telegram) == ["Hi Ada, I am Hermes."], 20, gw.log)
    assert await gw.stop() == 0
    assert not (home / "state.db").exists()
    assert schema_for("default") == "hermes_default"
    stored = rows(pg_url, "SELECT role, content FROM messages ORDER BY id")
    assert ("user", "hello") in stored and ("assistant", "Hi Ada, I am Hermes.") in stored
    assert rows(pg_url, "SELECT status FROM deliveries") == [("sent",)]
    # the command line reads the same database
    listed = run_hermes(home, "sessions", "list")
    assert listed.returncode == 0 and "telegram" in listed.stdout, listed.stderr


async def test_a_gateway_killed_mid_turn_resumes_it_from_postgresql(
    home: Path, model: ScriptedModel, telegram: FakeTelegram, pg_url: str
) -> None:
    gw = await GatewayProcess(home).ready()
    model.tool_call("terminal", {"command": "sleep 30"})
    telegram.user_says(CHAT, "take your time", user_id=CHAT)
    await wait_until(lambda: len(model.requests) == 1, 20, gw.log)
    await wait_until(lambda: rows(pg_url, "SELECT status FROM inbound") == [("running",)], 20)
    await gw.stop(signal.SIGKILL)
    model.reply("Done after the restart.")
    gw = await GatewayProcess(home).ready()
    await wait_until(lambda: "Done after the restart." in shown(telegram), 30, gw.log)
    # the streamed draft shows the answer before the turn is finished: wait for that
    await wait_until(lambda: rows(pg_url, "SELECT status FROM inbound") == [("done",)], 20)
    assert shown(telegram).count("Done after the restart.") == 1
    assert await gw.stop() == 0
