"""The outbound half of a gateway: every message it sends goes into the delivery
ledger first (committed, once per key), then the courier of its platform sends it
(hermes/gateway/delivery.py). On a standby replica of a cluster the active
replica's couriers send: the standby tells them with a notification."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from hermes.gateway.cluster import Replica
from hermes.gateway.delivery import LEASE_SECONDS, Courier
from hermes.gateway.events import Inbound, Target
from hermes.store import Store
from hermes.store import gateway_ops as ops


class Replies:
    """Mixed into the Gateway, which sets these up."""

    store: Store
    clock: Callable[[], float]
    couriers: dict[str, Courier]
    replica: Replica | None
    passive: bool  # a standby replica: its replies are sent by the active one
    _delivery_note: asyncio.Task[None] | None = None  # a standby's "delivery" notification
    _deliveries_told = True

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        raise NotImplementedError

    async def queue_reply(
        self,
        key: str,
        target: Target,
        text: str,
        *,
        draft_id: str | None = None,
        reply_to: str | None = None,
        buttons: list[list[dict[str, str]]] | None = None,
    ) -> None:
        """Put a message in the ledger (once per key) and wake its courier."""
        delivery = ops.NewDelivery(
            key,
            target.platform,
            target.chat,
            target.thread,
            text,
            buttons=buttons,
            reply_to=reply_to,
            edit_message_id=draft_id,
        )
        await self.store.run(ops.queue_delivery, delivery, self.clock())
        self.wake(target.platform)

    async def finish_inbound(
        self,
        row_id: int,
        event: Inbound,
        text: str,
        *,
        status: str = "done",
        draft_id: str | None = None,
        error: str | None = None,
        spoken: bool = False,
    ) -> None:
        """Mark inbound ROW_ID handled and queue its reply TEXT, in one transaction
        (the reply edits DRAFT_ID, the streamed draft, when there is one). `spoken`:
        TEXT is the agent's answer, which the chat's /voice mode applies to."""
        delivery = ops.NewDelivery(
            f"reply:{row_id}",
            event.platform,
            event.chat,
            event.thread,
            text,
            reply_to=event.message_id if draft_id is None else None,
            edit_message_id=draft_id,
        )
        await self.store.run(
            ops.finish_inbound, row_id, status, self.clock(), error, delivery, spoken=spoken
        )
        self.wake(event.platform)

    async def deliver_now(self, key: str, target: Target, text: str) -> None:
        """Queue a message and make its first attempt here and now, so it lands
        before whatever the caller does next (still retried by the courier)."""
        delivery = ops.NewDelivery(key, target.platform, target.chat, target.thread, text)
        row_id = await self.store.run(ops.queue_delivery, delivery, self.clock())
        courier = self.couriers.get(target.platform)
        if row_id is None or courier is None or self.passive:
            self.wake(target.platform)
            return
        claimed = await self.store.run(ops.claim_one, row_id, self.clock(), LEASE_SECONDS)
        if claimed is not None:
            await courier.deliver(claimed)

    def wake(self, platform: str) -> None:
        if self.passive and self.replica is not None:  # the active replica's couriers send
            self._deliveries_told = False
            if self._delivery_note is None or self._delivery_note.done():
                self._delivery_note = self.spawn(self._tell_deliveries(), "delivery")
            return
        courier = self.couriers.get(platform)
        if courier is not None:
            courier.wake()

    async def _tell_deliveries(self) -> None:
        """A standby queued replies: one notification wakes the active replica's
        couriers for all queued until it is sent."""
        assert self.replica is not None
        while not self._deliveries_told:
            self._deliveries_told = True
            await self.replica.announce("delivery")
