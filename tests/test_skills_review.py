"""The background review and the memory nudge: a real turn with the scripted
model, then `after_turn` asks the model (its own session) and stages what its
JSON proposes."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hermes.agent.conversation import Conversation
from hermes.home import load_profile
from hermes.messages import Message
from hermes.runtime import open_conversation
from hermes.skills import proposals, review
from hermes.store import skill_ops
from hermes.testing import ScriptedModel

DEPLOY = (
    "---\nname: deploy-staging\ndescription: Deploy the web app to the staging server "
    "with make and check the health endpoint\n---\n1. run make deploy ENV=staging\n"
    "2. curl the health endpoint\n"
)


@pytest.fixture
async def conv(tmp_path: Path, model: ScriptedModel) -> AsyncIterator[Conversation]:
    home = tmp_path / "home"
    home.mkdir()
    config = {
        "model": {**model.config(), "max_retries": 0},
        "skills": {"review_after_tool_calls": 3},
        "memory": {"nudge_turns": 2},
    }
    (home / "config.yaml").write_text(yaml.safe_dump(config))
    env = {"HERMES_HOME": str(home), "PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    async with open_conversation(load_profile(env=env), source="test") as c:
        yield c


async def run_turn(
    conv: Conversation, model: ScriptedModel, text: str, calls: int
) -> list[Message]:
    """One real turn with CALLS tool calls; its messages, the user's first."""
    if calls:
        model.tool_calls([("skills_list", {})] * calls)
    model.reply("Done.")
    await conv.send(text)
    turn, _ = review.last_turn(conv.messages())
    return turn


def answer(*items: dict[str, Any]) -> str:
    return json.dumps({"proposals": list(items)})


async def test_a_busy_turn_is_reviewed_and_its_proposals_staged(
    conv: Conversation, model: ScriptedModel
) -> None:
    turn = await run_turn(conv, model, "deploy the app to staging", calls=3)
    before = len(model.requests)
    model.reply(
        "```json\n"
        + answer(
            {
                "kind": "skill",
                "action": "create",
                "name": "deploy-staging",
                "content": DEPLOY,
                "reason": "three steps worth keeping",
            },
            {
                "kind": "memory",
                "target": "user",
                "text": "Deploys to staging on Fridays",
                "reason": "a habit",
            },
            {"kind": "bogus"},
        )
        + "\n```"
    )
    lines = await review.after_turn(conv.profile, conv.store, conv.provider, turn, 1)
    assert len(model.requests) == before + 1
    sent = model.requests[-1]["messages"]
    assert sent[0]["content"] == review.REVIEW_PROMPT
    assert "[assistant called skills_list]" in sent[1]["content"]
    assert "deploy the app to staging" in sent[1]["content"]
    assert len(lines) == 2 and all("/skills apply sp_" in line for line in lines)
    staged = await proposals.pending(conv.store)
    assert [(p.kind, p.action, p.target, p.source) for p in staged] == [
        ("skill", "create", "deploy-staging", "review"),
        ("memory", "edit", "user", "review"),
    ]
    assert staged[1].content == "Deploys to staging on Fridays\n"
    home = conv.profile.home
    assert not (home / "skills" / "deploy-staging").exists()  # ask: staged only
    for p in staged:
        await proposals.apply(conv.store, home, p.id)
    assert (home / "skills" / "deploy-staging" / "SKILL.md").read_text() == DEPLOY
    assert "Fridays" in (home / "memories" / "USER.md").read_text()
    usage = await conv.store.run(skill_ops.usage, "deploy-staging")
    assert usage is not None and usage.created_by == "agent"
    [session] = await conv.store.list_sessions(source="review")  # its own session
    assert session.id != conv.session_id


async def test_the_review_patches_a_near_duplicate_instead_of_creating(
    conv: Conversation, model: ScriptedModel
) -> None:
    home = conv.profile.home
    (home / "skills" / "deploy-staging").mkdir(parents=True)
    (home / "skills" / "deploy-staging" / "SKILL.md").write_text(DEPLOY)
    turn = await run_turn(conv, model, "no, you forgot the health check", calls=0)
    copy = DEPLOY.replace("deploy-staging", "staging-deploy").replace("2. curl", "2. always curl")
    model.reply(
        answer({"kind": "skill", "action": "create", "name": "staging-deploy", "content": copy})
    )
    await review.after_turn(conv.profile, conv.store, conv.provider, turn, 1)  # a correction
    [staged] = await proposals.pending(conv.store)
    assert (staged.action, staged.target) == ("patch", "deploy-staging")
    assert "near-duplicate of deploy-staging" in staged.reason
    assert "- deploy-staging: Deploy the web app" in model.requests[-1]["messages"][1]["content"]


async def test_nothing_due_bad_json_and_a_failing_model_stage_nothing(
    conv: Conversation, model: ScriptedModel, caplog: pytest.LogCaptureFixture
) -> None:
    quiet = await run_turn(conv, model, "what time is it", calls=1)
    before = len(model.requests)
    assert await review.after_turn(conv.profile, conv.store, conv.provider, quiet, 1) == []
    assert len(model.requests) == before  # not due: the model was not asked

    busy = await run_turn(conv, model, "build it", calls=3)
    model.reply("Sure! I would create a deploy skill.")
    with caplog.at_level(logging.WARNING, logger="hermes.skills.review"):
        assert await review.after_turn(conv.profile, conv.store, conv.provider, busy, 1) == []
    assert "not JSON; no proposals" in caplog.text
    model.fail(500)
    assert await review.after_turn(conv.profile, conv.store, conv.provider, busy, 1) == []
    assert await conv.store.run(skill_ops.proposals, None) == []


async def test_the_memory_nudge_stages_memory_proposals_every_n_turns(
    conv: Conversation, model: ScriptedModel
) -> None:
    home = conv.profile.home
    (home / "memories").mkdir(exist_ok=True)
    (home / "memories" / "MEMORY.md").write_text("Server: web1\n")
    turn = await run_turn(conv, model, "my editor is helix", calls=0)
    before = len(model.requests)
    assert await review.after_turn(conv.profile, conv.store, conv.provider, turn, 1) == []
    assert len(model.requests) == before  # turn 1 of every 2: no nudge yet
    model.reply(
        answer(
            {"kind": "memory", "target": "user", "text": "Uses the helix editor"},
            {"kind": "memory", "target": "memory", "text": "Server: web1"},  # known already
            {"kind": "skill", "action": "create", "name": "x", "content": DEPLOY},  # not here
        )
    )
    lines = await review.after_turn(conv.profile, conv.store, conv.provider, turn, 2)
    assert len(lines) == 1
    sent = model.requests[-1]["messages"]
    assert sent[0]["content"] == review.NUDGE_PROMPT
    assert "MEMORY.md now:\nServer: web1" in sent[1]["content"]
    [staged] = await proposals.pending(conv.store)
    assert (staged.kind, staged.target, staged.source) == ("memory", "user", "nudge")
    assert staged.content == "Uses the helix editor\n"


def test_parse_is_defensive() -> None:
    assert review.parse("[]") == []
    assert review.parse('{"proposals": "none"}') == []
    assert review.parse('{"proposals": [{"kind": "skill", "action": "drop"}]}') == []
    assert review.looks_like_correction("No, use the other server")
    assert review.looks_like_correction("that's wrong")
    assert not review.looks_like_correction("nothing else, thanks")
    turn = [Message("user", "a"), Message("assistant", "b"), Message("user", "c")]
    assert review.last_turn(turn) == ([Message("user", "c")], 2)
    assert review.last_turn([]) == ([], 0)
