"""One malformed update never stops a platform, and Telegram is back within seconds
of an outage (issue 12, items 7 and 11).

The adapter against the fake Bot API (python-telegram-bot really talks to it), then
the whole product path: `hermes gateway run` as a process, the scripted model, the
updates skipped shown by `hermes doctor`, the status route and the dashboard."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hermes.gateway.events import Inbound
from hermes.platforms.adapter import MemoryDeadLetters
from hermes.platforms.telegram import RECONNECT_CAP, TelegramAdapter
from hermes.providers.http import Backoff
from hermes.testing import ScriptedModel
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import GatewayProcess, make_home, running_adapter
from tests.tools_helpers import wait_until

TOKEN = "123456:TEST-token"
ADA, BO = 42, 43
DROP = object()  # a field left out of a message
MESSAGE_IDS = itertools.count(9001)


def message(chat: int = ADA, **fields: Any) -> dict[str, Any]:
    """A private text message as the Bot API sends it. `chat_=` and `from_=` set the
    "chat" and "from" fields; DROP leaves a field out."""
    body: dict[str, Any] = {
        "message_id": next(MESSAGE_IDS),
        "date": 1_700_000_000,
        "chat": {"id": chat, "type": "private", "first_name": "Ada"},
        "from": {"id": chat, "is_bot": False, "first_name": "Ada"},
        "text": "hello",
    }
    for key, value in fields.items():
        key = key.removesuffix("_")  # from_ -> from
        if value is DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return body


STICKER = {
    "file_id": "CAACAgIAAxkBAAIBZ2",
    "file_unique_id": "AgADZ2",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}
CHANNEL = {"id": -1001999, "type": "channel", "title": "News"}

# The odd shapes of the Bot API docs (https://core.telegram.org/bots/api#update), each
# with what must become of it: "recorded" (skipped, listed for the user), "ignored" (a
# valid update the gateway does not handle), or the text the agent gets ("answered").
SHAPES: list[tuple[str, Any, str]] = [
    ("message without chat", {"message": message(chat_=DROP)}, "recorded"),
    ("chat without id", {"message": message(chat_={"type": "private"})}, "recorded"),
    ("text not a string", {"message": message(text=["rm", "-rf", "/"])}, "recorded"),
    ("from missing", {"message": message(from_=DROP, text="who am I")}, "who am I"),
    (
        "callback_query without message and data",
        {"callback_query": {"id": "4000000001", "from": {"id": ADA}, "chat_instance": "-7"}},
        "ignored",
    ),
    ("edited_message only", {"edited_message": message(text="fixed", edit_date=1)}, "ignored"),
    (
        "channel_post",
        {"channel_post": {"message_id": 5, "date": 1, "chat": CHANNEL, "text": "news"}},
        "ignored",
    ),
    ("sticker and no text", {"message": message(text=DROP, sticker=STICKER)}, "ignored"),
    ("enormous text", {"message": message(text="A" * 1_000_000)}, "recorded"),
    (
        "ids of the wrong type",
        {"message": message(message_id="9001", from_={"id": {"nested": 1}})},
        "recorded",
    ),
    (
        "chat.id a string",
        {"message": message(chat_={"id": str(ADA), "type": "private"})},
        "recorded",
    ),
    ("an unknown kind of update", {"message_reaction_v9": {"chat": CHANNEL}}, "ignored"),
    ("nulls", {"message": message(chat_=None, from_=None, text=None)}, "recorded"),
]
assert len(SHAPES) == 13


class Inbox:
    """A sink that records events; `fail` decides, per event, what to raise (or None)."""

    def __init__(self) -> None:
        self.events: list[Inbound] = []
        self.entered = 0
        self.fail: Any = None  # Callable[[Inbound], BaseException | None]

    async def __call__(self, event: Inbound) -> None:
        self.entered += 1
        if self.fail is not None and (error := self.fail(event)) is not None:
            raise error
        self.events.append(event)


class CountingDeadLetters(MemoryDeadLetters):
    """Every call of record() is kept (MemoryDeadLetters would hide a second one)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, int]] = []  # (update_id, error, attempts)
        self.broken = 0  # the next calls that fail as a locked state.db would
        self.gate: asyncio.Event | None = None

    async def record(
        self, platform: str, update_id: str, error: str, raw: str, attempts: int, at: float
    ) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.broken:
            self.broken -= 1
            raise sqlite3.OperationalError("database is locked")
        self.calls.append((update_id, error, attempts))
        await super().record(platform, update_id, error, raw, attempts, at)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as server:
        yield server


