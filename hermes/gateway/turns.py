"""What the gateway does with one stored message: a slash command or an agent
turn in the chat's conversation, the reply queued in the ledger in the same
transaction that marks the message done."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from hermes.agent.client_tools import ClientTools
from hermes.agent.conversation import Conversation
from hermes.agent.events import AgentEvent, EventSink, ignore
from hermes.approvals.gate import ApprovalGate, Asker, NobodyToAsk
from hermes.commands import HELP, clip, is_command, run_command
from hermes.context import ToolServices
from hermes.errors import HermesError
from hermes.gateway import leftovers, voice_chat, work
from hermes.gateway.approvals import ChatAsker, rerun_rule
from hermes.gateway.chats import Chat
from hermes.gateway.delegation import Delegation
from hermes.gateway.events import Inbound, session_key
from hermes.gateway.learning import Learning
from hermes.gateway.ports import Waker
from hermes.gateway.stream import DraftStreamer, SlowWatch, slow_text
from hermes.messages import Message
from hermes.platforms.adapter import Adapter
from hermes.platforms.web import WebAdapter
from hermes.providers.resolve import describe
from hermes.store import approval_ops, cron_ops, kept_ops
from hermes.store import gateway_ops as ops

log = logging.getLogger("hermes.gateway")


class TurnHost(work.WorkHost, voice_chat.VoiceHost, Protocol):
    """What a turn uses of the gateway: the work commands' part, voice, the
    scheduler (a turn may change cron jobs) and a place to run side jobs."""

    @property
    def scheduler(self) -> Waker: ...

    @property
    def passive(self) -> bool:
        """A standby replica of a cluster: the platform connections are elsewhere."""

    @property
    def tools(self) -> ToolServices:
        """The gateway's services for the turn's tools (send, delegate, ...)."""

    @property
    def delegation(self) -> Delegation:
        """The delegated subtasks (hermes/gateway/delegation.py)."""

    @property
    def learning(self) -> Learning:
        """The skills review after a turn (hermes/gateway/learning.py)."""

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        """Run CORO as a task the gateway owns (cancelled when it closes)."""


IMMEDIATE = {"/stop", "/status", "/help", "/start", "/usage", "/profile", *work.COMMANDS}
GATEWAY_HELP = {
    "/stop": "stop the current turn and this chat's background processes",
    **work.HELP,
    "/sethome": "this chat receives notifications that have no other target",
    "/voice": voice_chat.HELP.split(" — ", 1)[1],
}
HOME_KEY = cron_ops.HOME_KEY


def _name(text: str) -> str:
    return text.strip().split(" ", 1)[0].lower()


def is_immediate(text: str) -> bool:
    return is_command(text.strip()) and _name(text) in IMMEDIATE


def _line(exc: Exception) -> str:
    """An error as one line for a chat (the details are in the log)."""
    return " ".join(str(exc).split()) or type(exc).__name__


async def _conversation(gw: TurnHost, chat: Chat, event: Inbound) -> Conversation:
    """The chat's conversation, opened on first use in its stored session (under
    the chat's lock: an immediate command may ask at the same time as a turn)."""
    async with chat.opening:
        return await _open(gw, chat, event)


async def _open(gw: TurnHost, chat: Chat, event: Inbound) -> Conversation:
    if chat.conv is None:
        session_id = await gw.store.run(ops.chat_session, chat.key)
        asker: Asker = NobodyToAsk()  # an API client cannot answer mid-request
        if event.platform != "api":
            asker = chat.asker = ChatAsker(gw.desk, origin=event.target)
        chat.conv = await Conversation.open(
            gw.profile,
            gw.store,
            gw.processes,
            source=event.platform,
            session_id=session_id,
            hooks=[ApprovalGate(gw.profile.settings.approvals, asker)],
        )
        if event.platform != "api":
            chat.conv.origin = str(event.target)
        chat.conv.services = gw.tools
        if chat.conv.session_id != session_id:
            await gw.store.run(ops.set_chat_session, chat.key, chat.conv.session_id, gw.clock())
    return chat.conv


