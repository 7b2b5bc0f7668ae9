"""`hermes -z PROMPT` end to end: a subprocess on a tmp home, against a scripted model."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes

# the real command with no provider keys in its environment
hermes = partial(run_hermes, clean=True, timeout=30)


def write_config(home: Path, base_url: str, *extra: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    lines = ["model:", "  provider: custom", f"  base_url: {base_url}", "  model: scripted-model"]
    (home / "config.yaml").write_text("\n".join([*lines, *extra]) + "\n")


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel) -> Path:
    home = tmp_path / "home"
    write_config(home, model.base_url)
    return home


def test_prints_only_the_answer(home: Path, model: ScriptedModel) -> None:
    model.reply("The answer is 42.")
    result = hermes(home, "-z", "What is six times seven?")
    assert (result.returncode, result.stdout, result.stderr) == (0, "The answer is 42.\n", "")
    assert model.last_user_text() == "What is six times seven?"


def test_tool_call_then_answer(home: Path, model: ScriptedModel) -> None:
    model.tool_call("terminal", {"command": "echo hermes-was-here"})
    model.reply("The command printed hermes-was-here.")
    result = hermes(home, "-z", "run echo for me")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "The command printed hermes-was-here.\n"  # no tool chatter
    assert len(model.requests) == 2
    tool_messages = [m for m in model.requests[1].messages if m["role"] == "tool"]
    assert len(tool_messages) == 1
    sent = [m for m in model.requests[1].messages if m["role"] == "assistant"][-1]
    assert tool_messages[0]["tool_call_id"] == sent["tool_calls"][0]["id"]  # our own id
    assert "hermes-was-here" in tool_messages[0]["content"]


def test_server_errors_are_retried(home: Path, model: ScriptedModel) -> None:
    model.fail(500, "boom", retry_after=0).fail(500, "boom again", retry_after=0)
    model.reply("third time lucky")
    result = hermes(home, "-z", "hello")
    assert (result.returncode, result.stdout) == (0, "third time lucky\n"), result.stderr
    assert len(model.requests) == 3


def test_unreachable_server_fails_fast_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = tmp_path / "home"
    write_config(home, f"http://127.0.0.1:{port}/v1", "  max_retries: 0")
    started = time.monotonic()
    result = hermes(home, "-z", "hello")
    assert time.monotonic() - started < 10
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("hermes: could not connect to")
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_config_names_file_and_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home, "http://127.0.0.1:9/v1", "  max_retries: lots")
    result = hermes(home, "-z", "hello")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert str(home / "config.yaml") in result.stderr
    assert "line 5" in result.stderr and "max_retries" in result.stderr


def test_profile_option_uses_that_profile(tmp_path: Path, model: ScriptedModel) -> None:
    home = tmp_path / "home"
    write_config(home / "profiles" / "work", model.base_url)
    model.reply("from the work profile")
    result = hermes(home, "-p", "work", "-z", "hi")
    assert (result.returncode, result.stdout) == (0, "from the work profile\n"), result.stderr
    assert (home / "profiles" / "work" / "state.db").is_file()
    assert not (home / "state.db").exists()


def test_turn_is_stored_as_a_oneshot_session(home: Path, model: ScriptedModel) -> None:
    model.reply("stored answer")
    assert hermes(home, "-z", "remember this turn").returncode == 0
    with sqlite3.connect(home / "state.db") as db:
        sessions = db.execute("SELECT id, source FROM sessions").fetchall()
        assert [s[1] for s in sessions] == ["oneshot"]
        rows = db.execute(
            "SELECT role, content FROM messages WHERE session_id = ? ORDER BY id", (sessions[0][0],)
        ).fetchall()
    assert rows == [("user", "remember this turn"), ("assistant", "stored answer")]


def test_an_answer_cut_at_the_token_limit_is_marked(home: Path, model: ScriptedModel) -> None:
    model.reply("The first three steps are", finish_reason="length")
    result = hermes(home, "-z", "list the steps")
    marked = "The first three steps are … [cut at the model's token limit]"
    assert (result.returncode, result.stdout, result.stderr) == (0, marked + "\n", "")
    with sqlite3.connect(home / "state.db") as db:
        stored = db.execute("SELECT content FROM messages WHERE role = 'assistant'").fetchall()
    assert stored == [(marked,)]  # the transcript shows it too


def test_clarify_gets_no_user(home: Path, model: ScriptedModel) -> None:
    model.tool_call("clarify", {"question": "Which colour?", "choices": ["red", "blue"]})
    model.reply("I picked blue myself.")
    result = hermes(home, "-z", "paint it")
    assert (result.returncode, result.stdout) == (0, "I picked blue myself.\n"), result.stderr
    answer = next(m for m in model.requests[1].messages if m["role"] == "tool")["content"]
    assert "nobody is available" in answer


def test_turn_limit_is_a_failure(home: Path, model: ScriptedModel) -> None:
    (home / "config.yaml").write_text(
        (home / "config.yaml").read_text() + "agent:\n  max_iterations: 1\n"
    )
    model.tool_call("terminal", {"command": "true"})
    result = hermes(home, "-z", "loop forever")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "limit of 1 model call." in result.stderr
    assert result.stderr.count("\n") == 1


def test_prompt_from_stdin_and_empty_prompt(home: Path, model: ScriptedModel) -> None:
    model.reply("read it")
    result = hermes(home, "-z", "-", stdin="a prompt on stdin\n")
    assert (result.returncode, result.stdout) == (0, "read it\n"), result.stderr
    assert model.last_user_text() == "a prompt on stdin"
    empty = hermes(home, "-z", "  ")
    assert empty.returncode == 1
    assert empty.stderr.startswith("hermes: empty prompt")


def test_sigterm_stops_the_turn_and_kills_its_commands(home: Path, model: ScriptedModel) -> None:
    pid_file = home.parent / "child.pid"
    model.tool_call("terminal", {"command": f"sleep 300 & echo $! > {pid_file}; wait"})
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home.parent), "HERMES_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hermes", "-z", "run it"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.02)
    child = int(pid_file.read_text())
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143
    assert err.strip() == "hermes: stopped by SIGTERM; the turn was interrupted"
    gone_by = time.monotonic() + 10  # counted from hermes' exit, not from its start
    while _alive(child):
        assert time.monotonic() < gone_by, "the command outlived hermes"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    """True while PID runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
