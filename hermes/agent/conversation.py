"""One chat session: its stored history, its model, and the turns run on it.

Front ends (the terminal, `hermes -z`, later the gateway) hold a
Conversation and call `send`; slash commands act on it too (commands.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from hermes.agent.compress import estimate_tokens, split_point, summarize
from hermes.agent.events import EventSink, Notice, ignore
from hermes.agent.loop import INTERRUPTED, Loop, ToolHook, TurnResult
from hermes.agent.prompt import build_system_prompt
from hermes.context import NoUser, Profile, ToolServices, TurnContext, UserIO
from hermes.errors import HermesError
from hermes.messages import Message, ToolCall, Usage
from hermes.providers.base import Provider
from hermes.store import Store, StoredMessage, ops
from hermes.store.db import Conn
from hermes.tools.base import Tool
from hermes.tools.process import ProcessManager

# Runs inside the transaction that stores a message: (connection, new row ids).
AlsoWrite = Callable[[Conn, list[int]], None]

RESTARTED = "[not finished: the gateway restarted while this ran; check before repeating it]"


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 60 else line[:59] + "…"


@dataclass
class Conversation:
    profile: Profile
    store: Store
    processes: ProcessManager
    session_id: str
    provider: Provider
    tools: dict[str, Tool]
    source: str
    user: UserIO = field(default_factory=NoUser)
    hooks: Sequence[ToolHook] = ()
    system_prompt: str = ""
    # messages that arrived for a running turn (a walkaway task's steering), read
    # before each model call
    inbox: Callable[[], Awaitable[list[Message]]] | None = None
    origin: str | None = None  # the chat this conversation answers (PLATFORM:CHAT[:THREAD])
    services: ToolServices | None = None  # the gateway's, for tools (hermes/context.py)
    last_usage: Usage = field(default_factory=Usage)
    _messages: list[StoredMessage] = field(default_factory=list)
    _overhead: int = 0  # tokens the provider counts beyond our estimate (tool schemas, framing)
    # the running turn's usage so far; stored with the reply that ends the turn (append)
    _turn_usage: Usage | None = None
    _usage_stored: bool = False

    # ----- life cycle -------------------------------------------------------

    @classmethod
    async def open(
        cls,
        profile: Profile,
        store: Store,
        processes: ProcessManager,
        *,
        source: str,
        session_id: str | None = None,
        user: UserIO | None = None,
        tools: list[Tool] | None = None,
        hooks: Sequence[ToolHook] = (),
        model: str | None = None,
    ) -> Conversation:
        """Start a new session, or resume `session_id` (its model comes back too)."""
        from hermes.providers.resolve import resolve_provider
        from hermes.tools.registry import default_tools

        stored: list[StoredMessage] = []
        if session_id is not None:
            info = await store.get_session(session_id)
            if info is None:
                raise HermesError(
                    f"no session {session_id!r} in {profile.db_path}; "
                    "`hermes sessions list` shows the stored ones"
                )
            model = model or info.model
            stored = await store.load_messages(session_id)
        provider = resolve_provider(
            profile.settings.model, profile.env, override=model, home=profile.home
        )
        if session_id is None:
            session_id = await store.create_session(source=source, model=_model_id(provider))
        conv = cls(
            profile=profile,
            store=store,
            processes=processes,
            session_id=session_id,
            provider=provider,
            tools={t.name: t for t in (tools if tools is not None else default_tools())},
            source=source,
            user=user or NoUser(),
            hooks=hooks,
            system_prompt=build_system_prompt(profile),
        )
        conv._messages = stored
        return conv

    async def close(self) -> None:
        await self._drop_if_empty()
        await self.provider.aclose()

    async def _drop_if_empty(self) -> None:
        """A session nobody wrote in is not worth listing."""
        if not self._messages and not await self.store.load_messages(self.session_id):
            await self.store.delete_session(self.session_id)

    async def new_session(self) -> str:
        """/new: a fresh session with the same model; the old one stays stored."""
        await self._drop_if_empty()
        self.last_usage = Usage()
        self.session_id = await self.store.create_session(
            source=self.source, model=_model_id(self.provider)
        )
        self._messages = []
        self.system_prompt = build_system_prompt(self.profile)
        return self.session_id

    async def set_model(self, spec: str) -> str:
        """/model NAME or PROVIDER:NAME; the next turn uses it, history is kept."""
        from hermes.providers.resolve import describe, resolve_provider

        new = resolve_provider(
            self.profile.settings.model,
            self.profile.env,
            override=spec.strip(),
            current=self.provider.name,
            home=self.profile.home,
        )
        old, self.provider = self.provider, new
        await old.aclose()
        await self.store.update_session(self.session_id, model=_model_id(new))
        return describe(new)

    # ----- turns ------------------------------------------------------------

    @property
    def turn_context(self) -> TurnContext:
        return TurnContext(
            profile=self.profile,
            session_id=self.session_id,
            store=self.store,
            processes=self.processes,
            user=self.user,
            origin=self.origin,
            services=self.services,
        )

    def messages(self) -> list[Message]:
        return [m.message for m in self._messages]

    async def send(self, text: str, emit: EventSink = ignore) -> TurnResult:
        """Run one turn for the user's text. Cancel the task to interrupt it."""
        await self.add_user(text)
        return await self.run_turn(emit)

    async def add_user(
        self, text: str, also: AlsoWrite | None = None, title: str | None = None
    ) -> int:
        """Store the user's message (with `also` in the same transaction); returns its id.
        The first message titles the session, unless `title` says otherwise (a task's
        prompt rather than the brief around it)."""
        if not text.strip():
            raise HermesError("empty message: type something for the agent")
        if not self._messages:  # in the same transaction as the message
            also = _titled(self.session_id, _title(title or text), also)
        await asyncio.shield(self._append([Message("user", text)], also))
        return self._messages[-1].id

    async def run_turn(
        self, emit: EventSink = ignore, pending: Sequence[ToolCall] = ()
    ) -> TurnResult:
        """Run the agent on the context as it is (it ends with the user's message,
        or with a reply whose `pending` calls are to run now)."""
        loop = Loop(
            provider=self.provider,
            system_prompt=self.system_prompt,
            tools=self.tools,
            ctx=self.turn_context,
            hooks=self.hooks,
            max_iterations=self.profile.settings.agent.max_iterations,
        )
        self._turn_usage, self._usage_stored = Usage(), False
        try:
            result = await loop.run(self, emit, pending)
        finally:
            self._turn_usage = None
        self.last_usage = result.usage
        if not self._usage_stored:  # the turn ended otherwise than with a reply
            await self.store.add_usage(self.session_id, result.usage, self.provider.model)
        return result

    def can_resume(self, user_message_id: int) -> bool:
        """Whether the turn started by that user message is still in the context."""
        return any(m.id == user_message_id for m in self._messages)

    def unanswered(self, user_message_id: int | None = None) -> list[ToolCall]:
        """Tool calls after the user's message (default: the last one) that have
        no result yet: the calls of a suspended or crashed turn."""
        if user_message_id is None:
            index = self._last_user_index()
        else:
            index = next((i for i, m in enumerate(self._messages) if m.id == user_message_id), None)
        if index is None:
            return []
        after = [m.message for m in self._messages[index + 1 :]]
        answered = {m.tool_call_id for m in after if m.role == "tool"}
        return [
            call
            for m in after
            if m.role == "assistant"
            for call in m.tool_calls or []
            if call.id not in answered
        ]

    async def answer_unanswered(self, text: str, calls: Sequence[ToolCall]) -> None:
        """Give those calls `text` as their result (they will not run), so the
        history is valid again for the next request."""
        if calls:
            await self.append(
                [Message("tool", text, tool_call_id=c.id, name=c.name) for c in calls]
            )

    async def resume(
        self,
        user_message_id: int,
        emit: EventSink = ignore,
        rerun: Callable[[ToolCall], bool] = lambda call: False,
    ) -> TurnResult | None:
        """Finish a turn that a crash cut short (or that was suspended), from what
        was stored of it.

        Returns None when the user's message is no longer in the context (the turn
        cannot be resumed). If the stored turn already ends with an answer, that
        answer is the result. Else calls without a result are run now if `rerun`
        says so (they were waiting for a decision, so they never started), or get a
        result saying the gateway restarted; then the agent continues."""
        index = next((i for i, m in enumerate(self._messages) if m.id == user_message_id), None)
        if index is None:
            return None
        last = self._messages[-1] if len(self._messages) > index + 1 else None
        if last is not None and last.message.role == "assistant" and not last.message.tool_calls:
            if not last.message.content.endswith(INTERRUPTED):
                return TurnResult(text=last.message.content)
            # cut off mid-answer by the shutdown: drop the fragment, answer again
            await self.store.delete_messages_from(self.session_id, last.id)
            self._messages.pop()
        missing = self.unanswered(user_message_id)
        await self.answer_unanswered(RESTARTED, [c for c in missing if not rerun(c)])
        return await self.run_turn(emit, [c for c in missing if rerun(c)])

    async def undo(self) -> str | None:
        """/undo: drop the last turn (the user's message and everything after)."""
        index = self._last_user_index()
        if index is None:
            return None
        removed = self._messages[index]
        await self.store.delete_messages_from(self.session_id, removed.id)
        del self._messages[index:]
        return removed.message.content

    async def retry(self, emit: EventSink = ignore) -> TurnResult | None:
        """/retry: run the last user message again in place of its old answer."""
        text = await self.undo()
        if text is None:
            return None
        return await self.send(text, emit)

    def _last_user_index(self) -> int | None:
        for i in range(len(self._messages) - 1, -1, -1):
            stored = self._messages[i]
            if stored.message.role == "user" and stored.kind != "summary":
                return i
        return None

    # ----- History protocol (used by the loop) --------------------------------

    def context(self) -> list[Message]:
        return self.messages()

    async def append(self, messages: list[Message]) -> None:
        # Shielded: an interrupt must not leave a stored message out of the context
        # (a tool call without its result would break the next request).
        usage = self._turn_usage
        if usage is None or not _ends_turn(messages):
            await asyncio.shield(self._append(messages))
            return
        session, model = self.session_id, self.provider.model

        def with_usage(conn: Conn, ids: list[int]) -> None:
            ops.usage_with_append(conn, session, usage, model)

        # the reply that ends the turn and the turn's usage: one transaction
        await asyncio.shield(self._append(messages, with_usage))
        self._usage_stored = True

    async def _append(self, messages: list[Message], also: AlsoWrite | None = None) -> None:
        ids = await self.store.append_messages(self.session_id, messages, also)
        for row_id, message in zip(ids, messages, strict=True):
            self._messages.append(
                StoredMessage(
                    id=row_id, session_id=self.session_id, message=message, created_at=0.0
                )
            )

    async def before_model_call(self, provider: Provider, emit: EventSink) -> None:
        if self.inbox is not None:
            arrived = await self.inbox()
            if arrived:
                await self.append(arrived)
        settings = self.profile.settings.agent
        limit = settings.compress_threshold * provider.context_window
        if self.context_tokens() > limit and await self.compress(emit):
            emit(Notice("(older messages were summarized to fit the model's context)"))

    def context_tokens(self) -> int:
        """Tokens the next request will take: our estimate, corrected by what the
        provider reported last time (which includes tool schemas)."""
        return self._estimate() + self._overhead

    def _estimate(self) -> int:
        return estimate_tokens(self.messages()) + len(self.system_prompt) // 4

    def observe_usage(self, usage: Usage) -> None:
        if self._turn_usage is not None:
            self._turn_usage = self._turn_usage + usage
        if usage.prompt_tokens:
            self._overhead = max(0, usage.prompt_tokens - self._estimate())

    async def compress(self, emit: EventSink = ignore) -> bool:
        """Summarize the older part of the context. Returns False if too short."""
        keep = self.profile.settings.agent.keep_recent_messages
        cut = split_point(self.messages(), keep)
        if cut is None:
            return False
        old = self._messages[:cut]
        summary = await summarize(self.provider, [m.message for m in old])
        await self.store.compact(self.session_id, old[-1].id, summary)
        self._messages = await self.store.load_messages(self.session_id)
        return True


def _ends_turn(messages: list[Message]) -> bool:
    """A reply the loop ends the turn with (not one cut off by an interrupt)."""
    return (
        len(messages) == 1
        and messages[0].role == "assistant"
        and not messages[0].tool_calls
        and not messages[0].content.endswith(INTERRUPTED)
    )


def _titled(session_id: str, title: str, also: AlsoWrite | None) -> AlsoWrite:
    """`also`, and the session's title set in the same transaction."""

    def write(conn: Conn, ids: list[int]) -> None:
        ops.title_with_append(conn, session_id, title)
        if also is not None:
            also(conn, ids)

    return write


def _model_id(provider: Provider) -> str:
    return f"{provider.name}:{provider.model}"
