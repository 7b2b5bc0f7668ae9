"""The web chat while things happen: a gateway that goes away and comes back,
a turn stopped with the Stop button, the model named in the header, tool lines
that stay, approval buttons that follow a decision made elsewhere, a phone
header while reconnecting. Headless Chromium against a real gateway with the
scripted model behind the real HTTP app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from hermes.testing import ScriptedModel
from tests import test_webchat as webchat
from tests.browser_helpers import CHROMIUM
from tests.gateway_helpers import make_home
from tests.test_webchat import BEARER, Site, history, log_in, serving
from tests.tools_helpers import wait_until

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Chromium")

browser = webchat.browser  # the fixtures of the web chat's tests
site = webchat.site
COMMAND = "rm -rf ~/projects/old-site"  # medium risk: waits for a decision


def port_of(site: Site) -> int:
    return int(site.url.rsplit(":", 1)[1])


async def test_a_message_typed_while_the_gateway_is_down_keeps_its_bubble_and_is_sent_once(
    tmp_path: Path, browser: Any, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    home = make_home(tmp_path / "home", model)
    page = await browser.new_page()
    async with serving(home) as first:
        await log_in(page, first.url)
        await expect(page.locator("#conn")).to_have_text("live")
        port = port_of(first)
    await expect(page.locator("#conn")).to_have_text("reconnecting…")  # the gateway is down

    failed: list[str] = []  # sends the browser could not make: the gateway is down
    page.on("requestfailed", lambda r: failed.append(r.url) if "/api/web/send" in r.url else None)
    model.reply("Back, and answering once.")
    await page.fill("#input", "sent while you were away")
    await page.press("#input", "Enter")
    user = page.locator(".msg.user")
    # down for longer than a round of quick retries (a restart can take that long):
    # the message waits with its bubble and goes when the gateway is back
    await wait_until(lambda: len(failed) >= 5, 30, why=lambda: f"{failed}")
    await expect(user.locator(".note")).to_contain_text("waiting for the gateway")
    async with serving(home, port) as second:
        await expect(page.locator("#conn")).to_have_text("live")
        answer = page.locator(".msg.assistant .bubble")
        await expect(answer).to_have_text("Back, and answering once.")
        await expect(user.locator(".bubble")).to_have_text("sent while you were away")
        await expect(user.locator(".note")).to_have_count(0)
        async with httpx.AsyncClient(base_url=second.url, timeout=10) as client:
            assert await history(client, await chat_of(page)) == [
                ("user", "sent while you were away"),
                ("assistant", "Back, and answering once."),
            ]
        assert len(model.requests) == 1  # accepted once, answered once

        await page.reload()
        await expect(page.locator(".msg .bubble")).to_have_text(
            ["sent while you were away", "Back, and answering once."]
        )


async def chat_of(page: Any) -> str:
    return str(await page.evaluate("() => localStorage.getItem('hermes.web.chat')"))


async def test_the_stop_button_shows_while_a_turn_runs_and_stops_it(
    site: Site, browser: Any, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    page = await browser.new_page()
    await log_in(page, site.url)
    stop = page.locator("#stop")
    await expect(stop).to_be_hidden()
    gate = model.hang(partial="Counting sheep: one, two", then=" (never shown)")
    await page.fill("#input", "count sheep forever")
    await page.press("#input", "Enter")
    await gate.wait_entered_async()
    await expect(stop).to_be_visible()
    await expect(page.locator(".msg.assistant .bubble")).to_have_text("Counting sheep: one, two")
    await stop.click()
    await expect(page.locator(".msg.assistant .bubble").last).to_contain_text("Stopped")
    await expect(stop).to_be_hidden()
    await expect(page.locator(".msg.user .bubble")).to_have_text(["count sheep forever"])
    gate.release()


async def test_the_header_names_the_model_that_answers(
    site: Site, browser: Any, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    page = await browser.new_page()
    await log_in(page, site.url)
    header = page.locator("#model")
    await expect(header).to_have_text(f"custom · {model.model}")  # before any turn
    await expect(page.locator("#notice")).to_be_hidden()  # a real provider: no notice
    model.reply("Hello.")
    await page.fill("#input", "hi")
    await page.press("#input", "Enter")
    await expect(page.locator(".msg.assistant .bubble")).to_have_text("Hello.")
    # the model that served the turn, as /status names it
    await expect(header).to_contain_text(f"custom · {model.model} at {model.base_url}")


async def test_the_offline_model_is_named_with_its_notice(tmp_path: Path, browser: Any) -> None:
    from playwright.async_api import expect

    home = make_home(tmp_path / "home", config={"model": {"provider": "local"}})
    async with serving(home) as s:
        page = await browser.new_page()
        await log_in(page, s.url)
        await expect(page.locator("#model")).to_contain_text("local · ")
        await expect(page.locator("#notice")).to_have_text(
            "offline demo model: chat only, no tools; run `hermes setup` for a real model"
        )


async def test_finished_tool_lines_stay_with_their_outcome(
    site: Site, browser: Any, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    page = await browser.new_page()
    await log_in(page, site.url)
    model.tool_call("terminal", {"command": "echo hello-from-tool"})
    model.tool_call("no_such_tool", {"x": 1})
    gate = model.hang(then="Both done.")
    await page.fill("#input", "use your tools")
    await page.press("#input", "Enter")
    lines = page.locator(".tools .tool")
    await expect(lines).to_have_count(2)
    await expect(lines.first).to_have_attribute("data-state", "done")
    await expect(lines.first).to_contain_text("terminal: echo hello-from-tool")
    await expect(lines.nth(1)).to_have_attribute("data-state", "error")
    await gate.wait_entered_async()
    gate.release()
    await expect(page.locator(".msg.assistant .bubble").last).to_have_text("Both done.")
    await expect(lines).to_have_count(2)  # still there once the answer came
    await expect(lines.first).to_contain_text("done")
    await expect(lines.nth(1)).to_contain_text("failed")

    await page.reload()  # the stored history keeps them too
    await expect(page.locator(".tools .tool")).to_have_count(2)
    await expect(page.locator(".tools .tool").first).to_have_attribute("data-state", "done")


async def test_approval_buttons_follow_a_decision_made_elsewhere(
    site: Site, browser: Any, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    folder = site.gw.profile.home / "projects" / "old-site"
    folder.mkdir(parents=True)
    page = await browser.new_page()
    await log_in(page, site.url)
    model.tool_call("terminal", {"command": COMMAND})
    model.reply("I left it alone.")
    await page.fill("#input", "remove my old site")
    await page.press("#input", "Enter")
    buttons = page.locator(".msg .buttons")
    await expect(buttons.locator("button")).to_have_text(["✅ Approve", "❌ Deny"])
    line = page.locator(".tools .tool")
    await expect(line).to_have_attribute("data-state", "waiting")

    async with httpx.AsyncClient(base_url=site.url, headers=BEARER, timeout=10) as client:
        [pending] = (await client.get("/api/hermes/approvals")).json()["approvals"]
        decided = await client.post(
            f"/api/hermes/approvals/{pending['id']}", json={"decision": "reject", "by": "cli"}
        )
        assert decided.status_code == 200, decided.text
    await expect(buttons.locator("button")).to_have_count(0)  # pushed, not polled
    await expect(buttons).to_have_text("❌ Denied by cli")
    await expect(page.locator(".msg.assistant .bubble").last).to_have_text("I left it alone.")
    await expect(line).to_have_count(1)  # the waiting line itself says how it ended
    await expect(line).to_have_attribute("data-state", "error")
    assert folder.exists()


async def test_the_phone_header_fits_while_reconnecting(
    tmp_path: Path, browser: Any, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    home = make_home(tmp_path / "home", model)
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    async with serving(home) as s:
        await log_in(page, s.url)
        await expect(page.locator("#model")).not_to_be_empty()
    await expect(page.locator("#conn")).to_have_text("reconnecting…")
    sizes = await page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth,"
        " document.querySelector('#chat .topbar').scrollWidth]"
    )
    assert sizes[0] <= sizes[1] and sizes[2] <= sizes[1], sizes
    box = await page.locator("#conn").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390  # the dot stays on screen


async def test_history_names_the_page_message_of_each_stored_user_message(
    site: Site, model: ScriptedModel
) -> None:
    gate = model.hang(then="first answer")
    model.reply("second answer")
    async with httpx.AsyncClient(base_url=site.url, headers=BEARER, timeout=10) as client:
        for n, text in ((1, "first"), (2, "second")):
            body = {"chat": "c9", "text": text, "client_id": f"id-{n}"}
            assert (await client.post("/api/web/send", json=body)).status_code == 202
        await gate.wait_entered_async()
        data = (await client.get("/api/web/history", params={"chat": "c9"})).json()
        # the first is in the transcript, the second queued behind it: both with their ids
        assert [(m["text"], m["client_id"]) for m in data["messages"]] == [
            ("first", "id-1"),
            ("second", "id-2"),
        ]
        assert data["messages"][1]["queued"] is True
        assert data["running"]  # a turn runs: the page shows Stop
        gate.release()

        async def answered() -> bool:
            got = (await client.get("/api/web/history", params={"chat": "c9"})).json()
            return [m["text"] for m in got["messages"]][-1:] == ["second answer"]

        await wait_until(answered)
