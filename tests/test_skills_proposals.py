"""Proposals against a real home and state.db: staged, applied, rejected, stale
(the target changed: not applied), rolled back; near-duplicates patched; the
/skills chat command and skill_manage with write_approval ask."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from tools_helpers import make_ctx

from hermes.commands import run_command
from hermes.context import Profile
from hermes.home import load_profile
from hermes.runtime import open_conversation
from hermes.settings import Settings, SkillsSettings
from hermes.skills import proposals, verbs
from hermes.skills.proposals import Draft, ProposalError
from hermes.store import Store, skill_ops
from hermes.testing import ScriptedModel
from hermes.tools.skills import TOOLS

TOOL = {t.name: t for t in TOOLS}
DEPLOY = (
    "---\nname: deploy-staging\ndescription: Deploy the web app to the staging server "
    "with make and check the health endpoint\n---\n1. run make deploy ENV=staging\n"
    "2. curl the health endpoint\n"
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "state.db") as s:
        yield s


def ask_profile(home: Path, approval: str = "ask") -> Profile:
    settings = Settings(skills=SkillsSettings(write_approval=approval))  # type: ignore[arg-type]
    return make_ctx(home, settings=settings).profile


def skill_file(home: Path, name: str) -> Path:
    return home / "skills" / name / "SKILL.md"


async def test_a_staged_skill_is_applied_then_rolled_back(tmp_path: Path, store: Store) -> None:
    profile = ask_profile(tmp_path)
    draft = Draft("skill", "create", "deploy-staging", DEPLOY, "repeated steps")
    proposal, line = await proposals.stage(store, tmp_path, profile.settings, draft, "review")
    assert proposal.status == "pending" and proposal.base_hash == ""
    assert f"/skills apply {proposal.id}" in line
    assert not skill_file(tmp_path, "deploy-staging").exists()  # staged, not written
    assert proposal.id in await verbs.run(store, tmp_path, "pending")

    applied = await verbs.run(store, tmp_path, f"apply {proposal.id}")
    assert applied.startswith(f"Applied {proposal.id}: create skill deploy-staging")
    assert skill_file(tmp_path, "deploy-staging").read_text() == DEPLOY
    usage = await store.run(skill_ops.usage, "deploy-staging")
    assert usage is not None and usage.created_by == "agent"
    with pytest.raises(ProposalError, match="is applied, not pending"):
        await proposals.apply(store, tmp_path, proposal.id)

    patched = DEPLOY.replace("make deploy", "make ship")
    second, _ = await proposals.stage(
        store, tmp_path, profile.settings, Draft("skill", "patch", "deploy-staging", patched), "u"
    )
    await proposals.apply(store, tmp_path, second.id)
    assert "make ship" in skill_file(tmp_path, "deploy-staging").read_text()
    assert "previous text restored" in await verbs.run(store, tmp_path, f"rollback {second.id}")
    assert skill_file(tmp_path, "deploy-staging").read_text() == DEPLOY
    # the create rolled back: the folder is archived, not deleted
    assert "moved to" in await proposals.rollback(store, tmp_path, proposal.id)
    assert not skill_file(tmp_path, "deploy-staging").exists()
    assert (tmp_path / "skills" / ".archive" / "deploy-staging" / "SKILL.md").read_text() == DEPLOY
    rows = {p.id: p.status for p in await store.run(skill_ops.proposals, None)}
    assert rows == {proposal.id: "rolled_back", second.id: "rolled_back"}


async def test_a_stale_proposal_is_not_applied(tmp_path: Path, store: Store) -> None:
    profile = ask_profile(tmp_path)
    skill_file(tmp_path, "deploy-staging").parent.mkdir(parents=True)
    skill_file(tmp_path, "deploy-staging").write_text(DEPLOY)
    patched = DEPLOY.replace("make deploy", "make ship")
    draft = Draft("skill", "patch", "deploy-staging", patched)
    proposal, _ = await proposals.stage(store, tmp_path, profile.settings, draft, "review")
    users_edit = DEPLOY + "3. tell the team\n"
    skill_file(tmp_path, "deploy-staging").write_text(users_edit)  # the target changed
    answer = await verbs.run(store, tmp_path, f"apply {proposal.id}")
    assert answer.startswith(f"Not applied: proposal {proposal.id} is stale")
    assert skill_file(tmp_path, "deploy-staging").read_text() == users_edit
    stale = await store.run(skill_ops.get_proposal, proposal.id)
    assert stale is not None and stale.status == "stale"
    assert "is stale" in await verbs.run(store, tmp_path, f"rollback {proposal.id}")


async def test_a_rejected_memory_proposal_changes_nothing_an_applied_one_rolls_back(
    tmp_path: Path, store: Store
) -> None:
    profile = ask_profile(tmp_path)
    user_md = tmp_path / "memories" / "USER.md"
    user_md.parent.mkdir()
    user_md.write_text("Name: Ada\n")
    draft = Draft("memory", "edit", "user", "Name: Ada\n§\nPrefers metric units\n")
    first, _ = await proposals.stage(store, tmp_path, profile.settings, draft, "nudge")
    assert "Rejected" in await verbs.run(store, tmp_path, f"reject {first.id}")
    assert user_md.read_text() == "Name: Ada\n"
    assert "rejected, not pending" in await verbs.run(store, tmp_path, f"apply {first.id}")
    second, _ = await proposals.stage(store, tmp_path, profile.settings, draft, "nudge")
    await proposals.apply(store, tmp_path, second.id)
    assert "Prefers metric units" in user_md.read_text()
    await proposals.rollback(store, tmp_path, second.id)
    assert user_md.read_text() == "Name: Ada\n"


async def test_rollback_refuses_when_the_target_changed_after_applying(
    tmp_path: Path, store: Store
) -> None:
    profile = ask_profile(tmp_path, "auto")
    draft = Draft("skill", "create", "deploy-staging", DEPLOY)
    proposal, line = await proposals.stage(store, tmp_path, profile.settings, draft, "agent")
    assert proposal.status == "applied" and line.startswith("Applied")  # auto
    skill_file(tmp_path, "deploy-staging").write_text(DEPLOY + "4. more\n")
    with pytest.raises(ProposalError, match="changed since it was applied"):
        await proposals.rollback(store, tmp_path, proposal.id)
    assert skill_file(tmp_path, "deploy-staging").read_text().endswith("4. more\n")


async def test_a_deleted_skill_is_archived_and_comes_back_on_rollback(
    tmp_path: Path, store: Store
) -> None:
    profile = ask_profile(tmp_path, "auto")
    skill_file(tmp_path, "deploy-staging").parent.mkdir(parents=True)
    skill_file(tmp_path, "deploy-staging").write_text(DEPLOY)
    (tmp_path / "skills" / "deploy-staging" / "scripts").mkdir()
    draft = Draft("skill", "delete", "deploy-staging", None)
    proposal, _ = await proposals.stage(store, tmp_path, profile.settings, draft, "agent")
    assert not (tmp_path / "skills" / "deploy-staging").exists()
    await proposals.rollback(store, tmp_path, proposal.id)
    assert skill_file(tmp_path, "deploy-staging").read_text() == DEPLOY
    assert (tmp_path / "skills" / "deploy-staging" / "scripts").is_dir()


async def test_a_near_duplicate_create_becomes_a_patch(tmp_path: Path, store: Store) -> None:
    profile = ask_profile(tmp_path)
    skill_file(tmp_path, "deploy-staging").parent.mkdir(parents=True)
    skill_file(tmp_path, "deploy-staging").write_text(DEPLOY)
    same_name = DEPLOY.replace("deploy-staging", "deploy-to-staging")
    by_name, _ = await proposals.stage(
        store,
        tmp_path,
        profile.settings,
        Draft("skill", "create", "deploy-to-staging", same_name),
        "review",
    )
    assert (by_name.action, by_name.target) == ("patch", "deploy-staging")
    assert "near-duplicate of deploy-staging" in by_name.reason
    assert by_name.content is not None and "name: deploy-staging\n" in by_name.content
    similar = DEPLOY.replace("deploy-staging", "ship-web-app").replace("2. curl", "2. then curl")
    by_content, _ = await proposals.stage(
        store, tmp_path, profile.settings, Draft("skill", "create", "ship-web-app", similar), "r"
    )
    assert (by_content.action, by_content.target) == ("patch", "deploy-staging")
    other = (
        "---\nname: rotate-logs\ndescription: Compress and prune old log files in /var/log\n"
        "---\n1. run logrotate -f\n"
    )
    fresh, _ = await proposals.stage(
        store, tmp_path, profile.settings, Draft("skill", "create", "rotate-logs", other), "r"
    )
    assert (fresh.action, fresh.target) == ("create", "rotate-logs")


async def test_an_invalid_proposal_is_refused(tmp_path: Path, store: Store) -> None:
    profile = ask_profile(tmp_path)
    bad = DEPLOY.replace("description:", "summary:")
    with pytest.raises(ProposalError, match="description is missing"):
        await proposals.stage(
            store, tmp_path, profile.settings, Draft("skill", "create", "deploy-staging", bad), "r"
        )
    assert await store.run(skill_ops.proposals, None) == []


async def test_skill_manage_stages_when_write_approval_is_ask(tmp_path: Path, store: Store) -> None:
    ctx = make_ctx(tmp_path, store=store)  # the default: ask
    args = {"action": "create", "name": "deploy-staging", "content": DEPLOY}
    answer = await TOOL["skill_manage"].run(args, ctx)
    assert "Staged as proposal sp_" in answer and "/skills apply sp_" in answer
    assert not skill_file(tmp_path, "deploy-staging").exists()
    [pending] = await proposals.pending(store)
    await proposals.apply(store, tmp_path, pending.id)
    assert skill_file(tmp_path, "deploy-staging").read_text() == DEPLOY


async def test_the_skills_chat_command(tmp_path: Path, model: ScriptedModel) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = {"model": {**model.config(), "max_retries": 0}}
    (home / "config.yaml").write_text(yaml.safe_dump(config))
    env = {"HERMES_HOME": str(home), "PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    async with open_conversation(load_profile(env=env), source="test") as conv:
        assert (await run_command(conv, "/skills pending")).text == "No pending proposals."
        draft = Draft("skill", "create", "deploy-staging", DEPLOY)
        staged, _ = await proposals.stage(conv.store, home, conv.profile.settings, draft, "r")
        listed = (await run_command(conv, "/skills")).text
        assert "- daily-brief (by bundled): " in listed
        assert listed.endswith("1 pending proposal(s): /skills pending")
        shown = (await run_command(conv, f"/skills show {staged.id}")).text
        assert "[pending, from r]" in shown and "make deploy" in shown
        assert "Applied" in (await run_command(conv, f"/skills apply {staged.id}")).text
        assert "no proposal 'nope'" in (await run_command(conv, "/skills apply nope")).text
        assert "needs a proposal id" in (await run_command(conv, "/skills apply")).text
        assert "Unknown /skills verb" in (await run_command(conv, "/skills frob")).text
    assert model.requests == []
