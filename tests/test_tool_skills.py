"""The skill tools against a real home's skills/ folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools_helpers import make_ctx

from hermes.agent.prompt import build_system_prompt
from hermes.errors import ToolError
from hermes.settings import Settings, SkillsSettings
from hermes.store import Store
from hermes.tools.skills import TOOLS

TOOL = {t.name: t for t in TOOLS}
SKILL = "---\nname: deploy-staging\ndescription: ship the app to staging\n---\n1. run make deploy\n"


async def test_create_list_view_update_delete(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "state.db")
    auto = Settings(skills=SkillsSettings(write_approval="auto"))
    ctx = make_ctx(tmp_path, settings=auto, store=store)
    assert "No skills yet" in await TOOL["skills_list"].run({}, ctx)
    args = {"action": "create", "name": "deploy-staging", "content": SKILL}
    assert "Created skill deploy-staging" in await TOOL["skill_manage"].run(args, ctx)
    with pytest.raises(ToolError, match="exists; use action=update"):
        await TOOL["skill_manage"].run(args, ctx)
    listed = await TOOL["skills_list"].run({}, ctx)
    assert listed == "- deploy-staging: ship the app to staging"
    assert "make deploy" in await TOOL["skill_view"].run({"name": "deploy-staging"}, ctx)
    assert "deploy-staging: ship the app to staging" in build_system_prompt(ctx.profile)
    updated = SKILL.replace("make deploy", "make ship")
    await TOOL["skill_manage"].run({**args, "action": "update", "content": updated}, ctx)
    assert "make ship" in await TOOL["skill_view"].run({"name": "deploy-staging"}, ctx)
    await TOOL["skill_manage"].run({"action": "delete", "name": "deploy-staging"}, ctx)
    assert not (tmp_path / "skills" / "deploy-staging").exists()
    assert (tmp_path / "skills" / ".archive" / "deploy-staging" / "SKILL.md").exists()
    await store.close()


async def test_bad_names_missing_front_matter_and_unknown_skills(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match="lowercase letters"):
        await TOOL["skill_view"].run({"name": "../../etc"}, ctx)
    with pytest.raises(ToolError, match="front matter"):
        await TOOL["skill_manage"].run(
            {"action": "create", "name": "x", "content": "just steps"}, ctx
        )
    with pytest.raises(ToolError, match="no skill named 'nope'"):
        await TOOL["skill_view"].run({"name": "nope"}, ctx)
