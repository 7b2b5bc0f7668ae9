"""`hermes gateway setup`: the wizard in a pseudo-terminal, the flags in a subprocess,
the Telegram check against the fake Bot API, and the gateway it starts and restarts."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pty_driver import Terminal

from hermes.cli.gateway_setup import parse_sets, plan, platforms
from hermes.envfile import read_env_file
from hermes.errors import HermesError
from hermes.pidfile import running_pid
from hermes.platforms import platform
from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import make_home
from tests.tools_helpers import wait_until

TOKEN = "123456789:TEST-fake-token"  # what FakeTelegram knows


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel) -> Iterator[Path]:
    """A home with a model and a free port; a gateway left running in it is killed."""
    home = make_home(tmp_path / "home", model, {"server": {"port": 0}})
    yield home
    pid = running_pid(home)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def env(tmp_path: Path, home: Path, telegram: FakeTelegram) -> dict[str, str]:
    (tmp_path / "user").mkdir()
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "user"),
        "HERMES_HOME": str(home),
        "HERMES_SERVICE_MANAGER": "none",
        "TELEGRAM_API_BASE_URL": telegram.base_url,
    }


def hermes(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    home = Path(env["HERMES_HOME"])
    return run_hermes(home, "gateway", "setup", *args, env=env, clean=True, timeout=90)


def saved(home: Path) -> dict[str, str]:
    return read_env_file(home / ".env")


# ----- the plan ---------------------------------------------------------------------------


def test_flags_are_parsed_and_checked_against_the_platform() -> None:
    telegram = platform("telegram")
    assert parse_sets(["A=b=c", " B = x "]) == {"A": "b=c", "B": "x"}
    with pytest.raises(HermesError, match="--set expects VAR=VALUE, got 'TOKEN'"):
        parse_sets(["TOKEN"])
    with pytest.raises(HermesError, match="--set X= has no value"):
        parse_sets(["X="])
    with pytest.raises(HermesError, match="SLACK_BOT_TOKEN is not a telegram setting"):
        plan(telegram, {"SLACK_BOT_TOKEN": "x"}, {})
    with pytest.raises(HermesError, match=r"telegram needs TELEGRAM_BOT_TOKEN too: add --set"):
        plan(telegram, {"TELEGRAM_ALLOWED_USERS": "1"}, {})
    given = {"TELEGRAM_ALLOWED_USERS": "1"}
    assert plan(telegram, given, {"TELEGRAM_BOT_TOKEN": "1:a"}) == given


# ----- flags ----------------------------------------------------------------------------


def test_list_shows_every_platform_and_whether_it_is_configured(
    env: dict[str, str], home: Path
) -> None:
    before = hermes(env, "--list")
    assert before.returncode == 0, before.stderr
    assert re.search(r"^web\s+Web chat: always on$", before.stdout, re.M)
    assert re.search(r"^telegram\s+Telegram: set TELEGRAM_BOT_TOKEN", before.stdout, re.M)
    (home / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\n")
    after = hermes(env, "--list")
    assert re.search(r"^telegram\s+Telegram: configured$", after.stdout, re.M)


def test_flags_check_the_token_with_telegram_then_save_it(
    env: dict[str, str], home: Path, telegram: FakeTelegram
) -> None:
    result = hermes(
        env,
        "--platform=telegram",
        f"--set=TELEGRAM_BOT_TOKEN={TOKEN}",
        "--set=TELEGRAM_ALLOWED_USERS=42",
        "--no-start",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "✓ Telegram accepted the credentials",
        f"✓ TELEGRAM_BOT_TOKEN saved in {home / '.env'} (mode 0600)",
        f"✓ TELEGRAM_ALLOWED_USERS saved in {home / '.env'} (mode 0600)",
        "start it when ready: `hermes gateway start`",
    ]
    assert telegram.calls == ["getMe"]
    assert saved(home) == {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_USERS": "42"}
    assert stat.S_IMODE((home / ".env").stat().st_mode) == 0o600
    assert running_pid(home) is None


def test_a_wrong_token_is_one_line_and_nothing_is_written(
    env: dict[str, str], home: Path, telegram: FakeTelegram
) -> None:
    (home / ".env").write_text("# mine\n")
    result = hermes(env, "--platform", "telegram", "--set", "TELEGRAM_BOT_TOKEN=99:wrong")
    assert result.returncode == 1
    assert result.stderr == (
        "hermes: Telegram check failed: the bot token is unknown to Telegram: copy "
        "TELEGRAM_BOT_TOKEN again from @BotFather; nothing was saved\n"
    )
    assert (home / ".env").read_text() == "# mine\n"
    assert telegram.calls == ["getMe"]
    unreachable = {**env, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9"}
    result = hermes(unreachable, "--platform", "telegram", "--set", f"TELEGRAM_BOT_TOKEN={TOKEN}")
    assert result.returncode == 1
    assert result.stderr.startswith(
        "hermes: Telegram check failed: could not reach Telegram at http://127.0.0.1:9"
    )
    assert (home / ".env").read_text() == "# mine\n"
    skipped = hermes(
        unreachable,
        "--platform=telegram",
        "--set=TELEGRAM_BOT_TOKEN=1:x",
        "--no-check",
        "--no-start",
    )
    assert skipped.returncode == 0, skipped.stderr
    assert saved(home) == {"TELEGRAM_BOT_TOKEN": "1:x"}


def test_bad_invocations_say_what_to_do(env: dict[str, str], home: Path) -> None:
    no_terminal = hermes(env)
    assert no_terminal.returncode == 1
    assert no_terminal.stderr.startswith(
        "hermes: hermes gateway setup needs a terminal; in scripts pass --platform NAME"
    )
    unknown = hermes(env, "--platform", "myspace", "--set", "X=1")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("hermes: unknown platform 'myspace'; known platforms: web")
    web = hermes(env, "--platform", "web")
    assert web.stderr == "hermes: the web platform needs no setup: it is always on\n"
    no_platform = hermes(env, "--set", f"TELEGRAM_BOT_TOKEN={TOKEN}")
    assert no_platform.stderr == (
        "hermes: --set needs --platform NAME: the platform the variables are for\n"
    )
    missing = hermes(env, "--platform", "telegram")
    assert missing.stderr.startswith(
        "hermes: telegram needs TELEGRAM_BOT_TOKEN too: add --set TELEGRAM_BOT_TOKEN=..."
    )
    assert saved(home) == {}


def test_without_no_start_it_starts_the_gateway_then_restarts_it(
    env: dict[str, str], home: Path, telegram: FakeTelegram
) -> None:
    started = hermes(env, "--platform", "telegram", "--set", f"TELEGRAM_BOT_TOKEN={TOKEN}")
    assert started.returncode == 0, started.stdout + started.stderr
    match = re.search(r"default gateway started \(pid (\d+), detached", started.stdout)
    assert match, started.stdout
    first = int(match.group(1))
    assert running_pid(home) == first
    asyncio.run(wait_until(lambda: "getUpdates" in telegram.calls, 30))  # it uses the token

    again = hermes(env, "--platform", "telegram", "--set", "TELEGRAM_ALLOWED_USERS=42")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"default gateway stopped (pid {first}, SIGTERM)" in again.stdout
    second = running_pid(home)
    assert second is not None and second != first
    assert re.search(rf"default gateway started \(pid {second}, detached", again.stdout)


# ----- the wizard ---------------------------------------------------------------------------


def terminal_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}


def test_wizard_with_arrow_keys_checks_and_saves_the_token(
    env: dict[str, str], home: Path, telegram: FakeTelegram
) -> None:
    term = Terminal(["gateway", "setup"], terminal_env(env), home.parent)
    try:
        term.expect("Which platform?")
        term.expect(r">\s+1\. Telegram: not configured")  # the first one not configured
        if len(platforms()) > 1:  # arrow keys move the selection (down, then back up)
            term.send("\x1b[B")
            term.expect(r">\s+2\. ")
            term.send("\x1b[A")
            term.expect(r">\s+1\. Telegram")
        term.send("\r")
        term.expect(r"TELEGRAM_BOT_TOKEN:")
        term.send("\r")  # required: asked again
        term.expect(r"TELEGRAM_BOT_TOKEN is needed: set TELEGRAM_BOT_TOKEN")
        term.expect(r"TELEGRAM_BOT_TOKEN:")
        term.send(f"{TOKEN}\r")
        term.expect(r"TELEGRAM_ALLOWED_USERS \(optional, Enter skips\):")
        term.send("42\r")
        term.expect(r"TELEGRAM_API_BASE_URL \(Enter keeps the one you have\):")
        term.send("\r")
        term.expect("✓ Telegram accepted the credentials")
        term.expect(r"Start the gateway now\? \(y/n\)")
        term.send("n")
        term.expect("start it when ready: `hermes gateway start`")
        assert term.wait() == 0
        assert TOKEN not in term.screen  # typed hidden
    finally:
        term.close()
    assert saved(home) == {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_ALLOWED_USERS": "42"}
    assert stat.S_IMODE((home / ".env").stat().st_mode) == 0o600
    assert telegram.calls == ["getMe"]


def test_wizard_with_a_wrong_token_writes_nothing(
    env: dict[str, str], home: Path, telegram: FakeTelegram
) -> None:
    term = Terminal(["gateway", "setup", "--platform", "telegram"], terminal_env(env), home.parent)
    try:
        term.expect(r"TELEGRAM_BOT_TOKEN:")
        term.send("99:wrong\r")
        term.expect(r"TELEGRAM_ALLOWED_USERS \(optional, Enter skips\):")
        term.send("\r")
        term.expect(r"TELEGRAM_API_BASE_URL \(Enter keeps the one you have\):")
        term.send("\r")
        term.expect("hermes: Telegram check failed: the bot token is unknown to Telegram")
        assert term.wait() == 1
    finally:
        term.close()
    assert saved(home) == {}


def test_ctrl_c_in_the_wizard_changes_nothing(env: dict[str, str], home: Path) -> None:
    term = Terminal(["gateway", "setup"], terminal_env(env), home.parent)
    try:
        term.expect("Which platform?")
        term.send("\r")
        term.expect(r"TELEGRAM_BOT_TOKEN:")
        term.send("\x03")
        term.expect("gateway setup cancelled: nothing was changed")
        assert term.wait() == 130
    finally:
        term.close()
    assert saved(home) == {}
