"""One bot, one gateway: two profiles configured with the same bot token cannot
both run their gateway; the second is refused with a line naming the first
profile (never the token), and starts once the first has stopped."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hermes.gateway.tokens import TokenConflict, claim_tokens, lock_path, shared_tokens
from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import STARTED, GatewayProcess, make_home

TOKEN = "123456:TEST-shared-token"


def test_a_claimed_token_is_refused_to_another_profile(tmp_path: Path) -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "SLACK_BOT_TOKEN": "xoxb-1"}
    with claim_tokens(tmp_path, "coder", env):
        writer = {"TELEGRAM_BOT_TOKEN": f" {TOKEN} "}
        with pytest.raises(TokenConflict) as refused, claim_tokens(tmp_path, "writer", writer):
            pass
        message = str(refused.value)
        assert message == (
            "the Telegram bot token (TELEGRAM_BOT_TOKEN) is already used by the gateway of "
            f'profile "coder" (pid {os.getpid()}); give each profile its own bot'
        )
        with claim_tokens(tmp_path, "writer", {"TELEGRAM_BOT_TOKEN": "654321:other"}):
            pass  # another bot: no conflict
        slack = pytest.raises(TokenConflict, match=r"the Slack bot token \(SLACK_BOT_TOKEN\)")
        with slack, claim_tokens(tmp_path, "writer", {"SLACK_BOT_TOKEN": "xoxb-1"}):
            pass
    with claim_tokens(tmp_path, "writer", env):  # released when the first stopped
        pass
    files = list((tmp_path / ".tokens").iterdir())
    assert lock_path(tmp_path, TOKEN) in files
    assert not any(TOKEN in f.name or TOKEN in f.read_text() for f in files)


def test_one_value_in_two_variables_is_claimed_once(tmp_path: Path) -> None:
    """Claimed twice, the gateway would refuse itself."""
    with claim_tokens(tmp_path, "coder", {"SLACK_BOT_TOKEN": "x", "SLACK_APP_TOKEN": "x"}):
        pass


def test_shared_tokens_finds_other_profiles_env_files(tmp_path: Path) -> None:
    coder = tmp_path / "profiles" / "coder"
    writer = tmp_path / "profiles" / "writer"
    for home, token in ((tmp_path, TOKEN), (coder, TOKEN), (writer, "999:own")):
        make_home(home, env={"TELEGRAM_BOT_TOKEN": token})
    (tmp_path / "profiles" / "broken").mkdir()
    (tmp_path / "profiles" / "broken" / ".env").write_text("not a line\n")
    found = shared_tokens(tmp_path, coder, {"TELEGRAM_BOT_TOKEN": TOKEN})
    assert [(c.var, name, path) for c, name, path in found] == [
        ("TELEGRAM_BOT_TOKEN", "default", tmp_path / ".env")
    ]
    assert shared_tokens(tmp_path, writer, {"TELEGRAM_BOT_TOKEN": "999:own"}) == []


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as fake:
        yield fake


class ProfileGateway(GatewayProcess):
    """`hermes -p NAME gateway run` under the root ROOT (GatewayProcess runs the
    default profile of a home)."""

    def __init__(self, root: Path, name: str) -> None:
        self.home = root / "profiles" / name
        self.state_file = self.home / "gateway.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hermes", "-p", name, "gateway", "run"],
            env={**os.environ, "HERMES_HOME": str(root)},
            cwd=str(root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        STARTED.append(self)
        self.url = ""


def hermes(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_hermes(root, *args, cwd=root)


async def test_the_second_gateway_with_the_same_bot_is_refused(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    root = tmp_path / "hermes"
    config = {"server": {"port": 0}, "telegram": {"base_url": telegram.base_url}}
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "HERMES_API_KEY": "k"}
    make_home(root, model, config, env)
    make_home(root / "profiles" / "other", model, config, env)
    first = await GatewayProcess(root).ready()

    refused = hermes(root, "-p", "other", "gateway", "run")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr == (
        "hermes: the Telegram bot token (TELEGRAM_BOT_TOKEN) is already used by the gateway "
        f'of profile "default" (pid {first.proc.pid}); give each profile its own bot\n'
    )
    assert not (root / "profiles" / "other" / "gateway.json").exists()
    # the refusal is in the other profile's logs, for a service that nobody watches
    errors = hermes(root, "-p", "other", "logs", "--file", "error").stdout
    assert "not starting: the Telegram bot token (TELEGRAM_BOT_TOKEN) is already used" in errors
    assert TOKEN not in errors
    started = hermes(root, "logs", "--json").stdout
    assert '"msg": "gateway of profile default up' in started

    assert await first.stop() == 0
    second = await ProfileGateway(root, "other").ready()
    assert await second.stop() == 0
