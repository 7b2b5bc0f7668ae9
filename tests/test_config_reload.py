"""A running gateway reloads config.yaml and .env (SIGHUP, `hermes config set`,
`hermes gateway reload`): a real `hermes gateway run` process, the real CLI, the
scripted model seeing what each turn was sent with."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.gateway_helpers import GatewayProcess, make_home
from tests.tools_helpers import wait_until

KEY = "reload-test-key"


def log_count(home: Path, name: str, text: str) -> int:
    path = home / "logs" / name
    return path.read_text(errors="replace").count(text) if path.exists() else 0


async def ask(url: str, text: str, session: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {KEY}"}
    if session is not None:
        headers["X-Hermes-Session-Id"] = session
    body = {"model": "hermes", "messages": [{"role": "user", "content": text}]}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{url}/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


async def reloaded(gw: GatewayProcess, times: int) -> None:
    """Wait until the gateway logged its TIMES-th reload."""
    await wait_until(
        lambda: log_count(gw.home, "gateway.log", "config of profile default reloaded") >= times,
        20,
        gw.log,
    )


async def test_a_running_gateway_applies_config_and_env_changes_without_a_restart(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(
        tmp_path / "home",
        model,
        {"server": {"port": 0}, "model": {"api_key_env": "MODEL_KEY"}},
        {"HERMES_API_KEY": KEY, "MODEL_KEY": "first-key"},
    )
    gw = await GatewayProcess(home).ready()
    model.reply("one").reply("two").reply("three").reply("four")

    assert await ask(gw.url, "hello", session="chat-1") == "one"
    assert (model.requests[-1]["model"], model.requests[-1].api_key) == (
        "scripted-model",
        "first-key",
    )

    # a setting read per turn: `config set` has the gateway reload it at once
    result = run_hermes(home, "config", "set", "model.model", "renamed-model")
    assert result.returncode == 0, result.stderr
    assert f"the running gateway (pid {gw.proc.pid}) reloads it now" in result.stdout
    await reloaded(gw, 1)
    assert await ask(gw.url, "a new chat") == "two"
    assert model.requests[-1]["model"] == "renamed-model"

    # .env edited by hand, then `hermes gateway reload`: the open chat's next turn
    # runs with the new key (and keeps its session's model, as after a restart)
    env_file = home / ".env"
    env_file.write_text(env_file.read_text().replace("first-key", "second-key"))
    result = run_hermes(home, "gateway", "reload")
    assert result.returncode == 0, result.stderr
    assert f"gateway (pid {gw.proc.pid}) reloads config.yaml and .env now" in result.stdout
    await reloaded(gw, 2)
    assert await ask(gw.url, "again", session="chat-1") == "three"
    assert model.requests[-1].api_key == "second-key"
    assert model.requests[-1]["model"] == "scripted-model"
    assert [m["content"] for m in model.requests[-1].messages if m["role"] == "user"] == [
        "hello",
        "again",
    ]

    # a new cron time zone is applied at once (the scheduler runs in it)
    assert run_hermes(home, "config", "set", "cron.timezone", "Asia/Tokyo").returncode == 0
    await reloaded(gw, 3)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as client:
        status = await client.get(f"{gw.url}/api/hermes/status")
    assert status.json()["cron_timezone"] == "Asia/Tokyo"

    # a setting bound at start: said, not applied
    result = run_hermes(home, "config", "set", "gateway.max_concurrent_turns", "8")
    assert result.returncode == 0, result.stderr
    assert "restart the gateway to apply: `hermes gateway restart`" in result.stdout
    assert "reloads it now" not in result.stdout

    # a broken file (by hand) is refused by `gateway reload`, and a SIGHUP keeps the old
    # settings with one error line in the log
    config = home / "config.yaml"
    config.write_text(config.read_text().replace("Asia/Tokyo", "Mars/Olympus"))
    refused = run_hermes(home, "gateway", "reload")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert 'cron.timezone: unknown time zone "Mars/Olympus"' in refused.stderr
    gw.proc.send_signal(signal.SIGHUP)
    await wait_until(
        lambda: log_count(home, "gateway.error.log", "config not reloaded") == 1, 20, gw.log
    )
    errors = (home / "logs" / "gateway.error.log").read_text()
    assert 'unknown time zone \\"Mars/Olympus\\"' in errors
    assert await ask(gw.url, "still there?") == "four"
    assert model.requests[-1]["model"] == "renamed-model"
    assert gw.proc.poll() is None

    assert await gw.stop() == 0


def test_settings_bound_at_start_are_kept_and_named() -> None:
    import dataclasses

    from hermes.context import Profile
    from hermes.gateway.reload import effective, needs_restart
    from hermes.settings import ServerSettings, Settings

    assert needs_restart("server.port") and needs_restart("telegram.base_url")
    assert needs_restart("gateway") and needs_restart("gateway.profile_routes.telegram.5")
    assert not needs_restart("model.model") and not needs_restart("approvals.mode")
    assert not needs_restart("gateway.busy_input_mode") and not needs_restart("cron.timezone")

    running = Profile("default", Path("/h"), Settings(), {"HERMES_API_KEY": "a", "K": "1"})
    changed = dataclasses.replace(
        Settings(),
        server=ServerSettings(port=9999),
        model=dataclasses.replace(Settings().model, model="new-model"),
    )
    loaded = Profile("default", Path("/h"), changed, {"HERMES_API_KEY": "b", "K": "2"})
    applied, waiting = effective(running, loaded)
    assert waiting == ["server", "HERMES_API_KEY"]
    assert applied.settings.server.port == Settings().server.port  # what really listens
    assert applied.settings.model.model == "new-model"
    assert applied.env == {"HERMES_API_KEY": "a", "K": "2"}
