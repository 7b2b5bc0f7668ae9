"""The tool-calling loop, driven by an in-process provider (no network)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hermes.agent.events import (
    AgentEvent,
    TextDelta,
    ToolFinished,
    ToolStarted,
    ToolWaiting,
    TurnDone,
)
from hermes.agent.loop import HELD, INTERRUPTED, Defer, Loop
from hermes.context import Profile, TurnContext
from hermes.messages import Message, ToolCall, ToolSpec, Usage
from hermes.providers.base import Completion, TextCallback
from hermes.settings import Settings
from hermes.tools.base import Tool, schema
from tests.tools_helpers import ListHistory


class FakeProvider:
    name = "fake"
    model = "fake-1"
    context_window = 100_000

    def __init__(self, *replies: Completion | Callable[[list[Message]], Completion]) -> None:
        self.replies = list(replies)
        self.calls: list[list[Message]] = []

    async def complete(
        self, messages: list[Message], tools: list[ToolSpec], *, on_text: TextCallback | None = None
    ) -> Completion:
        self.calls.append(list(messages))
        reply = self.replies.pop(0)
        completion = reply(messages) if callable(reply) else reply
        if on_text and completion.message.content:
            for word in completion.message.content.split(" "):
                on_text(word + " ")
        return completion

    async def aclose(self) -> None:
        pass


def text(t: str, usage: Usage | None = None) -> Completion:
    return Completion(Message("assistant", t), usage or Usage(10, 5))


def calls(*items: tuple[str, dict[str, Any]]) -> Completion:
    tc = [ToolCall(f"call_{i}", name, json.dumps(args)) for i, (name, args) in enumerate(items)]
    return Completion(Message("assistant", "", tool_calls=tc), Usage(10, 5), "tool_calls")


def make_ctx(tmp_path: Path) -> TurnContext:
    profile = Profile("default", tmp_path, Settings(), {})
    return TurnContext(profile=profile, session_id="s", store=None, processes=None)  # type: ignore[arg-type]


def echo_tool(name: str = "echo", fn: Callable[[dict[str, Any]], Any] | None = None) -> Tool:
    async def handler(args: dict[str, Any], ctx: TurnContext) -> str:
        if fn is not None:
            result = fn(args)
            if asyncio.iscoroutine(result):
                result = await result
            return str(result)
        return f"echo:{args.get('text', '')}"

    return Tool(name, "echo text", schema({"text": {"type": "string"}}), handler)


async def run(
    tmp_path: Path,
    provider: FakeProvider,
    tools: list[Tool],
    hooks: tuple[Any, ...] = (),
    **kw: Any,
) -> tuple[Any, ListHistory, list[AgentEvent]]:
    loop = Loop(
        provider=provider,
        system_prompt="sys",
        tools={t.name: t for t in tools},
        ctx=make_ctx(tmp_path),
        hooks=hooks,
        **kw,
    )
    history = ListHistory("hi")
    events: list[AgentEvent] = []
    result = await loop.run(history, events.append)
    return result, history, events


async def test_plain_reply_streams_and_finishes(tmp_path: Path) -> None:
    provider = FakeProvider(text("hello there"))
    result, history, events = await run(tmp_path, provider, [])
    assert result.text == "hello there"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip() == "hello there"
    assert isinstance(events[-1], TurnDone)
    assert provider.calls[0][0] == Message("system", "sys")
    assert history.items[-1] == Message("assistant", "hello there")


async def test_tool_results_go_back_in_call_order(tmp_path: Path) -> None:
    provider = FakeProvider(calls(("echo", {"text": "a"}), ("echo", {"text": "b"})), text("done"))
    result, history, events = await run(tmp_path, provider, [echo_tool()])
    assert result.text == "done"
    tool_msgs = [m for m in history.items if m.role == "tool"]
    ids = call_ids(history)
    assert [(m.tool_call_id, m.content) for m in tool_msgs] == [
        (ids[0], "echo:a"),
        (ids[1], "echo:b"),
    ]
    second_request = provider.calls[1]
    assert second_request[-2:] == tool_msgs
    assert sum(isinstance(e, ToolStarted) for e in events) == 2
    assert result.usage == Usage(20, 10)
    assert result.iterations == 2


async def test_calls_in_one_reply_run_concurrently(tmp_path: Path) -> None:
    started = 0
    both = asyncio.Event()

    async def wait_for_other(args: dict[str, Any]) -> str:
        nonlocal started
        started += 1
        if started == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 5)  # deadlocks if run one after the other
        return "ok"

    provider = FakeProvider(calls(("w", {}), ("w", {})), text("done"))
    result, _, _ = await run(tmp_path, provider, [echo_tool("w", wait_for_other)])
    assert result.text == "done"


async def test_unknown_tool_and_bad_arguments_are_reported_to_the_model(tmp_path: Path) -> None:
    bad = Completion(
        Message(
            "assistant",
            "",
            tool_calls=[ToolCall("c1", "nope", "{}"), ToolCall("c2", "echo", "{not json")],
        )
    )
    provider = FakeProvider(bad, text("sorry"))
    _, history, events = await run(tmp_path, provider, [echo_tool()])
    results = [m.content for m in history.items if m.role == "tool"]
    assert "no tool named 'nope'" in results[0] and "echo" in results[0]
    assert "not valid JSON" in results[1]
    assert all(e.is_error for e in events if isinstance(e, ToolFinished))


async def test_tool_exception_does_not_kill_the_turn(tmp_path: Path) -> None:
    def boom(args: dict[str, Any]) -> str:
        raise RuntimeError("disk on fire")

    provider = FakeProvider(calls(("boom", {})), text("recovered"))
    result, history, _ = await run(tmp_path, provider, [echo_tool("boom", boom)])
    assert result.text == "recovered"
    assert "disk on fire" in history.items[-2].content


async def test_hooks_can_refuse_and_see_results(tmp_path: Path) -> None:
    ran: list[str] = []
    seen: list[tuple[str, str, bool]] = []

    class Gate:
        async def before(
            self, call: ToolCall, args: dict[str, Any], ctx: TurnContext
        ) -> str | None:
            return "refused: not allowed" if args.get("text") == "rm" else None

        async def after(
            self, call: ToolCall, result: str, is_error: bool, ctx: TurnContext
        ) -> None:
            seen.append((call.id, result, is_error))

    def record(args: dict[str, Any]) -> str:
        ran.append(args["text"])
        return "ran"

    provider = FakeProvider(calls(("echo", {"text": "rm"}), ("echo", {"text": "ls"})), text("ok"))
    _, history, _ = await run(tmp_path, provider, [echo_tool(fn=record)], hooks=(Gate(),))
    assert ran == ["ls"]
    first, second = call_ids(history)
    assert sorted(seen) == sorted([(first, "refused: not allowed", True), (second, "ran", False)])


async def test_max_iterations_bound(tmp_path: Path) -> None:
    provider = FakeProvider(*[calls(("echo", {"text": str(i)})) for i in range(3)])
    result, _, _ = await run(tmp_path, provider, [echo_tool()], max_iterations=3)
    assert result.hit_limit
    assert "limit of 3" in result.text
    assert len(provider.calls) == 3


async def test_cancel_during_a_tool_leaves_a_valid_history(tmp_path: Path) -> None:
    entered = asyncio.Event()

    async def slow(args: dict[str, Any]) -> str:
        entered.set()
        await asyncio.Event().wait()
        return "never"

    provider = FakeProvider(calls(("fast", {}), ("slow", {})))
    loop = Loop(
        provider=provider,
        system_prompt="sys",
        tools={"slow": echo_tool("slow", slow), "fast": echo_tool("fast")},
        ctx=make_ctx(tmp_path),
    )
    history = ListHistory("hi")
    task = asyncio.create_task(loop.run(history, lambda e: None))
    await asyncio.wait_for(entered.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    tool_msgs = {m.tool_call_id: m.content for m in history.items if m.role == "tool"}
    fast, slow_id = call_ids(history)
    assert tool_msgs == {fast: "echo:", slow_id: INTERRUPTED}


def call_ids(history: ListHistory) -> list[str]:
    """The ids of the stored tool calls, in order (the loop's own, not the model's)."""
    return [c.id for m in history.items if m.role == "assistant" for c in m.tool_calls]


async def test_calls_get_ids_of_our_own_even_when_the_model_repeats_its_ids(
    tmp_path: Path,
) -> None:
    same = Completion(
        Message(
            "assistant",
            "",
            tool_calls=[
                ToolCall("tool_1", "echo", '{"text": "a"}'),
                ToolCall("tool_1", "echo", "{}"),
            ],
        )
    )
    again = Completion(Message("assistant", "", tool_calls=[ToolCall("tool_1", "echo", "{}")]))
    provider = FakeProvider(same, again, text("done"))
    _, history, _ = await run(tmp_path, provider, [echo_tool()])
    ids = call_ids(history)
    assert len(ids) == 3 and len(set(ids)) == 3 and "tool_1" not in ids
    answered = [m.tool_call_id for m in history.items if m.role == "tool"]
    assert answered == ids  # every call has its own result


async def test_while_one_call_waits_for_a_decision_its_siblings_are_held(
    tmp_path: Path,
) -> None:
    ran: list[str] = []

    class Gate:
        async def before(
            self, call: ToolCall, args: dict[str, Any], ctx: TurnContext
        ) -> str | Defer | None:
            return Defer("waiting for approval x") if args.get("text") == "risky" else None

        async def after(
            self, call: ToolCall, result: str, is_error: bool, ctx: TurnContext
        ) -> None:
            return None

    def record(args: dict[str, Any]) -> str:
        ran.append(args["text"])
        return "ran"

    provider = FakeProvider(calls(("echo", {"text": "risky"}), ("echo", {"text": "approver"})))
    result, history, events = await run(tmp_path, provider, [echo_tool(fn=record)], hooks=(Gate(),))
    assert ran == []  # the sibling did not run while the other waits
    assert result.waiting == ("waiting for approval x", HELD)
    assert not [m for m in history.items if m.role == "tool"]  # both left for the resume
    assert [e.note for e in events if isinstance(e, ToolWaiting)] == [
        "waiting for approval x",
        HELD,
    ]
