"""The shared loopback fake base (tests/fakes/platform_base.py), driven by aiohttp's client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.platform_base import Call, FakePlatform, FakeSocket


class EchoFake(FakePlatform):
    """One HTTP route and one WebSocket that echoes."""

    def routes(self) -> None:
        self.http("POST", "/api/{method}", self.api)
        self.ws("/socket", self.socket)

    def api(self, call: Call) -> Any:
        with self.cond:
            self.sent.append(call.data)
            self.changed()
        return {"ok": True, "method": call.params["method"], "data": call.data}

    async def socket(self, sock: FakeSocket, call: Call) -> None:
        async for data in sock:
            for _ in range(self.copies()):
                await sock.send({"echo": data})


@pytest.fixture
def fake() -> Iterator[EchoFake]:
    with EchoFake() as f:
        yield f


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_routes_answer_and_calls_are_logged(
    fake: EchoFake, client: aiohttp.ClientSession
) -> None:
    async with client.post(f"{fake.base_url}/api/chat.post?x=1", json={"text": "hi"}) as r:
        assert r.status == 200
        assert await r.json() == {
            "ok": True,
            "method": "chat.post",
            "data": {"x": "1", "text": "hi"},
        }
    async with client.post(f"{fake.base_url}/api/form", data={"a": "b"}) as r:
        assert (await r.json())["data"] == {"a": "b"}
    assert [c.name for c in fake.calls] == ["chat.post", "form"]
    assert fake.sent == [{"x": "1", "text": "hi"}, {"a": "b"}]
    assert len(fake.calls_to("form")) == 1


async def test_failures_for_n_calls_then_recovery(
    fake: EchoFake, client: aiohttp.ClientSession
) -> None:
    fake.fail("chat.post", 503, times=2)
    fake.fail("other", 429, retry_after=3)
    statuses = []
    for _ in range(3):
        async with client.post(f"{fake.base_url}/api/chat.post", json={}) as r:
            statuses.append(r.status)
    assert statuses == [503, 503, 200]
    for _ in range(2):  # times=None: until recover()
        async with client.post(f"{fake.base_url}/api/other", json={}) as r:
            assert r.status == 429
            assert r.headers["Retry-After"] == "3"
            assert (await r.json())["retry_after"] == 3
    fake.recover()
    async with client.post(f"{fake.base_url}/api/other", json={}) as r:
        assert r.status == 200


async def test_custom_body_wildcard_and_disconnect(
    fake: EchoFake, client: aiohttp.ClientSession
) -> None:
    fake.fail("*", 200, times=1, body={"ok": False, "error": "invalid_auth"})
    async with client.post(f"{fake.base_url}/api/any", json={}) as r:
        assert await r.json() == {"ok": False, "error": "invalid_auth"}
    fake.fail("gone", "disconnect", times=1)
    with pytest.raises(aiohttp.ClientError):
        async with client.post(f"{fake.base_url}/api/gone", json={}) as r:
            await r.read()
    async with client.post(f"{fake.base_url}/api/gone", json={}) as r:
        assert r.status == 200


async def test_websocket_echo_duplicate_and_deaf_socket(
    fake: EchoFake, client: aiohttp.ClientSession
) -> None:
    async with client.ws_connect(f"{fake.base_url}/socket") as ws:
        await ws.send_json({"n": 1})
        assert await ws.receive_json(timeout=10) == {"echo": {"n": 1}}
        fake.duplicate_next()
        await ws.send_json({"n": 2})
        assert await ws.receive_json(timeout=10) == {"echo": {"n": 2}}
        assert await ws.receive_json(timeout=10) == {"echo": {"n": 2}}
        assert await asyncio.to_thread(fake.push, {"pushed": True}) == 1
        assert await ws.receive_json(timeout=10) == {"pushed": True}

        fake.silence_sockets()
        await ws.send_json({"n": 3})
        sock = fake.sockets[0]
        await asyncio.to_thread(fake.wait_for, lambda: sock.ignored == 1, 10)
        assert await asyncio.to_thread(fake.push, {"lost": True}) == 0
        assert sock.dropped == 1 and not ws.closed  # open, but deaf

        await asyncio.to_thread(fake.drop_sockets, 4000)
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4000
    await asyncio.to_thread(fake.wait_for, lambda: not fake.sockets, 10)

    async with client.ws_connect(f"{fake.base_url}/socket") as ws:  # a new socket hears
        await ws.send_json({"n": 4})
        assert await ws.receive_json(timeout=10) == {"echo": {"n": 4}}


async def test_revoked_token_refuses_everything(
    fake: EchoFake, client: aiohttp.ClientSession
) -> None:
    async with client.ws_connect(f"{fake.base_url}/socket") as ws:
        # the handshake can complete before the fake holds the socket: revoke after
        await asyncio.to_thread(fake.wait_for, lambda: len(fake.sockets) == 1, 10, "the socket")
        await asyncio.to_thread(fake.revoke_token)
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == FakePlatform.REVOKED_CLOSE_CODE
    async with client.post(f"{fake.base_url}/api/x", json={}) as r:
        assert r.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as handshake:
        await client.ws_connect(f"{fake.base_url}/socket")
    assert handshake.value.status == 401
    fake.recover()
    async with client.post(f"{fake.base_url}/api/x", json={}) as r:
        assert r.status == 200


def test_wait_for_times_out_with_a_clear_message(fake: EchoFake) -> None:
    with pytest.raises(AssertionError, match="waiting for a message"):
        fake.wait_for(lambda: fake.sent, timeout=0.1, what="a message")
