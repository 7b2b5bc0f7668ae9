"""`hermes send PLATFORM:CHAT[:THREAD] TEXT` and the agent's sends: a message
queued in the delivery ledger, then one attempt right away. If the platform
fails, the ledger keeps it and the gateway's courier retries it."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from hermes.gateway.delivery import LEASE_SECONDS, Courier
from hermes.gateway.events import Target
from hermes.platforms.adapter import Adapter
from hermes.store import Store
from hermes.store import gateway_ops as ops

WAIT_SECONDS = 15.0  # how long a send waits for its first attempt


@dataclass
class SendResult:
    status: str  # sent | pending (will be retried) | failed
    delivery_id: int
    error: str | None = None


def queued(target: Target, text: str) -> ops.NewDelivery:
    return ops.NewDelivery(
        f"send:{uuid.uuid4().hex}", target.platform, target.chat, target.thread, text
    )


async def send_now(store: Store, adapter: Adapter, target: Target, text: str) -> SendResult:
    """Queue and attempt once here (no gateway is running)."""
    delivery_id = await store.run(ops.queue_delivery, queued(target, text), time.time())
    assert delivery_id is not None  # a fresh key
    delivery = await store.run(ops.claim_one, delivery_id, time.time(), LEASE_SECONDS)
    if delivery is not None:
        await Courier(store, adapter).deliver(delivery)
    return await settle(store, delivery_id)


async def settle(store: Store, delivery_id: int) -> SendResult:
    """The outcome to tell the sender. A failure they are told about is theirs to
    repeat: it is not resent later as a late delivery (that would duplicate it)."""
    outcome = await result(store, delivery_id)
    if outcome.status == "failed":
        await store.run(ops.mark_reported, [delivery_id])
    return outcome


async def wait_for_attempt(
    store: Store, delivery_id: int, seconds: float = WAIT_SECONDS
) -> SendResult:
    """Wait until the gateway's courier tried the delivery once (or `seconds` pass)."""
    deadline = time.monotonic() + seconds
    while True:
        outcome = await result(store, delivery_id)
        if outcome.status != "pending" or outcome.error or time.monotonic() > deadline:
            return await settle(store, delivery_id)
        await asyncio.sleep(0.05)


async def result(store: Store, delivery_id: int) -> SendResult:
    d = await store.run(ops.get_delivery, delivery_id)
    if d is None:
        return SendResult("failed", delivery_id, "the delivery vanished from the ledger")
    status = "pending" if d.status == "sending" else d.status
    return SendResult(status, delivery_id, d.error)
