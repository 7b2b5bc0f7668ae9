"""The skills loop in the gateway: after a turn the user corrected, the review runs
off the chat's critical path (the answer is sent first), its proposal is announced
in the chat once, and `/skills apply ID` writes the skill; a turn with nothing to
learn makes no extra model call."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hermes.testing import ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.tools_helpers import wait_until

SKILL = (
    "---\nname: tidy-downloads\ndescription: Sort the downloads folder into dated "
    "subfolders\n---\n1. list the files\n2. move each into YYYY-MM\n"
)


async def test_a_corrected_turn_is_reviewed_and_its_proposal_applied_from_the_chat(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, config={"skills": {"review_after_tool_calls": 8}})
    chat = FakeChat()
    proposal = {
        "kind": "skill",
        "action": "create",
        "name": "tidy-downloads",
        "content": SKILL,
        "reason": "the user corrected the folder layout",
    }
    model.reply("Sorted them by month this time.")
    model.reply(json.dumps({"proposals": [proposal]}))  # the review's own call
    async with running_gateway(home, [chat]):
        await chat.say("No, sort the downloads by month, not by type")
        await wait_until(lambda: any("From this conversation" in t for t in chat.shown()), 20)
        shown = chat.shown()
        assert shown[0] == "Sorted them by month this time."  # the answer came first
        [note] = [t for t in shown if "From this conversation" in t]
        found = re.search(r"/skills apply (\S+)", note)
        assert found is not None, note
        assert not (home / "skills" / "tidy-downloads").exists()  # staged, not written
        await chat.say(f"/skills apply {found.group(1)}")
        await wait_until(lambda: (home / "skills/tidy-downloads/SKILL.md").exists())
    assert (home / "skills/tidy-downloads/SKILL.md").read_text() == SKILL
    review = model.requests[1]
    assert "tidy" not in str(review.messages[0]) and "No, sort the downloads" in str(
        review.messages[-1]["content"]
    )


async def test_a_plain_turn_makes_no_review_call(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "home", model, config={"skills": {"review_after_tool_calls": 8}})
    chat = FakeChat()
    model.reply("It is sunny.")
    model.reply("A second answer.")
    async with running_gateway(home, [chat]):
        await chat.say("what is the weather")
        await wait_until(lambda: "It is sunny." in chat.shown())
        await chat.say("thanks, and tomorrow?")
        await wait_until(lambda: "A second answer." in chat.shown())
    assert len(model.requests) == 2  # (the scripted model fails on any unexpected call)


async def test_the_terminal_chat_reviews_a_corrected_turn_and_shows_the_proposal(
    tmp_path: Path, model: ScriptedModel
) -> None:
    import asyncio

    from tests.cli_helpers import run_hermes

    home = make_home(tmp_path / "home", model, config={"skills": {"review_after_tool_calls": 8}})
    proposal = {
        "kind": "skill",
        "action": "create",
        "name": "tidy-downloads",
        "content": SKILL,
        "reason": "the user corrected the folder layout",
    }
    model.reply("Sorted them by month this time.")
    model.reply(json.dumps({"proposals": [proposal]}))
    said = "No, sort the downloads by month, not by type\n"
    done = await asyncio.to_thread(run_hermes, home, "chat", stdin=said)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("Sorted them by month this time.") < out.index("From this conversation")
    assert re.search(r"/skills apply \S+", out), out
    assert not (home / "skills" / "tidy-downloads").exists()  # staged only
