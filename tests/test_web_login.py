"""Where a profile's login key lives, said where a person needs it: the web
chat's login page and error, and the gateway's start-up lines (the key itself
only on a terminal). Real gateways: in-process behind the real HTTP app, and
`hermes -p NAME gateway run` as a process, with and without a terminal."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from hermes.server import auth
from hermes.testing import ScriptedModel
from tests import test_webchat as webchat
from tests.browser_helpers import needs_chromium
from tests.gateway_helpers import make_home
from tests.pty_driver import Terminal
from tests.test_webchat import serving
from tests.tools_helpers import wait_until

browser = webchat.browser  # the web chat tests' fixture
PROFILE_KEY = "hk_the-work-profiles-own-key"
SHOWN = "~/.hermes/profiles/work/.env"


def work_profile(tmp_path: Path, model: ScriptedModel) -> tuple[Path, dict[str, str]]:
    """A user whose ~/.hermes has a profile `work` with its own key; (root, env)."""
    user = tmp_path / "user"
    root = make_home(user / ".hermes", model, {"server": {"port": 0}})
    make_home(
        root / "profiles" / "work",
        model,
        {"server": {"port": 0}},
        env={"HERMES_API_KEY": PROFILE_KEY},
    )
    return root, {"HOME": str(user), "HERMES_HOME": str(root)}


@needs_chromium
async def test_the_login_page_names_the_profiles_own_env_file(
    tmp_path: Path, model: ScriptedModel, browser: Any
) -> None:
    from playwright.async_api import expect

    root, env = work_profile(tmp_path, model)
    async with serving(root, profile_name="work", env=env) as site:
        async with httpx.AsyncClient(base_url=site.url, timeout=10) as client:
            wrong = await client.post("/api/web/login", json={"key": "hk_guess"})
            assert wrong.status_code == 401
            assert wrong.json()["error"]["message"] == f"wrong key: use HERMES_API_KEY from {SHOWN}"
            page_html = (await client.get("/")).text
            assert "~/.hermes/.env" not in page_html and PROFILE_KEY not in page_html
        page = await browser.new_page()
        await page.goto(site.url)
        await expect(page.locator("#key-location")).to_have_text(SHOWN)
        await expect(page.locator("#login-hint")).to_contain_text("profile work")


async def test_a_profiles_gateway_off_a_terminal_says_where_its_key_is_not_what_it_is(
    tmp_path: Path, model: ScriptedModel
) -> None:
    root, env = work_profile(tmp_path, model)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "hermes", "-p", "work", "gateway", "run"),
        env={**os.environ, **env},
        cwd=str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        state = root / "profiles" / "work" / "gateway.json"
        await wait_until(lambda: state.exists() or proc.returncode is not None, 30)
        assert json.loads(state.read_text())["profile"] == "work"
        proc.send_signal(signal.SIGTERM)
        out = (await asyncio.wait_for(proc.communicate(), 30))[0].decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    assert f"Log in to the web chat with HERMES_API_KEY from {SHOWN} (not shown here)" in out
    assert PROFILE_KEY not in out


def test_a_profiles_gateway_in_a_terminal_shows_its_key_and_where_it_is(
    tmp_path: Path, model: ScriptedModel
) -> None:
    _, env = work_profile(tmp_path, model)
    terminal = Terminal(["-p", "work", "gateway", "run"], {**os.environ, **env}, tmp_path)
    try:
        shown = terminal.expect(r"\(HERMES_API_KEY\) \(log in with it\): (hk_\S+)", 60)
        assert shown[1] == PROFILE_KEY
        terminal.expect(r"stored in ~/\.hermes/profiles/work/\.env")
        link = terminal.expect(
            r"one-time login link \(10 min, no key in it\): (http\S+)#code=(\S+)"
        )
        terminal.expect("Stop with Ctrl")
        assert PROFILE_KEY not in link[0]
        with httpx.Client(base_url=link[1], timeout=10) as client:
            assert client.post("/api/web/login", json={"code": link[2]}).status_code == 200
            again = client.post("/api/web/login", json={"code": link[2]})  # once only
            assert again.status_code == 401 and "used or has expired" in again.text
        terminal.proc.send_signal(signal.SIGTERM)
        assert terminal.wait(30) == 0
    finally:
        terminal.close()


@needs_chromium
async def test_a_one_time_login_link_logs_in_once_and_leaves_no_code_behind(
    tmp_path: Path, model: ScriptedModel, browser: Any
) -> None:
    from playwright.async_api import expect

    root, env = work_profile(tmp_path, model)
    async with serving(root, profile_name="work", env=env) as site:
        store, key = site.gw.store, site.gw.api_key
        code = await auth.issue_login_code(store, key)
        page = await browser.new_page()
        await page.goto(f"{site.url}/#code={code}")
        await expect(page.locator("#input")).to_be_visible()  # logged in, no key typed
        assert await page.evaluate("() => location.href") == f"{site.url}/"  # the code is gone

        other = await browser.new_page()  # the same link again: used up
        await other.goto(f"{site.url}/#code={code}")
        await expect(other.locator("#login-error")).to_contain_text("used or has expired")
        await expect(other.locator("#login-key")).to_be_visible()

        old = await auth.issue_login_code(store, key, now=time.time() - 11 * 60)
        assert not await auth.redeem_login_code(store, key, old)  # expired
        made_under_another_key = await auth.issue_login_code(store, "hk_an-older-key")
        assert not await auth.redeem_login_code(store, key, made_under_another_key)
