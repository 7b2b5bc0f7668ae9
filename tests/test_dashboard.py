"""The web dashboard (the "#/dashboard" view of the page at /): headless Chromium
against a real gateway with the scripted model behind the real HTTP app.

A risky command of a delegated background task waits for the Approve / Reject
buttons and then runs (or not) for real; tasks show their live status and
result; cron jobs are added, refused with the server's message, paused,
resumed and removed through the page; platforms and past sessions show. One
browser serves the whole module; each test gets a fresh gateway and home."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio

from hermes.messages import Message
from hermes.store import cron_ops
from hermes.testing import ScriptedModel
from tests.browser_helpers import CHROMIUM, chromium
from tests.gateway_helpers import make_home
from tests.test_webchat import KEY, Site, log_in, serving
from tests.tools_helpers import wait_until

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Chromium"),
    pytest.mark.asyncio(loop_scope="module"),
]

BEARER = {"Authorization": f"Bearer {KEY}"}
COMMAND = "rm -rf ~/projects/old-site"  # `hermes approvals classify`: medium, your files
TZ = "Europe/Paris"  # the browser's zone: relative times ("in 5 min") are its
CRON_TZ = "America/New_York"  # the gateway's cron.timezone: schedules and next runs are in it
CRON_ROUTE = "/api/hermes/cron"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        pytest.importorskip("playwright.async_api").expect.set_options(timeout=10_000)
        yield b


@pytest_asyncio.fixture(loop_scope="module")
async def site(tmp_path: Path, model: ScriptedModel) -> AsyncIterator[Site]:
    home = make_home(tmp_path / "home", model, config={"cron": {"timezone": CRON_TZ}})
    async with serving(home) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def client(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site.url, headers=BEARER, timeout=10) as c:
        yield c


async def open_page(browser: Any, site: Site, problems: list[str], **options: Any) -> Any:
    """A fresh browser context in TZ, logged in, switched to the dashboard by its tab.
    Script errors and anything the page's Content-Security-Policy blocked go to
    `problems`."""
    from playwright.async_api import expect

    context = await browser.new_context(timezone_id=TZ, locale="en-GB", **options)
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await log_in(page, site.url)
    await page.click("#to-dashboard")
    await expect(page.locator("#dashboard")).to_be_visible()
    await expect(page.locator("#chat")).to_be_hidden()
    await expect(page.locator("#dash-conn")).to_have_class("conn live")
    return page


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Any, site: Site) -> AsyncIterator[Any]:
    problems: list[str] = []
    p = await open_page(browser, site, problems, viewport={"width": 1200, "height": 900})
    try:
        yield p
    finally:
        await p.context.close()
    assert problems == []


async def delegate(client: httpx.AsyncClient, prompt: str) -> str:
    r = await client.post("/api/hermes/delegate", json={"prompt": prompt, "mode": "background"})
    assert r.status_code == 202, r.text
    return str(r.json()["task_id"])


async def task_status(client: httpx.AsyncClient, task_id: str) -> str:
    return str((await client.get(f"/api/hermes/tasks/{task_id}")).json()["status"])


def old_site(site: Site) -> Path:
    """~/projects/old-site of the gateway's user (HOME is the Hermes home in tests)."""
    path = site.gw.profile.home / "projects" / "old-site"
    path.mkdir(parents=True)
    (path / "index.html").write_text("<h1>old</h1>")
    return path


# ----- approvals and tasks -------------------------------------------------------------


