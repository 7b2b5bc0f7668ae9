"""`hermes sessions ...` run as a user would: a subprocess on a tmp home."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hermes.messages import Message, ToolCall, Usage
from hermes.store import Store
from tests.cli_helpers import run_hermes


def hermes(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_hermes(home, "sessions", *args, env={"HOME": str(home)}, clean=True, cwd=home)


@pytest.fixture
async def home(tmp_path: Path) -> Path:
    """A home with two sessions: 'Deploy' (with a tool call) and an untitled one."""
    async with await Store.open(tmp_path / "state.db") as store:
        deploy = await store.create_session(source="cli", model="local:smol", title="Deploy")
        await store.append_messages(
            deploy,
            [
                Message("user", "please deploy the website"),
                Message("assistant", "", [ToolCall("c1", "terminal", '{"command": "make"}')]),
                Message("tool", "built", tool_call_id="c1", name="terminal"),
                Message("assistant", "The website is deployed."),
            ],
        )
        await store.add_usage(deploy, Usage(120, 30, 10), "local:smol")
        other = await store.create_session(source="telegram")
        await store.append_messages(other, [Message("user", "buy oat milk")])
    (tmp_path / "ids.json").write_text(json.dumps({"deploy": deploy, "other": other}))
    return tmp_path


def ids(home: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads((home / "ids.json").read_text())
    return data


def test_list_shows_id_time_source_count_and_title(home: Path) -> None:
    result = hermes(home, "list")
    assert result.returncode == 0, result.stderr
    header, first, second = result.stdout.splitlines()
    assert header.split() == ["ID", "LAST", "ACTIVE", "SOURCE", "MSGS", "TITLE"]
    assert first.split()[0] == ids(home)["other"]  # most recently active first
    assert first.split()[3:] == ["telegram", "1", "(untitled)"]
    assert second.split()[0] == ids(home)["deploy"]
    assert second.split()[3:] == ["cli", "4", "Deploy"]
    assert len(hermes(home, "list", "--limit", "1").stdout.splitlines()) == 2


def test_show_prints_the_conversation(home: Path) -> None:
    result = hermes(home, "show", ids(home)["deploy"])
    assert result.returncode == 0, result.stderr
    assert "user: please deploy the website" in result.stdout
    assert '→ terminal({"command": "make"})' in result.stdout
    assert "assistant: The website is deployed." in result.stdout


def test_search_finds_past_messages(home: Path) -> None:
    result = hermes(home, "search", "deploying")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(ids(home)["deploy"] in line for line in lines)
    assert (
        "No past messages match 'nothing-like-this'."
        in hermes(home, "search", "nothing-like-this").stdout
    )


def test_search_takes_several_words_without_quotes(home: Path) -> None:
    unquoted = hermes(home, "search", "deploy", "website", "--limit", "5")
    assert unquoted.returncode == 0, unquoted.stderr
    assert unquoted.stdout == hermes(home, "search", "deploy website", "--limit", "5").stdout
    assert ids(home)["deploy"] in unquoted.stdout
    assert "oat milk" in hermes(home, "search", "oat", "milk").stdout


def test_export_prints_json_with_tool_calls_and_usage(home: Path) -> None:
    result = hermes(home, "export", ids(home)["deploy"])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["session"]["title"] == "Deploy" and data["session"]["model"] == "local:smol"
    assert [m["role"] for m in data["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert data["messages"][1]["tool_calls"] == [
        {"id": "c1", "name": "terminal", "arguments": '{"command": "make"}'}
    ]
    assert data["messages"][2]["tool_call_id"] == "c1"
    assert data["usage"] == {"prompt_tokens": 120, "completion_tokens": 30, "cached_tokens": 10}


def test_delete_removes_the_session(home: Path) -> None:
    deploy = ids(home)["deploy"]
    result = hermes(home, "delete", deploy)
    assert (result.returncode, result.stdout.strip()) == (0, f"deleted session {deploy}")
    assert deploy not in hermes(home, "list").stdout
    assert "No past messages match" in hermes(home, "search", "website").stdout


@pytest.mark.parametrize("action", ["show", "export", "delete"])
def test_unknown_id_is_one_line_error(home: Path, action: str) -> None:
    result = hermes(home, action, "20990101_000000_ffffff")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "hermes: no session '20990101_000000_ffffff' (see `hermes sessions list`)\n"
    )


def test_history_stays_readable_with_a_broken_config(home: Path) -> None:
    (home / "config.yaml").write_text("model: [\n")
    result = hermes(home, "search", "oat milk")
    assert result.returncode == 0, result.stderr
    assert "oat milk" in result.stdout


def test_empty_search_and_bad_limit_are_one_line_errors(home: Path) -> None:
    for args in (("search", "  "), ("list", "--limit", "0")):
        result = hermes(home, *args)
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("hermes: ")
