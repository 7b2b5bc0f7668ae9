"""`hermes setup` (wizard and script form) and `hermes doctor`, as a user runs them."""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import stat
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from pty_driver import Terminal

from hermes.cli.setup_cmd import SetupChoice, apply_setup, cmd_setup, plan_setup
from hermes.config import load_settings
from hermes.envfile import read_env_file
from hermes.errors import HermesError
from hermes.home import ensure_home
from hermes.providers.resolve import DEFAULTS
from hermes.settings import ModelSettings
from hermes.store.db import MIGRATIONS
from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes

hermes = partial(run_hermes, clean=True, timeout=30)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# ----- setup: the plan --------------------------------------------------------------


def test_plan_fills_in_provider_defaults() -> None:
    plan = plan_setup("openrouter")
    assert plan == SetupChoice("openrouter", DEFAULTS["openrouter"].model)
    assert plan_setup("OpenAI", model=" gpt-5 ").model == "gpt-5"
    assert plan_setup("anthropic", api_key_env="ANTHROPIC_API_KEY").api_key_env is None
    assert plan_setup("local") == SetupChoice("local", None)


def test_plan_refuses_what_cannot_work() -> None:
    with pytest.raises(HermesError, match="unknown provider 'gemini'"):
        plan_setup("gemini")
    with pytest.raises(HermesError, match="needs the server's URL: add --base-url"):
        plan_setup("custom")
    with pytest.raises(HermesError, match="must start with http"):
        plan_setup("custom", base_url="localhost:8000")
    with pytest.raises(HermesError, match="local provider has one model"):
        plan_setup("local", model="llama-70b")


def test_custom_key_gets_a_variable() -> None:
    plan = plan_setup("custom", base_url="http://127.0.0.1:1/v1", api_key="k")
    assert (plan.api_key_env, plan.api_key) == ("CUSTOM_API_KEY", "k")


def test_same_provider_keeps_what_was_not_given() -> None:
    current = ModelSettings("custom", "qwen3", "http://10.0.0.2:8000/v1", "VLLM_KEY")
    plan = plan_setup("custom", current=current)
    assert plan == SetupChoice("custom", "qwen3", "http://10.0.0.2:8000/v1", "VLLM_KEY")
    assert plan_setup("custom", model="llama3", current=current).api_key_env == "VLLM_KEY"
    assert plan_setup("openai", current=current) == SetupChoice("openai", DEFAULTS["openai"].model)


# ----- setup: writing ---------------------------------------------------------------


def test_apply_writes_config_and_private_env(home: Path) -> None:
    ensure_home(home)
    lines = apply_setup(home, plan_setup("openrouter", model="openai/gpt-5", api_key="sk-or-1"))
    settings = load_settings(home / "config.yaml").model
    assert (settings.provider, settings.model) == ("openrouter", "openai/gpt-5")
    assert "# Hermes configuration" in (home / "config.yaml").read_text()  # comments kept
    assert read_env_file(home / ".env")["OPENROUTER_API_KEY"] == "sk-or-1"
    assert stat.S_IMODE((home / ".env").stat().st_mode) == 0o600
    assert lines[0].startswith("model: openrouter · openai/gpt-5")
    assert lines[1] == f"key: OPENROUTER_API_KEY saved in {home / '.env'} (mode 0600)"


def test_switching_away_from_custom_drops_its_url(home: Path) -> None:
    ensure_home(home)
    apply_setup(home, plan_setup("custom", base_url="http://127.0.0.1:1/v1", api_key="k"))
    current = load_settings(home / "config.yaml").model
    assert current.api_key_env == "CUSTOM_API_KEY"
    apply_setup(home, plan_setup("openai", current=current), current)
    after = load_settings(home / "config.yaml").model
    assert (after.provider, after.base_url, after.api_key_env) == ("openai", None, None)


def setup_args(**flags: str | None) -> argparse.Namespace:
    values = {"profile": None, "debug": False, "provider": None, "model": None}
    values |= {"base_url": None, "api_key_env": None}
    return argparse.Namespace(**(values | flags))