async def test_approve_in_the_dashboard_runs_the_exact_command_and_the_task_finishes(
    site: Site, page: Any, client: httpx.AsyncClient, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    folder = old_site(site)
    model.tool_call("terminal", {"command": COMMAND})
    model.reply("Removed the old site.")
    task_id = await delegate(client, "Remove my <b>old</b> website")

    # the page refreshes by itself: the request and the waiting task appear
    card = page.locator("#approvals .card")
    await expect(card).to_have_count(1)
    await expect(card.locator("pre.action")).to_have_text(COMMAND)  # exactly what will run
    await expect(card.locator(".badge")).to_have_text("medium risk")
    await expect(card.locator(".reason")).to_contain_text("old-site")
    await expect(card.locator(".meta")).to_contain_text(f"task {task_id}")
    await expect(page.locator("#approvals-count")).to_have_text("1 pending")
    task = page.locator(f'#tasks .card[data-id="{task_id}"]')
    await expect(task.locator(".badge")).to_have_text("waiting for approval")
    await expect(task.locator(".prompt")).to_have_text("Remove my <b>old</b> website")
    assert await page.locator("#dashboard b").count() == 0  # text, never markup
    await expect(task.locator(".progress")).to_contain_text(COMMAND)  # its last steps
    await expect(task.locator("button.cancel")).to_be_visible()
    assert folder.exists()

    await card.locator("button.approve").click()
    await expect(card).to_have_count(0)
    await expect(page.locator("#approvals-empty")).to_be_visible()
    await expect(task.locator(".badge")).to_have_text("done")
    await expect(task.locator(".result")).to_contain_text("Removed the old site.")
    await expect(task.locator("button.cancel")).to_have_count(0)
    assert not folder.exists()  # the command really ran
    decided = (await client.get("/api/hermes/approvals?status=all")).json()["approvals"]
    assert [(a["status"], a["decided_by"]) for a in decided] == [("approved", "dashboard")]


async def test_reject_lets_the_task_finish_without_running_the_command(
    site: Site, page: Any, client: httpx.AsyncClient, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    folder = old_site(site)
    model.tool_call("terminal", {"command": COMMAND})
    risky = await delegate(client, "Clean up my projects")
    await wait_until(lambda: model.pending == 0, why=lambda: "the risky task asked the model")
    model.reply("Quick answer.")
    quick = await delegate(client, "A quick question")
    model.reply("Understood: I left the old site alone.")

    # open tasks come first, even though the finished one is newer
    await expect(page.locator(f'#tasks .card[data-id="{quick}"] .badge')).to_have_text("done")
    cards = page.locator("#tasks .card")
    await expect(cards).to_have_count(2)
    assert await cards.evaluate_all("cs => cs.map(c => c.dataset.id)") == [risky, quick]
    await expect(page.locator("#tasks-count")).to_have_text("1 open")

    await page.locator("#approvals .card button.reject").click()
    await expect(page.locator("#approvals .card")).to_have_count(0)
    task = page.locator(f'#tasks .card[data-id="{risky}"]')
    await expect(task.locator(".badge")).to_have_text("done")
    await expect(task.locator(".result")).to_contain_text("I left the old site alone.")
    assert (folder / "index.html").exists()  # never ran
    assert await task_status(client, risky) == "done"


async def test_cancel_stops_an_open_task(
    site: Site, page: Any, client: httpx.AsyncClient, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    gate = model.hang(then="too late")
    task_id = await delegate(client, "A very long job")
    await gate.wait_entered_async()
    task = page.locator(f'#tasks .card[data-id="{task_id}"]')
    await expect(task.locator(".badge")).to_have_text("running")
    await task.locator("button.cancel").click()
    await expect(task.locator(".badge")).to_have_text("cancelled")
    await expect(task.locator("button.cancel")).to_have_count(0)
    gate.release()
    assert await task_status(client, task_id) == "cancelled"


# ----- cron ------------------------------------------------------------------------------


async def test_cron_jobs_are_added_refused_paused_resumed_and_removed(
    site: Site, page: Any, client: httpx.AsyncClient
) -> None:
    from playwright.async_api import expect

    await expect(page.locator("#cron-empty")).to_be_visible()
    await page.fill("#cron-schedule", "0 8 * * *")
    await page.fill("#cron-prompt", "Send me a summary of my inbox")
    await page.fill("#cron-name", "Inbox summary")
    await page.fill("#cron-deliver", "none")
    await page.click("#cron-add")
    row = page.locator("#cron tr")
    await expect(row).to_have_count(1)
    [job] = (await client.get("/api/hermes/cron")).json()["jobs"]
    assert job["name"] == "Inbox summary"
    assert (job["deliver"], job["created_by"]) == ("none", "dashboard")
    await expect(row.locator(".job-name")).to_have_text("Inbox summary")
    await expect(row.locator(".schedule")).to_have_text("0 8 * * *")
    await expect(row.locator(".describe")).to_have_text(job["describe"])
    # the next run in the zone of the schedule ("at 08:00"), named, whatever the
    # browser's zone: not "14:00" in Paris next to "at 08:00"
    local = datetime.fromtimestamp(job["next_run_at"], ZoneInfo(CRON_TZ))
    assert local.strftime("%H:%M") == "08:00"
    when = row.locator(".next time")
    await expect(when).to_contain_text("08:00")
    await expect(when).to_contain_text(str(local.day))
    await expect(when).to_contain_text(re.compile(r"(EST|EDT|GMT-[45])$"))
    await expect(page.locator("#cron-tz")).to_have_text(f"(schedules in {CRON_TZ})")
    iso = await when.get_attribute("datetime")
    assert iso is not None
    assert datetime.fromisoformat(iso) == datetime.fromtimestamp(job["next_run_at"], UTC)
    await expect(page.locator("#cron-added")).to_contain_text('Added "Inbox summary"')
    await expect(page.locator("#cron-schedule")).to_have_value("")  # the form is cleared

    # a schedule the server refuses: its own message, inline; the typed text stays
    bad = {"schedule": "every blue moon", "prompt": "howl", "created_by": "dashboard"}
    answer = await client.post("/api/hermes/cron", json=bad)
    assert answer.status_code == 400
    await page.fill("#cron-schedule", "every blue moon")
    await page.fill("#cron-prompt", "howl")
    await page.click("#cron-add")
    await expect(page.locator("#cron-error")).to_have_text(answer.json()["error"]["message"])
    await expect(page.locator("#cron-schedule")).to_have_value("every blue moon")
    await expect(row).to_have_count(1)

    await row.locator("button.pause").click()
    await expect(row.locator(".badge")).to_have_text("paused")
    await expect(row.locator(".next")).to_have_text("—")
    await row.locator("button.resume").click()
    await expect(row.locator(".badge")).to_have_text("active")
    await expect(row.locator("button.pause")).to_be_visible()

    asked: list[str] = []

    def dismiss(dialog: Any) -> Any:
        asked.append(dialog.message)
        return dialog.dismiss()

    page.once("dialog", dismiss)
    await row.locator("button.remove").click()
    await wait_until(lambda: bool(asked), why=lambda: "the page asks before removing")
    assert "Inbox summary" in asked[0]
    assert len((await client.get("/api/hermes/cron")).json()["jobs"]) == 1  # kept
    page.once("dialog", lambda dialog: dialog.accept())
    await row.locator("button.remove").click()
    await expect(row).to_have_count(0)
    await expect(page.locator("#cron-empty")).to_be_visible()
    assert (await client.get("/api/hermes/cron")).json()["jobs"] == []


# ----- platforms, sessions, the view ---------------------------------------------------------


async def test_platforms_panel_on_a_phone_screen(browser: Any, site: Site) -> None:
    from playwright.async_api import expect

    problems: list[str] = []
    page = await open_page(browser, site, problems, viewport={"width": 390, "height": 760})
    try:
        web = page.locator('#platforms li[data-platform="web"]')
        await expect(web).to_contain_text("web")
        await expect(web.locator(".badge")).to_have_text("connected")
        await expect(page.locator("#gateway-facts")).to_contain_text(site.gw.profile.name)
        await expect(page.locator("#gateway-facts")).to_contain_text("Up for")
        await expect(page.locator("#dash-profile")).to_have_text(f"· {site.gw.profile.name}")
        # everything fits the phone: nothing scrolls sideways
        widths = await page.evaluate(
            "() => [document.querySelector('.dash-scroller').scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], widths
        await page.click("#to-chat")
        await expect(page.locator("#input")).to_be_visible()
        await expect(page.locator("#dashboard")).to_be_hidden()
        await page.go_back()  # the browser's back button returns to the dashboard
        await expect(page.locator("#dashboard")).to_be_visible()
        await page.reload()  # and a reload keeps it
        await expect(web.locator(".badge")).to_have_text("connected")
        await expect(page.locator("#chat")).to_be_hidden()
    finally:
        await page.context.close()
    assert problems == []


async def test_sessions_search_opens_a_past_conversation_in_the_chat(
    site: Site, page: Any, client: httpx.AsyncClient, model: ScriptedModel
) -> None:
    from playwright.async_api import expect

    model.reply("The parrot is blue.")
    sent = {"chat": "older", "text": "what colour is the parrot?", "client_id": "p1"}
    assert (await client.post("/api/web/send", json=sent)).status_code == 202

    async def answered() -> bool:
        r = await client.get("/api/web/history", params={"chat": "older"})
        return len(r.json()["messages"]) == 2

    await wait_until(answered)

    await page.fill("#dash-search", "parrot")
    found = page.locator("#dash-sessions li")
    await expect(found).to_have_count(1)
    await expect(found.locator(".s-excerpt")).to_contain_text("parrot")
    await page.fill("#dash-search", "zebra")
    await expect(found).to_have_count(0)
    await expect(page.locator("#dash-sessions-empty")).to_have_text("No session matches.")

    await page.fill("#dash-search", "parrot")
    await found.locator("button").click()
    await expect(page.locator("#dashboard")).to_be_hidden()
    await expect(page.locator("#viewing")).to_be_visible()
    await expect(page.locator("#transcript .bubble")).to_have_text(
        ["what colour is the parrot?", "The parrot is blue."]
    )


async def test_the_dashboard_refreshes_only_while_it_is_on_screen(browser: Any, site: Site) -> None:
    from playwright.async_api import expect

    context = await browser.new_context()
    page = await context.new_page()
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/api/hermes/tasks" in r.url else None)
    try:
        await page.clock.install()  # the page's timers run when the test says so
        await log_in(page, site.url)
        await page.clock.run_for(10_000)
        assert polls == []  # the chat view asks nothing of the dashboard's routes
        await page.click("#to-dashboard")
        await expect(page.locator("#dash-conn")).to_have_class("conn live")
        first = len(polls)
        await page.clock.run_for(2_100)
        await wait_until(lambda: len(polls) > first, why=lambda: "a refresh 2 s later")
        await page.click("#to-chat")
        await page.clock.run_for(1)  # let a refresh that was already due run out
        await page.evaluate("0")  # a round trip: request events sent before it have arrived
        seen = len(polls)
        await page.clock.run_for(10_000)
        assert len(polls) == seen
    finally:
        await context.close()


async def test_names_a_task_filter_session_paging_and_kept_cron_results(
    site: Site, page: Any, client: httpx.AsyncClient
) -> None:
    from playwright.async_api import expect

    from hermes.store import gateway_ops, ops, task_ops

    gw, now = site.gw, time.time()
    # a Telegram group the platform names: its title, not its id, on the task card
    event = {"platform": "fakechat", "chat": "-100777", "chat_name": "Family group"}
    await gw.store.run(gateway_ops.insert_inbound, "fakechat", "u1", "k", event, now)
    await gw.store.run(task_ops.insert, "background", "plan the trip", "fakechat:-100777", now)
    old = await gw.store.run(task_ops.insert, "background", "old work", None, now - 3 * 86400)
    await gw.store.run(task_ops.finish, old.id, "done", now - 3 * 86400, result="ok")
    # 51 sessions, one with one message: a page of 50 and "More"
    for n in range(51):
        sid = await gw.store.run(ops.create_session, now + n, "api", None, f"session {n}")
    await gw.store.append_messages(sid, [Message("user", "hi")])
    # a cron job for the home channel that nobody set: its result is kept and shown
    job = (await client.post(CRON_ROUTE, json={"schedule": "every 2h", "prompt": "x"})).json()
    assert "no chat is the home channel yet" in job["warning"]
    await gw.store.run(cron_ops.claim_now, job["id"], now, "test", set(gw.adapters))
    await page.reload()  # the dashboard again, with all of it loaded

    card = page.locator("#tasks .card", has_text="plan the trip")
    await expect(card.locator(".meta")).to_have_text("from Family group (fakechat)")
    await expect(card.locator(".meta .chat")).to_have_attribute("title", "fakechat:-100777")
    # finished tasks older than a day are hidden by default, "all" shows them
    await expect(page.locator("#tasks .card", has_text="old work")).to_have_count(0)
    await expect(page.locator("#tasks-count")).to_contain_text("1 hidden")
    await page.select_option("#tasks-filter", "all")
    await expect(page.locator("#tasks .card", has_text="old work")).to_have_count(1)
    await page.select_option("#tasks-filter", "open")
    await expect(page.locator("#tasks .card", has_text="old work")).to_have_count(0)
    await expect(page.locator("#tasks .card.st-done")).to_have_count(0)

    sessions = page.locator("#dash-sessions li")
    await expect(sessions).to_have_count(50)
    one = sessions.filter(has_text="session 50").locator(".s-meta")
    await expect(one).to_contain_text("· 1 message ·")
    await page.locator("#dash-sessions-more").click()
    await expect(sessions).to_have_count(51)
    await expect(page.locator("#dash-sessions-more")).to_be_hidden()

    row = page.locator("#cron tr", has=page.locator(f"text={job['name']}"))
    await expect(row.locator(".deliver")).to_have_text("→ the home channel")
    await expect(row.locator(".kept")).to_contain_text(
        "1 result not delivered: no home channel (no chat ran /sethome)"
    )

    # a refused job shows the rule's own words, not "bad request: ..."
    await page.fill("#cron-schedule", "0 8 * * *")
    await page.fill("#cron-prompt", "x")
    await page.fill("#cron-deliver", "tg:1")
    await page.click("#cron-add")
    error = page.locator("#cron-error")
    await expect(error).to_have_text(re.compile(r"^deliver: unknown platform 'tg'"))


async def test_delegated_tasks_sit_under_their_parent_task(
    site: Site, page: Any, client: httpx.AsyncClient
) -> None:
    from playwright.async_api import expect

    from hermes.gateway.delegation import brief
    from hermes.store import task_ops
    from hermes.store.db import transaction

    gw, now = site.gw, time.time()

    def family(conn: Any) -> list[task_ops.TaskRow]:
        parent = task_ops.insert(conn, "background", "survey the fleet", "fakechat:1", now - 60)
        with transaction(conn):
            task_ops.start(conn, parent.id, "S-parent", 1, now - 60)
        rows = [parent]
        for n, (goal, session) in enumerate(
            [("check web1", "S-parent"), ("check web2", "S-parent"), ("sum up", "S-chat")]
        ):
            child = task_ops.Child(
                brief(goal, "ctx"), "fakechat:1", None, session, f"c{n}", 1, now + 600, True
            )
            rows += task_ops.insert_children(conn, [child], now - 50 + n * 10)
        task_ops.finish(conn, rows[2].id, "timed_out", now, error="timed out after 600 s")
        return rows

    parent, first, late, other = await gw.store.run(family)
    await page.reload()

    cards = page.locator("#tasks .card")
    await expect(cards).to_have_count(4)
    order = await cards.evaluate_all("els => els.map((e) => e.dataset.id)")
    assert order == [other.id, parent.id, first.id, late.id]  # open ones first, then done
    one = cards.filter(has=page.locator(f"code.id:text-is('{first.id}')"))
    await expect(one).to_have_class(re.compile(r"\bchild\b.*\blevel-1\b"))
    await expect(one.locator(".prompt")).to_have_text("check web1")
    await expect(one.locator(".meta.delegated")).to_have_text(
        re.compile(rf"^↳ delegated by {parent.id} \(depth 1\), deadline in ")
    )
    timed = cards.filter(has=page.locator(f"code.id:text-is('{late.id}')"))
    await expect(timed.locator(".badge")).to_have_text("timed out")
    await expect(timed).to_have_class(re.compile(r"\blevel-1\b"))
    alone = cards.filter(has=page.locator(f"code.id:text-is('{other.id}')"))
    await expect(alone).to_have_class(re.compile(r"\blevel-0\b"))
    await expect(alone.locator(".meta.delegated")).to_have_text(
        re.compile(r"^↳ delegated by the agent in session S-chat \(depth 1\)")
    )
