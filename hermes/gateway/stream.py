"""A reply that streams by editing one message in place.

While the agent works, its text (and a line naming the tool it runs) is
shown in a draft message: sent at the first text, then edited at most once
per `Capabilities.edit_interval` (platforms rate-limit edits). The draft is
a preview only: the final reply goes through the delivery ledger, which
turns the draft into the first part of the answer (hermes/gateway/delivery.py).
A failed send or edit is retried a few times when the platform says it is
transient; other failures end the preview. They never fail the turn.

A model that is slow to answer is reported (`SlowWatch`): after
`model.slow_notice_seconds` without a sign of life in one model call, the
draft shows a line saying so (once per call; a chat without drafts gets one
short message per turn instead). The draft's message id is handed to
`on_draft` as soon as it exists, so a turn cut by a crash can find its stray
draft at the restart (hermes/gateway/leftovers.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from hermes.agent.events import (
    AgentEvent,
    ModelCalled,
    TextDelta,
    ToolFinished,
    ToolStarted,
    ToolWaiting,
    TurnDone,
)
from hermes.agent.loop import tool_call_summary
from hermes.gateway.events import Outbound, Target
from hermes.platforms.adapter import Adapter, SendError
from hermes.platforms.render import preview

log = logging.getLogger("hermes.gateway")
MAX_FAILURES = 3  # transient send/edit failures before the preview gives up


def slow_text(seconds: float, model: str, limit: float) -> str:
    """The line a chat sees while a model keeps it waiting."""
    return (
        f"⏳ No reply from the model ({model}) for {_duration(seconds)}; still waiting, "
        f"up to {_duration(limit)}."
    )


def _duration(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g}s"


class SlowWatch:
    """An EventSink that times the silence of each model call: after `seconds`
    without a sign of life (from ModelCalled, or from the last streamed text)
    it calls `on_slow()`, at most once per model call. The call ends with its
    reply: a tool starting or waiting, or the turn done."""

    def __init__(self, seconds: float, on_slow: Callable[[], None]) -> None:
        self.seconds = seconds
        self._on_slow = on_slow
        self._last = 0.0  # time.monotonic() of the last sign of life
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, event: AgentEvent) -> None:
        if isinstance(event, ModelCalled):
            self._last = time.monotonic()
            self._arm(self.seconds)
        elif isinstance(event, TextDelta):
            self._last = time.monotonic()  # the timer, when it fires, looks at this
        elif isinstance(event, ToolStarted | ToolWaiting | TurnDone):
            self.close()

    def _arm(self, delay: float) -> None:
        self.close()
        self._timer = asyncio.get_running_loop().call_later(delay, self._check)

    def _check(self) -> None:
        self._timer = None
        silent = time.monotonic() - self._last
        if silent < self.seconds:  # text came meanwhile: look again when it could be due
            self._arm(self.seconds - silent)
            return
        try:
            self._on_slow()
        except Exception:
            log.exception("reporting a slow model failed")

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class DraftStreamer:
    def __init__(
        self,
        adapter: Adapter,
        target: Target,
        reply_to: str | None = None,
        *,
        slow: tuple[float, str] | None = None,
        on_draft: Callable[[str], Awaitable[None]] | None = None,
        clear: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """slow: (seconds, text): show `text` when a model call is silent that long.
        on_draft: told the draft's message id once it is sent (awaited).
        clear: whether the chat's earlier replies are all sent: the draft waits
        until they are, so a busy ledger never shows an answer above the one
        before it (asked before the first send only)."""
        self.adapter = adapter
        self.target = target
        self.reply_to = reply_to
        self.message_id: str | None = None  # the draft, once sent
        self._on_draft = on_draft
        self._clear = clear
        self._slow: SlowWatch | None = None
        if slow is not None:
            seconds, text = slow
            self._slow = SlowWatch(seconds, lambda: self._show_status(text))
        self._text = ""
        self._status = ""  # "⚙ terminal: ls" while a tool runs
        self._shown = ""
        self._last_edit = 0.0
        self._flush: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._broken = False
        self._failures = 0

    @property
    def text(self) -> str:
        """The model's text streamed so far."""
        return self._text

    def _show_status(self, status: str) -> None:
        self._status = status
        self._schedule()

    def __call__(self, event: AgentEvent) -> None:
        """The EventSink of the turn."""
        if self._slow is not None:
            self._slow(event)
        if isinstance(event, TextDelta):
            self._text += event.text
            self._status = ""
        elif isinstance(event, ToolStarted):
            self._status = f"⚙ {tool_call_summary(event.call, 60)}"
        elif isinstance(event, ToolWaiting):
            self._status = f"⏸ {tool_call_summary(event.call, 60)} ({event.note})"
        elif isinstance(event, ToolFinished):
            self._status = ""
            if self._text and not self._text.endswith("\n"):
                self._text += "\n"
        else:
            return
        self._schedule()

    def _render(self) -> str:
        text = self._text.strip()
        if self._status:
            text = f"{text}\n\n{self._status}" if text else self._status
        return preview(text, self.adapter.capabilities)  # in the platform's markup, fits

    def _schedule(self) -> None:
        if self._broken or (self._flush is not None and not self._flush.done()):
            return
        wait = self._last_edit + self.adapter.capabilities.edit_interval - time.monotonic()
        self._flush = asyncio.get_running_loop().create_task(self._flush_after(max(0.0, wait)))

    async def _flush_after(self, delay: float | None) -> None:
        while delay is not None:
            if delay:
                await asyncio.sleep(delay)
            delay = await self._update()

    async def _update(self) -> float | None:
        """Show the current text; return the seconds after which to try again."""
        async with self._lock:
            text = self._render()
            if not text or text == self._shown or self._broken:
                return None
            try:
                if self.message_id is None and self._clear is not None:
                    if not await self._clear():  # an earlier reply is still on its way
                        return self.adapter.capabilities.edit_interval
                    self._clear = None
                if self.message_id is None:
                    message = Outbound(self.target, text, reply_to_message_id=self.reply_to)
                    self.message_id = await self.adapter.send(message)
                    if self._on_draft is not None:
                        await self._record(self.message_id)
                else:
                    await self.adapter.edit(self.target, self.message_id, text)
            except SendError as exc:
                self._failures += 1
                if exc.retryable and self._failures <= MAX_FAILURES:
                    log.info("streaming preview to %s: %s; trying again", self.target, exc)
                    return max(self.adapter.capabilities.edit_interval, exc.retry_after or 0.0)
                log.info("streaming preview to %s stopped: %s", self.target, exc)
                self._broken = True
                return None
            self._shown = text
            self._last_edit = time.monotonic()
            if self._render() != text:  # more arrived while this was sent: show it too
                return self.adapter.capabilities.edit_interval
            return None

    async def _record(self, message_id: str) -> None:
        assert self._on_draft is not None
        try:
            await self._on_draft(message_id)
        except Exception:  # the preview goes on; only the clean-up after a crash is lost
            log.exception("could not record the draft %s of %s", message_id, self.target)

    def abort(self) -> None:
        """Stop at once (the gateway is stopping): cancel a pending edit."""
        if self._slow is not None:
            self._slow.close()
        self._broken = True
        if self._flush is not None and not self._flush.done():
            self._flush.cancel()

    async def finish(self) -> str | None:
        """Stop previewing; return the draft's message id (None if none was sent).
        An edit in flight is awaited, not cancelled, so its message id is known."""
        if self._slow is not None:
            self._slow.close()
        self._broken = True
        task = self._flush
        if task is not None and not task.done() and not self._lock.locked():
            task.cancel()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        return self.message_id
