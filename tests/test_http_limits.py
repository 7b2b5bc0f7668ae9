"""What a client can make the gateway hold, and what it answers when refused
(issue 12, items 8 and 11): body limits, head and body deadlines, the
connection cap, lone surrogates, clipped echoes and the one error shape.

Real HTTP against a real server on loopback: the app of a running gateway
served by HttpServer in the test's loop (with short deadlines where the test
waits for one), raw sockets where a well-behaved client would not do what is
tested, and one `hermes gateway run` process whose memory is measured.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.routing import Mount, Route

from hermes.gateway.core import Gateway
from hermes.platforms.web import WebAdapter
from hermes.server.api_hermes import OPENAPI
from hermes.server.http_body import LARGE, BodyLimit, body_limit
from hermes.server.server import HttpServer, build_app
from hermes.testing import ScriptedModel
from tests.gateway_helpers import GatewayProcess, make_home, running_gateway
from tests.tools_helpers import wait_until

KEY = "test-key"
BEARER = {"Authorization": f"Bearer {KEY}"}
DOC = json.loads(OPENAPI.read_text())
ERROR = Draft202012Validator(
    {"$ref": "urn:doc#/components/schemas/Error"},
    registry=Registry().with_resource("urn:doc", DRAFT202012.create_resource(DOC)),
)


@dataclass
class Served:
    gw: Gateway
    server: HttpServer
    port: int
    routes: list[Any]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def serving(
    tmp_path: Path, limits: Callable[[str], BodyLimit] = body_limit, **server: Any
) -> AsyncIterator[Served]:
    """A gateway (web chat included, no model needed) served on a loopback port."""
    web = WebAdapter()
    async with running_gateway(make_home(tmp_path / "home"), [web], api_key=KEY) as gw:
        app = build_app(gw, limits=limits)
        http = HttpServer(app, "127.0.0.1", 0, grace=0.1, **server)
        port = await http.start()
        try:
            yield Served(gw, http, port, list(app.routes))
        finally:
            await http.stop()


def one_shape(data: Any) -> dict[str, Any]:
    """`data` is the gateway's one error shape (the document's Error schema)."""
    ERROR.validate(data)
    assert "\n" not in data["error"]["message"]
    error: dict[str, Any] = data["error"]
    return error


# ----- raw HTTP --------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    seconds: float


def parse(raw: bytes, seconds: float) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), raw[:200]
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return Answer(int(lines[0].split()[1]), headers, json.loads(body) if body else None, seconds)


async def exchange(port: int, data: bytes, seconds: float = 10.0) -> tuple[bytes, float]:
    """Send `data` on a new connection, then read until the gateway closes it:
    (all it sent, seconds from the send to the close)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        started = time.monotonic()
        writer.write(data)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), seconds)
        return raw, time.monotonic() - started
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> Answer:
    """One whole response (head and content-length body) off a kept-alive connection."""
    started = time.monotonic()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(parse(head, 0).headers.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), 10)
    return parse(head + body, time.monotonic() - started)


