"""The WhatsApp adapters alone, in this process: the bridge adapter against the fake
bridge (its cursor moves only after the sink committed), and the Cloud API adapter
behind its real webhook route (the 24-hour window survives a restart)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette

from hermes.gateway.events import Inbound
from hermes.platforms import whatsapp
from hermes.platforms.adapter import MemoryCursor
from hermes.platforms.whatsapp_bridge import BridgeAdapter
from hermes.platforms.whatsapp_cloud import CloudAdapter
from tests.fakes import whatsapp_bridge as bridge_fake
from tests.fakes import whatsapp_cloud as cloud_fake
from tests.fakes.whatsapp_bridge import FakeWhatsAppBridge
from tests.fakes.whatsapp_cloud import WA_ID, FakeWhatsAppCloud
from tests.gateway_helpers import running_adapter
from tests.tools_helpers import wait_until


@pytest.fixture
def cloud() -> Iterator[FakeWhatsAppCloud]:
    with FakeWhatsAppCloud() as fake:
        yield fake


@pytest.fixture
def bridge() -> Iterator[FakeWhatsAppBridge]:
    with FakeWhatsAppBridge() as fake:
        yield fake


async def test_the_bridge_cursor_moves_only_after_the_sink_committed(
    bridge: FakeWhatsAppBridge,
) -> None:
    place = MemoryCursor()
    adapter = BridgeAdapter(
        url=bridge.base_url,
        token=bridge_fake.TOKEN,
        poll_timeout=1.0,
        cursor=lambda key: place,
    )
    gate, got = asyncio.Event(), []

    async def sink(event: Inbound) -> None:
        got.append(event)
        await gate.wait()  # committing takes a while

    async with running_adapter(adapter, sink):
        await wait_until(lambda: adapter.state == "connected" and place.value is not None, 10)
        before = place.value
        bridge.user_says("one")
        await wait_until(lambda: got != [], 10)
        assert place.value == before and bridge.acked == int(before or 0)  # not yet
        gate.set()
        await wait_until(lambda: place.value != before, 10)
        await wait_until(lambda: bridge.acked == int(place.value or 0), 10)
    assert [e.text for e in got] == ["one"]


async def test_the_24_hour_window_is_kept_in_the_store_across_restarts(
    cloud: FakeWhatsAppCloud,
) -> None:
    kept: dict[str, MemoryCursor] = {}
    now = [time.time()]

    def build() -> CloudAdapter:
        return CloudAdapter(
            token=cloud_fake.TOKEN,
            phone_number_id=cloud_fake.PHONE_NUMBER_ID,
            app_secret=cloud_fake.APP_SECRET,
            verify_token=cloud_fake.VERIFY_TOKEN,
            graph_url=cloud.base_url,
            cursor=lambda key: kept.setdefault(key, MemoryCursor()),
            clock=lambda: now[0],
        )

    first, got = build(), []

    async def sink(event: Inbound) -> None:
        got.append(event)

    body = json.dumps(
        cloud.envelope(
            {},
            {
                "from": WA_ID,
                "id": "wamid.W",
                "timestamp": str(int(now[0])),
                "type": "text",
                "text": {"body": "hi"},
            },
        )
    ).encode()
    async with running_adapter(first, sink):
        await wait_until(lambda: first.state == "connected", 10)
        app = Starlette(routes=whatsapp.routes(first))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hermes") as client:
            headers = {"X-Hub-Signature-256": cloud_fake.sign(body)}
            assert (await client.post("/", content=body, headers=headers)).status_code == 200
    assert [e.text for e in got] == ["hi"]
    second = build()  # a restart: nothing in memory
    assert await second.window_open("+16505551234")
    now[0] += 24 * 3600
    assert not await build().window_open("+16505551234")
