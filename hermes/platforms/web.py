"""The web chat's adapter: the browser is a platform like Telegram.

Replies are published as events to the pages subscribed to a chat (over
Server-Sent Events, see hermes/server/webchat.py). Sending never waits for
a browser: each subscriber has a bounded queue, and one that falls behind
is dropped (its page reconnects and catches up from the chat's backlog of
recent events, by sequence number). Sequence numbers start from the clock
in milliseconds, so they keep growing across gateway restarts and a page
that reconnects to a restarted gateway never skips the new events.

Besides the messages, a page hears about the chat's turns (running or not, on
which model: the Stop button and the header), each tool call of a turn (kept
as a line with its outcome), and approvals decided anywhere (its buttons turn
into the decision).

Voice: a voice note recorded in the page arrives through hermes/server/webchat_voice.py;
`show_transcript` replaces the page's "voice note" bubble with what was heard, and
`send_voice` keeps a spoken reply on disk (hermes/platforms/web_audio.py) for the
page's <audio> player, also after a reload.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import tempfile
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermes.agent.events import AgentEvent, EventSink, ToolFinished, ToolStarted, ToolWaiting
from hermes.agent.loop import tool_call_summary
from hermes.gateway.events import Outbound, Target, VoiceOut
from hermes.platforms.adapter import Adapter, SendError, Sink
from hermes.platforms.spec import Build, Capabilities, Platform
from hermes.platforms.web_audio import AudioShelf, SpokenReply
from hermes.providers.describe import offline_notice

Event = dict[str, Any]

BACKLOG = 200  # events kept per chat for pages that reconnect
QUEUE_SIZE = 512  # events a page may fall behind before it is dropped
MAX_CHATS = 200  # chats whose backlog is kept (least recently used ones are forgotten)
MAX_APPROVALS = 500  # approvals whose buttons are remembered (to show their decision)
APPROVAL_BUTTON = re.compile(r"^(?:approve|deny):(.{1,128})$")


class Subscription:
    """One page's stream of a chat's events: ``async for event in sub``.
    The iteration ends when the subscriber was dropped for falling behind."""

    def __init__(self, replay: list[Event], maxsize: int) -> None:
        self._replay = deque(replay)
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.dropped = False

    def push(self, event: Event) -> bool:
        """Queue an event; False (and the subscription ends) if the page is too far behind."""
        if self.dropped:
            return False
        try:
            self._queue.put_nowait(event)
            return True
        except asyncio.QueueFull:
            self.end()
            return False

    def end(self) -> None:
        """Stop the iteration after what was already taken (pending events are dropped)."""
        if self.dropped:
            return
        self.dropped = True
        self._replay.clear()
        while not self._queue.empty():  # make room for the end marker
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self._replay:
            return self._replay.popleft()
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event


@dataclass
class _Chat:
    lost_upto: int  # events up to this seq are no longer in the backlog (or never were)
    backlog: deque[Event] = field(default_factory=lambda: deque(maxlen=BACKLOG))
    subscribers: set[Subscription] = field(default_factory=set)
    model: Event | None = None  # {"model", "notice"} of the latest turn


CAPABILITIES = Capabilities(
    max_length=100_000,
    can_edit=True,
    edit_interval=0.05,
    buttons=True,
    threads=False,
    voice_notes=True,
    audio_out=True,
)


class WebAdapter(Adapter):
    """The browser chat at http://127.0.0.1:8420/ (the page logs in with HERMES_API_KEY)."""

    name = "web"
    trusted = True
    capabilities = CAPABILITIES

    def __init__(self, *, queue_size: int = QUEUE_SIZE, media: Path | None = None) -> None:
        """`media`: where spoken replies are kept (None: a temporary directory)."""
        self.sink: Sink | None = None  # set by run(); the web routes hand messages to it
        self.state = "starting"
        self._queue_size = queue_size
        self._seq = itertools.count(int(time.time() * 1000))
        self._last = next(self._seq)  # events are numbered after this one
        self._chats: OrderedDict[str, _Chat] = OrderedDict()
        self._turns: dict[str, Event] = {}  # chat -> its running turn {"turn", "model"}
        self._approvals: OrderedDict[str, set[str]] = OrderedDict()  # id -> chats shown in
        self._media = media

    async def run(self, sink: Sink) -> None:
        self.sink = sink
        self.state = "connected"
        try:
            await asyncio.Event().wait()  # nothing to poll: the web routes call the sink
        finally:
            self.state = "stopped"

    async def send(self, message: Outbound) -> str:
        seq = self._next_seq()
        message_id = str(seq)
        buttons = [[{"label": b.label, "data": b.data} for b in row] for row in message.buttons]
        self._remember_approvals(message.target.chat, buttons)
        self._publish(
            message.target.chat,
            {"type": "message", "id": message_id, "text": message.text, "buttons": buttons},
            seq,
        )
        return message_id

    async def edit(self, target: Target, message_id: str, text: str) -> None:
        self._publish(target.chat, {"type": "edit", "id": message_id, "text": text})

    async def send_voice(self, voice: VoiceOut) -> str:
        """Keep the spoken reply for the page's player and show it in the chat."""
        seq = self._next_seq()
        message_id = str(seq)
        source = Path(voice.path)
        try:
            reply = await asyncio.to_thread(
                self.shelf.put, voice.target.chat, source, message_id, voice.duration
            )
        except OSError as exc:
            raise SendError(f"web: cannot keep the spoken reply: {exc}", retryable=False) from exc
        self._publish(voice.target.chat, {"type": "audio", **reply.item()}, seq)
        return message_id

    def show_transcript(self, chat: str, message_id: str | None, text: str) -> None:
        """What was heard in the voice note MESSAGE_ID (the page's client id): the page
        shows it in place of the note's placeholder bubble."""
        self._publish(chat, {"type": "transcript", "client_id": message_id, "text": text})

    def publish_voice_note(self, chat: str, client_id: str) -> None:
        """Show a voice note recorded in one tab in the chat's other tabs too."""
        self._publish(chat, {"type": "user", "voice": True, "text": "", "client_id": client_id})

    @property
    def shelf(self) -> AudioShelf:
        if self._media is None:
            self._media = Path(tempfile.mkdtemp(prefix="hermes-web-audio-"))
        return AudioShelf(self._media)

    def audio_file(self, folder: str, audio_id: str) -> Path | None:
        """The spoken reply at /api/web/audio/FOLDER/ID, if it is kept."""
        return None if self._media is None else self.shelf.file(folder, audio_id)

    async def spoken(self, chat: str) -> list[SpokenReply]:
        """The chat's spoken replies kept on disk, oldest first."""
        if self._media is None:
            return []
        return await asyncio.to_thread(self.shelf.listed, chat)

    async def close(self) -> None:
        """End every page's event stream (the pages reconnect to the next gateway)."""
        for state in self._chats.values():
            for sub in state.subscribers:
                sub.end()
            state.subscribers.clear()

    def publish_user_message(self, chat: str, text: str, client_id: str) -> None:
        """Show a message typed in one tab in the chat's other tabs too."""
        self._publish(chat, {"type": "user", "text": text, "client_id": client_id})

    # ----- turns, tools, approvals ------------------------------------------------------

    def turn_started(self, chat: str, provider: str, model: str) -> EventSink:
        """A turn runs in `chat` on `model` ("openrouter · anthropic/claude-sonnet-4") of
        `provider`; returns the sink of its agent events (each tool call becomes a
        line the page keeps). Call turn_ended() after."""
        turn = {"turn": uuid.uuid4().hex[:12], "model": model, "notice": offline_notice(provider)}
        self._turns[chat] = turn
        self._chat(chat).model = {"model": model, "notice": turn["notice"]}
        self._publish(chat, {"type": "turn", "running": True, **turn})

        def sink(event: AgentEvent) -> None:
            if isinstance(event, ToolStarted | ToolFinished | ToolWaiting):
                self._publish(chat, {"type": "tool", "turn": turn["turn"], **tool_line(event)})

        return sink

    def turn_ended(self, chat: str) -> None:
        turn = self._turns.pop(chat, None)
        if turn is not None:
            self._publish(chat, {"type": "turn", "running": False, **turn})

    def running_turn(self, chat: str) -> Event | None:
        """{"turn", "model", "notice"} of the turn running in `chat`, if one is."""
        turn = self._turns.get(chat)
        return dict(turn) if turn is not None else None

    def last_model(self, chat: str) -> Event | None:
        """{"model", "notice"} of the chat's latest turn (None if none ran here)."""
        state = self._chats.get(chat)
        return dict(state.model) if state is not None and state.model is not None else None

    def approval_decided(self, approval_id: str, status: str, by: str, origin: str | None) -> None:
        """Tell the pages that showed the buttons of `approval_id` (and its origin chat,
        if a web chat) that it was decided: they show the decision instead."""
        chats = self._approvals.pop(approval_id, set())
        platform, _, chat = (origin or "").partition(":")
        if platform == "web" and chat:
            chats.add(chat.split(":", 1)[0])
        for one in sorted(chats):
            event = {"type": "approval", "id": approval_id, "status": status, "by": by}
            self._publish(one, event)

    def _remember_approvals(self, chat: str, buttons: list[list[dict[str, str]]]) -> None:
        for row in buttons:
            for button in row:
                found = APPROVAL_BUTTON.match(button["data"])
                if found:
                    self._approvals.setdefault(found.group(1), set()).add(chat)
                    self._approvals.move_to_end(found.group(1))
        while len(self._approvals) > MAX_APPROVALS:
            self._approvals.popitem(last=False)

    def last_seq(self, chat: str) -> int:
        """The newest event's sequence number (0 if none); a page that loaded the
        history now subscribes with after=this and misses nothing."""
        state = self._chats.get(chat)
        if state is None:
            return 0
        return int(state.backlog[-1]["seq"]) if state.backlog else state.lost_upto

    @asynccontextmanager
    async def subscribe(self, chat: str, after: int | None = None) -> AsyncIterator[Subscription]:
        """Stream the chat's events from now on; with `after`, first replay the kept
        events newer than it. If some were already forgotten, the stream starts
        with a {"type": "reset"} event: the page should reload the history."""
        state = self._chat(chat)
        replay: list[Event] = []
        if after is not None:
            newest = self.last_seq(chat)
            if after > newest:  # a clock that went back: the page's number is from the future
                after = 0
            if 0 < after < state.lost_upto:
                replay = [{"type": "reset", "seq": newest}]
            else:
                replay = [e for e in state.backlog if e["seq"] > after]
        sub = Subscription(replay, self._queue_size)
        state.subscribers.add(sub)
        try:
            yield sub
        finally:
            state.subscribers.discard(sub)

    def _chat(self, chat: str) -> _Chat:
        state = self._chats.get(chat)
        if state is None:
            # a page may have seen this chat before this gateway (or this backlog) existed
            state = self._chats[chat] = _Chat(lost_upto=self._last)
            while len(self._chats) > MAX_CHATS:
                oldest = next(iter(self._chats))
                if self._chats[oldest].subscribers:
                    break  # never forget a chat a page is watching
                del self._chats[oldest]
        self._chats.move_to_end(chat)
        return state

    def _next_seq(self) -> int:
        self._last = next(self._seq)
        return self._last

    def _publish(self, chat: str, event: Event, seq: int | None = None) -> None:
        event["seq"] = self._next_seq() if seq is None else seq
        state = self._chat(chat)
        for old in [e for e in state.backlog if _replaces(event, e)]:
            state.backlog.remove(old)  # e.g. an edit carries the whole text: older ones are moot
        if len(state.backlog) == BACKLOG:
            state.lost_upto = int(state.backlog[0]["seq"])
        state.backlog.append(event)
        for sub in list(state.subscribers):
            if not sub.push(event):
                state.subscribers.discard(sub)