def test_script_form_reads_the_key_from_stdin(
    home: Path,
    model: ScriptedModel,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HERMES_HOME", str(home))
    monkeypatch.setattr(sys, "stdin", io.StringIO("secret-key\n"))
    args = setup_args(provider="custom", base_url=model.base_url, model="scripted-model")
    assert cmd_setup(args) == 0
    out = capsys.readouterr().out
    assert f"✓ model: custom · scripted-model at {model.base_url}" in out
    assert read_env_file(home / ".env")["CUSTOM_API_KEY"] == "secret-key"
    # The result works: hermes -z sends the key to the configured server.
    model.reply("configured!")
    result = hermes(home, "-z", "hi")
    assert (result.returncode, result.stdout) == (0, "configured!\n"), result.stderr
    assert model.last_request.api_key == "secret-key"


def test_setup_without_a_terminal_or_flags_says_what_to_do(home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hermes", "setup"],
        env={"PATH": os.environ.get("PATH", ""), "HERMES_HOME": str(home)},
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("hermes: hermes setup needs a terminal; in scripts pass")


def test_wizard_with_arrow_keys(home: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home.parent),
        "HERMES_HOME": str(home),
        "TERM": "xterm-256color",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    term = Terminal(["setup"], env, home.parent)
    try:
        term.expect("Which model provider?")
        term.expect(r">\s+6\. Local")  # no key anywhere: local is preselected
        term.send("\x1b[A")  # up: custom
        term.expect(r">\s+5\. Custom")
        term.send("\r")
        term.expect("Server URL")
        term.send("\x15http://127.0.0.1:9/v1\r")  # Ctrl-U clears the suggested URL
        term.expect("Model: ")
        term.send("\x15my-model\r")
        term.expect("CUSTOM_API_KEY")
        term.send("hunter2\r")
        term.expect(r"Test custom · my-model now \(one tiny request, no tokens used\)\? \(y/n\)")
        term.send("y")
        term.expect(r"✗ could not connect to the model server at http://127.0.0.1:9/v1")
        term.expect(r"Save custom · my-model\? \(y/n\)")
        term.send("y")
        term.expect("Try it: hermes -z")
        assert term.wait() == 0
        assert "hunter2" not in term.screen  # the key is typed hidden
    finally:
        term.close()
    settings = load_settings(home / "config.yaml").model
    assert (settings.provider, settings.model) == ("custom", "my-model")
    assert settings.base_url == "http://127.0.0.1:9/v1"
    assert read_env_file(home / ".env")["CUSTOM_API_KEY"] == "hunter2"


# ----- doctor ------------------------------------------------------------------------


def custom_home(home: Path, base_url: str = "http://127.0.0.1:9/v1") -> Path:
    ensure_home(home)
    (home / "config.yaml").write_text(f"model:\n  provider: custom\n  base_url: {base_url}\n")
    return home


def test_doctor_on_a_healthy_home(home: Path, model: ScriptedModel) -> None:
    custom_home(home, model.base_url)
    model.reply("hello")
    assert hermes(home, "-z", "hi").returncode == 0  # creates state.db
    result = hermes(home, "doctor")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert f"✓ home {home} (mode 0700)" in lines
    assert "✓ config.yaml valid" in lines
    assert f"✓ provider: custom · default at {model.base_url}" in lines
    assert f"✓ state.db intact, schema up to date ({len(MIGRATIONS)} migrations)" in lines
    assert not any(line.startswith("✗") for line in lines)


def test_doctor_flags_open_permissions(home: Path) -> None:
    custom_home(home)
    (home / ".env").chmod(0o644)
    home.chmod(0o755)
    result = hermes(home, "doctor", "--offline")  # custom_home's URL has no server
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"✗ .env is readable by others (mode 0644): run chmod 600 {home / '.env'}" in lines
    assert f"✗ home {home} is open to other users (mode 0755): run chmod 700 {home}" in lines
    assert lines[-1].startswith("2 problem(s) to fix")


def test_doctor_shows_the_config_error(home: Path) -> None:
    custom_home(home)
    (home / "config.yaml").write_text("model:\n  provider: openrouter\n  modle: x\n")
    result = hermes(home, "doctor")
    assert result.returncode == 1
    line = next(x for x in result.stdout.splitlines() if "config.yaml" in x)
    assert line.startswith(f"✗ config.yaml is invalid: {home / 'config.yaml'} line 3:")
    assert "model.modle" in line


def test_doctor_checks_the_provider_key(home: Path) -> None:
    ensure_home(home)
    (home / "config.yaml").write_text("model:\n  provider: openrouter\n")
    missing = hermes(home, "doctor")
    assert missing.returncode == 1
    expected = (
        "✗ no API key for openrouter (OPENROUTER_API_KEY is not set): add OPENROUTER_API_KEY="
    )
    assert expected in missing.stdout
    (home / ".env").write_text("OPENROUTER_API_KEY=sk-test\n")
    (home / ".env").chmod(0o600)
    present = hermes(home, "doctor", "--offline")  # no request to openrouter.ai
    assert present.returncode == 0, present.stdout
    assert "✓ OPENROUTER_API_KEY is set" in present.stdout.splitlines()
    assert "sk-test" not in present.stdout


def test_doctor_finds_a_damaged_database(home: Path) -> None:
    custom_home(home)
    (home / "state.db").write_bytes(b"this is not a database" * 100)
    result = hermes(home, "doctor")
    assert result.returncode == 1
    assert "✗ state.db is not a usable database" in result.stdout


def test_doctor_reports_pending_migrations_as_a_warning(home: Path) -> None:
    custom_home(home)
    with sqlite3.connect(home / "state.db") as db:
        db.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    result = hermes(home, "doctor", "--offline")  # custom_home's URL has no server
    assert result.returncode == 0, result.stdout
    assert f"! state.db lacks {len(MIGRATIONS)} schema update(s)" in result.stdout


def test_doctor_ripgrep_is_optional(home: Path, tmp_path: Path) -> None:
    custom_home(home)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    without = hermes(home, "doctor", "--offline", env={"PATH": str(bin_dir)})
    assert without.returncode == 0
    assert "! rg (ripgrep) not found" in without.stdout
    (bin_dir / "rg").write_text("#!/bin/sh\n")
    (bin_dir / "rg").chmod(0o755)
    with_rg = hermes(home, "doctor", env={"PATH": str(bin_dir)})
    assert f"✓ rg found ({bin_dir / 'rg'})" in with_rg.stdout


def test_doctor_does_not_create_a_missing_home(home: Path) -> None:
    result = hermes(home, "doctor")
    assert result.returncode == 1
    assert f"✗ home {home} does not exist: run `hermes setup` to create it" in result.stdout
    assert not home.exists()


def test_doctor_checks_a_profiles_permissions(home: Path) -> None:
    profile = home / "profiles" / "coder"
    custom_home(home)
    custom_home(profile)
    (profile / ".env").chmod(0o640)
    profile.chmod(0o750)
    result = hermes(home, "-p", "coder", "doctor")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"Hermes doctor · profile coder · {profile}"
    assert f"✗ .env is readable by others (mode 0640): run chmod 600 {profile / '.env'}" in lines
    assert f"✗ home {profile} is open to other users (mode 0750): run chmod 700 {profile}" in lines
    assert hermes(home, "doctor", "--offline").returncode == 0  # the default profile is fine


def test_doctor_names_the_profile_sharing_a_bot_token(home: Path) -> None:
    token = "123456:SECRET-bot-token"
    coder = home / "profiles" / "coder"
    for path in (home, coder, home / "profiles" / "writer"):
        custom_home(path)
    for path in (home, coder):
        (path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={token}\n")
    (home / "profiles" / "writer" / ".env").write_text("TELEGRAM_BOT_TOKEN=999:own\n")
    fix = "give each profile its own bot: change TELEGRAM_BOT_TOKEN in one of the two .env files"
    result = hermes(home, "doctor", "--offline")
    assert result.returncode == 0, result.stdout  # a warning: only running both fails
    assert (
        '! the Telegram bot token (TELEGRAM_BOT_TOKEN) is also used by profile "coder" '
        f"({coder / '.env'}): only one of their gateways can run: {fix}"
    ) in result.stdout.splitlines()
    other_side = hermes(home, "-p", "coder", "doctor").stdout
    assert 'is also used by profile "default"' in other_side
    assert "writer" not in result.stdout + other_side
    assert token not in result.stdout + other_side
    alone = hermes(home, "-p", "writer", "doctor").stdout
    assert "✓ bot tokens not shared with another profile" in alone.splitlines()


def test_doctor_counts_pending_approvals(home: Path) -> None:
    from hermes.store import approval_ops
    from hermes.store.db import open_db

    profile = home / "profiles" / "coder"
    custom_home(home)
    custom_home(profile)
    conn = open_db(profile / "state.db")
    for n in range(3):
        new = approval_ops.NewApproval(
            "high",
            "deletes files",
            "terminal",
            f"rm -r dir{n}",
            f"call{n}",
            "s1",
            "inbound:1",
            "telegram:42",
        )
        approval_ops.request(conn, new, 1000.0 + n)
    approval_ops.decide(conn, approval_ops.listing(conn)[0].id, True, "me", 2000.0)
    conn.close()
    lines = hermes(home, "-p", "coder", "doctor").stdout.splitlines()
    assert (
        "! 2 approval(s) waiting for your decision (their work is paused): see them with "
        "`hermes -p coder approvals list`, then approve or deny each"
    ) in lines
    open_db(home / "state.db").close()
    assert "✓ no approvals waiting" in hermes(home, "doctor").stdout.splitlines()


def test_doctor_reports_the_gateway_service(home: Path, tmp_path: Path) -> None:
    custom_home(home)
    custom_home(home / "profiles" / "coder")
    config = tmp_path / "xdg"
    unit = config / "systemd" / "user" / "hermes-gateway-coder.service"
    env = {"XDG_CONFIG_HOME": str(config)}
    before = hermes(home, "-p", "coder", "doctor", env=env).stdout.splitlines()
    assert "✓ gateway stopped (start it: hermes -p coder gateway run)" in before
    assert "✓ service not installed (hermes -p coder gateway install starts it at login)" in before
    unit.parent.mkdir(parents=True)
    unit.write_text("[Unit]\n")
    after = hermes(home, "-p", "coder", "doctor", env=env).stdout.splitlines()
    assert f"✓ service installed ({unit})" in after
    default = hermes(home, "doctor", env=env).stdout.splitlines()
    assert "✓ gateway stopped (start it: hermes gateway run)" in default
    assert "✓ service not installed (hermes gateway install starts it at login)" in default
