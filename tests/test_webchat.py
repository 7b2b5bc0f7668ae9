"""The web chat at http://127.0.0.1:PORT/: a real gateway with the scripted
model behind the real HTTP app, driven over HTTP (auth, cookie, idempotent
sends, the event stream) and in headless Chromium (login, streamed replies,
history after a reload, the session list, past transcripts, New chat)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hermes.gateway.core import Gateway
from hermes.gateway.events import Button, Outbound, Target
from hermes.platforms.web import BACKLOG, WebAdapter
from hermes.server import auth
from hermes.server.server import HttpServer, build_app
from hermes.testing import ScriptedModel
from tests.browser_helpers import chromium, needs_chromium
from tests.gateway_helpers import make_home, running_gateway
from tests.tools_helpers import wait_until

KEY = "hk_test-key-for-the-web-chat"


@dataclass
class Site:
    gw: Gateway
    web: WebAdapter
    url: str


@asynccontextmanager
async def serving(
    home: Path, port: int = 0, media: Path | None = None, **kw: Any
) -> AsyncIterator[Site]:
    """A gateway on `home` with the web chat, served on `port` (0: any free one; a
    restart takes the port of the first start); `media`: where the web chat keeps
    spoken replies. `kw`: for running_gateway."""
    web = WebAdapter(media=media)
    async with running_gateway(home, [web], api_key=KEY, **kw) as gw:
        await wait_until(lambda: web.state == "connected")
        server = HttpServer(build_app(gw), "127.0.0.1", port, grace=0.5)
        port = await server.start()
        try:
            yield Site(gw, web, f"http://127.0.0.1:{port}")
        finally:
            await server.stop()


@pytest.fixture
async def site(tmp_path: Path, model: ScriptedModel) -> AsyncIterator[Site]:
    async with serving(make_home(tmp_path / "home", model)) as s:
        yield s


@pytest.fixture
async def client(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, timeout=10) as c:
        yield c


BEARER = {"Authorization": f"Bearer {KEY}"}


async def history(client: httpx.AsyncClient, chat: str) -> list[tuple[str, str]]:
    r = await client.get("/api/web/history", params={"chat": chat}, headers=BEARER)
    assert r.status_code == 200, r.text
    return [(m["role"], m.get("text", m.get("summary"))) for m in r.json()["messages"]]


# ----- HTTP ------------------------------------------------------------------------------


async def test_the_page_is_public_and_every_api_route_needs_the_key(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and "<title>Hermes</title>" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    script = await client.get("/static/app.js")
    assert script.status_code == 200 and script.headers["cache-control"] == "no-cache"
    assert (await client.get("/static/style.css")).status_code == 200

    gets = ["/api/web/history?chat=c1", "/api/web/sessions", "/api/web/sessions/x"]
    gets.append("/api/web/events?chat=c1")
    for path in gets:
        assert (await client.get(path)).status_code == 401, path
        forged = f"{auth.COOKIE}_{client.base_url.port}=forged"
        wrong = {"Authorization": "Bearer nope", "Cookie": forged}
        assert (await client.get(path, headers=wrong)).status_code == 401, path
    sent = await client.post("/api/web/send", json={"chat": "c1", "text": "hi", "client_id": "1"})
    assert sent.status_code == 401
    assert (await client.get("/api/web/history?chat=c1", headers=BEARER)).json()["messages"] == []


def cookie_of(response: httpx.Response) -> tuple[str, str, dict[str, str]]:
    """(name, value, attributes) of the cookie a response sets."""
    header = response.headers["set-cookie"]
    first, *rest = header.split(";")
    name, _, value = first.partition("=")
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in rest}
    return name, value, attributes


async def test_each_login_gets_a_fresh_random_cookie_that_logout_revokes(
    site: Site, client: httpx.AsyncClient
) -> None:
    wrong = await client.post("/api/web/login", json={"key": "hk_guess"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    assert "HERMES_API_KEY" in wrong.json()["error"]["message"]

    ok = await client.post("/api/web/login", json={"key": KEY})
    assert ok.status_code == 200
    name, token, attributes = cookie_of(ok)
    port = site.url.rsplit(":", 1)[1]
    assert name == f"{auth.COOKIE}_{port}"  # one per gateway: two on one host do not collide
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/"
    assert KEY not in token and len(token) >= 40  # random, not the key nor derived from it

    assert (await client.get("/api/web/history?chat=c1")).status_code == 200  # the cookie works

    foreign = await client.post(
        "/api/web/send",
        json={"chat": "c1", "text": "hi", "client_id": "x"},
        headers={"Origin": "http://127.0.0.1:9999"},
    )
    assert foreign.status_code == 403  # another site (or port) cannot use the cookie

    again = await client.post("/api/web/login", json={"key": KEY})  # another tab, say
    second = cookie_of(again)[1]
    assert second != token  # a fresh token per login

    out = await client.post("/api/web/logout")
    assert out.status_code == 200
    assert (await client.get("/api/web/history?chat=c1")).status_code == 401
    # the revoked token stays revoked even if a client keeps sending it
    revoked = {"Cookie": f"{name}={second}"}
    assert (await client.get("/api/web/history?chat=c1", headers=revoked)).status_code == 401
    # the first login's session is its own: still valid until its own logout
    first = {"Cookie": f"{name}={token}"}
    assert (await client.get("/api/web/history?chat=c1", headers=first)).status_code == 200
    assert (await client.post("/api/web/logout", headers=first)).status_code == 200
    assert (await client.get("/api/web/history?chat=c1", headers=first)).status_code == 401


async def test_a_login_survives_a_restart_and_ends_with_a_new_key(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model)
    port = 0  # the first start picks one; the restarts take the same (the cookie's name)
    cookie: dict[str, str] = {}
    for key, works in ((KEY, None), (KEY, True), ("hk_a-new-key", False)):
        async with running_gateway(home, [WebAdapter()], api_key=key) as gw:
            server = HttpServer(build_app(gw), "127.0.0.1", port, grace=0.1)
            port = await server.start()
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
                    if works is None:
                        response = await c.post("/api/web/login", json={"key": key})
                        name, value, _ = cookie_of(response)
                        cookie = {"Cookie": f"{name}={value}"}
                    history = await c.get("/api/web/history?chat=c", headers=cookie)
                    assert history.status_code == (401 if works is False else 200)
            finally:
                await server.stop()


async def test_two_gateways_on_one_host_keep_their_own_cookies(
    tmp_path: Path, model: ScriptedModel
) -> None:
    async with (
        serving(make_home(tmp_path / "a", model)) as a,
        serving(make_home(tmp_path / "b", model)) as b,
        httpx.AsyncClient(timeout=10) as browser_jar,  # one cookie jar for 127.0.0.1
    ):
        for site in (a, b):
            ok = await browser_jar.post(f"{site.url}/api/web/login", json={"key": KEY})
            assert ok.status_code == 200
        assert len(browser_jar.cookies.jar) == 2  # the second login did not replace the first
        for site in (a, b):
            assert (await browser_jar.get(f"{site.url}/api/web/sessions")).status_code == 200
        assert (await browser_jar.post(f"{b.url}/api/web/logout")).status_code == 200
        assert (await browser_jar.get(f"{b.url}/api/web/sessions")).status_code == 401
        assert (await browser_jar.get(f"{a.url}/api/web/sessions")).status_code == 200


async def test_a_retried_send_is_accepted_once(
    site: Site, client: httpx.AsyncClient, model: ScriptedModel
) -> None:
    model.reply("Hello, owner.")
    body = {"chat": "c1", "text": "hello", "client_id": "msg-1"}
    for _ in range(3):  # the browser retries after a lost response
        r = await client.post("/api/web/send", json=body, headers=BEARER)
        assert r.status_code == 202 and r.json()["client_id"] == "msg-1"

    async def answered() -> bool:
        return ("assistant", "Hello, owner.") in await history(client, "c1")

    await wait_until(answered)
    assert await history(client, "c1") == [("user", "hello"), ("assistant", "Hello, owner.")]
    assert len(model.requests) == 1

    bad = await client.post("/api/web/send", json={"chat": "c 1", "text": "x"}, headers=BEARER)
    assert bad.status_code == 400 and "chat" in bad.json()["error"]["message"]
    empty = await client.post("/api/web/send", json={"chat": "c1", "text": " "}, headers=BEARER)
    assert empty.status_code == 400


async def test_replies_stream_as_server_sent_events(
    site: Site, client: httpx.AsyncClient, model: ScriptedModel
) -> None:
    gate = model.hang(partial="Working on", then=" it: done.")
    events: list[dict[str, Any]] = []

    async def listen() -> None:
        params = {"chat": "c2", "after": "0"}
        async with client.stream("GET", "/api/web/events", params=params, headers=BEARER) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))

    listener = asyncio.create_task(listen())
    try:
        body = {"chat": "c2", "text": "go", "client_id": "a"}
        assert (await client.post("/api/web/send", json=body, headers=BEARER)).status_code == 202
        await gate.wait_entered_async()
        # the words arrive one by one: a message, then edits of it
        await wait_until(lambda: bool(events) and events[-1].get("text") == "Working on")
        first = next(e for e in events if e["type"] == "message")
        assert "Working on".startswith(first["text"])
        gate.release()
        await wait_until(lambda: events[-1].get("text") == "Working on it: done.")
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    assert events[0] == {"type": "user", "text": "go", "client_id": "a", "seq": events[0]["seq"]}
    replies = [e for e in events if e["type"] in ("message", "edit")]
    assert {e["id"] for e in replies} == {first["id"]}  # one bubble, edited in place
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)


async def test_history_and_sessions_show_what_a_person_reads(
    site: Site, client: httpx.AsyncClient, model: ScriptedModel
) -> None:
    model.tool_call("no_such_tool", {}).reply("The parrot is blue.")
    body = {"chat": "c3", "text": "what colour is the parrot?", "client_id": "p1"}
    await client.post("/api/web/send", json=body, headers=BEARER)

    async def answered() -> bool:
        return len(await history(client, "c3")) == 3

    await wait_until(answered)
    # a tool call is a line saying how it ended; its result is not part of the history
    assert await history(client, "c3") == [
        ("user", "what colour is the parrot?"),
        ("tool", "no_such_tool"),
        ("assistant", "The parrot is blue."),
    ]
    lines = (await client.get("/api/web/history?chat=c3", headers=BEARER)).json()["messages"]
    assert lines[1]["state"] == "error" and "no tool named" not in json.dumps(lines)
    listed = (await client.get("/api/web/sessions?chat=c3", headers=BEARER)).json()
    [session] = listed["sessions"]
    assert listed["current"] == session["id"]
    assert session["source"] == "web" and session["message_count"] >= 2
    assert set(session) >= {"id", "title", "source", "updated_at", "message_count"}
    found = (await client.get("/api/web/sessions?q=parrot", headers=BEARER)).json()["sessions"]
    assert [s["id"] for s in found] == [session["id"]]
    assert (await client.get("/api/web/sessions?q=zebra", headers=BEARER)).json()["sessions"] == []

    one = (await client.get(f"/api/web/sessions/{session['id']}", headers=BEARER)).json()
    assert [m.get("text") for m in one["messages"]] == [
        "what colour is the parrot?",
        None,  # the tool line
        "The parrot is blue.",
    ]
    missing = await client.get("/api/web/sessions/nope", headers=BEARER)
    assert missing.status_code == 404


# ----- the adapter's event log -------------------------------------------------------------


async def test_a_page_that_reconnects_gets_what_it_missed_and_a_slow_one_is_dropped() -> None:
    web = WebAdapter(queue_size=3)
    target = Target("web", "c")
    first = await web.send(Outbound(target, "one", buttons=[[Button("Approve", "ok:1")]]))
    seen = web.last_seq("c")
    for i in range(BACKLOG * 2):  # a long streamed reply: hundreds of edits
        await web.edit(target, first, f"one, edit {i}")
    await web.edit(target, first, "one, edited")
    await web.send(Outbound(target, "two"))

    async with web.subscribe("c", after=seen) as sub:
        replay = [await anext(sub), await anext(sub)]
    assert [(e["type"], e["text"]) for e in replay] == [("edit", "one, edited"), ("message", "two")]
    assert len(web._chats["c"].backlog) == 3  # each edit replaced the one before

    async with web.subscribe("c") as slow:  # never reads: dropped, never blocks a send
        for i in range(10):
            await web.send(Outbound(target, f"n{i}"))
        assert [e async for e in slow] == []  # the stream ends: the page reconnects

    for i in range(BACKLOG + 5):
        await web.send(Outbound(target, f"m{i}"))
    async with web.subscribe("c", after=seen) as late:
        assert (await anext(late))["type"] == "reset"  # too much missed: reload the history


# ----- in the browser ---------------------------------------------------------------------


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def log_in(page: Any, url: str) -> None:
    from playwright.async_api import expect

    await page.goto(url)
    await expect(page.locator("#login-key")).to_be_visible()
    await page.fill("#login-key", KEY)
    await page.click("#login-submit")
    await expect(page.locator("#input")).to_be_visible()


@needs_chromium
async def test_browser_login_streamed_reply_and_history_after_reload(
    site: Site, browser: Any, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    page = await browser.new_page()
    await page.goto(site.url)
    await expect(page.get_by_text("HERMES_API_KEY")).to_be_visible()  # says where the key is
    await page.fill("#login-key", "hk_wrong")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_contain_text("wrong key")
    await expect(page.locator("#input")).to_be_hidden()

    await page.fill("#login-key", KEY)
    await page.click("#login-submit")
    await expect(page.locator("#input")).to_be_visible()
    await expect(page.locator("#conn")).to_have_text("live")

    held = model.hang(then="Let me see.")  # nothing streams until released
    await page.fill("#input", "What is <b>the</b> answer?")
    await page.press("#input", "Enter")
    user = page.locator(".msg.user .bubble")
    await expect(user).to_have_text("What is <b>the</b> answer?")  # text, never markup
    await held.wait_entered_async()
    await expect(page.locator("#working")).to_be_visible()
    held.release()
    reply = page.locator(".msg.assistant .bubble")
    await expect(reply).to_have_text("Let me see.")
    await expect(page.locator("#working")).to_be_hidden()

    gate = model.hang(partial="Thinking", then=" it over:\n```\nprint(42)\n```\nThat is <b>it</b>.")
    await page.fill("#input", "Go on")
    await page.press("#input", "Enter")
    await gate.wait_entered_async()
    await expect(reply.nth(1)).to_have_text("Thinking")  # streamed before the model finished
    gate.release()
    await expect(reply.nth(1).locator("pre")).to_have_text("print(42)")
    await expect(reply.nth(1)).to_contain_text("That is <b>it</b>.")
    await expect(reply).to_have_count(2)  # the streamed bubble was edited in place
    assert await page.locator(".bubble b").count() == 0

    await page.reload()
    await expect(page.locator("#input")).to_be_visible()  # still logged in (the cookie)
    await expect(page.locator(".msg.user .bubble")).to_have_text(
        ["What is <b>the</b> answer?", "Go on"]
    )
    await expect(page.locator(".msg.assistant .bubble pre")).to_have_text("print(42)")
    sessions = page.locator("#sessions li")
    await expect(sessions).to_have_count(1)
    await expect(sessions.first).to_contain_text("web")
    await expect(sessions.first).to_have_class("current")

    await page.click("#logout")
    await expect(page.locator("#login-key")).to_be_visible()
    await page.reload()
    await expect(page.locator("#login-key")).to_be_visible()  # the cookie is gone


@needs_chromium
async def test_browser_new_chat_and_read_only_past_session(
    site: Site, browser: Any, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    await log_in(page, site.url)
    model.reply("Noted: the first topic.")
    await page.fill("#input", "first topic")
    await page.click("#send")
    await expect(page.locator(".msg.assistant .bubble")).to_have_text("Noted: the first topic.")

    await page.click("#new-chat")  # sends /new
    await expect(page.locator(".msg.assistant .bubble")).to_contain_text("New session")
    await expect(page.locator(".msg.user")).to_have_count(0)
    await expect(page.locator("#sessions li")).to_have_count(2)

    await page.locator("#sessions li:not(.current) button").click()
    await expect(page.locator("#viewing")).to_be_visible()
    await expect(page.locator("#transcript .bubble")).to_have_text(
        ["first topic", "Noted: the first topic."]
    )
    await expect(page.locator("#composer")).to_be_hidden()  # read-only

    await page.click("#back-live")
    await expect(page.locator("#composer")).to_be_visible()
    await expect(page.locator("#viewing")).to_be_hidden()

    model.reply("Second chat here.")
    await page.fill("#input", "line one")
    await page.press("#input", "Shift+Enter")
    await page.type("#input", "line two")
    await page.press("#input", "Enter")
    await expect(page.locator(".msg.user .bubble")).to_have_text("line one\nline two")
    await expect(page.locator(".msg.assistant .bubble").last).to_have_text("Second chat here.")


@needs_chromium
async def test_browser_works_on_a_phone_screen(
    site: Site, browser: Any, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 390, "height": 760})
    await log_in(page, site.url)
    await expect(page.locator("#sidebar")).not_to_be_in_viewport()
    await page.click("#menu")
    await expect(page.locator("#search")).to_be_in_viewport()
    await page.click("#scrim", position={"x": 370, "y": 400})
    await expect(page.locator("#sidebar")).not_to_be_in_viewport()
    await page.fill("#input", "/help")  # a slash command goes through like any text
    await page.press("#input", "Enter")
    await expect(page.locator(".msg.assistant .bubble")).to_contain_text("/new")
    wide = "x = " + "'a very long line of code' + " * 20
    model.reply(f"Here:\n```python\n{wide}\n```\n" + "unbroken" * 40)
    await page.fill("#input", "show me wide code")
    await page.press("#input", "Enter")
    await expect(page.locator(".msg.assistant .bubble pre")).to_have_count(1)
    # long lines scroll inside their code block; the page itself never scrolls sideways
    widths = await page.evaluate(
        "() => [document.querySelector('.scroller').scrollWidth, window.innerWidth]"
    )
    assert widths[0] <= widths[1], widths
