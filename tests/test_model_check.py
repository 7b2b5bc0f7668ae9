"""Telling the user what model answers and whether it can work (issue 13 items 1, 6, 9):
the offline demo model's notice wherever it shows, `hermes doctor`'s one live
request, `hermes setup --test`, `/model` refusing a provider without its key,
and a refused loopback connection failing at once. Real subprocesses, real
loopback HTTP servers (the scripted model, or one answering a fixed status)."""

from __future__ import annotations

import socket
import subprocess
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from hermes.config import load_settings
from hermes.home import ensure_home
from hermes.providers.describe import CUT_MARKER, OFFLINE_NOTICE, mark_cut, offline_notice
from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.fakes.status_server import StatusServer
from tests.gateway_helpers import GatewayProcess, make_home

OFFLINE = "offline demo model: chat only, no tools; run `hermes setup` for a real model"


# the real command with no provider key in its environment
hermes = partial(run_hermes, clean=True)


def write_config(home: Path, text: str) -> Path:
    ensure_home(home)
    (home / "config.yaml").write_text(text)
    return home


def doctor_home(path: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> Path:
    ensure_home(path)  # private (0700), as doctor wants it
    return make_home(path, config=config, env=env)


def closed_port() -> int:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ----- the notice itself ----------------------------------------------------------


def test_the_notice_names_only_the_offline_model() -> None:
    assert offline_notice("local") == OFFLINE == OFFLINE_NOTICE
    for provider in ("openrouter", "openai", "anthropic", "nous", "custom"):
        assert offline_notice(provider) is None


def test_an_answer_cut_at_the_limit_is_marked_once() -> None:
    assert mark_cut("The list goes on", "length") == f"The list goes on {CUT_MARKER}"
    assert mark_cut("done.", "stop") == "done."
    assert mark_cut("", "length") == CUT_MARKER
    marked = mark_cut("a\n", "length")
    assert marked == f"a\n{CUT_MARKER}" and mark_cut(marked, "length") == marked


# ----- item 1: where a user meets the offline model --------------------------------


def test_doctor_warns_that_the_offline_model_has_no_tools(tmp_path: Path) -> None:
    home = write_config(tmp_path / "home", "{}\n")
    result = hermes(home, "doctor")
    lines = result.stdout.splitlines()
    notice = "! provider: local · SmolLM2-135M-Instruct (offline demo model: chat only, no tools)"
    assert f"{notice}: run `hermes setup` for a real model" in lines, result.stdout
    assert not any(line.startswith("✓ provider: local") for line in lines)


def test_doctor_says_why_a_configured_model_is_not_used(tmp_path: Path) -> None:
    home = write_config(tmp_path / "home", "model:\n  model: openai/gpt-5\n")
    result = hermes(home, "doctor")
    line = next(x for x in result.stdout.splitlines() if "provider: local" in x)
    assert line.startswith("! provider: local · SmolLM2-135M-Instruct: model.model is openai/gpt-5")
    assert "no provider key is set" in line
    assert f"OPENROUTER_API_KEY=...) to {home / '.env'}" in line


def test_chat_banner_and_status_name_the_offline_model(tmp_path: Path) -> None:
    home = write_config(tmp_path / "home", "{}\n")
    result = hermes(home, "chat", stdin="/status\n")  # no turn: the model is never loaded
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "local · SmolLM2-135M-Instruct" in lines[0]
    assert lines[1] == f"Note: {OFFLINE}"
    assert f"Model: local · SmolLM2-135M-Instruct ({OFFLINE})" in lines


def test_chat_banner_of_a_real_provider_has_no_notice(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "home", model)
    result = hermes(home, "chat", stdin="/status\n")
    assert result.returncode == 0, result.stderr
    assert "offline demo model" not in result.stdout
    assert "Model: custom · scripted-model at" in result.stdout


async def test_gateway_start_names_the_offline_model(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", config={"server": {"port": 0}})
    gw = await GatewayProcess(home, env={"HOME": str(tmp_path)}).ready()
    assert await gw.stop() == 0
    out = gw.output()
    assert f"Model: local · SmolLM2-135M-Instruct ({OFFLINE})" in out.splitlines()
    assert f"model: local · SmolLM2-135M-Instruct ({OFFLINE})" in gw.log()


async def test_gateway_start_names_a_real_model_plainly(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, {"server": {"port": 0}})
    gw = await GatewayProcess(home).ready()
    assert await gw.stop() == 0
    out = gw.output()
    assert f"Model: custom · scripted-model at {model.base_url}" in out.splitlines()
    assert "offline demo model" not in out


# ----- item 9: /model checks the key when switching ---------------------------------


def test_model_switch_without_the_key_is_refused(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "home", model)
    result = hermes(home, "chat", stdin="/model openai:gpt-4o\n/status\n")
    assert result.returncode == 0, result.stderr
    refused = (
        "Model not switched: no API key for openai: "
        f"set OPENAI_API_KEY in {home}/.env or run `hermes setup`."
    )
    assert refused in result.stdout.splitlines()
    assert "Model: custom · scripted-model at" in result.stdout  # still the old one
    assert model.requests == []


def test_model_switch_with_the_key_goes_ahead(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "home", model, env={"OPENAI_API_KEY": "sk-test"})
    result = hermes(home, "chat", stdin="/model openai:gpt-4o\n")
    assert "Model switched to openai · gpt-4o." in result.stdout, result.stdout
    local = hermes(home, "chat", stdin="/model local\n")
    assert f"Model switched to local · SmolLM2-135M-Instruct ({OFFLINE})." in local.stdout


# ----- item 6: doctor and setup test the model --------------------------------------


def doctor_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [x for x in result.stdout.splitlines() if "model check:" in x]
    assert len(lines) == 1, result.stdout
    return lines[0]


def test_doctor_asks_a_working_server(tmp_path: Path, model: ScriptedModel) -> None:
    home = doctor_home(tmp_path / "home", {"model": model.config()})
    result = hermes(home, "doctor")
    assert result.returncode == 0, result.stdout
    assert doctor_line(result) == (
        f"✓ model check: the model server at {model.base_url} answers; "
        "model scripted-model is available"
    )
    assert model.requests == []  # the model list only: no tokens spent


def test_doctor_reports_a_refused_connection_fast(tmp_path: Path) -> None:
    port = closed_port()
    home = write_config(
        tmp_path / "home", f"model:\n  provider: custom\n  base_url: http://127.0.0.1:{port}/v1\n"
    )
    started = time.monotonic()
    result = hermes(home, "doctor")
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    line = doctor_line(result)
    assert line.startswith(
        f"✗ model check: could not connect to the model server at http://127.0.0.1:{port}/v1"
    )
    assert line.endswith(
        "start the server, or set its URL: `hermes config set model.base_url URL` "
        "(or run `hermes setup`)"
    )


def test_doctor_reports_a_rejected_key(tmp_path: Path) -> None:
    with StatusServer(401, {"error": {"message": "Incorrect API key provided"}}) as server:
        home = doctor_home(
            tmp_path / "home",
            config={"model": {"provider": "openai", "base_url": server.base_url}},
            env={"OPENAI_API_KEY": "sk-wrong"},
        )
        result = hermes(home, "doctor")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith("1 problem(s) to fix")
    assert doctor_line(result) == (
        "✗ model check: the openai API rejected the key in OPENAI_API_KEY "
        "(401: Incorrect API key provided): "
        f"put the right key in {home / '.env'} as OPENAI_API_KEY=... or run `hermes setup`"
    )
    assert server.paths == ["/v1/models"]
    assert server.headers[0]["authorization"] == "Bearer sk-wrong"


def test_doctor_reports_a_wrong_url(tmp_path: Path) -> None:
    with StatusServer(404) as server:
        home = write_config(
            tmp_path / "home", f"model:\n  provider: custom\n  base_url: {server.base_url}\n"
        )
        result = hermes(home, "doctor")
    assert result.returncode == 1
    line = doctor_line(result)
    assert line.startswith(
        f"✗ model check: no model API at {server.base_url} (GET /v1/models: 404)"
    )
    assert "usually ends in /v1" in line


def test_doctor_reports_an_unknown_model(tmp_path: Path, model: ScriptedModel) -> None:
    home = doctor_home(
        tmp_path / "home",
        config={"model": {"provider": "openai", "base_url": model.base_url, "model": "gpt-nope"}},
        env={"OPENAI_API_KEY": "sk-test"},
    )
    result = hermes(home, "doctor")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith("1 problem(s) to fix")
    assert doctor_line(result) == (
        "✗ model check: the openai API does not list model 'gpt-nope' "
        "(it offers scripted-model): "
        "choose one it offers: `hermes config set model.model NAME` (or run `hermes setup`)"
    )


def test_doctor_offline_makes_no_request(tmp_path: Path) -> None:
    with StatusServer(401) as server:
        home = doctor_home(
            tmp_path / "home",
            config={"model": {"provider": "openai", "base_url": server.base_url}},
            env={"OPENAI_API_KEY": "sk-wrong"},
        )
        result = hermes(home, "doctor", "--offline")
    assert result.returncode == 0, result.stdout
    assert "model check" not in result.stdout
    assert server.paths == []


def test_setup_test_saves_nothing_when_the_server_is_down(tmp_path: Path) -> None:
    home = tmp_path / "home"
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = hermes(home, "setup", "--provider", "custom", "--base-url", url, "--test", stdin="")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"hermes: could not connect to the model server at {url}")
    assert "nothing was saved (leave out --test to save it anyway)" in result.stderr
    assert load_settings(home / "config.yaml").model.provider is None


def test_setup_test_passes_then_saves(tmp_path: Path, model: ScriptedModel) -> None:
    home = tmp_path / "home"
    args = ["--provider", "custom", "--base-url", model.base_url, "--model", "scripted-model"]
    result = hermes(home, "setup", *args, "--test", stdin="")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"✓ the model server at {model.base_url} answers; model scripted-model is available"
    )
    assert lines[1].startswith("✓ model: custom · scripted-model")
    assert load_settings(home / "config.yaml").model.base_url == model.base_url