async def run_immediate(gw: TurnHost, chat: Chat, row_id: int, event: Inbound) -> None:
    """/stop, /status, /help, /usage, /profile: answered at once, even mid-turn."""
    name = _name(event.text)
    if name in work.COMMANDS:
        await work.run_command(gw, chat, row_id, event)
        return
    if name == "/stop":
        stopped = gw.chats.stop(chat) or await work.stop_waiting(gw, chat)
        killed = 0
        if chat.conv is not None:  # its delegated subtasks stop with it
            await gw.delegation.cancel_children(chat.conv.session_id, "/stop")
            killed = await gw.processes.kill_session(chat.conv.session_id)
        if stopped:
            text = "Stopped the current turn."
        else:
            text = "No turn was running." if killed else "Nothing was running."
        if killed:
            text += f" Killed {killed} background process(es)."
        await gw.finish_inbound(row_id, event, text)
        return
    if name in ("/help", "/start"):  # /start: what Telegram sends when a chat begins
        lines = {**HELP, **GATEWAY_HELP}
        text = "\n".join(f"{k} — {v}" for k, v in lines.items())  # chat fonts are proportional
        if name == "/start":
            text = f"Hi, I am Hermes. Write to me; these commands work too:\n{text}"
        await gw.finish_inbound(row_id, event, text)
        return
    try:
        conv = await _conversation(gw, chat, event)
        outcome = await run_command(conv, event.text)
        await gw.finish_inbound(row_id, event, outcome.text)
    except HermesError as exc:
        await gw.finish_inbound(row_id, event, f"⚠️ {_line(exc)}", status="failed", error=str(exc))
    except Exception as exc:
        log.exception("command %s in %s failed", name, event.target)
        await gw.finish_inbound(
            row_id,
            event,
            f"⚠️ {name} failed ({type(exc).__name__}); details are in logs/gateway.log.",
            status="failed",
            error=str(exc),
        )


async def _command(gw: TurnHost, chat: Chat, row_id: int, event: Inbound) -> str | None:
    """A queued slash command. Returns text to run as a turn (/retry), else None."""
    if _name(event.text) == "/sethome":
        await gw.store.run(ops.kv_set, HOME_KEY, str(event.target))
        kept, _ = await gw.store.run(kept_ops.summary)
        gw.scheduler.wake()  # it delivers the cron results kept for want of a home (kept.py)
        later = " Cron results kept for want of a home channel follow." if kept else ""
        await gw.finish_inbound(
            row_id,
            event,
            f"This chat ({event.target}) is now the home channel: "
            f"notifications with no other target come here.{later}",
        )
        return None
    if _name(event.text) == "/voice":
        await gw.finish_inbound(row_id, event, await voice_chat.command(gw, event))
        return None
    conv = await _conversation(gw, chat, event)
    outcome = await run_command(conv, event.text)
    if conv.session_id != await gw.store.run(ops.chat_session, chat.key):
        await gw.store.run(ops.set_chat_session, chat.key, conv.session_id, gw.clock())
    if outcome.resend is None:
        await gw.finish_inbound(row_id, event, outcome.text)
        return None
    await gw.queue_reply(f"reply:{row_id}:note", event.target, outcome.text)
    return outcome.resend


