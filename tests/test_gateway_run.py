"""`hermes gateway run` as a real process: health, one gateway per home,
SIGTERM, the API key, `hermes send` with and without a running gateway."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest

from hermes.envfile import read_env_file
from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.gateway_helpers import GatewayProcess, make_home
from tests.pty_driver import Terminal


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel) -> Path:
    return make_home(tmp_path / "home", model, {"server": {"port": 0}})


async def test_gateway_serves_health_refuses_a_second_one_and_stops_on_sigterm(
    home: Path,
) -> None:
    gw = await GatewayProcess(home).ready()
    response = httpx.get(f"{gw.url}/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert (home / "gateway.pid").read_text().strip() == str(gw.proc.pid)

    second = run_hermes(home, "gateway", "run")
    assert second.returncode == 1
    assert f"already running for {home} (pid {gw.proc.pid})" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1

    assert await gw.stop(signal.SIGTERM) == 0
    out = gw.output()
    assert "Web chat: http://127.0.0.1:" in out
    assert not (home / "gateway.json").exists()


async def test_first_start_generates_the_api_key_into_env(home: Path) -> None:
    assert "HERMES_API_KEY" not in read_env_file(home / ".env")
    gw = await GatewayProcess(home).ready()
    key = read_env_file(home / ".env")["HERMES_API_KEY"]
    assert (home / ".env").stat().st_mode & 0o777 == 0o600
    assert httpx.get(f"{gw.url}/v1/models").status_code == 401
    ok = httpx.get(f"{gw.url}/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200
    await gw.stop()
    out = gw.output()  # what a service's journal would get: stdout is not a terminal
    assert key not in out
    assert f"Generated HERMES_API_KEY into {home / '.env'}" in out
    for log in (home / "logs").glob("*"):
        assert key not in log.read_text(errors="replace"), log.name


def test_first_start_in_a_terminal_shows_the_key_once(home: Path) -> None:
    import os

    terminal = Terminal(["gateway", "run"], {**os.environ, "HERMES_HOME": str(home)}, home)
    try:
        shown = terminal.expect(r"Generated HERMES_API_KEY \(log in with it\): (hk_\S+)", 60)
        assert shown[1] == read_env_file(home / ".env")["HERMES_API_KEY"]
        terminal.expect("Stop with Ctrl")
        terminal.proc.send_signal(signal.SIGTERM)
        assert terminal.wait(30) == 0
    finally:
        terminal.close()


def test_a_reachable_bind_without_a_key_is_refused(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "h", model, {"server": {"port": 0, "host": "0.0.0.0"}})
    result = run_hermes(home, "gateway", "run")
    assert result.returncode == 1
    assert "HERMES_API_KEY is not set" in result.stderr


async def test_a_bind_to_every_address_says_so(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "h", model, {"server": {"port": 0, "host": "0.0.0.0"}})
    with (home / ".env").open("a") as env:
        env.write("HERMES_API_KEY=k\n")
    gw = await GatewayProcess(home).ready()
    assert await gw.stop(signal.SIGTERM) == 0
    port = gw.url.rsplit(":", 1)[1]
    assert f"Web chat: http://127.0.0.1:{port} (listening on all addresses, port {port})" in (
        gw.output()
    )


async def test_send_goes_through_the_running_gateway(home: Path) -> None:
    # (a message reaching a web chat: tests/test_targets.py)
    gw = await GatewayProcess(home).ready()
    result = run_hermes(home, "send", "web:notes", "remember the milk")
    assert result.returncode == 1 and "no web chat 'notes'" in result.stderr  # the gateway said
    bad = run_hermes(home, "send", "nowhere", "x")
    assert bad.returncode == 1 and "PLATFORM:CHAT" in bad.stderr
    await gw.stop()


def test_send_without_a_gateway_names_what_is_missing(home: Path) -> None:
    result = run_hermes(home, "send", "telegram:123", "hello")
    assert result.returncode == 1
    assert "telegram is not configured: set TELEGRAM_BOT_TOKEN" in result.stderr


def test_a_port_in_use_is_one_line_on_stderr_and_in_the_error_log(
    tmp_path: Path, model: ScriptedModel
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        home = make_home(tmp_path / "home", model, {"server": {"port": port}})
        result = run_hermes(home, "gateway", "run")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"hermes: cannot listen on 127.0.0.1:{port} (")
    reason = result.stderr.removeprefix("hermes: ").strip()
    errors = run_hermes(home, "logs", "--file", "error", "--json").stdout.splitlines()
    assert [json.loads(line)["msg"] for line in errors] == [f"not starting: {reason}"]
