"""The tool-calling loop: model call, run the tools it asked for, repeat.

Pure core: it talks to a Provider and to Tools through their interfaces and
keeps the conversation through a small History protocol; it knows nothing of
SQLite, terminals or chat platforms.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from hermes.agent.events import (
    EventSink,
    ModelCalled,
    TextDelta,
    ToolFinished,
    ToolStarted,
    ToolWaiting,
    TurnDone,
)
from hermes.context import TurnContext
from hermes.errors import HermesError
from hermes.messages import Message, ToolCall, ToolSpec, Usage
from hermes.providers.base import Provider
from hermes.providers.describe import mark_cut
from hermes.tools.base import Tool

INTERRUPTED = "[interrupted before this finished]"
HELD = "held: it runs once the approval its sibling call waits for is decided"
log = logging.getLogger("hermes.agent")


class History(Protocol):
    """Where the loop reads the context from and writes new messages to."""

    def context(self) -> list[Message]:
        """The messages to send (without the system prompt)."""
        ...

    async def append(self, messages: list[Message]) -> None:
        """Store new messages (they become part of context())."""
        ...

    async def before_model_call(self, provider: Provider, emit: EventSink) -> None:
        """A chance to compress the context before the next model call."""
        ...

    def observe_usage(self, usage: Usage) -> None:
        """What the provider reported for the last call (to size the context)."""
        ...


@dataclass(frozen=True)
class Defer:
    """A hook's answer: do not run the call now. The turn suspends (nothing
    waits in memory) with the call left without a result in the history; once
    a decision is stored, the owner runs the turn on with `Loop.run(pending=)`,
    and the hook is asked again."""

    note: str  # e.g. "waiting for approval a1b2c3"


@dataclass(frozen=True)
class Run:
    """Admitted: run the tool with these arguments."""

    tool: Tool
    args: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """Not run: this text is the call's (error) result."""

    text: str


Admission = Run | Answer | Defer


class ToolHook(Protocol):
    """Runs around every tool call. The approval gate plugs in here."""

    async def before(
        self, call: ToolCall, args: dict[str, Any], ctx: TurnContext
    ) -> str | Defer | None:
        """None lets the call run; a string refuses it and is the model's result;
        Defer suspends the turn."""
        ...

    async def after(
        self, call: ToolCall, result: str, is_error: bool, ctx: TurnContext
    ) -> None: ...


@dataclass
class TurnResult:
    text: str
    usage: Usage = field(default_factory=Usage)
    iterations: int = 0
    hit_limit: bool = False
    waiting: tuple[str, ...] = ()  # suspended: the Defer notes of the calls not run

    @property
    def suspended(self) -> bool:
        return bool(self.waiting)