async def run_inbound(
    gw: TurnHost,
    chat: Chat,
    row_id: int,
    event: Inbound,
    resume: int | None = None,
    session_id: str | None = None,
    *,
    decided: bool = False,
) -> None:
    """Run one stored message to its reply. `resume`: the turn started from that
    stored user message goes on (after a restart, or once its approvals are
    `decided`)."""
    # on a standby replica the reply goes whole through the ledger (no draft, no
    # typing): the active replica holds the platform connection
    adapter = None if gw.passive else gw.adapters.get(event.platform)
    streamer: DraftStreamer | None = None
    watch: SlowWatch | None = None
    web = adapter if isinstance(adapter, WebAdapter) else None  # shows turns and tool lines
    conv: Conversation | None = None
    typing = False
    try:
        typing = await _typing(adapter, event, True)  # shown while it is heard and answered
        if adapter is not None and event.attachments and resume is None:
            event = await adapter.fetch(event)
            heard = await voice_chat.hear(gw, row_id, event)
            if heard is None:
                return
            event = heard
        text = event.agent_text()
        if resume is None and is_command(event.text.strip()):
            resent = await _command(gw, chat, row_id, event)
            if resent is None:
                return
            text = resent
        conv = await _conversation(gw, chat, event)
        gw.targets[conv.session_id] = event.target
        if chat.asker is not None:
            chat.asker.owner = f"inbound:{row_id}"
            chat.asker.what = f'your message "{clip(event.text)}"'
            chat.asker.requester = work.requester(event)
        drafts = not await voice_chat.speaks_only(gw, event)
        streamer, emit, watch = _turn_sinks(gw, adapter, row_id, event, conv, drafts)
        if web is not None:
            shown = describe(conv.provider)
            emit = _both(emit, web.turn_started(event.chat, conv.provider.name, shown))
        if resume is not None:
            await leftovers.clean_stray_draft(gw.store, adapter, event.target, row_id)
            if session_id != conv.session_id or not conv.can_resume(resume):
                await gw.finish_inbound(
                    row_id,
                    event,
                    f'⚠️ Hermes restarted while working on "{clip(event.text)}" and could not '
                    "pick it up again. Please send it again.",
                    status="failed",
                    error="not resumable",
                )
                return
            if not decided:
                await gw.deliver_now(
                    f"resume:{row_id}",
                    event.target,
                    f'↻ Hermes restarted while working on "{clip(event.text)}"; picking the '
                    "work up where it stopped.",
                )
            await leftovers.report_killed(gw, conv, resume)  # before rerun: never run twice
            rerun = await rerun_rule(gw.store, f"inbound:{row_id}", decided)
            resumed = await conv.resume(resume, emit, rerun=rerun)
            assert resumed is not None  # can_resume said so
            result = resumed
        else:
            await conv.add_user(
                text,
                also=lambda conn, ids: ops.start_inbound(conn, row_id, conv.session_id, ids[0]),
            )
            result = await conv.run_turn(emit)
        draft = await streamer.finish() if streamer else None
        if result.suspended:
            await leftovers.forget_draft(gw.store, row_id)  # left showing "⏸" on purpose
            await gw.store.run(ops.set_inbound_status, row_id, "waiting")
            chat.waiting = row_id
            gw.desk.wake()  # a decision may have come in while the turn was suspending
            return
        answer = result.text or "(no answer)"
        await gw.finish_inbound(row_id, event, answer, draft_id=draft, spoken=True)
        gw.learning.after_turn(conv, event.target, str(row_id))  # off the critical path
    except asyncio.CancelledError:
        if not chat.stopping:
            if streamer is not None:
                streamer.abort()
            raise  # the gateway is stopping: the stored turn is resumed at the next start
        draft = await streamer.finish() if streamer else None
        # stopped while it was asking (the request stored, the turn not yet waiting):
        # the request is void, and the calls it held get a result saying they did not run
        owner = f"inbound:{row_id}"
        withdrawn = await gw.store.run(approval_ops.cancel_owner, owner, "/stop", gw.clock())
        if withdrawn and conv is not None:
            await conv.answer_unanswered(work.STOPPED, conv.unanswered())
        end = "⏹ Stopped before it ran." if withdrawn else "⏹ Stopped."
        shown = streamer.text.strip() if streamer else ""
        note = f"{shown}\n\n{end}" if shown else end
        await gw.finish_inbound(row_id, event, note, draft_id=draft, error="stopped")
    except HermesError as exc:
        draft = await streamer.finish() if streamer else None
        await gw.finish_inbound(
            row_id, event, f"⚠️ {exc}", status="failed", draft_id=draft, error=str(exc)
        )
    except Exception as exc:
        log.exception("message %d of %s failed", row_id, event.target)
        draft = await streamer.finish() if streamer else None
        await gw.finish_inbound(
            row_id,
            event,
            f"⚠️ Something went wrong ({type(exc).__name__}); details are in logs/gateway.log.",
            status="failed",
            draft_id=draft,
            error=str(exc),
        )
    finally:
        if typing:
            await _typing(adapter, event, False)
        if watch is not None:
            watch.close()
        if web is not None:
            web.turn_ended(event.chat)


async def _typing(adapter: Adapter | None, event: Inbound, on: bool) -> bool:
    """Tell the platform the bot is (no longer) typing; True when it was told.
    `Adapter.typing` returns at once; a failure costs the indicator, never the turn."""
    if adapter is None:
        return False
    try:
        await adapter.typing(event.target, on)
    except Exception as exc:
        log.debug("typing indicator in %s: %s", event.target, exc)
        return False
    return True


def _both(first: EventSink, second: EventSink) -> EventSink:
    def sink(event: AgentEvent) -> None:
        first(event)
        second(event)

    return sink


