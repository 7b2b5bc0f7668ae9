"""The dashboard's Skills panel (hermes/server/static/dashboard_skills.js): headless
Chromium against a real gateway (tests/test_dashboard.py's browser, site and page).
A staged proposal shows what it changes and is applied from the page (the skill
file is written), then rolled back; one whose file changed since is refused with
the gateway's words and writes nothing; a rejected one writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hermes.settings import Settings, SkillsSettings
from hermes.skills import proposals
from hermes.skills.proposals import Draft
from hermes.testing import ScriptedModel
from tests.browser_helpers import CHROMIUM, chromium
from tests.gateway_helpers import make_home
from tests.test_dashboard import open_page
from tests.test_webchat import Site, serving
from tests.tools_helpers import wait_until

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Chromium"),
    pytest.mark.asyncio(loop_scope="module"),
]

ASK = Settings(skills=SkillsSettings(write_approval="ask"))
DEPLOY = (
    "---\nname: deploy-staging\ndescription: Deploy the web app to the staging server "
    "with make and check the health endpoint\n---\n1. run make deploy ENV=staging\n"
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        pytest.importorskip("playwright.async_api").expect.set_options(timeout=10_000)
        yield b


@pytest_asyncio.fixture(loop_scope="module")
async def site(tmp_path: Path, model: ScriptedModel) -> AsyncIterator[Site]:
    async with serving(make_home(tmp_path / "home", model)) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Any, site: Site) -> AsyncIterator[Any]:
    """The dashboard, logged in; no script error nor CSP refusal on the way."""
    problems: list[str] = []
    p = await open_page(browser, site, problems, viewport={"width": 1200, "height": 900})
    try:
        yield p
    finally:
        await p.context.close()
    assert problems == []


async def stage(site: Site, draft: Draft) -> str:
    proposal, _ = await proposals.stage(site.gw.store, site.gw.profile.home, ASK, draft, "review")
    return proposal.id


def skill_md(site: Site, name: str) -> Path:
    return site.gw.profile.home / "skills" / name / "SKILL.md"


async def test_a_proposal_is_applied_from_the_page_and_rolled_back(site: Site, page: Any) -> None:
    from playwright.async_api import expect

    await expect(page.locator("#skills-empty")).to_be_visible()
    pid = await stage(site, Draft("skill", "create", "deploy-staging", DEPLOY, "repeated steps"))

    card = page.locator(f'#skill-proposals .card[data-id="{pid}"]')  # the page refreshes
    await expect(card.locator(".path")).to_have_text("skills/deploy-staging/SKILL.md")
    await expect(card.locator(".summary")).to_have_text(
        "create skill deploy-staging (repeated steps)"
    )
    await expect(card.locator("pre.diff .add")).to_contain_text(["+name: deploy-staging"])
    await expect(page.locator("#skills-count")).to_have_text("1 pending")
    assert not skill_md(site, "deploy-staging").exists()

    await card.locator("button.apply").click()
    await wait_until(lambda: skill_md(site, "deploy-staging").exists())
    assert skill_md(site, "deploy-staging").read_text() == DEPLOY
    await expect(page.locator("#skills-said")).to_contain_text(f"Applied {pid}")
    await expect(card).to_have_count(0)
    await expect(page.locator("#skills-empty")).to_be_visible()
    done = page.locator(f'#skills-recent li[data-id="{pid}"]')
    await expect(done.locator(".badge")).to_have_text("applied")

    page.once("dialog", lambda dialog: dialog.accept())
    await done.locator("button.rollback").click()
    await expect(done.locator(".badge")).to_have_text("rolled back")
    await expect(done.locator("button.rollback")).to_have_count(0)
    assert not skill_md(site, "deploy-staging").exists()  # archived, not deleted
    archived = site.gw.profile.home / "skills" / ".archive" / "deploy-staging" / "SKILL.md"
    assert archived.read_text() == DEPLOY


async def test_a_stale_proposal_is_refused_and_a_rejected_one_writes_nothing(
    site: Site, page: Any
) -> None:
    from playwright.async_api import expect

    path = skill_md(site, "deploy-staging")
    path.parent.mkdir(parents=True)
    path.write_text(DEPLOY)
    stale = await stage(site, Draft("skill", "patch", "deploy-staging", DEPLOY + "2. check\n"))
    users_edit = DEPLOY + "2. tell the team\n"
    path.write_text(users_edit)
    card = page.locator(f'#skill-proposals .card[data-id="{stale}"]')
    await expect(card.locator(".changed")).to_contain_text("The file changed since")
    await card.locator("button.apply").click()
    await expect(page.locator("#dash-notice")).to_contain_text(f"proposal {stale} is stale")
    await expect(page.locator(f'#skills-recent li[data-id="{stale}"] .badge')).to_have_text("stale")
    assert path.read_text() == users_edit

    user_md = site.gw.profile.home / "memories" / "USER.md"
    before = user_md.read_text() if user_md.exists() else None
    memory = await stage(site, Draft("memory", "edit", "user", "Prefers metric units\n"))
    card = page.locator(f'#skill-proposals .card[data-id="{memory}"]')
    await expect(card.locator(".path")).to_have_text("memories/USER.md")
    await card.locator("button.reject").click()
    await expect(page.locator(f'#skills-recent li[data-id="{memory}"] .badge')).to_have_text(
        "rejected"
    )
    assert (user_md.read_text() if user_md.exists() else None) == before
