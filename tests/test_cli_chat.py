"""The interactive chat, driven like a user would: `hermes chat` in a pseudo-terminal
(tests/pty_driver.py: Ctrl-C typed there is a real SIGINT)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pty_driver import Terminal

from hermes.testing import ScriptedModel


def make_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home.parent),
        "HERMES_HOME": str(home),
        "TERM": "xterm-256color",
        "PROMPT_TOOLKIT_NO_CPR": "1",  # the driver does not answer cursor position requests
    }


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(
        f"model:\n  provider: custom\n  base_url: {model.base_url}\n  model: scripted-model\n"
        "  max_retries: 0\n"
    )
    return home


@pytest.fixture
def chat(home: Path) -> Iterator[Terminal]:
    term = Terminal(["chat"], make_env(home), home.parent)
    try:
        term.expect(r"session (\d{8}_\d{6}_[0-9a-f]{6}) · /help for commands")
        term.prompt()
        yield term
    finally:
        term.close()


def test_streams_the_answer_runs_commands_and_exits(chat: Terminal, model: ScriptedModel) -> None:
    gate = model.hang(partial="Streaming the first words", then=" and then the rest.")
    chat.send("hello there\r")
    gate.wait_entered()
    chat.expect("Streaming the first words")  # shown before the reply is complete
    gate.release()
    chat.expect("and then the rest.")
    chat.prompt()
    chat.send("/status\r")
    chat.expect(r"Session: \d{8}_\d{6}_[0-9a-f]{6} \(2 messages in context\)")
    chat.prompt()
    chat.send("/model\r")
    chat.expect(r"Model: custom · scripted-model at http://127\.0\.0\.1:\d+/v1")
    chat.prompt()
    chat.send("/nonsense\r")
    chat.expect("Unknown command /nonsense")
    chat.prompt()
    model.reply("A second try.")
    chat.send("/retry\r")  # the command hands the text back; the chat streams the turn
    chat.expect("Retrying: hello there")
    chat.expect("A second try.")
    chat.prompt()
    assert model.requests[1].messages[-1] == {"role": "user", "content": "hello there"}
    chat.send("/exit\r")
    assert chat.wait() == 0


def test_history_is_kept_privately(chat: Terminal, home: Path) -> None:
    chat.send("/help\r")
    chat.expect("/status")
    chat.expect("/exit, /quit")
    chat.prompt()
    chat.send("/exit\r")
    assert chat.wait() == 0
    history = home / ".chat_history"
    assert "+/help" in history.read_text()
    assert stat.S_IMODE(history.stat().st_mode) == 0o600


def test_ctrl_c_interrupts_the_turn_not_the_chat(chat: Terminal, model: ScriptedModel) -> None:
    gate = model.hang(partial="Let me think")
    model.reply("Here is the next answer.")
    chat.send("a slow question\r")
    gate.wait_entered()
    chat.expect("Let me think")
    chat.send("\x03")
    chat.expect(r"\(interrupted\)")
    chat.prompt()
    chat.send("next question\r")
    chat.expect("Here is the next answer.")
    chat.prompt()
    # The interrupted reply stays in the history, marked as such.
    sent = model.requests[1].messages
    assert sent[-2]["role"] == "assistant"
    assert sent[-2]["content"].startswith("Let me think")
    assert "interrupted" in sent[-2]["content"]
    assert sent[-1] == {"role": "user", "content": "next question"}
    chat.send("half typed\x03")  # Ctrl-C at the prompt only clears the line
    # The fresh prompt on the next line (a redraw of this one may show first; a
    # Ctrl-D typed before the new prompt takes the keyboard is a tty EOF, not a key).
    chat.expect(r"half typed[^\n]*\n\s*›")
    assert chat.proc.poll() is None
    chat.send("\x04")  # Ctrl-D leaves
    assert chat.wait() == 0


def test_tool_progress_and_clarify(chat: Terminal, model: ScriptedModel) -> None:
    model.tool_call("terminal", {"command": "echo from-the-tool"})
    model.tool_call("clarify", {"question": "Which colour?", "choices": ["red", "blue"]})
    model.reply("Blue it is.")
    chat.send("paint something\r")
    chat.expect("⚙ terminal: echo from-the-tool")
    chat.expect(r"✓ terminal \(\d+\.\ds\)")
    chat.expect(r"\? Which colour\?")
    chat.expect("1. red")
    chat.expect("2. blue")
    chat.expect("answer ›")
    chat.send("2\r")
    chat.expect("Blue it is.")
    chat.prompt()
    tool_results = [m["content"] for m in model.requests[2].messages if m["role"] == "tool"]
    assert "from-the-tool" in tool_results[0]
    assert tool_results[1] == "User answered: blue"
    chat.send("/quit\r")
    assert chat.wait() == 0


def test_provider_error_is_one_line_and_the_chat_goes_on(
    chat: Terminal, model: ScriptedModel
) -> None:
    model.fail(400, "this request is malformed")
    model.reply("Still here.")
    chat.send("first\r")
    chat.expect(r"error: .*400.*this request is malformed")
    chat.prompt()
    chat.send("second\r")
    chat.expect("Still here.")
    chat.prompt()
    chat.send("/exit\r")
    assert chat.wait() == 0
    assert "Traceback" not in chat.screen


def test_session_is_stored_and_can_be_resumed(home: Path, model: ScriptedModel) -> None:
    env = make_env(home)
    model.reply("Noted: the cat is called Io.")
    first = Terminal(["chat"], env, home.parent)
    try:
        session_id = first.expect(r"session (\d{8}_\d{6}_[0-9a-f]{6}) ·").group(1)
        first.prompt()
        first.send("my cat is called Io\r")
        first.expect("Noted: the cat is called Io.")
        first.prompt()
        first.send("/exit\r")
        assert first.wait() == 0
    finally:
        first.close()

    listed = subprocess.run(
        [sys.executable, "-m", "hermes", "sessions", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if session_id in x)
    assert "cli" in line and "my cat is called Io" in line

    model.reply("Your cat is Io.")
    again = Terminal(["chat", "--resume", session_id], env, home.parent)
    try:
        again.expect(f"resumed session {session_id}")
        again.expect(r"\(2 messages in context\)")
        again.prompt()
        again.send("what is my cat called?\r")
        again.expect("Your cat is Io.")
        again.prompt()
        again.send("/exit\r")
        assert again.wait() == 0
    finally:
        again.close()
    contents = [m["content"] for m in model.requests[1].messages]
    assert contents[1:] == [
        "my cat is called Io",
        "Noted: the cat is called Io.",
        "what is my cat called?",
    ]


def test_plain_lines_from_a_pipe(home: Path, model: ScriptedModel) -> None:
    model.reply("piped answer")
    result = subprocess.run(
        [sys.executable, "-m", "hermes", "chat"],
        env=make_env(home),
        input="hello from a pipe\n/usage\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "› hello from a pipe\npiped answer\n" in result.stdout
    assert "This session:" in result.stdout
    assert "\x1b[" not in result.stdout  # no spinner or colours off a terminal


def test_resuming_an_unknown_session_is_one_line(home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hermes", "chat", "--resume", "19990101_000000_abcdef"],
        env=make_env(home),
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("hermes: no session '19990101_000000_abcdef'")
    assert result.stderr.count("\n") == 1