def _turn_sinks(
    gw: TurnHost,
    adapter: Adapter | None,
    row_id: int,
    event: Inbound,
    conv: Conversation,
    drafts: bool = True,
) -> tuple[DraftStreamer | None, EventSink, SlowWatch | None]:
    """Where a turn's events go: the streamed draft (which also says when the model
    is slow, and is recorded for the clean-up after a crash), or, in a chat
    without drafts, a watch that sends one short notice when the model is slow."""
    model = gw.profile.settings.model
    text = slow_text(model.slow_notice_seconds, describe(conv.provider), model.max_call_seconds)
    if (
        adapter is not None
        and drafts
        and adapter.capabilities.can_edit
        and gw.profile.settings.display.streaming
    ):
        streamer = DraftStreamer(
            adapter,
            event.target,
            event.message_id,
            slow=(model.slow_notice_seconds, text),
            on_draft=leftovers.draft_recorder(gw.store, row_id),
            clear=lambda: gw.store.run(
                ops.replies_sent, event.platform, event.chat, event.thread, row_id
            ),
        )
        return streamer, streamer, None
    if adapter is None:
        return None, ignore, None

    def notice() -> None:  # once per turn: the ledger sends a key once
        gw.spawn(gw.queue_reply(f"slow:{row_id}", event.target, text), "slow notice")

    watch = SlowWatch(model.slow_notice_seconds, notice)
    return None, watch, watch


class _MemoryHistory:
    """The context of an API request without a session: the request's messages."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages = list(messages)

    def context(self) -> list[Message]:
        return self.messages

    async def append(self, messages: list[Message]) -> None:
        self.messages.extend(messages)

    async def before_model_call(self, provider: object, emit: EventSink) -> None:
        return None

    def observe_usage(self, usage: object) -> None:
        return None


async def api_turn(
    gw: TurnHost,
    messages: list[Message],
    *,
    session: str | None,
    emit: EventSink,
    client: ClientTools | None = None,
) -> str:
    """session None: the request's messages are the whole context, nothing stored.
    Else the stored session named `session` gets the last user message, in its
    chat's line of work (one turn at a time). `client`: the request's own tools
    (hermes/agent/client_tools.py; only without a session): their calls end the turn."""
    if session is None:
        return await _ephemeral_turn(gw, messages, emit, client)
    if client is not None:
        raise HermesError("client tools work only without a session")
    users = [m for m in messages if m.role == "user"]
    if not users:
        raise HermesError("the request has no user message")
    event = Inbound("api", session, "api", users[-1].content, "")
    key = session_key(gw.profile.name, "api", session)
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    running: list[asyncio.Task[object]] = []

    async def job(chat: Chat) -> None:
        if done.done():  # the client left before its turn came
            return
        task = asyncio.current_task()
        if task is not None:
            running.append(task)
        try:
            conv = await _conversation(gw, chat, event)
            await conv.add_user(users[-1].content)
            result = await conv.run_turn(emit)
            if not done.done():
                done.set_result(result.text)
        except Exception as exc:
            if not done.done():
                done.set_exception(exc)

    gw.chats.submit(key, job)
    try:
        return await done
    except asyncio.CancelledError:  # the client went away: stop its turn too
        done.cancel()
        for task in running:
            task.cancel()
        raise


async def _ephemeral_turn(
    gw: TurnHost, messages: list[Message], emit: EventSink, client: ClientTools | None = None
) -> str:
    from hermes.agent.loop import Loop
    from hermes.agent.prompt import build_system_prompt
    from hermes.context import TurnContext
    from hermes.providers.resolve import resolve_provider
    from hermes.tools.registry import default_tools

    profile = gw.profile
    provider = resolve_provider(profile.settings.model, profile.env, home=profile.home)
    loop = Loop(
        provider=provider,
        system_prompt=build_system_prompt(profile),
        tools={t.name: t for t in default_tools()} | (client.tools if client else {}),
        ctx=TurnContext(profile, "api", gw.store, gw.processes, services=gw.tools),
        hooks=[
            *([client] if client else []),  # first: the client's calls go back untouched
            ApprovalGate(profile.settings.approvals, NobodyToAsk()),
        ],
        max_iterations=profile.settings.agent.max_iterations,
    )
    try:
        async with gw.chats.limit:
            result = await loop.run(_MemoryHistory(messages), emit)
    finally:
        await provider.aclose()
    return result.text