def adapter_for(fake: FakeTelegram, tmp_path: Path, **options: Any) -> TelegramAdapter:
    options.setdefault("backoff", Backoff(base=0.01, cap=0.05))
    options.setdefault("retry", Backoff(base=0.01, cap=0.02))
    return TelegramAdapter(
        fake.token, base_url=fake.base_url, downloads=tmp_path / "inbox", poll_timeout=1, **options
    )


running = running_adapter


def send_shapes(fake: FakeTelegram) -> tuple[dict[int, list[str]], dict[int, str]]:
    """The 13 shapes, each between a message of Ada and one of Bo. Returns the texts
    each chat must see handled, in order, and position -> shape name of those to record."""
    expected: dict[int, list[str]] = {ADA: [], BO: []}
    recorded: dict[int, str] = {}
    for i, (name, payload, outcome) in enumerate(SHAPES):
        fake.user_says(ADA, f"ada {i}", user_id=ADA, first_name="Ada")
        expected[ADA].append(f"ada {i}")
        position = fake.inject_raw(payload)
        if outcome == "recorded":
            recorded[position] = name
        elif outcome != "ignored":
            expected[ADA].append(outcome)
        fake.user_says(BO, f"bo {i}", user_id=BO, first_name="Bo")
        expected[BO].append(f"bo {i}")
    return expected, recorded


# ----- the adapter -----------------------------------------------------------------------


