"""The agentskills.io format: the validator, what the prompt loads, `/skills check`,
usage counting in state.db and the curator, against a real home and state.db."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest
from tools_helpers import make_ctx

from hermes.agent.prompt import build_system_prompt
from hermes.errors import ToolError
from hermes.skills import verbs
from hermes.skills.curator import DAY, archive_unused
from hermes.skills.format import validate
from hermes.store import Store, skill_ops
from hermes.tools.skills import TOOLS

TOOL = {t.name: t for t in TOOLS}


def skill_text(name: str, description: str = "ship the app to staging", **extra: str) -> str:
    fields = "".join(f"{k}: {v}\n" for k, v in extra.items())
    return f"---\nname: {name}\ndescription: {description}\n{fields}---\n1. run make deploy\n"


def write_skill(home: Path, folder: str, text: str) -> None:
    (home / "skills" / folder).mkdir(parents=True, exist_ok=True)
    (home / "skills" / folder / "SKILL.md").write_text(text)


def test_the_validator_accepts_the_format_and_names_each_problem() -> None:
    good = skill_text("deploy-staging", license="MIT", compatibility="needs make")
    assert validate("deploy-staging", good) == []
    assert validate("deploy-staging", good.replace("---\n1.", "metadata:\n  a: b\n---\n1.")) == []
    assert "must equal the folder's name 'deploy-staging'" in " ".join(
        validate("deploy-staging", skill_text("deploy"))
    )
    assert "lowercase letters" in " ".join(validate("Deploy", skill_text("Deploy")))
    assert "single hyphens" in " ".join(validate("-x", skill_text("-x")))
    assert "at most 64" in " ".join(validate("a" * 65, skill_text("a" * 65)))
    assert "at most 1024" in " ".join(validate("x", skill_text("x", "d" * 1025)))
    assert "description is missing" in " ".join(validate("x", "---\nname: x\n---\nsteps\n"))
    assert "unknown front matter field(s) tags" in " ".join(
        validate("x", skill_text("x", tags="[a]"))
    )
    assert "metadata must be a mapping" in " ".join(validate("x", skill_text("x", metadata="1")))
    assert validate("x", "just steps") == [
        "SKILL.md must start with YAML front matter between '---' lines"
    ]
    assert "procedure after the front matter is empty" in " ".join(
        validate("x", "---\nname: x\ndescription: d\n---\n")
    )


async def test_invalid_skills_are_reported_and_not_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_skill(tmp_path, "deploy-staging", skill_text("deploy-staging"))
    write_skill(tmp_path, "wrong-name", skill_text("other-name", "a skill with a wrong name"))
    write_skill(tmp_path, "no-description", "---\nname: no-description\n---\nsteps\n")
    (tmp_path / "skills" / "empty-folder").mkdir()
    ctx = make_ctx(tmp_path)
    with caplog.at_level(logging.WARNING, logger="hermes.skills.format"):
        prompt = build_system_prompt(ctx.profile)
    assert "deploy-staging: ship the app to staging" in prompt
    assert "wrong-name" not in prompt and "no-description" not in prompt
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "skills/wrong-name: name 'other-name' must equal the folder's name" in logged
    assert "skills/no-description: description is missing" in logged
    assert await TOOL["skills_list"].run({}, ctx) == "- deploy-staging: ship the app to staging"
    with pytest.raises(ToolError, match="invalid and not loaded"):
        await TOOL["skill_view"].run({"name": "wrong-name"}, ctx)
    report = verbs.check(tmp_path)
    assert report.splitlines()[0] == "3 invalid skill(s), not loaded (1 valid):"
    assert "skills/empty-folder: no SKILL.md in the folder" in report
    write_skill(tmp_path, "wrong-name", skill_text("wrong-name"))
    write_skill(tmp_path, "no-description", skill_text("no-description"))
    (tmp_path / "skills" / "empty-folder").rmdir()
    assert verbs.check(tmp_path) == "All 3 skills are valid."


def _age(path: Path, seconds: float = 60.0) -> None:
    """Date every file and folder under PATH back: an index read from them is kept."""
    then = time.time() - seconds
    for item in [path, *path.rglob("*")]:
        os.utime(item, (then, then))


def test_the_kept_index_follows_every_change_to_the_skills(tmp_path: Path) -> None:
    from hermes.skills.format import _INDEX, load_index

    skills = tmp_path / "skills"
    write_skill(tmp_path, "deploy-staging", skill_text("deploy-staging"))
    write_skill(tmp_path, "backup", skill_text("backup", "back the database up"))
    _age(skills)
    assert [s.name for s in load_index(skills)] == ["backup", "deploy-staging"]
    assert skills in _INDEX  # kept: the next new session reads no SKILL.md
    assert load_index(skills) == load_index(skills)
    # edited in place (same size, so only the time tells), then written anew
    path = skills / "backup" / "SKILL.md"
    path.write_text(skill_text("backup", "back the database UP"))
    assert load_index(skills)[0].description == "back the database UP"
    write_skill(tmp_path, "backup", skill_text("backup", "copy state.db away"))
    _age(skills)
    assert load_index(skills)[0].description == "copy state.db away"
    write_skill(tmp_path, "cleanup", skill_text("cleanup", "remove old builds"))
    assert "cleanup" in [s.name for s in load_index(skills)]
    _age(skills)
    load_index(skills)
    (skills / "cleanup" / "SKILL.md").unlink()
    (skills / "cleanup").rmdir()
    assert [s.name for s in load_index(skills)] == ["backup", "deploy-staging"]
    # written within the last moments: read again each time, never kept
    write_skill(tmp_path, "deploy-staging", skill_text("deploy-staging", "ship it now"))
    assert load_index(skills)[1].description == "ship it now"
    assert skills not in _INDEX


async def test_views_and_uses_are_counted_per_session(tmp_path: Path) -> None:
    write_skill(tmp_path, "deploy-staging", skill_text("deploy-staging"))
    async with await Store.open(tmp_path / "state.db") as store:
        ctx = make_ctx(tmp_path, store=store)
        assert await store.run(skill_ops.usage, "deploy-staging") is None
        await TOOL["skill_view"].run({"name": "deploy-staging"}, ctx)
        await TOOL["skill_view"].run({"name": "deploy-staging"}, ctx)
        first = await store.run(skill_ops.usage, "deploy-staging")
        assert first is not None and (first.views, first.uses) == (2, 1)
        assert first.created_by == "user" and first.last_used_at is not None
        ctx.session_id = "s2"
        await TOOL["skill_view"].run({"name": "deploy-staging"}, ctx)
        later = await store.run(skill_ops.usage, "deploy-staging")
        assert later is not None and (later.views, later.uses) == (3, 2)
        listed = await verbs.run(store, tmp_path, "list")
        assert "deploy-staging (3 views, 2 uses, by user)" in listed


async def test_the_curator_archives_unused_agent_skills_only(tmp_path: Path) -> None:
    for name in ("agent-old", "agent-recent", "user-old", "bundled-old", "unknown-old"):
        write_skill(tmp_path, name, skill_text(name))
    manifest = {"version": 1, "skills": {"bundled-old": {"sha256": "x"}}}
    (tmp_path / "skills" / ".bundled.json").write_text(json.dumps(manifest))
    now = time.time()
    old = now - 91 * DAY
    async with await Store.open(tmp_path / "state.db") as store:
        await store.run(skill_ops.set_creator, "agent-old", "agent", old)
        await store.run(skill_ops.set_creator, "agent-recent", "agent", old)
        await store.run(skill_ops.record_view, "agent-recent", "s1", now - 5 * DAY)
        await store.run(skill_ops.set_creator, "user-old", "user", old)
        await store.run(skill_ops.set_creator, "bundled-old", "agent", old)  # a stray row
        profile = make_ctx(tmp_path).profile
        assert await archive_unused(store, profile, now) == ["agent-old"]
        assert await archive_unused(store, profile, now) == []  # once
        usage = await store.run(skill_ops.usage, "agent-old")
        assert usage is not None and usage.archived_at == pytest.approx(now)
    skills = tmp_path / "skills"
    assert (skills / ".archive" / "agent-old" / "SKILL.md").is_file()
    assert not (skills / "agent-old").exists()
    for kept in ("agent-recent", "user-old", "bundled-old", "unknown-old"):
        assert (skills / kept / "SKILL.md").is_file(), kept
    assert "agent-old" not in build_system_prompt(profile)


async def test_the_cli_checks_skills_and_decides_proposals(tmp_path: Path) -> None:
    from cli_helpers import run_hermes

    from hermes.settings import Settings
    from hermes.skills import proposals

    home = tmp_path / "home"
    write_skill(home, "wrong-name", skill_text("other-name"))
    done = run_hermes(home, "skills", "check")
    assert done.returncode == 1, done.stderr
    assert "skills/wrong-name: name 'other-name' must equal the folder's name" in done.stdout
    async with await Store.open(home / "state.db") as store:
        draft = proposals.Draft("skill", "patch", "wrong-name", skill_text("wrong-name"))
        staged, _ = await proposals.stage(store, home, Settings(), draft, "review")
    assert staged.id in run_hermes(home, "skills", "pending").stdout
    applied = run_hermes(home, "skills", "apply", staged.id)
    assert applied.stdout.startswith(f"Applied {staged.id}"), applied.stderr
    done = run_hermes(home, "skills", "check")
    assert done.returncode == 0 and done.stdout.startswith("All "), done.stdout
    assert "Rolled back" in run_hermes(home, "skills", "rollback", staged.id).stdout
    assert run_hermes(home, "skills", "check").returncode == 1