@dataclass
class Loop:
    provider: Provider
    system_prompt: str
    tools: Mapping[str, Tool]
    ctx: TurnContext
    hooks: Sequence[ToolHook] = ()
    max_iterations: int = 40

    async def run(
        self, history: History, emit: EventSink, pending: Sequence[ToolCall] = ()
    ) -> TurnResult:
        """Run one turn; history already ends with the user's message, or with a
        reply whose `pending` calls have no result yet (a suspended turn going on).
        Returns early with `waiting` set when a hook deferred a call."""
        result = TurnResult(text="")
        specs: list[ToolSpec] = [t.spec for t in self.tools.values() if t.offered(self.ctx)]
        if self.ctx.run_tool is None:
            self.ctx.run_tool = self.run_unattended
        if pending:
            waiting = await self._run_tools(list(pending), history, emit)
            if waiting:
                result.waiting = waiting
                return result
        while result.iterations < self.max_iterations:
            await history.before_model_call(self.provider, emit)
            result.iterations += 1
            streamed, on_text = _text_collector(emit)
            emit(ModelCalled(result.iterations, self.provider.model))
            try:
                completion = await self.provider.complete(
                    [Message("system", self.system_prompt), *history.context()],
                    specs,
                    on_text=on_text,
                )
            except asyncio.CancelledError:
                if streamed:  # the user saw this much; keep it in the history
                    text = "".join(streamed) + "\n" + INTERRUPTED
                    await asyncio.shield(history.append([Message("assistant", text)]))
                raise
            result.usage = result.usage + completion.usage
            history.observe_usage(completion.usage)
            reply = own_ids(completion.message)
            if completion.finish_reason == "length" and not reply.tool_calls:
                reply = _marked_cut(reply, emit)
            await history.append([reply])
            if not reply.tool_calls:
                log.info(
                    "turn done: %d model calls, %d tokens in, %d out",
                    result.iterations,
                    result.usage.prompt_tokens,
                    result.usage.completion_tokens,
                )
                result.text = reply.content
                emit(TurnDone(result.text, result.usage, result.iterations))
                return result
            waiting = await self._run_tools(reply.tool_calls, history, emit)
            if waiting:
                result.waiting = waiting
                log.info("turn suspended: %s", "; ".join(waiting))
                return result
        result.hit_limit = True
        calls = "call" if self.max_iterations == 1 else "calls"
        result.text = (
            f"Stopped: this turn used its limit of {self.max_iterations} model {calls}. "
            "Say 'continue' to go on, or raise agent.max_iterations."
        )
        emit(TurnDone(result.text, result.usage, result.iterations))
        return result

    async def _run_tools(
        self, calls: list[ToolCall], history: History, emit: EventSink
    ) -> tuple[str, ...]:
        """Run the calls of one reply concurrently; store results in call order.
        Returns the notes of deferred calls (stored without a result).

        Every call is admitted by the hooks before any of them runs: while one
        waits for an approval, its siblings are held too (they could decide it,
        or depend on it), and run when the turn goes on after the decision."""
        results: dict[str, Message] = {}
        deferred: dict[str, str] = {}
        admitted = {call.id: await self._admit(call) for call in calls}
        if any(isinstance(v, Defer) for v in admitted.values()):
            for call in calls:
                if isinstance(admitted[call.id], Run):
                    admitted[call.id] = Defer(HELD)
        try:
            async with asyncio.TaskGroup() as group:
                for call in calls:
                    group.create_task(
                        self._run_one(call, admitted[call.id], results, deferred, emit)
                    )
        except asyncio.CancelledError:
            # Every tool call must have a result, or providers reject the history.
            missing = [
                Message("tool", INTERRUPTED, tool_call_id=c.id, name=c.name)
                for c in calls
                if c.id not in results and c.id not in deferred
            ]
            done = [results[c.id] for c in calls if c.id in results]
            await asyncio.shield(history.append(done + missing))
            raise
        await history.append([results[c.id] for c in calls if c.id in results])
        return tuple(deferred[c.id] for c in calls if c.id in deferred)

    async def _admit(self, call: ToolCall, ctx: TurnContext | None = None) -> Admission:
        """What becomes of a call: it runs, gets an answer without running
        (an error, a refusal), or waits for a decision (Defer). CTX: the context
        the hooks judge it in (the turn's, unless given)."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools))
            return Answer(f"Error: there is no tool named {call.name!r}. Available: {known}")
        try:
            args = call.parsed_arguments()
        except ValueError as exc:
            return Answer(f"Error: {call.name}: {exc}. Call it again with a JSON object.")
        for hook in self.hooks:
            verdict = await hook.before(call, args, ctx or self.ctx)
            if isinstance(verdict, Defer):
                return verdict
            if verdict is not None:
                return Answer(verdict)
        return Run(tool, args)

    async def run_unattended(self, name: str, args: dict[str, Any]) -> tuple[str, bool]:
        """Run tool NAME as a model's call would run (the hooks first), for code that
        calls tools: the hooks see an unattended context, so the approval gate refuses
        what it would ask about. Returns (result, is_error)."""
        tool = self.tools.get(name)
        if tool is None or not tool.offered(self.ctx):
            return f"Error: there is no tool named {name!r} here", True
        call = ToolCall(new_call_id(), name, json.dumps(args))
        ctx = replace(self.ctx, unattended=True)
        admitted = await self._admit(call, ctx)
        if isinstance(admitted, Defer):  # a hook that defers without asking
            return f"Not run: {admitted.note}", True
        if isinstance(admitted, Answer):
            text, is_error = admitted.text, True
        else:
            text, is_error = await self._execute(call, admitted.tool, admitted.args, ctx)
        for hook in self.hooks:
            await hook.after(call, text, is_error, ctx)
        return text, is_error

    async def _run_one(
        self,
        call: ToolCall,
        admitted: Admission,
        results: dict[str, Message],
        deferred: dict[str, str],
        emit: EventSink,
    ) -> None:
        if isinstance(admitted, Defer):
            deferred[call.id] = admitted.note
            emit(ToolWaiting(call, admitted.note))
            return
        emit(ToolStarted(call))
        started = time.monotonic()
        if isinstance(admitted, Run):
            text, is_error = await self._execute(call, admitted.tool, admitted.args)
        else:
            text, is_error = admitted.text, True
        seconds = time.monotonic() - started
        if is_error:
            log.warning("tool %s failed after %.1fs: %s", call.name, seconds, text[:300])
        else:
            log.info("tool %s ok in %.1fs", tool_call_summary(call), seconds)
        results[call.id] = Message("tool", text, tool_call_id=call.id, name=call.name)
        for hook in self.hooks:
            await hook.after(call, text, is_error, self.ctx)
        emit(ToolFinished(call, text, is_error, seconds))

    async def _execute(
        self, call: ToolCall, tool: Tool, args: dict[str, Any], ctx: TurnContext | None = None
    ) -> tuple[str, bool]:
        try:
            return await tool.run(args, replace(ctx or self.ctx, call_id=call.id)), False
        except HermesError as exc:
            return f"Error: {exc}", True
        except (TypeError, KeyError) as exc:
            return f"Error: bad arguments for {call.name}: {exc}", True
        except OSError as exc:  # the file system said no: say what, not how
            where = f": {exc.filename}" if exc.filename else ""
            return f"Error: {call.name}: {exc.strerror or exc}{where}", True
        except Exception as exc:  # a tool bug must not kill the turn
            return f"Error: {call.name} failed: {type(exc).__name__}: {exc}", True


def new_call_id() -> str:
    """An id of our own for a tool call (the model's ids repeat: `call_0`, `tool_1`)."""
    return "hc_" + secrets.token_hex(8)


def own_ids(reply: Message) -> Message:
    """The model's reply with every tool call renamed by us: the id a model
    supplies is never anyone's identity (approvals, results, resuming)."""
    if not reply.tool_calls:
        return reply
    return replace(reply, tool_calls=[replace(c, id=new_call_id()) for c in reply.tool_calls])


def _marked_cut(reply: Message, emit: EventSink) -> Message:
    """A reply the model stopped at its token limit, with a visible marker
    (streamed too, so the user sees it where the text appeared)."""
    marked = mark_cut(reply.content, "length")
    if marked != reply.content:
        emit(TextDelta(marked[len(reply.content) :]))
    return replace(reply, content=marked)


def _text_collector(emit: EventSink) -> tuple[list[str], Callable[[str], None]]:
    """A callback that forwards streamed text and remembers what was shown."""
    streamed: list[str] = []

    def on_text(delta: str) -> None:
        streamed.append(delta)
        emit(TextDelta(delta))

    return streamed, on_text


def tool_call_summary(call: ToolCall, limit: int = 80) -> str:
    """A one-line description of a call, for working indicators and logs."""
    try:
        args = call.parsed_arguments()
    except ValueError:
        return call.name
    if not args:
        return call.name
    first = next(iter(args.values()))
    text = first if isinstance(first, str) else json.dumps(first)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{call.name}: {text}"