async def test_malformed_updates_are_recorded_once_and_everything_after_them_flows(
    fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    letters = CountingDeadLetters()
    adapter, inbox = adapter_for(fake, tmp_path, dead_letters=letters), Inbox()
    expected, recorded = send_shapes(fake)
    last = fake.user_says(BO, "the end", user_id=BO)
    caplog.set_level(logging.INFO, "hermes.gateway")
    async with running(adapter, inbox):
        await wait_until(lambda: fake.confirmed_offset > last["update_id"], 20)
        assert adapter.state == "connected"
    for chat in (ADA, BO):
        assert [e.text for e in inbox.events if e.chat == str(chat)] == [
            *expected[chat],
            *(["the end"] if chat == BO else []),
        ]
    assert fake.pending_updates() == 0
    assert sorted(int(u) for u, _, _ in letters.calls) == sorted(recorded)  # once each
    errors = {int(u): error for u, error, _ in letters.calls}
    assert "message.chat is missing" in errors[min(recorded)]
    assert all(attempts == 1 for _, _, attempts in letters.calls)  # malformed: no retry helps
    assert all(len(s.raw) <= 2000 and "\n" not in s.error for s in letters.skipped)
    from_less = next(e for e in inbox.events if e.text == "who am I")
    assert from_less.user == str(ADA)  # no sender: the private chat's owner
    # one line per skipped update, no traceback at all
    assert not [r for r in caplog.records if r.exc_info]
    skipped_lines = [r for r in caplog.records if "skipped update" in r.getMessage()]
    assert len(skipped_lines) == len(recorded)


async def test_an_update_the_code_cannot_normalize_is_tried_three_times_then_skipped(
    fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    letters = CountingDeadLetters()
    adapter, inbox = adapter_for(fake, tmp_path, dead_letters=letters), Inbox()
    # passes the field checks, then breaks the media code: photo is a list of strings
    odd = fake.inject_raw({"message": message(text=DROP, photo=["AgAD", "AgAE"])})
    fake.user_says(ADA, "after it", user_id=ADA)
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
    assert [e.text for e in inbox.events] == ["after it"]
    [(update_id, error, attempts)] = letters.calls
    assert (update_id, attempts) == (str(odd), 3)
    assert error.startswith("AttributeError: ")
    assert len([r for r in caplog.records if r.exc_info]) == 1  # one traceback, not a loop


async def test_a_handler_failing_the_same_way_skips_only_that_update(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    letters = CountingDeadLetters()
    adapter, inbox = adapter_for(fake, tmp_path, dead_letters=letters), Inbox()
    tried: list[str] = []

    def fail(event: Inbound) -> BaseException | None:
        tried.append(event.text)
        return ValueError("cannot store this text") if event.text == "poison" else None

    inbox.fail = fail
    bad = fake.user_says(ADA, "poison", user_id=ADA)
    fake.user_says(BO, "fine", user_id=BO)
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
    assert [e.text for e in inbox.events] == ["fine"]
    assert tried == ["poison"] * 3 + ["fine"]
    assert letters.calls == [(str(bad["update_id"]), "ValueError: cannot store this text", 3)]


async def test_a_busy_gateway_never_makes_an_update_skipped(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    letters = CountingDeadLetters()
    adapter, inbox = adapter_for(fake, tmp_path, dead_letters=letters), Inbox()
    locked = [8]

    def fail(event: Inbound) -> BaseException | None:
        if locked[0]:
            locked[0] -= 1
            return sqlite3.OperationalError("database is locked")
        return None

    inbox.fail = fail
    update = fake.user_says(ADA, "keep me", user_id=ADA)
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
        await wait_until(lambda: fake.confirmed_offset == update["update_id"] + 1)
    assert inbox.entered == 9 and letters.calls == []


async def test_an_update_is_not_skipped_before_its_record_is_stored(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    letters = CountingDeadLetters()
    letters.gate, letters.broken = asyncio.Event(), 3  # then state.db is locked 3 times
    adapter, inbox = adapter_for(fake, tmp_path, dead_letters=letters), Inbox()
    bad = fake.inject_raw({"message": message(chat_=DROP)})
    fake.user_says(ADA, "after it", user_id=ADA)
    async with running(adapter, inbox):
        await wait_until(lambda: fake.calls.count("getUpdates") >= 1)
        assert inbox.events == [] and fake.confirmed_offset <= bad
        letters.gate.set()
        await wait_until(lambda: len(inbox.events) == 1)
    assert [u for u, _, _ in letters.calls] == [str(bad)]
    assert letters.broken == 0


async def test_an_update_without_an_id_is_recorded_once_and_confirmed_by_the_next(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    letters = CountingDeadLetters()
    adapter, inbox = adapter_for(fake, tmp_path, dead_letters=letters), Inbox()
    fake.inject_raw(["not", "an", "update"], with_id=False)
    async with running(adapter, inbox):
        await wait_until(lambda: len(letters.calls) == 1)
        polls = fake.calls.count("getUpdates")
        await wait_until(lambda: fake.calls.count("getUpdates") >= polls + 3)  # polled again
        assert len(letters.calls) == 1  # and not recorded again
        later = fake.user_says(ADA, "next", user_id=ADA)
        await wait_until(lambda: fake.confirmed_offset > later["update_id"])
    assert [e.text for e in inbox.events] == ["next"] and fake.pending_updates() == 0
    [(update_id, error, _)] = letters.calls
    assert update_id.startswith("no-id-") and error == "the update is not a JSON object"


async def test_reconnect_delays_stay_within_seconds_however_long_the_outage(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    delays: list[float] = []
    states: list[str] = []

    async def pause(seconds: float) -> None:
        delays.append(seconds)
        states.append(adapter.state)
        await asyncio.sleep(0)

    adapter, inbox = (
        TelegramAdapter(
            fake.token, base_url=fake.base_url, downloads=tmp_path / "inbox", poll_timeout=1
        ),
        Inbox(),
    )
    assert adapter.backoff.cap <= RECONNECT_CAP <= 5
    adapter.backoff = dataclasses.replace(adapter.backoff, sleep=pause)
    fake.fail("getUpdates", 502, times=40)
    fake.user_says(ADA, "after the outage", user_id=ADA)
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
        assert adapter.state == "connected"
    assert len(delays) == 40 and max(delays) <= RECONNECT_CAP
    assert set(states) == {"reconnecting"}


# ----- the product path: `hermes gateway run` -----------------------------------------------


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel, fake: FakeTelegram) -> Path:
    return make_home(
        tmp_path / "home",
        model,
        {"server": {"port": 0}, "telegram": {"base_url": fake.base_url}},
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "HERMES_API_KEY": "k",
            "TELEGRAM_ALLOWED_USERS": f"{ADA},{BO}",
        },
    )


def doctor(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hermes", "doctor"],
        env={**os.environ, "HERMES_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def log_records(home: Path) -> list[dict[str, Any]]:
    path = home / "logs" / "gateway.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def skipped_rows(home: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(home / "state.db") as conn:
        rows = conn.execute(
            "SELECT platform, update_id, attempts FROM skipped_updates ORDER BY id"
        ).fetchall()
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]


async def test_the_gateway_answers_everyone_around_malformed_updates_and_says_what_it_skipped(
    home: Path, model: ScriptedModel, fake: FakeTelegram
) -> None:
    model.reply_with(lambda r: f"re: {r.messages[-1]['content']}", times=None)
    gw = await GatewayProcess(home).ready()
    expected, recorded = send_shapes(fake)

    def shown(chat: int) -> list[str]:
        return list(fake.messages_in(chat).values())

    def answered() -> bool:
        return all(shown(chat) == [f"re: {t}" for t in expected[chat]] for chat in (ADA, BO))

    why = lambda: f"{shown(ADA)}\n{shown(BO)}\n{gw.log()[-3000:]}"  # noqa: E731
    await wait_until(answered, 90, why=why)
    assert sorted(skipped_rows(home)) == sorted(("telegram", str(p), 1) for p in recorded)

    # the dashboard's status route says so
    async with httpx.AsyncClient(base_url=gw.url, timeout=10) as http:
        status = (
            await http.get("/api/hermes/status", headers={"Authorization": "Bearer k"})
        ).json()
    assert status["platforms"]["telegram"] == "connected"
    assert status["skipped_updates"]["counts"] == {"telegram": len(recorded)}
    shown_ids = {s["update_id"] for s in status["skipped_updates"]["recent"]}
    assert shown_ids == {str(p) for p in recorded}

    # and doctor, one line each, with what it means
    report = doctor(home)
    lines = [line for line in report.stdout.splitlines() if "skipped on" in line]
    assert len(lines) == len(recorded), report.stdout
    assert all("nothing else was lost" in line for line in lines)
    assert any(f"telegram update {min(recorded)} " in line for line in lines)
    assert any("message.chat is missing" in line for line in lines)
    assert await gw.stop() == 0

    # the log holds one line per skipped update and no traceback loop
    records = log_records(home)
    assert len([r for r in records if "skipped update" in r.get("msg", "")]) == len(recorded)
    assert [r for r in records if "exc" in r] == []
    assert len(records) < 200, len(records)
    # a restart handles nothing twice and records nothing again
    gw = await GatewayProcess(home).ready()
    await wait_until(lambda: fake.calls.count("getUpdates") >= 2 and fake.pending_updates() == 0)
    assert await gw.stop() == 0
    assert len(skipped_rows(home)) == len(recorded)
    assert len(model.requests) == sum(len(v) for v in expected.values())


async def test_telegram_is_back_within_seconds_of_an_outage(
    home: Path, model: ScriptedModel, fake: FakeTelegram
) -> None:
    model.reply_with(lambda r: f"re: {r.messages[-1]['content']}", times=None)
    gw = await GatewayProcess(home).ready()
    fake.user_says(ADA, "before", user_id=ADA)
    await wait_until(lambda: list(fake.messages_in(ADA).values()) == ["re: before"], 30)

    def unsent() -> int:  # a preview shows the text before the reply's last part is sent
        with sqlite3.connect(home / "state.db") as conn:
            return int(
                conn.execute("SELECT COUNT(*) FROM deliveries WHERE status <> 'sent'").fetchone()[0]
            )

    await wait_until(lambda: unsent() == 0, 30)  # else the outage delays that reply, not polling

    def platform() -> str:
        return str(json.loads((home / "gateway.json").read_text())["platforms"]["telegram"])

    fake.fail("*", 502, times=None)  # the Bot API is down (its proxy answers 502)
    polls = fake.calls.count("getUpdates")
    # long enough for a doubling backoff to reach 8-16 s before its next try
    await wait_until(lambda: fake.calls.count("getUpdates") >= polls + 6, 30)
    await wait_until(lambda: platform() == "reconnecting", 10)
    fake.recover()
    back = time.monotonic()
    fake.user_says(ADA, "after", user_id=ADA)
    await wait_until(lambda: list(fake.messages_in(ADA).values())[-1:] == ["re: after"], 30)
    elapsed = time.monotonic() - back
    assert elapsed < RECONNECT_CAP + 3, elapsed
    await wait_until(lambda: platform() == "connected", 10)
    assert await gw.stop() == 0
    outage_lines = [r for r in log_records(home) if "reconnecting" in r.get("msg", "")]
    assert len(outage_lines) == 1  # one line per outage, not one per try


# ----- the dashboard ---------------------------------------------------------------------


async def test_the_dashboard_shows_what_each_platform_skipped(
    tmp_path: Path, model: ScriptedModel
) -> None:
    from hermes.gateway.skipped import StoredDeadLetters
    from hermes.platforms.web import WebAdapter
    from hermes.server.server import HttpServer, build_app
    from tests.browser_helpers import CHROMIUM, chromium
    from tests.gateway_helpers import FakeChat, running_gateway
    from tests.test_dashboard import open_page
    from tests.test_webchat import KEY, Site

    if not CHROMIUM.exists():
        pytest.skip("browser tests need Chromium")
    playwright = pytest.importorskip("playwright.async_api")
    web, telegram = WebAdapter(), FakeChat("telegram", trusted=False)
    async with running_gateway(
        make_home(tmp_path / "home", model), [web, telegram], api_key=KEY
    ) as gw:
        await wait_until(lambda: web.state == "connected")
        letters = StoredDeadLetters(gw.store)
        why = "message.chat is missing " + "and more " * 40  # long: wraps on a phone
        raw = json.dumps({"update_id": 500000007, "message": {"text": "x" * 5000}})
        await letters.record("telegram", "500000007", why, raw[:2000], 1, time.time() - 120)
        await letters.record(
            "telegram", "500000009", "message.text is not a string", "{}", 1, time.time()
        )
        server = HttpServer(build_app(gw), "127.0.0.1", 0, grace=0.5)
        site = Site(gw, web, f"http://127.0.0.1:{await server.start()}")
        problems: list[str] = []
        async with chromium() as browser:
            try:
                page = await open_page(
                    browser, site, problems, viewport={"width": 390, "height": 760}
                )
                expect = playwright.expect
                row = page.locator('#platforms li[data-platform="telegram"]')
                await expect(row.locator(".p-skipped")).to_have_text("2 skipped")
                await expect(
                    page.locator('#platforms li[data-platform="web"] .p-skipped')
                ).to_have_count(0)
                box = page.locator("#skipped-updates")
                await expect(box.locator("summary")).to_have_text("2 updates skipped this week")
                await box.locator("summary").click()
                items = box.locator("li")
                await expect(items).to_have_count(2)
                await expect(items.nth(0)).to_contain_text("telegram update 500000009")
                await expect(items.nth(1)).to_contain_text("message.chat is missing")
                await expect(items.nth(1)).to_contain_text("2 min ago")
                await expect(box).to_contain_text("nothing else was lost")
                widths = await page.evaluate(
                    "() => [document.querySelector('.dash-scroller').scrollWidth,"
                    " window.innerWidth]"
                )
                assert widths[0] <= widths[1], widths
            finally:
                await server.stop()
        assert problems == []


def test_skipped_records_are_kept_once_and_stay_bounded(tmp_path: Path) -> None:
    from hermes.store import skipped_ops
    from hermes.store.db import open_db

    conn = open_db(tmp_path / "state.db")
    now = 1_800_000_000.0
    old = now - skipped_ops.KEEP_SECONDS - 1
    assert skipped_ops.record(conn, "telegram", "1", "old", "{}", 1, old)
    assert skipped_ops.record(conn, "telegram", "2", "first", "{}", 1, now)
    assert not skipped_ops.record(conn, "telegram", "2", "again", "{}", 3, now)  # once
    assert [(r.update_id, r.error) for r in skipped_ops.recent(conn, 0)] == [("2", "first")]
    for n in range(skipped_ops.KEEP_ROWS + 5):  # a flood of bad updates
        skipped_ops.record(conn, "telegram", f"f{n}", "bad", "{}", 1, now + n)
    assert skipped_ops.counts(conn, 0) == {"telegram": skipped_ops.KEEP_ROWS}
    week = now + 10_000 - skipped_ops.SHOWN_SECONDS
    assert skipped_ops.recent(conn, week, limit=1)[0].update_id == f"f{skipped_ops.KEEP_ROWS + 4}"
    conn.close()
