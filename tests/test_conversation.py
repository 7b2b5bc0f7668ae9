"""A whole session: real state.db, real tools, the scripted model over HTTP."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hermes.agent.conversation import Conversation
from hermes.agent.events import AgentEvent, Notice, TextDelta, ToolFinished
from hermes.agent.loop import INTERRUPTED
from hermes.commands import run_command
from hermes.context import Profile
from hermes.home import load_profile
from hermes.messages import SUMMARY_PREFIX
from hermes.runtime import open_conversation
from hermes.testing import ScriptedModel


def make_profile(tmp_path: Path, model: ScriptedModel, **model_extra: Any) -> Profile:
    home = tmp_path / "home"
    home.mkdir()
    config = {"model": {**model.config(), "max_retries": 0, **model_extra}}
    (home / "config.yaml").write_text(yaml.safe_dump(config))
    env = {"HERMES_HOME": str(home), "PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    return load_profile(env=env)


@pytest.fixture
async def conv(tmp_path: Path, model: ScriptedModel) -> AsyncIterator[Conversation]:
    async with open_conversation(make_profile(tmp_path, model), source="test") as c:
        yield c


def texts(request: Any) -> list[tuple[str, str]]:
    return [(m["role"], m.get("content") or "") for m in request["messages"]]


async def test_history_carries_over_and_the_system_prompt_stays_stable(
    conv: Conversation, model: ScriptedModel
) -> None:
    model.reply("Nice to meet you, Ada.")
    model.tool_call("memory", {"action": "add", "target": "user", "text": "Name: Ada"})
    model.reply("Noted.")
    model.reply("You are Ada.")
    await conv.send("I am Ada")
    await conv.send("remember my name")
    result = await conv.send("who am I?")
    assert result.text == "You are Ada."
    last = model.requests[-1]
    assert ("user", "I am Ada") in texts(last)
    assert ("assistant", "Nice to meet you, Ada.") in texts(last)
    systems = {r["messages"][0]["content"] for r in model.requests}
    assert len(systems) == 1, "the system prompt changed within a session"
    assert "Name: Ada" in (conv.profile.home / "memories" / "USER.md").read_text()
    # the next session's prompt carries the memory
    await conv.new_session()
    model.reply("Hello again, Ada.")
    await conv.send("hi")
    assert "Name: Ada" in model.requests[-1]["messages"][0]["content"]


async def test_terminal_tool_runs_in_the_workspace(
    conv: Conversation, model: ScriptedModel
) -> None:
    model.tool_call("terminal", {"command": "pwd; echo made > note.txt"})
    model.reply("done")
    events: list[AgentEvent] = []
    await conv.send("where are you?", events.append)
    workspace = conv.profile.home / "workspace"
    assert (workspace / "note.txt").read_text() == "made\n"
    tool_result = model.requests[1]["messages"][-1]
    assert tool_result["role"] == "tool" and str(workspace) in tool_result["content"]
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert len(finished) == 1 and not finished[0].is_error


async def test_model_switch_keeps_history(conv: Conversation, model: ScriptedModel) -> None:
    model.reply("first answer")
    await conv.send("question one")
    outcome = await run_command(conv, "/model other-model")
    assert "other-model" in outcome.text
    model.reply("second answer")
    await conv.send("question two")
    last = model.requests[-1]
    assert last["model"] == "other-model"
    assert ("assistant", "first answer") in texts(last)
    info = await conv.store.get_session(conv.session_id)
    assert info is not None and info.model == "custom:other-model"


async def test_resume_brings_back_messages_and_model(tmp_path: Path, model: ScriptedModel) -> None:
    profile = make_profile(tmp_path, model)
    async with open_conversation(profile, source="test") as conv:
        model.reply("stored")
        await conv.send("keep this")
        await conv.set_model("resumed-model")
        sid = conv.session_id
    async with open_conversation(profile, source="test", session_id=sid) as conv:
        model.reply("back")
        await conv.send("again")
    last = model.requests[-1]
    assert last["model"] == "resumed-model"
    assert ("user", "keep this") in texts(last) and ("assistant", "stored") in texts(last)


async def test_undo_and_retry(conv: Conversation, model: ScriptedModel) -> None:
    model.reply("one").reply("two")
    await conv.send("first")
    await conv.send("second")
    outcome = await run_command(conv, "/undo")
    assert "second" in outcome.text
    assert [m.content for m in conv.messages()] == ["first", "one"]
    model.reply("uno")
    outcome = await run_command(conv, "/retry")
    assert outcome.resend == "first"
    assert outcome.resend is not None
    await conv.send(outcome.resend)
    assert [m.content for m in conv.messages()] == ["first", "uno"]
    stored = await conv.store.load_messages(conv.session_id)
    assert [s.message.content for s in stored] == ["first", "uno"]


async def test_compression_summarizes_old_turns_and_continues(
    tmp_path: Path, model: ScriptedModel
) -> None:
    profile = make_profile(tmp_path, model, context_window=1000)

    def answer(req: Any) -> str:
        if req["messages"][0]["content"].startswith("You compress"):
            return "- the user asked numbered questions"
        return f"answer to {req['messages'][-1]['content'][:11]} " + "x" * 300

    model.reply_with(answer, times=None)
    async with open_conversation(profile, source="test") as conv:
        events: list[AgentEvent] = []
        for i in range(12):
            await conv.send(f"question {i:02d} " + "y" * 300, events.append)
        summaries = [r for r in model.requests if r["messages"][0]["content"].startswith("You")]
        assert summaries, "the context passed 80% of the window but was never compressed"
        assert "question 00" in summaries[0]["messages"][-1]["content"]
        assert any(isinstance(e, Notice) for e in events)
        last = texts(model.requests[-1])
        assert last[1][1].startswith(SUMMARY_PREFIX)
        assert not any(c.startswith("question 00") for _, c in last)
        assert last[-1][1].startswith("question 11")
        assert len(last) < 12
        # compacted messages stay searchable
        hits = await conv.store.search("question", max_results=20)
        assert hits


async def test_forced_compress_command_on_a_short_session(conv: Conversation) -> None:
    outcome = await run_command(conv, "/compress")
    assert "Nothing to compress" in outcome.text


async def test_finds_an_old_conversation(conv: Conversation, model: ScriptedModel) -> None:
    model.reply("What a lovely name.")
    await conv.send("My dog is called Biscuit")
    first = conv.session_id
    await conv.new_session()
    model.tool_call("session_search", {"query": "dog Biscuit"})
    model.reply("Your dog is Biscuit.")
    result = await conv.send("what is my dog called?")
    assert result.text == "Your dog is Biscuit."
    tool_result = model.requests[-1]["messages"][-1]["content"]
    assert first in tool_result and "Biscuit" in tool_result


async def test_interrupt_keeps_what_was_seen_and_the_chat_goes_on(
    conv: Conversation, model: ScriptedModel
) -> None:
    gate = model.hang(partial="Let me think", then="never used")
    streamed = asyncio.Event()

    def on_event(event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            streamed.set()

    task = asyncio.create_task(conv.send("slow question", on_event))
    await gate.wait_entered_async()
    await asyncio.wait_for(streamed.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gate.release()
    model.reply("quick answer")
    result = await conv.send("next")
    assert result.text == "quick answer"
    stored = [s.message for s in await conv.store.load_messages(conv.session_id)]
    assert stored[1].role == "assistant" and INTERRUPTED in stored[1].content
    assert "Let me think" in stored[1].content


async def test_usage_per_turn_and_per_session(conv: Conversation, model: ScriptedModel) -> None:
    model.reply("a", usage=(100, 10, 40))
    model.reply("b", usage=(150, 20, 100))
    await conv.send("one")
    second = await conv.send("two")
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (150, 20)
    outcome = await run_command(conv, "/usage")
    assert "250 in (140 cached), 30 out" in outcome.text


async def test_a_turn_stores_its_usage_once_with_its_last_reply(
    conv: Conversation, model: ScriptedModel
) -> None:
    from hermes.store import ops

    model.tool_call("memory", {"action": "add", "target": "user", "text": "Name: Ada"})
    model.reply("Noted.", usage=(150, 20))
    result = await conv.send("remember me")
    assert result.iterations == 2 and result.usage.prompt_tokens > 150  # both calls
    info = await conv.store.get_session(conv.session_id)
    assert info is not None and info.title == "remember me"
    rows = await conv.store.run(ops.usage_rows, None, conv.session_id)
    # one row for the turn, its calls summed, written with the last reply
    assert [(r[3], r[4]) for r in rows] == [
        (result.usage.prompt_tokens, result.usage.completion_tokens)
    ]
    assert rows[0][2] == info.updated_at


async def test_status_profile_help_and_unknown(conv: Conversation) -> None:
    status = (await run_command(conv, "/status")).text
    assert conv.session_id in status and "custom" in status
    assert "default" in (await run_command(conv, "/profile")).text
    assert "/compress" in (await run_command(conv, "/help")).text
    assert "Unknown command /nope" in (await run_command(conv, "/nope")).text


async def test_a_soul_md_that_is_not_utf8_does_not_stop_the_chat(
    tmp_path: Path, model: ScriptedModel
) -> None:
    profile = make_profile(tmp_path, model)
    (profile.home / "SOUL.md").write_bytes(b"You are Hermes \xff\xfe the helper.")
    async with open_conversation(profile, source="test") as conv:
        model.reply("hi")
        await conv.send("hello")
    assert "the helper" in model.requests[-1]["messages"][0]["content"]
