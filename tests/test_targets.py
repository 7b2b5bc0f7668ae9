"""One check of a delivery target, everywhere: an unknown platform is refused
with the known ones, a known one that is not configured with how to configure
it (`hermes send`, `hermes cron add/edit --deliver`); a web chat that does not
exist is refused by a real gateway process instead of "sent"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hermes import platforms
from hermes.cli import main
from hermes.envfile import read_env_file
from hermes.testing import ScriptedModel
from tests.gateway_helpers import GatewayProcess, make_home
from tests.tools_helpers import wait_until


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_home(tmp_path / "home")
    monkeypatch.setenv("HERMES_HOME", str(path))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "argv",
    [
        ("send", "tg:1", "hi"),
        ("send", "irc:1", "hi"),
        ("cron", "add", "0 8 * * *", "x", "--deliver", "tg:1"),
        ("cron", "add", "0 8 * * *", "x", "--deliver", "irc:123"),
    ],
)
def test_an_unknown_platform_is_refused_with_the_known_ones(
    home: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    platform = next(a for a in argv if ":" in a and a[0].isalpha()).split(":")[0]
    assert f"unknown platform {platform!r}" in err
    known = ", ".join(sorted(p.name for p in platforms.every()))  # the registry's
    assert "telegram" in known and "web" in known
    assert err.rstrip().endswith(f"known platforms: {known}")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [("send", "telegram:1", "hi"), ("cron", "add", "0 8 * * *", "x", "--deliver", "telegram:1")],
)
def test_a_platform_that_is_not_configured_says_how_to_configure_it(
    home: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert "telegram is not configured: set TELEGRAM_BOT_TOKEN (a bot token from @BotFather)" in (
        err
    )
    assert f"in {home / '.env'}" in err and err.count("\n") == 1


def test_editing_a_target_is_checked_the_same_way(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "cron", "add", "0 8 * * *", "x", "--deliver", "none")[0] == 0
    from tests.test_cron_cli import the_job

    job = the_job(home)
    code, _, err = run(capsys, "cron", "edit", job.id, "--deliver", "irc:C1")
    assert code == 1 and "unknown platform 'irc'" in err
    assert the_job(home).deliver == "none"


async def test_send_to_a_web_chat_that_does_not_exist_fails(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, config={"server": {"port": 0}})
    gateway = await GatewayProcess(home).ready()
    env = {**os.environ, "HERMES_HOME": str(home)}

    def send(target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hermes", "send", target, "hello"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    try:
        missing = send("web:nosuchchat")
        assert missing.returncode == 1 and missing.stdout == ""
        assert "no web chat 'nosuchchat'" in missing.stderr
        assert missing.stderr.count("\n") == 1

        # a web chat exists once a message was sent in it: then `send` reaches it
        model.reply("hi!")
        key = read_env_file(home / ".env")["HERMES_API_KEY"]
        async with httpx.AsyncClient(
            base_url=gateway.url, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            r = await http.post("/api/web/send", json={"chat": "kitchen", "text": "hello"})
            assert r.status_code < 300, r.text
            await wait_until(lambda: bool(model.requests))
            chats = (await http.get("/api/hermes/chats")).json()["chats"]
        assert [(c["platform"], c["chat"]) for c in chats] == [("web", "kitchen")]
        sent = send("web:kitchen")
        assert (sent.returncode, sent.stdout) == (0, "sent to web:kitchen\n"), sent.stderr
    finally:
        await gateway.stop()
