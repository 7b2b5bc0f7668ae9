"""A reply that streams by editing one message in place.

While the agent works, its text (and a line naming the tool it runs) is
shown in a draft message: sent at the first text, then edited at most once
per `Capabilities.edit_interval` (platforms rate-limit edits). The draft is
a preview only: the final reply goes through the delivery ledger, which
turns the draft into the first part of the answer (hermes/gateway/delivery.py).
A failed send or edit is retried a few times when the platform says it is
transient; other failures end the preview. They never fail the turn.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hermes.agent.events import AgentEvent, TextDelta, ToolFinished, ToolStarted, ToolWaiting
from hermes.agent.loop import tool_call_summary
from hermes.gateway.adapters.base import Adapter, SendError
from hermes.gateway.events import Outbound, Target

log = logging.getLogger("hermes.gateway")
MAX_FAILURES = 3  # transient send/edit failures before the preview gives up


class DraftStreamer:
    def __init__(self, adapter: Adapter, target: Target, reply_to: str | None = None) -> None:
        self.adapter = adapter
        self.target = target
        self.reply_to = reply_to
        self.message_id: str | None = None  # the draft, once sent
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

    def __call__(self, event: AgentEvent) -> None:
        """The EventSink of the turn."""
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
        limit = self.adapter.capabilities.max_length - 2
        return text if len(text) <= limit else text[: limit - 1] + "…"

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
                if self.message_id is None:
                    message = Outbound(self.target, text, reply_to_message_id=self.reply_to)
                    self.message_id = await self.adapter.send(message)
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

    def abort(self) -> None:
        """Stop at once (the gateway is stopping): cancel a pending edit."""
        self._broken = True
        if self._flush is not None and not self._flush.done():
            self._flush.cancel()

    async def finish(self) -> str | None:
        """Stop previewing; return the draft's message id (None if none was sent).
        An edit in flight is awaited, not cancelled, so its message id is known."""
        self._broken = True
        task = self._flush
        if task is not None and not task.done() and not self._lock.locked():
            task.cancel()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        return self.message_id
