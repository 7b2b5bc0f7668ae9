"""The gateway's HTTP app and server: health, auth, JSON errors, serving on a
real loopback port (port 0, busy ports, stopping, no signal handlers)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from gateway_helpers import make_home, running_gateway
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hermes.errors import HermesError
from hermes.gateway.core import Gateway
from hermes.server.server import HttpServer, build_app, serve

KEY = "test-key"
BEARER = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(make_home(tmp_path / "home"), api_key=KEY) as gateway:
        yield gateway


@pytest.fixture
async def app(gw: Gateway) -> Starlette:
    return build_app(gw)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    server = HttpServer(app, "127.0.0.1", 0)
    port = await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        await server.stop()


async def test_health_needs_no_key_and_says_nothing_else(http: httpx.AsyncClient) -> None:
    response = await http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/v1/models", "/api/hermes/status", "/api/web/history", "/v1"])
async def test_api_routes_need_the_key(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert "Authorization: Bearer $HERMES_API_KEY" in error["message"]

    wrong = await http.get(path, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_the_login_cookie_opens_the_pages_routes_only(http: httpx.AsyncClient) -> None:
    assert (await http.post("/api/web/login", json={"key": KEY})).status_code == 200
    assert (await http.get("/api/web/sessions")).status_code == 200
    assert (await http.get("/api/hermes/tasks")).status_code == 200  # the dashboard's reads
    # a page on another local port could make the browser send the cookie: /v1 takes
    # only the bearer header, which no cross-site request can set, and the dashboard's
    # writes are refused when the browser says they come from another origin
    assert (await http.get("/v1/models")).status_code == 401
    foreign = {"Origin": "http://127.0.0.1:9999"}
    body = {"target": "web:x", "text": "hi"}
    assert (await http.post("/api/hermes/send", json=body, headers=foreign)).status_code == 403
    same = {"Origin": f"http://{http.base_url.netloc.decode()}"}
    assert (await http.post("/api/hermes/send", json=body, headers=same)).status_code != 401


async def test_unknown_routes_need_the_key_then_are_json_404s(http: httpx.AsyncClient) -> None:
    assert (await http.get("/no-such-page")).status_code == 401  # private unless listed
    outside = await http.get("/no-such-page", headers=BEARER)
    inside = await http.get("/api/hermes/no-such-thing", headers=BEARER)
    for response in (outside, inside):
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found_error"


async def test_the_web_chat_page_is_served(http: httpx.AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_a_bug_is_a_one_line_json_500_and_a_logged_traceback(
    app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("secret detail /home/me/.env")

    app.router.routes.append(Route("/api/broken", broken))
    logger = logging.getLogger("hermes.gateway.http")
    logger.addHandler(caplog.handler)
    server = HttpServer(app, "127.0.0.1", 0)
    port = await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get("/api/broken", headers=BEARER)
    finally:
        await server.stop()
        logger.removeHandler(caplog.handler)

    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error"
    assert "\n" not in error["message"]
    assert "secret" not in response.text
    assert any(r.exc_info and "secret detail" in str(r.exc_info[1]) for r in caplog.records)


async def test_serve_on_port_0_reports_the_port_and_stops_when_cancelled(app: Starlette) -> None:
    ready = asyncio.Event()
    sigint_before = signal.getsignal(signal.SIGINT)
    task = asyncio.create_task(serve(app, "127.0.0.1", 0, ready=ready))
    await asyncio.wait_for(ready.wait(), 10)
    port = app.state.port
    assert port > 0
    assert signal.getsignal(signal.SIGINT) is sigint_before  # the gateway owns signals

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        with pytest.raises(httpx.ConnectError):
            await client.get("/health")


async def test_stopping_answers_a_request_that_would_never_finish(app: Starlette) -> None:
    entered = asyncio.Event()

    async def endless(request: Request) -> Response:
        entered.set()
        await asyncio.Event().wait()
        return Response()

    app.router.routes.append(Route("/api/endless", endless))
    server = HttpServer(app, "127.0.0.1", 0, grace=0.2)
    port = await server.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        request = asyncio.create_task(client.get("/api/endless", headers=BEARER))
        await asyncio.wait_for(entered.wait(), 10)
        await asyncio.wait_for(server.stop(), 5)
        response = await request
    assert response.status_code == 503
    assert "stopping" in response.json()["error"]["message"]


async def test_a_busy_port_is_a_clear_error(app: Starlette) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(HermesError, match=f"cannot listen on 127.0.0.1:{port}.*server.port"):
            await HttpServer(app, "127.0.0.1", port).start()
