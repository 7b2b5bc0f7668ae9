"""Background process notifications: what a chat hears about a process its turn
started, in each display.background_process_notifications mode."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hermes.gateway.core import Gateway
from hermes.gateway.notify import notify_mode
from hermes.testing import ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.tools_helpers import wait_until

TWO_LINES = "printf 'line1\\n'; sleep 0.6; printf 'line2\\n'"


def home_with(tmp_path: Path, model: ScriptedModel, mode: str | None, **env: str) -> Path:
    config = {"display": {"background_process_notifications": mode}} if mode else None
    return make_home(tmp_path / "home", model, config, env)


def start_in_background(model: ScriptedModel, *commands: str) -> None:
    """The model starts each command in the background, then answers."""
    model.tool_calls([("terminal", {"command": c, "background": True}) for c in commands])
    model.reply("started it")


def about_processes(chat: FakeChat) -> list[str]:
    return [text for text in chat.shown() if "Background process" in text]


def _sql(gw: Gateway, query: str) -> list[Any]:
    with sqlite3.connect(gw.profile.db_path) as conn:
        return conn.execute(query).fetchall()


async def all_done(gw: Gateway, chat: FakeChat, processes: int) -> None:
    """Wait until the turn answered, the processes exited, their notifications were
    queued and every queued message was sent: what the chat shows is final."""
    await wait_until(lambda: "started it" in chat.shown())
    await wait_until(lambda: len(gw.processes.list()) == processes)
    await wait_until(lambda: all(p.status != "running" for p in gw.processes.list()))
    await wait_until(lambda: not gw.notifier.following())
    await wait_until(
        lambda: (
            _sql(gw, "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'sending')")
            == [(0,)]
        )
    )


async def test_all_sends_running_output_then_the_final_message(
    tmp_path: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    start_in_background(model, TWO_LINES)
    async with running_gateway(home_with(tmp_path, model, None), [chat], notify_interval=0.2) as gw:
        await chat.say("build it")
        await wait_until(lambda: any("✅" in t for t in about_processes(chat)), why=chat.shown)
        proc = gw.processes.list()[0]
    *updates, final = about_processes(chat)
    assert updates, "no running-output update"
    assert updates[0].startswith(f"⏳ Background process {proc.id} still running (")
    assert updates[0].endswith("```\nline1\n```")
    assert final.startswith(f"✅ Background process {proc.id} finished (exit code 0, ")
    assert f"`{TWO_LINES}`" in final
    assert final.endswith("```\nline1\nline2\n```")


async def test_a_process_ending_within_the_interval_gets_one_message_with_its_last_lines(
    tmp_path: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    start_in_background(model, "seq 1 100")
    async with running_gateway(home_with(tmp_path, model, "all"), [chat]) as gw:  # every 30s
        await chat.say("count")
        await all_done(gw, chat, 1)
    [final] = about_processes(chat)
    assert final.startswith("✅ Background process proc_")
    assert "(100 lines of output; the last 20 shown)\n```\n81\n82\n" in final
    assert final.endswith("\n100\n```")


async def test_result_sends_only_the_final_message_whatever_the_exit_code(
    tmp_path: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    start_in_background(model, TWO_LINES, "sleep 0.3; echo broken; exit 3")
    async with running_gateway(
        home_with(tmp_path, model, "result"), [chat], notify_interval=0.1
    ) as gw:
        await chat.say("build it")
        await all_done(gw, chat, 2)
    texts = sorted(about_processes(chat))
    assert len(texts) == 2, texts
    assert (
        texts[0].startswith("✅ Background process proc_") and "finished (exit code 0" in texts[0]
    )
    assert (
        texts[1].startswith("❌ Background process proc_") and "failed (exit code 3, " in texts[1]
    )
    assert texts[1].endswith("```\nbroken\n```")


async def test_error_is_silent_on_success_and_speaks_on_failure(
    tmp_path: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    start_in_background(model, TWO_LINES, "sleep 0.3; exit 1")
    async with running_gateway(
        home_with(tmp_path, model, "error"), [chat], notify_interval=0.1
    ) as gw:
        await chat.say("build it")
        await all_done(gw, chat, 2)
    [text] = about_processes(chat)
    assert "failed (exit code 1, " in text and "`sleep 0.3; exit 1`" in text


async def test_a_killed_process_is_reported_with_its_signal(
    tmp_path: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    start_in_background(model, "sleep 30")
    async with running_gateway(home_with(tmp_path, model, "error"), [chat]) as gw:
        await chat.say("serve it")
        await wait_until(lambda: len(gw.processes.list()) == 1)
        await gw.processes.kill(gw.processes.list()[0].id)
        await wait_until(lambda: len(about_processes(chat)) == 1, 30, why=chat.shown)
    assert "was killed by SIGTERM (" in about_processes(chat)[0]


async def test_off_sends_nothing(tmp_path: Path, model: ScriptedModel) -> None:
    chat = FakeChat()
    start_in_background(model, TWO_LINES, "exit 1")
    async with running_gateway(
        home_with(tmp_path, model, "off"), [chat], notify_interval=0.1
    ) as gw:
        await chat.say("build it")
        await all_done(gw, chat, 2)
    assert about_processes(chat) == []


async def test_the_env_setting_wins_over_config_yaml(tmp_path: Path, model: ScriptedModel) -> None:
    chat = FakeChat()
    start_in_background(model, TWO_LINES)
    home = home_with(tmp_path, model, "off", HERMES_BACKGROUND_NOTIFICATIONS="result")
    async with running_gateway(home, [chat], notify_interval=0.1) as gw:
        await chat.say("build it")
        await all_done(gw, chat, 1)
    [text] = about_processes(chat)
    assert "finished (exit code 0, " in text


async def test_an_invalid_env_value_is_ignored_with_a_warning(
    tmp_path: Path, model: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_gateway(home_with(tmp_path, model, "error")) as gw:
        gw.profile = dataclasses.replace(
            gw.profile, env={**gw.profile.env, "HERMES_BACKGROUND_NOTIFICATIONS": "loud"}
        )
        with caplog.at_level(logging.WARNING, logger="hermes.gateway.notify"):
            assert notify_mode(gw) == "error"
    assert "HERMES_BACKGROUND_NOTIFICATIONS: 'loud' is not one of" in caplog.text


async def test_processes_killed_by_the_shutdown_send_nothing(
    tmp_path: Path, model: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    chat = FakeChat()
    start_in_background(model, "sleep 30")
    async with running_gateway(home_with(tmp_path, model, "all"), [chat]) as gw:
        await chat.say("serve it")
        await wait_until(lambda: "started it" in chat.shown())
        db = gw.profile.db_path
    assert gw.notifier.following() == []
    assert [r.message for r in caplog.records if r.name == "hermes.gateway.notify"] == []
    with sqlite3.connect(db) as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM deliveries WHERE key LIKE 'proc:%'")]
    assert keys == []
    assert about_processes(chat) == []


async def test_output_is_shown_as_a_terminal_would_show_it(
    tmp_path: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    start_in_background(model, r"printf 'step 1\rstep 2\r\033[32mdone\033[0m\n'")
    async with running_gateway(home_with(tmp_path, model, "result"), [chat]) as gw:
        await chat.say("progress")
        await all_done(gw, chat, 1)
    [final] = about_processes(chat)
    assert final.endswith("```\ndone\n```")