async def trickle_until_closed(
    port: int, head: bytes, drip: bytes, seconds: float
) -> tuple[bytes, float]:
    """Send `head`, then one byte of `drip` each 0.1 s while the gateway keeps the
    connection open; returns what it answered and when it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(head)
    received = b""
    try:
        for byte in drip * 1000:
            if time.monotonic() - started > seconds:
                raise AssertionError(f"still open after {seconds} s")
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                break
            try:  # the pace of the drip, and the watch for the close
                part = await asyncio.wait_for(reader.read(65536), 0.1)
            except TimeoutError:
                continue
            except ConnectionError:
                break
            received += part
            if not part:
                break
        return received, time.monotonic() - started
    finally:
        writer.close()


async def upload(url: str, path: str, total: int, *, chunked: bool) -> tuple[Answer, int]:
    """POST a `total`-byte JSON body the way a hostile client does: it keeps sending
    until the answer arrives. Returns the answer and how many body bytes went out."""
    host, _, port = url.removeprefix("http://").rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    framing = "transfer-encoding: chunked" if chunked else f"content-length: {total}"
    writer.write(f"POST {path} HTTP/1.1\r\nhost: {host}\r\n{framing}\r\n\r\n".encode())
    started = time.monotonic()
    answer = asyncio.create_task(reader.read())
    block = b"a" * (1 << 16)
    sent = 0
    try:
        while sent < total and not answer.done():
            data = (b'{"key": "' + block)[: len(block)] if sent == 0 else block
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data)
            await writer.drain()
            sent += len(data)
    except ConnectionError:
        pass  # the gateway closed after answering: the answer is in the buffer
    try:
        raw = await asyncio.wait_for(answer, 10)
    finally:
        writer.close()
    return parse(raw, time.monotonic() - started), sent


# ----- body limits -----------------------------------------------------------------------


async def test_a_content_length_over_the_limit_is_a_413_before_any_body_is_sent(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path) as site:
        for path, size, says in (
            ("/api/web/login", 4097, "over 4 KiB"),
            ("/api/hermes/cron", 1024 * 1024 + 1, "over 1 MiB"),
        ):
            head = f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {size}\r\n\r\n"
            raw, seconds = await exchange(site.port, head.encode())  # and not one body byte
            answer = parse(raw, seconds)
            assert answer.status == 413, raw
            assert answer.headers["connection"] == "close"
            error = one_shape(answer.body)
            assert error["code"] == "body_too_large"
            assert path in error["message"] and says in error["message"]
            assert seconds < 1


async def test_a_chunked_body_growing_past_the_limit_is_cut_off_at_once(tmp_path: Path) -> None:
    async with serving(tmp_path) as site:
        answer, sent = await upload(site.url, "/api/web/login", 64 << 20, chunked=True)
    assert answer.status == 413
    assert one_shape(answer.body)["code"] == "body_too_large"
    assert sent < 4 << 20  # it stopped reading long before the 64 MiB were sent
    assert answer.seconds < 2


async def test_a_300_mib_login_is_refused_at_once_and_the_gateway_does_not_grow(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, {"server": {"port": 0}}, {"HERMES_API_KEY": KEY})
    gw = await GatewayProcess(home).ready()
    try:
        status = Path(f"/proc/{gw.proc.pid}/status")

        def peak_mib() -> float:
            line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
            return int(line.split()[1]) / 1024

        before = peak_mib()
        for chunked in (False, True):
            answer, _ = await upload(gw.url, "/api/web/login", 300 << 20, chunked=chunked)
            assert answer.status == 413, answer
            assert answer.seconds < 2
        grew = peak_mib() - before
        assert grew < 30, f"the gateway's peak RSS grew by {grew:.0f} MiB"
        async with httpx.AsyncClient() as http:  # and it still serves
            assert (await http.get(f"{gw.url}/health")).status_code == 200
    finally:
        await gw.stop()


async def test_a_body_read_to_the_end_keeps_the_connection_and_one_left_unread_closes_it(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        try:
            body = b'{"key": "wrong"}'
            request = b"POST /api/web/login HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n"
            for _ in range(2):  # the same connection serves both
                writer.write(request % len(body) + body)
                answer = await read_response(reader)
                assert answer.status == 401 and "connection" not in answer.headers
        finally:
            writer.close()
        # the Guard refuses without reading the body: the client may not keep the
        # connection by trickling the rest of it
        head = b"POST /api/hermes/cron HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n{"
        raw, seconds = await trickle_until_closed(site.port, head, b"a", 5)
    answer = parse(raw, seconds)
    assert answer.status == 401 and answer.headers["connection"] == "close"
    assert seconds < 1


# ----- deadlines ---------------------------------------------------------------------------


async def test_a_head_sent_slowly_is_cut_off_at_the_deadline(tmp_path: Path) -> None:
    async with serving(tmp_path, head_timeout=0.5) as site:
        raw, seconds = await exchange(site.port, b"POST /api/web/login HTTP/1.1\r\nhost: x\r\n")
        answer = parse(raw, seconds)
        assert answer.status == 408 and answer.headers["connection"] == "close"
        assert one_shape(answer.body)["code"] == "head_timeout"
        assert 0.4 < seconds < 3

        # a byte every 0.1 s does not keep it open either
        raw, seconds = await trickle_until_closed(site.port, b"GET /health HTTP/1.1\r\n", b"x", 5)
        assert parse(raw, seconds).status == 408 and 0.4 < seconds < 3

        # a connection that says nothing is closed, without an answer
        raw, seconds = await exchange(site.port, b"")
        assert raw == b"" and 0.4 < seconds < 3

        # nor does the next request on a kept-alive connection get longer
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        try:
            writer.write(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            assert (await read_response(reader)).status == 200
            started = time.monotonic()
            writer.write(b"GET /health HTTP/1.1\r\n")
            rest = await asyncio.wait_for(reader.read(), 5)
            assert parse(rest, 0).status == 408 and 0.4 < time.monotonic() - started < 3
        finally:
            writer.close()


async def test_a_body_sent_slowly_is_a_408_at_the_deadline(tmp_path: Path) -> None:
    async with serving(tmp_path, limits=lambda path: BodyLimit(4096, 0.5)) as site:
        head = b'POST /api/web/login HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{"key": "'
        raw, seconds = await trickle_until_closed(site.port, head, b"a", 5)
    answer = parse(raw, seconds)
    assert answer.status == 408 and answer.headers["connection"] == "close"
    error = one_shape(answer.body)
    assert error["code"] == "body_timeout" and "0.5 s" in error["message"]
    assert 0.4 < seconds < 3


def test_the_limits_are_small_for_login_and_large_for_chat_completions() -> None:
    assert body_limit("/api/web/login").max_bytes == 4096
    assert body_limit("/api/web/send").max_bytes == 1 << 20
    assert body_limit("/api/hermes/cron").max_bytes == 1 << 20
    assert body_limit("/v1/chat/completions") == LARGE and LARGE.max_bytes == 16 << 20


# ----- the connection cap ------------------------------------------------------------------


async def test_a_connection_over_the_cap_gets_a_503_and_one_under_it_is_served(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, max_connections=2) as site:
        held = [await asyncio.open_connection("127.0.0.1", site.port) for _ in range(2)]
        try:
            for reader, writer in held:  # two kept-alive connections: the cap
                writer.write(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
                assert (await read_response(reader)).status == 200
            raw, seconds = await exchange(site.port, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            answer = parse(raw, seconds)
            assert answer.status == 503
            assert answer.headers["retry-after"] == "5"
            assert answer.headers["connection"] == "close"
            assert one_shape(answer.body)["code"] == "too_many_connections"
        finally:
            held[0][1].close()
        # once one leaves, a new one is served
        await wait_until(lambda: site.server.open_connections < 2, 5)
        request = b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        raw, seconds = await exchange(site.port, request)
        assert parse(raw, seconds).status == 200
        held[1][1].close()


# ----- lone surrogates, clipped echoes ---------------------------------------------------


SURROGATE_BODIES = [
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "hi \\ud800"}]}'),
    ("/api/web/login", b'{"key": "\\udfff"}'),
    ("/api/hermes/cron", b'{"schedule": "every 1h", "prompt": "\\ud800\\ud800"}'),
    ("/api/hermes/delegate", b'{"prompt": "x", "\\ud83d": 1}'),
    ("/api/hermes/send", b'{"target": "web:c", "text": "\\ude00 hi"}'),
    ("/api/web/send", b'{"chat": "c", "text": "\\ud800", "client_id": "1"}'),
]


@pytest.mark.parametrize(("path", "body"), SURROGATE_BODIES, ids=[p for p, _ in SURROGATE_BODIES])
async def test_a_lone_surrogate_is_a_400_naming_it(tmp_path: Path, path: str, body: bytes) -> None:
    async with serving(tmp_path) as site, httpx.AsyncClient(base_url=site.url) as http:
        response = await http.post(path, content=body, headers=BEARER)
        assert response.status_code == 400, response.text
        assert "lone UTF-16 surrogate" in one_shape(response.json())["message"]
        # a valid pair (an emoji written as two escapes) is just text
        paired = body.replace(b"\\ud800", b"\\ud83d\\ude00").replace(b"\\udfff", b"\\ud83d\\ude00")
        if path == "/api/web/login":
            assert (await http.post(path, content=paired)).status_code == 401  # a wrong key


async def test_echoed_ids_and_values_are_clipped(tmp_path: Path) -> None:
    huge = "x" * 100_000
    long_id = "y" * 10_000  # a path still fits in a request head (16 KiB)
    async with (
        serving(tmp_path) as site,
        httpx.AsyncClient(base_url=site.url, headers=BEARER) as http,
    ):
        answers = [
            await http.post(f"/api/hermes/approvals/{long_id}", json={"decision": "approve"}),
            await http.get(f"/api/hermes/tasks/{long_id}"),
            await http.post(f"/api/hermes/tasks/{long_id}/cancel"),
            await http.get(f"/api/hermes/cron/{long_id}"),
            await http.get(f"/api/web/sessions/{long_id}"),
            await http.get(f"/api/hermes/{long_id}"),  # no such route
            await http.post("/api/hermes/cron", json={"schedule": huge, "prompt": "hi"}),
            await http.post("/api/hermes/cron", json={"schedule": "@daily", huge: "hi"}),
            await http.post("/api/hermes/delegate", json={"prompt": "hi", "profile": huge}),
            await http.post("/api/hermes/send", json={"target": huge, "text": "hi"}),
            await http.post("/api/hermes/send", json={"target": f"{huge}:1", "text": "hi"}),
            await http.post("/v1/chat/completions", json={"messages": [{"role": huge}]}),
            await http.post(
                "/api/web/send", json={"chat": "c", "text": "hi", "callback_data": huge}
            ),
        ]
        for response in answers:
            assert 400 <= response.status_code < 500, response.text[:300]
            message = one_shape(response.json())["message"]
            assert len(message) < 400, (response.request.url.path[:40], message[:400])
            assert "x" * 101 not in message and "y" * 101 not in message
        clipped = [r for r in answers if "…" in r.json()["error"]["message"]]
        assert len(clipped) == len(answers) - 2  # the schedule and callback_data are not echoed
        # a request line too long for a head is refused whole, in the same shape
        raw, seconds = await exchange(site.port, f"GET /api/hermes/tasks/{huge} HTTP/1.1".encode())
        answer = parse(raw, seconds)
        assert answer.status == 400 and "16 KiB" in one_shape(answer.body)["message"]


# ----- one error shape ---------------------------------------------------------------------


async def test_every_route_answers_its_errors_in_the_one_shape(tmp_path: Path) -> None:
    """Each route of the app, unauthenticated, with a broken body, an unknown id and
    a method it does not take; then the server's own refusals."""
    checked: list[str] = []
    async with serving(tmp_path, head_timeout=0.5, max_connections=1) as site:
        async with httpx.AsyncClient(base_url=site.url, timeout=10) as http:
            for route in site.routes:
                if isinstance(route, Mount):  # the page's static files
                    response = await http.get(f"{route.path}/no-such-file.js")
                    assert response.status_code == 404
                    one_shape(response.json())
                    continue
                assert isinstance(route, Route)
                path = route.path.replace("{id}", "nope")
                methods = sorted((route.methods or {"GET"}) - {"HEAD"})
                if route.path == "/mcp":  # MCP speaks JSON-RPC once past the key
                    response = await http.post(path)
                    assert response.status_code == 401
                    one_shape(response.json())
                    continue
                for method in methods:
                    for headers, content in (({}, None), (BEARER, b"{"), (BEARER, None)):
                        response = await http.request(
                            method, path, headers=headers, content=content
                        )
                        if response.status_code >= 400:
                            one_shape(response.json())
                            checked.append(f"{response.status_code} {method} {route.path}")
                        if route.path == "/api/web/events" and response.status_code < 400:
                            break  # an endless stream; the request above ended by the limit
                other = "PUT" if "PUT" not in methods else "DELETE"
                response = await http.request(other, path, headers=BEARER)
                assert response.status_code == 405, (other, route.path, response.text)
                one_shape(response.json())
            response = await http.get("/api/hermes/no-such-thing", headers=BEARER)
            assert response.status_code == 404
            assert one_shape(response.json())["code"] == "unknown_route"
        # the server's own: a malformed head, one too slow, one over the cap
        raw, seconds = await exchange(site.port, b"NOT HTTP AT ALL\r\n\r\n")
        assert one_shape(parse(raw, seconds).body) and parse(raw, seconds).status == 400
        raw, seconds = await exchange(site.port, b"GET / HTTP/1.1\r\n")
        assert one_shape(parse(raw, seconds).body)["code"] == "head_timeout"
        await wait_until(lambda: site.server.open_connections == 0, 5)
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        try:
            writer.write(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            assert (await read_response(reader)).status == 200
            raw, seconds = await exchange(site.port, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            assert parse(raw, seconds).status == 503
            one_shape(parse(raw, seconds).body)
        finally:
            writer.close()
    statuses = {line.split()[0] for line in checked}
    assert {"400", "401", "404"} <= statuses, checked
