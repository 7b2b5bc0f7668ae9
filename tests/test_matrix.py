"""The whole product path on Matrix: `hermes gateway run` as a real process, matrix-nio
against a real Synapse homeserver on loopback (tests/synapse_helpers.py), the scripted
model, and "the user" a Matrix account driven over the client-server API. DMs, rooms
with require_mention, invites, threads, streamed edits, long replies, approvals by
reaction, a crash, a homeserver restart, an encrypted room and a revoked token."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

from hermes.platforms.matrix import MAX_BYTES
from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.gateway_helpers import (
    GatewayProcess,
    hermes_status,
    platform_connected,
    platform_home,
    stored_user_messages,
)
from tests.synapse_helpers import MatrixUser, Synapse, dm, joined
from tests.tools_helpers import wait_until


def matrix_home(
    path: Path,
    model: ScriptedModel,
    synapse: Synapse,
    bot: MatrixUser,
    allowed: list[str],
    section: dict[str, Any] | None = None,
) -> Path:
    section = {"sync_timeout": 2, "stall_grace": 3, **(section or {})}
    env = {
        "MATRIX_HOMESERVER": synapse.url,
        "MATRIX_USER_ID": bot.user_id,
        "MATRIX_ACCESS_TOKEN": bot.token,
        "MATRIX_ALLOWED_USERS": ",".join(allowed),
    }
    return platform_home(path, model, "matrix", section, env)


class Chat:
    """The user, the bot and their room."""

    def __init__(self, synapse: Synapse, tmp_path: Path, model: ScriptedModel, **kw: Any):
        self.user, self.bot = synapse.register(), synapse.register()
        allowed = [self.user.user_id, *kw.pop("more_allowed", [])]
        self.home = matrix_home(tmp_path / "home", model, synapse, self.bot, allowed, **kw)
        self.room = ""

    async def start(self) -> GatewayProcess:
        return await platform_connected(GatewayProcess(self.home), "matrix")

    async def open_dm(self, gw: GatewayProcess) -> str:
        self.room = await dm(self.user, self.bot.user_id)
        await wait_until(lambda: joined(self.user, self.room, self.bot.user_id), 20, gw.log)
        return self.room

    async def sees(self, expected: list[str], thread: str | None = None) -> bool:
        return await self.user.sees(self.room, self.bot.user_id, expected, thread)

    async def shown(self, thread: str | None = None) -> list[str]:
        return await self.user.shown(self.room, self.bot.user_id, thread)


async def test_a_dm_is_answered_and_only_allowed_invites_are_accepted(
    synapse: Synapse, tmp_path: Path, model: ScriptedModel
) -> None:
    chat = Chat(synapse, tmp_path, model)
    gw = await chat.start()
    stranger = synapse.register()
    theirs = await dm(stranger, chat.bot.user_id)
    await chat.open_dm(gw)
    model.reply("Hi, I am **Hermes** on Matrix.")
    await chat.user.say(chat.room, "hello")
    await wait_until(lambda: chat.sees(["Hi, I am Hermes on Matrix."]), 30, gw.log)
    shown = chat.user.bot_messages(chat.room, chat.bot.user_id)[0]
    assert "<b>Hermes</b>" in shown.content["formatted_body"]
    await wait_until(lambda: joined(stranger, theirs, chat.bot.user_id, "leave"), 20, gw.log)
    assert await gw.stop() == 0
    model.assert_done()


async def test_require_mention_in_a_room_answers_mentions_and_replies_only(
    synapse: Synapse, tmp_path: Path, model: ScriptedModel
) -> None:
    friend = synapse.register()
    chat = Chat(
        synapse, tmp_path, model, section={"require_mention": True}, more_allowed=[friend.user_id]
    )
    gw = await chat.start()
    chat.room = await chat.user.create_room(invite=[chat.bot.user_id, friend.user_id])
    await friend.join(chat.room)
    await wait_until(lambda: joined(chat.user, chat.room, chat.bot.user_id), 20, gw.log)
    model.reply("You called?")
    model.reply("Replying to my reply.")
    await chat.user.say(chat.room, "just chatting among humans")
    await chat.user.say(chat.room, f"{chat.bot.user_id}: what time is it?")
    await wait_until(lambda: chat.sees(["You called?"]), 30, gw.log)
    mine = chat.user.bot_messages(chat.room, chat.bot.user_id)[0].event_id
    await friend.say(chat.room, "more chatter")
    await friend.say(chat.room, "and you?", reply_to=mine)
    await wait_until(lambda: chat.sees(["You called?", "Replying to my reply."]), 30, gw.log)
    assert await gw.stop() == 0
    assert stored_user_messages(chat.home, "just chatting among humans") == 0
    assert stored_user_messages(chat.home, "more chatter") == 0
    model.assert_done()


async def test_a_reply_in_a_thread_stays_in_its_thread(
    synapse: Synapse, tmp_path: Path, model: ScriptedModel
) -> None:
    chat = Chat(synapse, tmp_path, model)
    gw = await chat.start()
    await chat.open_dm(gw)
    model.reply("Main answer.")
    root = await chat.user.say(chat.room, "a topic")
    await wait_until(lambda: chat.sees(["Main answer."]), 30, gw.log)
    model.reply("Answered in the thread.")
    await chat.user.say(chat.room, "a question in the thread", thread=root)
    await wait_until(lambda: chat.sees(["Answered in the thread."], thread=root), 30, gw.log)
    # a delivery to room:thread (cron jobs, `hermes send`) lands there too
    sent = run_hermes(chat.home, "send", f"matrix:{chat.room}:{root}", "deploy done")
    assert sent.returncode == 0, sent.stderr
    await wait_until(
        lambda: chat.sees(["Answered in the thread.", "deploy done"], thread=root), 30, gw.log
    )
    assert await chat.shown() == ["Main answer."]
    assert await gw.stop() == 0


async def test_a_streamed_reply_is_edited_to_its_full_text_and_a_long_one_split(
    synapse: Synapse, tmp_path: Path, model: ScriptedModel
) -> None:
    chat = Chat(synapse, tmp_path, model)
    gw = await chat.start()
    await chat.open_dm(gw)
    gate = model.hang(partial="Let me think", then=". The answer is 42.")
    await chat.user.say(chat.room, "the question")
    await gate.wait_entered_async(20)
    await wait_until(lambda: chat.sees(["Let me think"]), 30, gw.log)
    gate.release()
    await wait_until(lambda: chat.sees(["Let me think. The answer is 42."]), 30, gw.log)
    assert chat.user.bot_messages(chat.room, chat.bot.user_id)[0].edits >= 1
    long = "\n\n".join(f"Paragraph {n}: " + "ünïcode words " * 40 for n in range(200))
    model.reply(long)
    await chat.user.say(chat.room, "tell me everything")

    async def complete() -> bool:
        shown = await chat.shown()
        return len(shown) > 3 and "Paragraph 199:" in shown[-1]

    await wait_until(complete, 60, gw.log)
    parts = chat.user.bot_messages(chat.room, chat.bot.user_id)[1:]
    assert all(len(p.content["formatted_body"].encode()) <= MAX_BYTES for p in parts)
    said = "".join(p.body for p in parts)
    assert all(f"Paragraph {n}:" in said for n in range(200))
    assert await gw.stop() == 0


def approval(user: MatrixUser, room: str, bot: str) -> tuple[str, str] | None:
    """(event id, approval id) of the latest approval request the bot sent."""
    for message in reversed(user.bot_messages(room, bot)):
        found = re.search(r"/approve (\w+)", message.body)
        if found and "React ✅ to approve" in message.body:
            return message.event_id, found.group(1)
    return None


async def test_approvals_by_reaction_resume_the_turn_and_a_cross_denies(
    synapse: Synapse, tmp_path: Path, model: ScriptedModel
) -> None:
    chat = Chat(synapse, tmp_path, model)
    (chat.home / "other.txt").write_text("keep me")
    model.tool_call("terminal", {"command": "rm ~/notes.txt"})
    model.reply("Your notes are gone.")
    gw = await chat.start()
    await chat.open_dm(gw)
    await chat.user.say(chat.room, "delete my notes")

    async def asked() -> bool:
        await chat.user.sync()
        return approval(chat.user, chat.room, chat.bot.user_id) is not None

    await wait_until(asked, 30, gw.log)
    found = approval(chat.user, chat.room, chat.bot.user_id)
    assert found is not None and (chat.home / "notes.txt").exists()
    await chat.user.react(chat.room, found[0], "✅")

    async def said(text: str) -> bool:
        return any(text in t for t in await chat.shown())

    await wait_until(lambda: said("Your notes are gone."), 30, gw.log)
    assert not (chat.home / "notes.txt").exists()
    model.tool_call("terminal", {"command": "rm ~/other.txt"})
    model.reply("Kept it, as you said.")
    await chat.user.say(chat.room, "now delete other.txt")

    async def asked_again() -> bool:
        await chat.user.sync()
        again = approval(chat.user, chat.room, chat.bot.user_id)
        return again is not None and again[0] != found[0]

    await wait_until(asked_again, 30, gw.log)
    second = approval(chat.user, chat.room, chat.bot.user_id)
    assert second is not None
    await chat.user.react(chat.room, second[0], "❌")
    await wait_until(lambda: said("Kept it, as you said."), 30, gw.log)
    assert (chat.home / "other.txt").exists()
    assert await gw.stop() == 0
    model.assert_done()


async def test_sigkill_mid_turn_then_restart_loses_and_duplicates_nothing(
    synapse: Synapse, tmp_path: Path, model: ScriptedModel
) -> None:
    chat = Chat(synapse, tmp_path, model)
    gw = await chat.start()
    await chat.open_dm(gw)
    gate = model.hang(partial="Let me think", then="never delivered")
    await chat.user.say(chat.room, "important question")
    await gate.wait_entered_async(20)
    await wait_until(lambda: chat.sees(["Let me think"]), 30, gw.log)
    await gw.stop(signal.SIGKILL)
    gate.release()
    await chat.user.say(chat.room, "said while it was down")
    model.reply("The answer, after the restart.")
    model.reply("And to what you said meanwhile.")
    gw = await chat.start()

    async def done() -> bool:
        return "And to what you said meanwhile." in await chat.shown()

    await wait_until(done, 30, gw.log)
    texts = await chat.shown()
    assert sum(t.startswith("↻ Hermes restarted while working on") for t in texts) == 1
    assert texts.count("The answer, after the restart.") == 1
    assert stored_user_messages(chat.home, "important question") == 1
    assert stored_user_messages(chat.home, "said while it was down") == 1
    assert await gw.stop() == 0
    model.assert_done()


async def test_a_homeserver_restart_mid_session_then_messages_flow_again(
    synapse: Synapse, tmp_path: Path, model: ScriptedModel
) -> None:
    chat = Chat(synapse, tmp_path, model)
    gw = await chat.start()
    await chat.open_dm(gw)
    model.reply("Before.")
    await chat.user.say(chat.room, "one")
    await wait_until(lambda: chat.sees(["Before."]), 30, gw.log)
    synapse.stop()
    await wait_until(lambda: hermes_status(gw)["platforms"]["matrix"] == "reconnecting", 30, gw.log)
    synapse.start()
    model.reply("After.")
    await chat.user.say(chat.room, "two")
    await wait_until(lambda: chat.sees(["Before.", "After."]), 30, gw.log)
    assert hermes_status(gw)["platforms"]["matrix"] == "connected"
    assert "matrix: connected again after" in gw.log()
    assert await gw.stop() == 0


async def test_an_encrypted_room_gets_no_plaintext_and_is_reported(
    synapse: Synapse, tmp_path: Path, model: ScriptedModel
) -> None:
    chat = Chat(synapse, tmp_path, model)
    gw = await chat.start()
    secret_room = await chat.user.create_room(invite=[chat.bot.user_id], encrypted=True)
    await wait_until(lambda: joined(chat.user, secret_room, chat.bot.user_id), 20, gw.log)
    await chat.user.say(secret_room, "plaintext into an encrypted room")
    await chat.open_dm(gw)
    model.reply("Answered here.")
    await chat.user.say(chat.room, "and here")
    await wait_until(lambda: chat.sees(["Answered here."]), 30, gw.log)
    details = hermes_status(gw)["platform_details"]["matrix"]
    assert secret_room in details["encrypted_rooms"]
    assert "end-to-end encryption is not supported" in details["encrypted_rooms"]
    sent = run_hermes(chat.home, "send", f"matrix:{secret_room}", "a secret")
    await chat.user.sync()
    assert chat.user.bot_messages(secret_room, chat.bot.user_id) == []
    doctor = run_hermes(chat.home, "doctor")
    assert "encryption is not supported" in doctor.stdout + doctor.stderr, sent.stdout
    assert stored_user_messages(chat.home, "plaintext into an encrypted room") == 0
    assert await gw.stop() == 0
    assert "room " + secret_room + " is end-to-end encrypted" in gw.log()


async def test_a_revoked_token_is_failed_in_the_status_without_a_retry_loop(
    synapse: Synapse, tmp_path: Path, model: ScriptedModel
) -> None:
    chat = Chat(synapse, tmp_path, model)
    gw = await chat.start()
    await chat.bot.logout()
    failed = lambda: hermes_status(gw)["platforms"]["matrix"].startswith("failed: ")  # noqa: E731
    await wait_until(failed, 30, gw.log)
    assert "rejected the access token" in hermes_status(gw)["platforms"]["matrix"]
    assert hermes_status(gw)["platforms"]["web"] == "connected"
    assert await gw.stop() == 0
    output = gw.output()
    assert chat.bot.token not in output and chat.bot.token not in gw.log()
