"""The Matrix adapter in-process against a real Synapse homeserver (tests/synapse_helpers.py),
events into a list; and matrix_wire's pure JSON both ways."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from hermes.gateway.events import Button, Inbound, Outbound, Target, VoiceOut
from hermes.platforms import matrix_wire as wire
from hermes.platforms.adapter import AdapterUnavailable, MemoryCursor, SendError
from hermes.platforms.matrix import CAPABILITIES, MAX_BYTES, PLATFORM
from hermes.platforms.matrix_adapter import MatrixAdapter
from hermes.platforms.matrix_link import Login
from hermes.platforms.render import render_parts
from hermes.providers.http import Backoff
from tests.synapse_helpers import MatrixUser, Synapse, dm, joined
from tests.tools_helpers import wait_until

Cursors = dict[str, MemoryCursor]
APPROVAL = [[Button("✅ Approve", "approve:ab12"), Button("❌ Deny", "deny:ab12")]]


def adapter(
    synapse: Synapse,
    bot: MatrixUser,
    cursors: Cursors,
    allowed: Iterable[str] = (),
    *,
    password: bool = False,
    **kw: Any,
) -> MatrixAdapter:
    login = Login(
        synapse.url,
        bot.user_id,
        access_token="" if password else bot.token,
        password=bot.password if password else "",
        request_timeout=10,
    )
    return MatrixAdapter(
        login,
        allowed=lambda: frozenset(allowed),
        cursor=lambda key: cursors.setdefault(key, MemoryCursor()),
        sync_timeout=kw.pop("sync_timeout", 2.0),
        stall_grace=kw.pop("stall_grace", 3.0),
        backoff=Backoff(base=0.05, cap=0.3),
        **kw,
    )


class Running:
    """An adapter running, its events collected."""

    def __init__(self, adapter: MatrixAdapter) -> None:
        self.adapter = adapter
        self.events: list[Inbound] = []
        self.task: asyncio.Task[None] | None = None

    async def sink(self, event: Inbound) -> None:
        self.events.append(event)

    def texts(self) -> list[str]:
        return [e.text for e in self.events]

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.adapter.run(self.sink))
        task = self.task
        await wait_until(lambda: self.adapter.state == "connected" or task.done(), 30)
        if task.done():
            task.result()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, AdapterUnavailable):
            await self.task
        await self.adapter.close()


async def bot_in_dm(run: Running, user: MatrixUser, bot: MatrixUser) -> str:
    room = await dm(user, bot.user_id)
    await wait_until(lambda: joined(user, room, bot.user_id), 20)
    return room


async def test_an_allowed_invite_is_joined_and_a_dm_flows_both_ways(synapse: Synapse) -> None:
    user, bot = synapse.register(), synapse.register()
    async with Running(adapter(synapse, bot, {}, [user.user_id])) as run:
        room = await bot_in_dm(run, user, bot)
        await user.say(room, "hello bot")
        await wait_until(lambda: run.texts() == ["hello bot"], 20)
        event = run.events[0]
        assert (event.platform, event.chat, event.user) == ("matrix", room, user.user_id)
        assert not event.is_group and event.external_id.startswith("$")
        target = Target("matrix", room)
        sent = await run.adapter.send(Outbound(target, "<p>Hi <b>there</b></p>"))
        await run.adapter.edit(target, sent, "<p>Hi <b>there</b>, again</p>")
        await wait_until(lambda: user.sees(room, bot.user_id, ["Hi there, again"]), 20)
        shown = user.bot_messages(room, bot.user_id)[0]
        assert shown.content["formatted_body"] == "<p>Hi <b>there</b>, again</p>"
        assert shown.content["format"] == "org.matrix.custom.html" and shown.edits == 1
        assert run.events == [event]  # the bot's own messages never come back as inbound
        # a part sent again by the ledger (its key) is the same event, not a second one
        again = Outbound(target, "<p>once</p>", key="d7.0")
        assert await run.adapter.send(again) == await run.adapter.send(again)


async def test_a_strangers_invite_is_declined(synapse: Synapse) -> None:
    user, stranger, bot = synapse.register(), synapse.register(), synapse.register()
    async with Running(adapter(synapse, bot, {}, [user.user_id])) as run:
        room = await dm(stranger, bot.user_id)
        await wait_until(lambda: joined(stranger, room, bot.user_id, "leave"), 20)
        await stranger.say(room, "let me in")
        mine = await bot_in_dm(run, user, bot)
        await user.say(mine, "only me")
        await wait_until(lambda: run.texts() == ["only me"], 20)


async def test_the_first_start_skips_history_and_a_restart_resumes_from_the_token(
    synapse: Synapse,
) -> None:
    user, bot = synapse.register(), synapse.register()
    room = await dm(user, bot.user_id)
    await bot.join(room)
    await user.say(room, "old history")
    cursors: Cursors = {}
    async with Running(adapter(synapse, bot, cursors, [user.user_id])) as run:
        await user.say(room, "one")
        await wait_until(lambda: run.texts() == ["one"], 20)
    await user.say(room, "said while it was down")
    async with Running(adapter(synapse, bot, cursors, [user.user_id])) as again:
        await wait_until(lambda: again.texts() == ["said while it was down"], 20)
    assert run.texts() == ["one"]


async def test_an_encrypted_room_gets_nothing_and_is_reported(synapse: Synapse) -> None:
    user, bot = synapse.register(), synapse.register()
    async with Running(adapter(synapse, bot, {}, [user.user_id])) as run:
        room = await user.create_room(invite=[bot.user_id], encrypted=True)
        await wait_until(lambda: joined(user, room, bot.user_id), 20)
        await user.say(room, "plaintext in an encrypted room")
        plain = await bot_in_dm(run, user, bot)
        await user.say(plain, "and here")
        await wait_until(lambda: run.texts() == ["and here"], 20)
        with pytest.raises(SendError) as refused:
            await run.adapter.send(Outbound(Target("matrix", room), "<p>secret</p>"))
        assert not refused.value.retryable and "encryption is not supported" in str(refused.value)
        assert run.adapter.details()["encrypted_rooms"] == wire.unsupported(room)
    # a restart (resuming from the token) still knows the room from its state
    await user.sync()
    assert user.bot_messages(room, bot.user_id) == []


async def test_a_reaction_to_a_request_is_a_button_press_even_after_a_restart(
    synapse: Synapse,
) -> None:
    user, bot = synapse.register(), synapse.register()
    cursors: Cursors = {}
    async with Running(adapter(synapse, bot, cursors, [user.user_id])) as run:
        room = await bot_in_dm(run, user, bot)
        text = "<p>Run <code>rm notes</code>?</p>"
        request = await run.adapter.send(Outbound(Target("matrix", room), text, APPROVAL))
        await user.sync()
        shown = user.bot_messages(room, bot.user_id)[0]
        assert shown.body.endswith("React ✅ to approve or ❌ to deny.")
        assert shown.content[wire.BUTTONS] == {"✅": "approve:ab12", "❌": "deny:ab12"}
        offered = [
            e["content"]["m.relates_to"]["key"]
            for e in user.events.values()
            if e["type"] == "m.reaction" and e["sender"] == bot.user_id
        ]
        assert sorted(offered) == ["✅", "❌"]  # the user just taps one
        await user.react(room, request, "✅\ufe0f")
        await wait_until(lambda: [e.callback_data for e in run.events] == ["approve:ab12"], 20)
        assert run.events[0].text == "✅ Approve"
    async with Running(adapter(synapse, bot, cursors, [user.user_id])) as again:
        await user.react(room, request, "❌")
        await user.react(room, request, "👍")  # not a button: ignored
        await user.say(room, "done")
        await wait_until(lambda: again.texts()[-1:] == ["done"], 20)
        assert [e.callback_data for e in again.events] == ["deny:ab12", None]


async def test_long_replies_fit_the_event_limit_as_parts_and_as_edits(synapse: Synapse) -> None:
    user, bot = synapse.register(), synapse.register()
    lines = "\n".join(f'line {n}: "quoted" <tag> & é ü 🙂' for n in range(3000))
    markdown = f"# Report\n\n```\n{lines}\n```\n\n" + "Some **bold** words. " * 3000
    parts = render_parts(markdown, CAPABILITIES)
    assert len(parts) > 3
    assert all(len(p.encode()) <= MAX_BYTES for p in parts)
    async with Running(adapter(synapse, bot, {}, [user.user_id])) as run:
        room = await bot_in_dm(run, user, bot)
        target = Target("matrix", room)
        ids = [await run.adapter.send(Outbound(target, p)) for p in parts]
        await run.adapter.edit(target, ids[0], parts[1])

        async def arrived() -> bool:
            await user.sync()
            shown = user.bot_messages(room, bot.user_id)
            return len(shown) == len(parts) and shown[0].edits == 1

        await wait_until(arrived, 20)
    shown = user.bot_messages(room, bot.user_id)
    assert shown[0].body == wire.html_text(parts[1])  # the edit, as long as a part can be
    assert [m.original["formatted_body"] for m in shown] == parts


async def test_a_revoked_token_fails_without_a_retry_loop(synapse: Synapse) -> None:
    user, bot = synapse.register(), synapse.register()
    run = Running(adapter(synapse, bot, {}, [user.user_id]))
    async with run:
        await bot.logout()
        assert run.task is not None
        await wait_until(run.task.done, 20)
        with pytest.raises(AdapterUnavailable, match="MATRIX_ACCESS_TOKEN"):
            run.task.result()
        assert run.adapter.state.startswith("failed: the homeserver rejected the access token")
        with pytest.raises(SendError) as refused:
            await run.adapter.send(Outbound(Target("matrix", "!nowhere"), "<p>x</p>"))
        assert not refused.value.retryable


async def test_a_password_login_is_kept_and_its_device_reused(synapse: Synapse) -> None:
    user, bot = synapse.register(), synapse.register()
    cursors: Cursors = {}
    devices = []
    for _ in range(2):
        async with Running(adapter(synapse, bot, cursors, [user.user_id], password=True)) as run:
            assert run.adapter.link is not None
            devices.append(run.adapter.link.client.device_id)
    assert devices[0] and devices[0] == devices[1]
    record = json.loads(cursors[f"matrix.login.{bot.user_id}"].value or "{}")
    assert record["device_id"] == devices[0]
    # the kept token revoked: the password logs in again (a new device), no failure
    await MatrixUser(synapse, bot.user_id, record["access_token"], bot.password).logout()
    async with Running(adapter(synapse, bot, cursors, [user.user_id], password=True)) as run:
        assert run.adapter.link is not None
        assert run.adapter.link.client.device_id not in ("", devices[0])


async def test_a_stalled_sync_is_rebuilt_and_nothing_is_lost(synapse: Synapse) -> None:
    user, bot = synapse.register(), synapse.register()
    async with Running(
        adapter(synapse, bot, {}, [user.user_id], sync_timeout=0.5, stall_grace=1.0)
    ) as run:
        room = await bot_in_dm(run, user, bot)
        assert synapse.proc is not None
        os.kill(synapse.proc.pid, signal.SIGSTOP)  # the homeserver hangs: no answer at all
        try:
            await wait_until(lambda: run.adapter.state == "reconnecting", 20)
        finally:
            os.kill(synapse.proc.pid, signal.SIGCONT)
        await user.say(room, "are you there?")
        await wait_until(lambda: run.texts() == ["are you there?"], 30)
        assert run.adapter.state == "connected"


# ----- pure: the JSON both ways ---------------------------------------------------------


def test_the_platform_is_declared_with_byte_limits_and_html() -> None:
    assert PLATFORM.name == "matrix" and PLATFORM.extra == "matrix"
    assert CAPABILITIES.length_unit == "bytes" and CAPABILITIES.markup == "matrix_html"
    env = {"MATRIX_HOMESERVER": "https://m.org", "MATRIX_USER_ID": "@b:m.org"}
    assert not PLATFORM.configured(env)
    assert PLATFORM.configured({**env, "MATRIX_PASSWORD": "pw"})


def test_matrix_targets_keep_the_colons_of_room_ids() -> None:
    for text in ("matrix:!abc:example.org", "matrix:!abc:example.org:8448:$root", "matrix:!x"):
        assert str(Target.parse(text)) == text
    target = Target.parse("matrix:!abc:example.org:$root")
    assert (target.chat, target.thread) == ("!abc:example.org", "$root")
    assert Target.parse("telegram:-100:6").thread == "6"


def event(content: dict[str, Any], sender: str = "@u:x", event_id: str = "$e1") -> dict[str, Any]:
    return {"type": "m.room.message", "sender": sender, "event_id": event_id, "content": content}


def inbound(content: dict[str, Any], **kw: Any) -> Inbound | None:
    options: dict[str, Any] = {
        "bot": "@hermes:x",
        "names": ("Hermes",),
        "is_group": True,
        "require_mention": True,
        "to_bot": False,
        **kw,
    }
    return wire.message_event(event(content), "!r:x", **options)


def test_require_mention_in_rooms_counts_names_ids_pills_mentions_and_replies() -> None:
    assert inbound({"msgtype": "m.text", "body": "chatter"}) is None
    assert inbound({"msgtype": "m.text", "body": "chatter"}, is_group=False) is not None
    named = inbound({"msgtype": "m.text", "body": "Hermes: what now?"})
    assert named is not None and named.text == "what now?" and named.mentions_bot
    said = {"msgtype": "m.text", "body": "hi", "m.mentions": {"user_ids": ["@hermes:x"]}}
    assert inbound(said) is not None
    assert inbound({"msgtype": "m.text", "body": "thanks"}, to_bot=True) is not None
    assert inbound({"msgtype": "m.text", "body": "/status"}) is not None
    assert inbound({"msgtype": "m.notice", "body": "Hermes: a bot"}) is None


def test_threads_replies_and_edits_are_read_as_matrix_means_them() -> None:
    threaded = {
        "msgtype": "m.text",
        "body": "in the thread",
        "m.relates_to": {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": True},
    }
    found = inbound(threaded, is_group=False)
    assert found is not None and found.thread == "$root" and found.target.thread == "$root"
    reply = {
        "msgtype": "m.text",
        "body": "> <@hermes:x> earlier words\n\nmy answer",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$old"}},
    }
    answered = inbound(reply, is_group=False, reply_text="earlier words")
    assert answered is not None and answered.text == "my answer"
    assert answered.reply_to == "earlier words"
    edit = {"msgtype": "m.text", "body": "* fixed", "m.relates_to": {"rel_type": "m.replace"}}
    assert inbound(edit, is_group=False) is None


def test_replies_in_threads_carry_the_thread_relation() -> None:
    content = wire.message_content("<p>hi</p>", thread="$root")
    assert content["m.relates_to"]["rel_type"] == "m.thread"
    assert content["m.relates_to"]["event_id"] == "$root"
    assert content["m.relates_to"]["is_falling_back"] is True
    assert content["body"] == "hi"


def test_oversized_content_keeps_its_words() -> None:
    html = "<pre>" + '"\n' * 14_900 + "</pre>"  # a full part; escapes double it as JSON
    message = wire.message_content(html)
    assert wire.size(message) <= wire.CONTENT_LIMIT and "formatted_body" not in message
    edit = wire.edit_content("$e", html)
    assert wire.size(edit) <= wire.CONTENT_LIMIT and edit["m.new_content"]["body"]
    small = wire.edit_content("$e", "<p>fine</p>")
    assert small["m.new_content"]["formatted_body"] == "<p>fine</p>" and small["body"] == "* fine"


async def test_the_setup_check_asks_the_homeserver(synapse: Synapse) -> None:
    bot = synapse.register()
    env = {"MATRIX_HOMESERVER": synapse.url, "MATRIX_USER_ID": bot.user_id}
    assert PLATFORM.check is not None
    assert await PLATFORM.check({**env, "MATRIX_ACCESS_TOKEN": bot.token}) is None
    assert await PLATFORM.check({**env, "MATRIX_PASSWORD": bot.password}) is None
    refused = await PLATFORM.check({**env, "MATRIX_ACCESS_TOKEN": "syt_wrong"})
    assert refused is not None and "MATRIX_ACCESS_TOKEN" in refused
    other = synapse.register()
    mismatch = await PLATFORM.check({**env, "MATRIX_ACCESS_TOKEN": other.token})
    assert mismatch is not None and "not MATRIX_USER_ID" in mismatch
    bad = await PLATFORM.check({**env, "MATRIX_HOMESERVER": "matrix.example.org"})
    assert bad is not None and "https://" in bad


def test_errors_are_classified_the_way_the_adapter_acts_on_them() -> None:
    from hermes.platforms.matrix_link import MatrixError

    revoked = MatrixError("sync", status=401, errcode="M_UNKNOWN_TOKEN")
    assert revoked.token_rejected and not revoked.retryable
    limited = MatrixError("send", status=429, errcode="M_LIMIT_EXCEEDED", retry_after=2.5)
    assert limited.limited and limited.retryable and limited.retry_after == 2.5
    assert MatrixError("sync", status=502).retryable and MatrixError("sync").retryable
    forbidden = MatrixError("send", status=403, errcode="M_FORBIDDEN")
    assert not (forbidden.retryable or forbidden.token_rejected)


async def test_a_rate_limited_send_says_when_to_try_again(synapse: Synapse) -> None:
    admin, user, bot = synapse.register(admin=True), synapse.register(), synapse.register()
    async with Running(adapter(synapse, bot, {}, [user.user_id])) as run:
        room = await bot_in_dm(run, user, bot)
        async with httpx.AsyncClient(base_url=synapse.url, timeout=30) as client:
            answer = await client.post(  # Synapse's admin API: this user, 1 message a second
                f"/_synapse/admin/v1/users/{bot.user_id}/override_ratelimit",
                json={"messages_per_second": 1, "burst_count": 1},
                headers={"Authorization": f"Bearer {admin.token}"},
            )
        assert answer.status_code == 200, answer.text
        target = Target("matrix", room)
        with pytest.raises(SendError) as limited:
            for n in range(10):
                await run.adapter.send(Outbound(target, f"<p>{n}</p>"))
        assert limited.value.retryable and (limited.value.retry_after or 0) > 0
        assert run.adapter.state == "connected"


# -- voice: spoken replies out, voice messages in ----------------------------------------


async def media(user: MatrixUser, data: bytes | None = None, mxc: str = "") -> Any:
    """Upload DATA (its mxc:// URL) or download MXC (its bytes) as USER."""
    headers = {"Authorization": f"Bearer {user.token}", "Content-Type": "audio/ogg"}
    async with httpx.AsyncClient(base_url=user.server.url, headers=headers, timeout=30) as c:
        if data is not None:
            answer = await c.post("/_matrix/media/v3/upload", content=data)
            answer.raise_for_status()
            return answer.json()["content_uri"]
        answer = await c.get(f"/_matrix/client/v1/media/download/{mxc.removeprefix('mxc://')}")
        answer.raise_for_status()
        return answer.content


async def test_a_spoken_reply_is_a_voice_message_in_the_thread(
    synapse: Synapse, voice_ogg: Path, voice_bytes: bytes
) -> None:
    assert CAPABILITIES.audio_out
    user, bot = synapse.register(), synapse.register()
    async with Running(adapter(synapse, bot, {}, [user.user_id])) as run:
        room = await bot_in_dm(run, user, bot)
        root = await user.say(room, "start a thread")
        asked = await user.say(room, "say it", thread=root)
        voice = VoiceOut(Target("matrix", room, root), str(voice_ogg), 2.5, asked, key="v1")
        sent = await run.adapter.send_voice(voice)
        assert await run.adapter.send_voice(voice) == sent  # sent again by the ledger: once
        await wait_until(lambda: user.shown(room, bot.user_id, root), 20)
    [seen] = user.bot_messages(room, bot.user_id, root)
    content = seen.content
    assert seen.event_id == sent and content["msgtype"] == "m.audio"
    assert content["org.matrix.msc3245.voice"] == {}
    assert content["org.matrix.msc1767.audio"] == {"duration": 2500}
    size = len(voice_bytes)
    assert content["info"] == {"mimetype": "audio/ogg", "duration": 2500, "size": size}
    assert content["m.relates_to"]["m.in_reply_to"] == {"event_id": asked}
    assert await media(user, mxc=content["url"]) == voice_bytes


async def test_a_rate_limited_voice_message_can_be_retried(
    synapse: Synapse, voice_ogg: Path
) -> None:
    admin, user, bot = synapse.register(admin=True), synapse.register(), synapse.register()
    async with Running(adapter(synapse, bot, {}, [user.user_id])) as run:
        room = await bot_in_dm(run, user, bot)
        async with httpx.AsyncClient(base_url=synapse.url, timeout=30) as client:
            answer = await client.post(
                f"/_synapse/admin/v1/users/{bot.user_id}/override_ratelimit",
                json={"messages_per_second": 1, "burst_count": 1},
                headers={"Authorization": f"Bearer {admin.token}"},
            )
        assert answer.status_code == 200, answer.text
        voice = VoiceOut(Target("matrix", room), str(voice_ogg), 2.0)
        with pytest.raises(SendError) as limited:
            for _ in range(10):
                await run.adapter.send_voice(voice)
        assert limited.value.retryable and (limited.value.retry_after or 0) > 0
        gone = VoiceOut(Target("matrix", room), str(voice_ogg.parent / "missing.ogg"), 2.0)
        with pytest.raises(SendError) as unreadable:
            await run.adapter.send_voice(gone)
        assert not unreadable.value.retryable


async def test_a_voice_message_is_a_voice_note_and_an_audio_file_is_not(
    synapse: Synapse, voice_ogg: Path, voice_bytes: bytes, tmp_path: Path
) -> None:
    user, bot = synapse.register(), synapse.register()
    mine = adapter(synapse, bot, {}, [user.user_id], downloads=tmp_path / "inbox")
    async with Running(mine) as run:
        room = await bot_in_dm(run, user, bot)
        note = voice_bytes
        url = await media(user, note)
        audio = {"msgtype": "m.audio", "url": url, "info": {"mimetype": "audio/ogg"}}
        marker = {"org.matrix.msc3245.voice": {}, "org.matrix.msc1767.audio": {}}
        await user.send(room, {**audio, "body": "Voice message", **marker})
        await user.send(room, {**audio, "body": "song.ogg"})
        await wait_until(lambda: len(run.events) == 2, 20)
        voice, song = [(await run.adapter.fetch(e)).attachments[0] for e in run.events]
    assert (voice.kind, voice.voice, song.kind, song.voice) == ("audio", True, "audio", False)
    assert await asyncio.to_thread(Path(voice.path or "").read_bytes) == note
    assert Path(song.path or "").parent == tmp_path / "inbox"