def _replaces(new: Event, old: Event) -> bool:
    """Does `new` make `old` moot for a page that catches up (same thing, newer state)?"""
    kind = new.get("type")
    if kind != old.get("type"):
        return False
    if kind == "edit":
        return bool(old.get("id") == new.get("id"))
    if kind == "tool":
        return bool(old.get("turn") == new.get("turn") and old.get("call") == new.get("call"))
    if kind == "transcript":
        return bool(old.get("client_id") == new.get("client_id"))
    return kind == "turn" and old.get("turn") == new.get("turn")


def tool_line(event: ToolStarted | ToolFinished | ToolWaiting) -> Event:
    """One tool call as the page shows it: what runs, and how it went."""
    line: Event = {"call": event.call.id, "summary": tool_call_summary(event.call, 80)}
    if isinstance(event, ToolStarted):
        line["state"] = "running"
    elif isinstance(event, ToolWaiting):
        line.update(state="waiting", note=event.note)
    else:
        line.update(state="error" if event.is_error else "done", seconds=round(event.seconds, 1))
    return line


def build(spec: Build) -> WebAdapter:
    """The web chat's adapter: every gateway has one (its routes: hermes/server/webchat.py)."""
    return WebAdapter(media=spec.profile.home / "web" / "audio")


PLATFORM = Platform(
    name="web",
    title="Web chat",
    required=(),
    how="start the gateway: hermes gateway run",
    build=build,
    capabilities=CAPABILITIES,
    local=True,
)
