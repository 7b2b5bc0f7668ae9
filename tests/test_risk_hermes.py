"""Hermes' own control plane (issue 12, item 2): the agent cannot decide its own
approvals or switch the gate off, through the `hermes` CLI, the HTTP API with
its key, or the MCP tool that decides approvals."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

import pytest

from hermes.risk import Where, classify_command

HOME = Path("/home/alice")
WHERE = Where(
    cwd=HOME / "workspace", home=HOME, hermes_root=HOME / ".hermes", hermes_home=HOME / ".hermes"
)
API = "http://127.0.0.1:8420/api/hermes"


def risk(command: str, where: Where = WHERE) -> str:
    return classify_command(command, where).risk


@pytest.mark.parametrize(
    ("command", "level"),
    [
        ("hermes approvals approve ab12", "hard"),
        ("hermes approvals deny ab12", "hard"),
        ("hermes -p career approvals approve ab12", "hard"),
        ("hermes --profile=career approvals approve ab12", "hard"),
        ("python3 -m hermes approvals approve ab12", "hard"),
        ("uv run hermes approvals approve ab12", "hard"),
        ("sudo -u alice hermes approvals approve ab12", "hard"),
        ("bash -c 'hermes approvals approve ab12'", "hard"),
        ("hermes config set approvals.mode off", "hard"),
        ("hermes config set approvals.deciders '[telegram:1]'", "hard"),
        ("hermes config set terminal.env_passthrough '[OPENAI_API_KEY]'", "hard"),
        ("hermes config set model.model gpt-5", "medium"),
        ("hermes pairing approve telegram ABC123", "high"),
        ("hermes profile delete career --yes", "high"),
        ("hermes profile rename career work", "high"),
        ("hermes gateway stop", "medium"),
        ("hermes gateway restart", "medium"),
        ("hermes gateway uninstall", "medium"),
        ("hermes approvals list", "none"),
        ("hermes approvals classify 'rm -rf /'", "none"),
        ("hermes status", "none"),
        ("hermes tasks list", "none"),
        ("hermes sessions list", "none"),
        ("hermes config get approvals.mode", "none"),
        ("hermes config show", "none"),
        ("hermes doctor", "none"),
        ("hermes version", "none"),
        ("hermes logs -n 50", "none"),
        ("echo 'hermes approvals approve ab12'", "none"),
        ("python3 -m hermes.cli approvals approve ab12", "hard"),
        ("python3 -c \"from hermes.cli import main; main(['approvals', 'deny', 'x'])\"", "hard"),
        ("python3 -c 'import hermes; print(hermes.__version__)'", "none"),
    ],
)
def test_the_hermes_cli(command: str, level: str) -> None:
    assert risk(command) == level, classify_command(command, WHERE)


@pytest.mark.parametrize(
    ("command", "level"),
    [
        (f'curl -X POST {API}/approvals/ab12 -d \'{{"decision":"approve"}}\'', "hard"),
        (f'curl -sS --json \'{{"decision":"approve"}}\' {API}/approvals/ab12', "hard"),
        (f'curl -H "Authorization: Bearer $HERMES_API_KEY" -XPOST {API}/approvals/x', "hard"),
        (f"wget -qO- --post-data='decision=approve' {API}/approvals/ab12", "hard"),
        (f"http POST {API}/approvals/ab12 decision=approve", "hard"),
        (f"xh {API}/approvals/ab12 decision=approve", "hard"),
        (
            f"python3 -c \"import requests; requests.post('{API}/approvals/x', json={{}})\"",
            "hard",
        ),
        (f"node -e \"fetch('{API}/approvals/x', {{method: 'POST'}})\"", "hard"),
        (
            "curl -X POST localhost:8420/mcp -H 'Authorization: Bearer '$HERMES_API_KEY"
            ' -d \'{"params": {"name": "hermes_decide"}}\'',
            "hard",
        ),
        ('echo \'{"params":{"name":"hermes_decide"}}\' | hermes mcp serve --stdio', "hard"),
        (f'curl -X POST -H "Authorization: Bearer $HERMES_API_KEY" {API}/tasks/x/cancel', "high"),
        (f'curl -H "Authorization: Bearer ${{HERMES_API_KEY}}" -d x {API}/delegate', "high"),
        (f'curl -H "Authorization: Bearer $HERMES_API_KEY" {API}/approvals', "none"),
        (f"curl -s {API}/status", "none"),
    ],
)
def test_the_hermes_api(command: str, level: str) -> None:
    assert risk(command) == level, classify_command(command, WHERE)


@dataclass
class Profiles:
    """A disk where `~/.hermes/profiles/career` exists (its `career` command is on the PATH)."""

    def realpath(self, path: str) -> str:
        return posixpath.normpath(path)

    def exists(self, path: str) -> bool:
        return path == "/home/alice/.hermes/profiles/career"


def test_a_profile_command_is_the_hermes_cli() -> None:
    where = Where(WHERE.cwd, WHERE.home, WHERE.hermes_root, WHERE.hermes_home, Profiles())
    assert risk("career approvals approve ab12", where) == "hard"
    assert risk("other approvals approve ab12", where) == "none"
    assert risk("career status", where) == "none"