def test_setup_test_checks_a_new_key(tmp_path: Path) -> None:
    with StatusServer(401, {"error": {"message": "bad key"}}) as server:
        home = tmp_path / "home"
        result = hermes(
            home,
            "setup",
            "--provider",
            "openai",
            "--base-url",
            server.base_url,
            "--test",
            stdin="sk-typo\n",
        )
    assert result.returncode == 1
    assert "rejected the key in OPENAI_API_KEY (401: bad key)" in result.stderr
    assert server.headers[0]["authorization"] == "Bearer sk-typo"
    assert not (home / ".env").exists() or "sk-typo" not in (home / ".env").read_text()


# ----- item 6: a refused loopback connection is not retried --------------------------


def test_a_refused_loopback_connection_fails_at_once(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    home = write_config(tmp_path / "home", f"model:\n  provider: custom\n  base_url: {url}\n")
    started = time.monotonic()
    result = hermes(home, "-z", "hello")  # the default 4 retries would take ~15 s
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert result.stderr.startswith(f"hermes: could not connect to the model server at {url}")
    assert "gave up after" not in result.stderr
    assert elapsed < 5, f"took {elapsed:.1f}s"


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://127.0.0.53/v1", True),
        ("http://192.168.1.5:8000/v1", False),
        ("https://api.openai.com/v1", False),
        ("not a url", False),
    ],
)
def test_loopback_urls(url: str, loopback: bool) -> None:
    from hermes.providers.http import is_loopback

    assert is_loopback(url) is loopback
