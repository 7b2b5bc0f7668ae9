"""The outbound ledger's sender: every reply is a row in `deliveries` first,
then sent, with retries, never twice.

One `Courier` per platform runs a loop: lease the due rows, send each in
order (rendered into the platform's markup, then split to its limit; a
streamed draft becomes the first part), record each part as it lands (a
retry resumes after the last one that landed), and sleep until the next row
is due or someone calls `wake()`.
A platform error that may pass (down, slow, 429) is retried with backoff;
one that cannot (chat gone, bot blocked) or the last allowed attempt marks
the row `failed`, which `hermes doctor` and the logs show. When the platform
works again, each failed reply is sent once more with a note saying it is
late, so nothing the user was owed is silently lost.

A part is marked in flight (committed) before it is sent. If the process
dies before the ledger recorded the part, nobody can know whether the
platform got it (no chat platform here offers idempotent sends): the row
becomes `unknown`, is never sent again, and the chat gets one notice saying a
reply may not have arrived (gateway_ops.settle_in_flight). The first part of
a reply that edits its streamed draft is the exception: an edit is simply
made again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import datetime

from hermes.aio import wait_event
from hermes.gateway.events import Button, Outbound, Target, VoiceOut
from hermes.gateway.voice_out import VOICE, SpokenReplies
from hermes.platforms.adapter import Adapter, SendError
from hermes.platforms.render import render_parts
from hermes.providers.http import Backoff
from hermes.store import Store
from hermes.store import gateway_ops as ops
from hermes.voice.base import Spoken

log = logging.getLogger("hermes.gateway.delivery")

LEASE_SECONDS = 120.0  # a row being sent is someone else's for this long
RESCAN_SECONDS = 30.0  # look for rows queued by other processes (`hermes send`)


class Courier:
    def __init__(
        self,
        store: Store,
        adapter: Adapter,
        *,
        max_attempts: int = 8,
        clock: Callable[[], float] = time.time,
        backoff_base: float = 1.0,
        spoken: SpokenReplies | None = None,
    ) -> None:
        self.store = store
        self.spoken = spoken  # None: replies stay text (no voice)
        self.adapter = adapter
        self.max_attempts = max_attempts
        self.clock = clock
        self.backoff_base = backoff_base
        # a reply may wait out hours of outage: up to 5 min between tries, Retry-After honoured
        self.backoff = Backoff(base=backoff_base, cap=300.0, retry_after_cap=3600.0)
        self._wake = asyncio.Event()
        # a cluster's active replica sends only while it surely holds the lease
        self.may_send: Callable[[], bool] = lambda: True

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Send due deliveries until cancelled. Nothing but cancellation ends it."""
        failures = 0
        while True:
            try:
                await self._pass()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("the %s courier failed; going on", self.adapter.name)
                await asyncio.sleep(min(60.0, self.backoff.delay(failures - 1)))

    async def _pass(self) -> None:
        name = self.adapter.name
        while True:
            self._wake.clear()
            batch = await self.store.run(ops.claim_due, self.clock(), LEASE_SECONDS, [name])
            blocked: set[tuple[str, str | None]] = set()
            for delivery in batch:
                where = (delivery.chat, delivery.thread)
                if where in blocked:  # keep order: an earlier reply to this chat failed
                    await self.store.run(
                        ops.mark_retry,
                        delivery.id,
                        "waiting for an earlier reply",
                        self.clock() + self.backoff_base,
                        False,
                    )
                    continue
                if not await self.deliver(delivery):
                    blocked.add(where)
            if batch:
                continue  # there may be more
            due = await self.store.run(ops.next_due, [name])
            wait = RESCAN_SECONDS if due is None else min(RESCAN_SECONDS, due - self.clock())
            woken = wait <= 0 or await wait_event(self._wake, wait)
            if not woken and self.adapter.state == "connected":  # back after an outage?
                await self._report_failures()

    async def deliver(self, d: ops.Delivery) -> bool:
        """Send what is left of one (leased) delivery; True once it is all sent."""
        target = Target(d.platform, d.chat, d.thread)
        caps = self.adapter.capabilities

        def render(text: str) -> list[str]:
            try:  # rendered into the platform's markup, then split: no part breaks an entity
                return render_parts(text, caps) or [""]
            except Exception:  # a rendering bug must not cost the reply
                log.exception("rendering delivery %s failed; sending it as it is", d.key)
                return render_parts(text, dataclasses.replace(caps, markup="plain")) or [""]

        parts: list[str | None] = list(render(d.text))
        spoken: Spoken | None = None
        if d.voice and self.spoken is not None and caps.audio_out:
            parts, spoken = await self.spoken.plan(d, [p or "" for p in parts], render)
        buttons = [[Button(b["label"], b["data"]) for b in row] for row in d.buttons or []]
        try:
            for i in range(d.parts_sent, len(parts)):
                last = i == len(parts) - 1
                reply_to = d.reply_to if i == 0 else None
                if not self.may_send():
                    raise SendError(
                        "this replica no longer holds the cluster lease", retryable=True
                    )
                if not (i == 0 and d.edit_message_id):  # an edit may be made twice
                    await self.store.run(ops.mark_inflight, d.id, i)
                try:
                    part = parts[i]
                    if part is VOICE:
                        message_id = await self._send_voice(d, target, spoken, reply_to, i)
                    else:
                        message = Outbound(
                            target,
                            part,
                            buttons=buttons if last else [],
                            reply_to_message_id=reply_to,
                            key=f"{d.id}.{i}",
                        )
                        draft = d.edit_message_id if i == 0 else None
                        message_id = await self._send_part(message, draft)
                except SendError:
                    raise
                except Exception as exc:  # an adapter bug must not stop the courier
                    log.exception("sending to %s failed unexpectedly", target)
                    raise SendError(f"{type(exc).__name__}: {exc}", retryable=True) from exc
                await self.store.run(ops.record_part, d.id, message_id, i + 1)
        except SendError as exc:
            attempts = d.attempts + 1
            give_up = not exc.retryable or attempts >= self.max_attempts
            delay = self.backoff.delay(attempts - 1, exc.retry_after)
            await self.store.run(ops.mark_retry, d.id, str(exc), self.clock() + delay, give_up)
            if give_up:
                log.error(
                    "delivery %s to %s failed for good after %d attempt(s): %s",
                    d.key,
                    target,
                    attempts,
                    exc,
                )
            else:
                log.warning(
                    "delivery %s to %s failed (attempt %d, next in %.0fs): %s",
                    d.key,
                    target,
                    attempts,
                    delay,
                    exc,
                )
            return False
        self.adapter.last_sent = self.clock()  # liveness: sends go through
        await self.store.run(ops.mark_sent, d.id, self.clock())
        await self._report_failures()
        return True

    async def _send_voice(
        self, d: ops.Delivery, target: Target, spoken: Spoken | None, reply_to: str | None, i: int
    ) -> str:
        """The voice note of D (made now unless the plan made it), or, when speech
        cannot be made, the one line saying why."""
        assert self.spoken is not None  # a plan with a voice part comes from it
        made = spoken or await self.spoken.make(d)
        if isinstance(made, str):
            return await self.adapter.send(Outbound(target, made, key=f"{d.id}.{i}"))
        note = VoiceOut(target, str(made.path), made.duration, reply_to, key=f"{d.id}.{i}")
        return await self.adapter.send_voice(note)

    async def _send_part(self, message: Outbound, draft_id: str | None) -> str:
        """Send a part; the first part replaces the streamed draft when there is one."""
        if draft_id is not None and self.adapter.capabilities.can_edit and not message.buttons:
            try:
                await self.adapter.edit(message.target, draft_id, message.text)
                return draft_id
            except SendError as exc:
                if exc.retryable:
                    raise
                log.info("could not edit the draft %s (%s); sending anew", draft_id, exc)
        return await self.adapter.send(message)

    async def _report_failures(self) -> None:
        """The platform works again: resend what failed for good, saying it is late."""
        failed = await self.store.run(ops.failed_deliveries, self.adapter.name, True)
        if not failed:
            return
        now = self.clock()
        for d in failed:
            if d.key.startswith("late:"):
                continue  # a late resend that failed too: logged, not retried forever
            when = datetime.fromtimestamp(d.created_at).strftime("%Y-%m-%d %H:%M")
            note = f"⚠️ Delivered late: this could not be sent at {when}."
            await self.store.run(
                ops.queue_delivery,
                ops.NewDelivery(
                    key=f"late:{d.id}",
                    platform=d.platform,
                    chat=d.chat,
                    thread=d.thread,
                    text=f"{note}\n\n{d.text}",
                    buttons=d.buttons,
                ),
                now,
            )
        await self.store.run(ops.mark_reported, [d.id for d in failed])
        log.info("queued %d late deliveries on %s", len(failed), self.adapter.name)
        self.wake()
