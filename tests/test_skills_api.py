"""The skill-proposal routes under /api/hermes/skills (hermes/server/api_skills.py):
a real gateway served on a loopback port (tests/test_hermes_api.py's `api` fixture),
every answer checked against the OpenAPI document. Proposals are staged as the
review stages them (hermes.skills.proposals.stage on the gateway's store); the
files in the home show what was really written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hermes.settings import Settings, SkillsSettings
from hermes.skills import proposals
from hermes.skills.proposals import Draft
from hermes.testing import ScriptedModel
from tests.test_hermes_api import Api, serving

BASE = "/api/hermes/skills/proposals"
ONE = BASE + "/{id}"
ASK = Settings(skills=SkillsSettings(write_approval="ask"))
DEPLOY = (
    "---\nname: deploy-staging\ndescription: Deploy the web app to the staging server "
    "with make and check the health endpoint\n---\n1. run make deploy ENV=staging\n"
)
BRIEFING = "---\nname: briefing\ndescription: a morning brief\n---\nRead the news.\n"


@pytest.fixture
async def api(tmp_path: Path, model: ScriptedModel) -> AsyncIterator[Api]:
    async with serving(tmp_path / "home", model) as served:
        yield served


async def stage(api: Api, draft: Draft) -> str:
    proposal, _ = await proposals.stage(api.gw.store, api.home, ASK, draft, "review")
    assert proposal.status == "pending"
    return proposal.id


def skill_md(api: Api, name: str) -> Path:
    return api.home / "skills" / name / "SKILL.md"


async def test_a_new_skill_is_listed_with_its_text_applied_once_and_then_recent(api: Api) -> None:
    pid = await stage(api, Draft("skill", "create", "deploy-staging", DEPLOY, "repeated steps"))

    status, listing = await api.call("GET", BASE)
    assert status == 200 and listing["recent"] == []
    [shown] = listing["pending"]
    assert shown["id"] == pid and shown["status"] == "pending"
    assert (shown["kind"], shown["action"], shown["target"]) == (
        "skill",
        "create",
        "deploy-staging",
    )
    assert shown["path"] == "skills/deploy-staging/SKILL.md"
    assert shown["summary"] == "create skill deploy-staging (repeated steps)"
    assert shown["content"] == DEPLOY and shown["before"] is None
    assert shown["diff"].startswith("--- /dev/null\n+++ b/skills/deploy-staging/SKILL.md\n")
    assert "+1. run make deploy ENV=staging\n" in shown["diff"]
    assert not shown["target_changed"]
    assert (await api.call("GET", ONE, id=pid)) == (200, shown)
    assert not skill_md(api, "deploy-staging").exists()  # staged, not written

    status, applied = await api.call("POST", ONE + "/apply", id=pid)
    assert status == 200, applied
    assert (applied["id"], applied["status"]) == (pid, "applied")
    assert applied["message"].startswith(f"Applied {pid}: create skill deploy-staging")
    assert skill_md(api, "deploy-staging").read_text() == DEPLOY

    status, again = await api.call("POST", ONE + "/apply", id=pid)
    assert status == 409 and "is applied, not pending" in again["error"]["message"]
    _, listing = await api.call("GET", BASE)
    assert listing["pending"] == []
    [recent] = listing["recent"]
    assert recent["status"] == "applied" and recent["decided_at"] >= recent["created_at"]
    assert recent["before"] is None and recent["content"] == DEPLOY  # what it replaced: nothing


async def test_a_patch_shows_its_diff_and_rolls_back_to_the_text_it_replaced(api: Api) -> None:
    patched = BRIEFING.replace("Read the news.", "Read the news and the weather.")
    pid = await stage(api, Draft("skill", "patch", "briefing", patched))
    _, shown = await api.call("GET", ONE, id=pid)
    assert shown["before"] == BRIEFING
    assert "-Read the news.\n+Read the news and the weather.\n" in shown["diff"]
    assert shown["diff"].startswith("--- a/skills/briefing/SKILL.md\n")

    assert (await api.call("POST", ONE + "/apply", id=pid))[0] == 200
    assert skill_md(api, "briefing").read_text() == patched
    _, applied = await api.call("GET", ONE, id=pid)
    assert applied["before"] == BRIEFING  # the replaced text, not the file as it is now

    status, rolled = await api.call("POST", ONE + "/rollback", id=pid)
    assert status == 200, rolled
    assert rolled["status"] == "rolled_back" and "previous text restored" in rolled["message"]
    assert skill_md(api, "briefing").read_text() == BRIEFING
    status, again = await api.call("POST", ONE + "/rollback", id=pid)
    assert status == 409 and "only an applied one rolls back" in again["error"]["message"]


async def test_a_proposal_whose_target_changed_is_flagged_and_not_applied(api: Api) -> None:
    pid = await stage(api, Draft("skill", "patch", "briefing", BRIEFING + "Then the mail.\n"))
    users_edit = BRIEFING + "Skip sports.\n"
    skill_md(api, "briefing").write_text(users_edit)
    _, shown = await api.call("GET", ONE, id=pid)
    assert shown["target_changed"] and shown["before"] == users_edit

    status, refused = await api.call("POST", ONE + "/apply", id=pid)
    assert status == 409
    assert refused["error"]["message"].startswith(f"Not applied: proposal {pid} is stale")
    assert skill_md(api, "briefing").read_text() == users_edit  # nothing changed
    _, shown = await api.call("GET", ONE, id=pid)
    assert shown["status"] == "stale" and "target changed" in shown["note"]
    assert not shown["target_changed"]  # only said of a pending one


async def test_a_rejected_memory_proposal_writes_nothing(api: Api) -> None:
    user_md = api.home / "memories" / "USER.md"
    user_md.parent.mkdir(exist_ok=True)
    user_md.write_text("Name: Ada\n")
    pid = await stage(api, Draft("memory", "edit", "user", "Name: Ada\nPrefers metric units\n"))
    _, shown = await api.call("GET", ONE, id=pid)
    assert shown["path"] == "memories/USER.md" and "+Prefers metric units\n" in shown["diff"]

    status, rejected = await api.call("POST", ONE + "/reject", id=pid)
    assert (status, rejected["status"]) == (200, "rejected")
    assert rejected["message"] == f"Rejected {pid}: edit memories/USER.md."
    assert user_md.read_text() == "Name: Ada\n"
    for verb, says in (("reject", "is rejected, not pending"), ("apply", "not pending")):
        status, again = await api.call("POST", ONE + f"/{verb}", id=pid)
        assert status == 409 and says in again["error"]["message"]


async def test_unknown_ids_and_a_bad_recent_are_documented_4xx(api: Api) -> None:
    for method, template in [("GET", ONE)] + [("POST", ONE + f"/{v}") for v in proposals_verbs()]:
        status, body = await api.call(method, template, id="sp_nope")
        assert status == 404 and body["error"]["message"] == "no proposal 'sp_nope'"
    for recent in ("-1", "abc", "101"):
        status, body = await api.call("GET", BASE, recent=recent)
        assert status == 400 and "recent must be a whole number" in body["error"]["message"]

    first = await stage(api, Draft("memory", "edit", "user", "one\n"))
    second = await stage(api, Draft("memory", "edit", "memory", "two\n"))
    for pid in (first, second):
        assert (await api.call("POST", ONE + "/reject", id=pid))[0] == 200
    _, listing = await api.call("GET", BASE, recent="1")
    assert [p["id"] for p in listing["recent"]] == [second]  # the latest decision first
    _, listing = await api.call("GET", BASE, recent="0")
    assert listing == {"pending": [], "recent": []}


def proposals_verbs() -> tuple[str, ...]:
    return ("apply", "reject", "rollback")
