"""Liveness from what flows (issue 14): each platform's state, when an event from it
last reached the gateway and when a send to it last succeeded, in the status API,
gateway.json and `hermes gateway status`; Telegram probes a silent getUpdates with
getMe and connects anew when that fails too, and fails once on a revoked token."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hermes.gateway.events import Inbound
from hermes.platforms.adapter import AdapterUnavailable
from hermes.platforms.telegram import TelegramAdapter, TelegramSettings
from hermes.providers.http import Backoff
from hermes.testing import ScriptedModel
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import GatewayProcess, make_home, running_adapter
from tests.tools_helpers import wait_until

TOKEN = "123456:TEST-liveness"
CHAT = 4242
KEY = "k"


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


async def status(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
        response = await http.get(f"{url}/api/hermes/status", timeout=20)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_status_shows_when_a_platform_last_received_and_sent(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    home = make_home(
        tmp_path / "home",
        model,
        {"server": {"port": 0}, "telegram": {"base_url": telegram.base_url}},
        {"TELEGRAM_BOT_TOKEN": TOKEN, "HERMES_API_KEY": KEY, "TELEGRAM_ALLOWED_USERS": str(CHAT)},
    )
    gw = await GatewayProcess(home).ready()
    try:
        seen: dict[str, Any] = {}

        async def connected() -> bool:
            seen.update(await status(gw.url))
            return bool(seen["platforms"].get("telegram") == "connected")

        await wait_until(connected, 20, lambda: str(seen))
        assert seen["platforms"]["telegram"] == "connected"  # the old {name: state} shape
        quiet = seen["platform_details"]["telegram"]
        assert quiet == {"state": "connected", "last_inbound": None, "last_sent": None}

        before = time.time()
        model.reply("Hello Ada.")
        telegram.user_says(CHAT, "hello", user_id=CHAT)
        await wait_until(lambda: list(telegram.messages_in(CHAT).values()) == ["Hello Ada."], 20)

        async def flowed() -> bool:
            seen.update(await status(gw.url))
            details = seen["platform_details"]["telegram"]
            return details["last_inbound"] is not None and details["last_sent"] is not None

        await wait_until(flowed, 20, lambda: str(seen))
        details = seen["platform_details"]["telegram"]
        assert before <= details["last_inbound"] <= details["last_sent"] <= time.time()

        def written() -> bool:  # gateway.json, which `hermes gateway status` reads
            state = json.loads((home / "gateway.json").read_text())
            details = state.get("platform_details", {}).get("telegram", {})
            return details.get("last_sent") is not None

        await wait_until(written, 20)
        shown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "hermes", "gateway", "status"],
            env={**os.environ, "HERMES_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        line = next(x for x in shown.stdout.splitlines() if "telegram: last message in" in x)
        assert "none yet" not in line and "last sent" in line
    finally:
        await gw.stop()


# -- Telegram's probe, in process against the fake ------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.events: list[Inbound] = []

    async def __call__(self, event: Inbound) -> None:
        self.events.append(event)


def adapter_for(fake: FakeTelegram, tmp_path: Path, **options: Any) -> TelegramAdapter:
    return TelegramAdapter(
        fake.token,
        base_url=fake.base_url,
        downloads=tmp_path / "inbox",
        backoff=Backoff(base=0.05, cap=0.2),
        **options,
    )


running = running_adapter


def test_by_default_every_platform_rebuilds_a_deaf_link_within_90_seconds() -> None:
    from hermes.platforms.discord import DiscordSettings
    from hermes.platforms.slack import SlackSettings

    # Telegram: silence for watchdog_seconds, then a getMe probe of at most 10 s
    assert TelegramSettings().watchdog_seconds + 10 < 90
    # Discord: discord.py's heartbeat watchdog gives up after heartbeat_timeout
    assert DiscordSettings().heartbeat_timeout < 90
    # Slack: a socket is stale after 4 unanswered pings, checked every ping interval
    assert 5 * SlackSettings().ping_interval < 90


async def test_a_silent_getupdates_is_probed_with_getme_and_the_connection_rebuilt(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    # a long poll of 30 s would only time out after 40 s: the 2 s watchdog must act first
    adapter, inbox = adapter_for(telegram, tmp_path, poll_timeout=30, watchdog=2.0), Inbox()
    async with running(adapter, inbox):
        await wait_until(lambda: adapter.state == "connected" and "getUpdates" in telegram.calls)
        old = list(adapter._requests)
        assert old
        telegram.fail("*", "silent", times=None)  # nothing answers, not even getMe
        since = len(telegram.calls)
        await wait_until(lambda: adapter.state == "reconnecting", 15, lambda: adapter.state)
        assert "getMe" in telegram.calls[since:]  # the probe
        assert all(r._client.is_closed for r in old)  # type: ignore[attr-defined]
        assert not any(r in adapter._requests for r in old)

        telegram.recover()
        telegram.user_says(CHAT, "still there?", user_id=CHAT)
        await wait_until(lambda: len(inbox.events) == 1, 30, lambda: adapter.state)
        assert inbox.events[0].text == "still there?"
        await wait_until(lambda: adapter.state == "connected")


async def test_a_quiet_poll_whose_getme_answers_keeps_the_connection(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    adapter, inbox = adapter_for(telegram, tmp_path, poll_timeout=30, watchdog=2.0), Inbox()
    async with running(adapter, inbox):
        await wait_until(lambda: adapter.state == "connected" and "getUpdates" in telegram.calls)
        first = len(telegram.calls)
        await wait_until(lambda: "getMe" in telegram.calls[first:], 15)  # probed: no news
        requests = list(adapter._requests)
        telegram.user_says(CHAT, "hi", user_id=CHAT)
        await wait_until(lambda: len(inbox.events) == 1, 15)
        assert adapter.state == "connected" and adapter._requests == requests


async def test_a_token_revoked_while_running_fails_once_and_stops_polling(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    adapter, inbox = adapter_for(telegram, tmp_path, poll_timeout=1, watchdog=2.0), Inbox()
    async with running(adapter, inbox) as task:
        await wait_until(lambda: adapter.state == "connected" and "getUpdates" in telegram.calls)
        telegram.token = "123456:revoked"  # the bot's token is now refused with 401
        await wait_until(task.done, 15, lambda: adapter.state)
        assert adapter.state.startswith("failed: Telegram rejected the bot token (")
        assert "TELEGRAM_BOT_TOKEN" in adapter.state
        with pytest.raises(AdapterUnavailable):
            task.result()  # the loop ended: no retry storm against a revoked token
