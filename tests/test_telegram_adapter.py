"""The Telegram adapter against a fake Bot API, with the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram_api import FakeTelegram
from tools_helpers import wait_until

from hermes.gateway.cursors import KvCursor
from hermes.gateway.events import Button, Inbound, Outbound, Target, VoiceOut
from hermes.home import load_profile
from hermes.platforms.adapter import AdapterUnavailable, MemoryCursor, SendError
from hermes.platforms.spec import Build
from hermes.platforms.telegram import PLATFORM, TelegramAdapter, offset_key
from hermes.providers.http import Backoff
from hermes.store import Store, gateway_ops
from tests.gateway_helpers import running_adapter

BOT = "@hermes_test_bot"
# PTB itself warns whenever it builds a RetryAfter (its retry_after turns into a timedelta).
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.close()


class Inbox:
    """A sink that records events; `gate` (when set) holds each call until released."""

    def __init__(self) -> None:
        self.events: list[Inbound] = []
        self.gate: asyncio.Event | None = None
        self.entered = 0
        self.fail_next = 0

    async def __call__(self, event: Inbound) -> None:
        self.entered += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("state.db is busy")
        self.events.append(event)


def contents(path: str) -> bytes:
    return Path(path).read_bytes()


def adapter_for(fake: FakeTelegram, tmp_path: Path, **options: Any) -> TelegramAdapter:
    options.setdefault("backoff", Backoff(base=0.01, cap=0.05))
    options.setdefault("conflict_wait", 0.05)
    return TelegramAdapter(
        options.pop("token", fake.token),
        base_url=fake.base_url,
        downloads=tmp_path / "inbox",
        poll_timeout=2,
        **options,
    )


running = running_adapter


async def test_private_text_message_is_normalized(fake: FakeTelegram, tmp_path: Path) -> None:
    fake.webhook_url = "https://old.example/hook"  # left over: the adapter removes it
    adapter, inbox = adapter_for(fake, tmp_path), Inbox()
    update = fake.user_says(42, "hello there", first_name="Ada", last_name="Lovelace")
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
        [event] = inbox.events
        assert event.platform == "telegram"
        assert (event.chat, event.user, event.text) == ("42", "42", "hello there")
        assert event.external_id == str(update["update_id"])
        assert event.message_id == str(update["message"]["message_id"])
        assert (event.user_name, event.chat_name) == ("Ada Lovelace", "Ada")
        assert (event.thread, event.is_group, event.reply_to, event.mentions_bot) == (
            None,
            False,
            None,
            False,
        )
        assert adapter.state == "connected"
        assert fake.calls[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert adapter.state == "stopped"


async def test_forum_topic_reply_goes_back_to_the_topic_with_buttons(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    adapter, inbox = adapter_for(fake, tmp_path), Inbox()
    fake.user_says(-1001234, "in the topic", thread_id=6, user_id=7, title="Team")
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
        event = inbox.events[0]
        assert (event.chat, event.thread, event.user, event.chat_name) == (
            "-1001234",
            "6",
            "7",
            "Team",
        )
        assert event.is_group and event.reply_to is None  # the topic's creation is no reply
        assert str(event.target) == "telegram:-1001234:6"

        buttons = [[Button("Approve", "ap:1"), Button("Deny", "dn:1")]]
        reply = Outbound(event.target, "Run it?", buttons, reply_to_message_id=event.message_id)
        message_id = await adapter.send(reply)
    sent = fake.sent[-1]
    assert sent["chat_id"] == -1001234 and sent["message_thread_id"] == 6
    assert sent["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "Approve", "callback_data": "ap:1"},
                {"text": "Deny", "callback_data": "dn:1"},
            ]
        ]
    }
    assert sent["reply_to_message_id"] == int(event.message_id or 0)
    assert sent["parse_mode"] == "HTML"  # the courier renders replies into Telegram's HTML
    assert fake.messages_in(-1001234) == {int(message_id): "Run it?"}


async def test_require_mention_keeps_only_messages_addressed_to_the_bot(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    adapter, inbox = adapter_for(fake, tmp_path, require_mention=True), Inbox()
    group = -100777
    fake.add_chat(group, "supergroup", title="Friends")
    bot_message = await adapter.send(Outbound(Target("telegram", str(group)), "I am here"))
    fake.user_says(group, "just chatting among us", user_id=5)
    fake.user_says(group, f"{BOT} what's up?", user_id=5)
    fake.user_says(group, "and then?", user_id=6, reply_to=int(bot_message))
    fake.user_says(group, f"/status@{BOT[1:]}", user_id=5)
    fake.user_says(77, "a private chat needs no mention")
    last = fake.user_says(group, "more chatter", user_id=6)
    async with running(adapter, inbox):
        await wait_until(lambda: fake.confirmed_offset > last["update_id"])
    texts = [(e.text, e.mentions_bot) for e in inbox.events]
    assert texts == [
        ("what's up?", True),
        ("and then?", True),
        ("/status", True),
        ("a private chat needs no mention", False),
    ]
    assert inbox.events[1].reply_to == "I am here"
    assert fake.pending_updates() == 0  # skipped updates are acknowledged too


async def test_without_require_mention_groups_get_every_message(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    adapter, inbox = adapter_for(fake, tmp_path), Inbox()
    fake.user_says(-100777, "hello all", user_id=5, first_name="Bo", chat_type="group")
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
    event = inbox.events[0]
    assert event.is_group and not event.mentions_bot and event.user_name == "Bo"
    assert event.session_key("default").endswith(":5")  # groups: one session per user


async def test_reply_to_a_long_message_is_cut(fake: FakeTelegram, tmp_path: Path) -> None:
    adapter, inbox = adapter_for(fake, tmp_path), Inbox()
    first = fake.user_says(42, "word " * 100)
    fake.user_says(42, "what did I mean?", reply_to=first["message"]["message_id"])
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 2)
    reply = inbox.events[1]
    assert reply.reply_to is not None and reply.reply_to.startswith("word word")
    assert len(reply.reply_to) <= 200 and reply.reply_to.endswith("…")
    assert not reply.mentions_bot  # a reply to the user's own message


async def test_voice_note_and_files_are_downloaded(fake: FakeTelegram, tmp_path: Path) -> None:
    adapter, inbox = adapter_for(fake, tmp_path), Inbox()
    audio = bytes(range(256)) * 64
    fake.voice_note(42, None, audio, 7)
    pdf = b"%PDF-1.4 fake report"
    fake.user_sends_file(42, pdf, name="report.pdf", mime="application/pdf", caption="see this")
    fake.user_sends_file(42, b"\xff\xd8 jpeg bytes", kind="photo")
    fake.user_sends_file(42, b"huge", name="movie.mkv", size=25 * 1024 * 1024, caption="big")
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 4)
        # nothing is downloaded before the gateway accepted the sender
        assert all(e.attachments[0].path is None for e in inbox.events)
        assert not (tmp_path / "inbox").exists()
        fetched = [await adapter.fetch(e) for e in inbox.events]
    voice, document, photo, huge = (e.attachments[0] for e in fetched)
    assert (voice.kind, voice.voice, voice.duration, voice.mime) == (
        "audio",
        True,
        7.0,
        "audio/ogg",
    )
    assert voice.path is not None and contents(voice.path) == audio
    assert Path(voice.path).parent == tmp_path / "inbox"
    assert "voice note" in fetched[0].agent_text()
    assert inbox.events[1].text == "see this"
    assert (document.kind, document.name, document.mime) == (
        "file",
        "report.pdf",
        "application/pdf",
    )
    assert document.path is not None and contents(document.path) == pdf
    assert photo.kind == "image" and photo.path is not None
    assert contents(photo.path) == b"\xff\xd8 jpeg bytes"  # the largest size
    assert huge.path is None and inbox.events[3].text == "big"  # over 20 MB: not fetched


async def test_button_press_becomes_an_event_and_is_acknowledged(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    adapter, inbox = adapter_for(fake, tmp_path), Inbox()
    fake.add_chat(42)
    prompt = Outbound(Target("telegram", "42"), "Delete logs?", [[Button("Approve", "ap:9")]])
    message_id = await adapter.send(prompt)
    press = fake.press_button(42, int(message_id), "ap:9")
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
        event = inbox.events[0]
        query_id = press["callback_query"]["id"]
        assert (event.callback_data, event.text, event.callback_id) == ("ap:9", "Approve", query_id)
        assert (event.external_id, event.message_id, event.chat) == (
            f"cb:{query_id}",
            message_id,
            "42",
        )
        await adapter.acknowledge(event, "Approved")
        await adapter.acknowledge(event)  # a second answer is too late, and harmless
    assert fake.answered == [
        {"callback_query_id": query_id, "text": "Approved", "show_alert": None}
    ]


async def test_edit_replaces_the_text(fake: FakeTelegram, tmp_path: Path) -> None:
    adapter = adapter_for(fake, tmp_path)
    fake.add_chat(42)
    target = Target("telegram", "42")
    message_id = await adapter.send(Outbound(target, "Thinking"))
    await adapter.edit(target, message_id, "Thinking… done")
    await adapter.edit(target, message_id, "Thinking… done")  # not modified: fine
    assert fake.messages_in(42) == {int(message_id): "Thinking… done"}
    assert len(fake.edits) == 1
    with pytest.raises(SendError) as gone:
        await adapter.edit(target, "999", "nope")
    assert not gone.value.retryable and "not found" in str(gone.value)
    await adapter.close()


async def test_html_telegram_refuses_is_sent_once_more_as_plain_text(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    adapter = adapter_for(fake, tmp_path)
    fake.add_chat(42)
    target = Target("telegram", "42")
    message_id = await adapter.send(Outbound(target, "<b>Bold</b> &amp; <code>x</code>"))
    assert fake.sent[-1]["entities"] == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "code", "offset": 7, "length": 1},
    ]
    await adapter.edit(target, message_id, "<b>broken & <i>nested</b>")  # refused: plain
    assert fake.messages_in(42) == {int(message_id): "broken & nested"}
    assert [e["parse_mode"] for e in fake.edits] == [None]
    refused = await adapter.send(Outbound(target, "a <b>b"))
    assert fake.messages_in(42)[int(refused)] == "a b"
    assert fake.sent[-1]["parse_mode"] is None
    assert fake.calls.count("sendMessage") == 3  # the refused one, then once as plain text
    await adapter.close()


async def test_offset_advances_only_after_the_sink_returns(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    offsets = MemoryCursor()
    adapter, inbox = adapter_for(fake, tmp_path, cursor=offsets), Inbox()
    inbox.gate = asyncio.Event()
    update = fake.user_says(42, "store me first")
    async with running(adapter, inbox):
        await wait_until(lambda: inbox.entered == 1)
        await wait_until(lambda: fake.calls.count("getUpdates") >= 1)
        assert fake.confirmed_offset <= update["update_id"]
        assert offsets.value is None and fake.pending_updates() == 1
        inbox.gate.set()
        await wait_until(lambda: fake.confirmed_offset == update["update_id"] + 1)
    assert offsets.value == str(update["update_id"] + 1)
    assert [e.text for e in inbox.events] == ["store me first"]

    # A restarted adapter starts from the stored offset: nothing is delivered twice.
    later = fake.user_says(42, "after the restart")
    again, inbox2 = adapter_for(fake, tmp_path, cursor=offsets), Inbox()
    async with running(again, inbox2):
        await wait_until(lambda: fake.confirmed_offset == later["update_id"] + 1)
    assert [e.text for e in inbox2.events] == ["after the restart"]


async def test_the_offset_survives_in_state_db(fake: FakeTelegram, tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "state.db") as store:
        offsets = KvCursor(store, offset_key(fake.token))
        first = fake.user_says(42, "one")
        adapter, inbox = adapter_for(fake, tmp_path, cursor=offsets), Inbox()
        async with running(adapter, inbox):
            await wait_until(lambda: len(inbox.events) == 1)
        # the key of the releases before platform modules: a home keeps its place
        bot = fake.token.split(":", 1)[0]
        stored = await store.run(gateway_ops.kv_get, f"telegram.offset.{bot}")
        assert stored == str(first["update_id"] + 1)
        assert await KvCursor(store, offset_key("555:another-bot")).load() is None  # per bot

        second = fake.user_says(42, "two")
        again = adapter_for(fake, tmp_path, cursor=KvCursor(store, offset_key(fake.token)))
        async with running(again, inbox):
            await wait_until(lambda: len(inbox.events) == 2)
    assert inbox.events[1].external_id == str(second["update_id"])  # "one" not again


async def test_an_update_the_sink_failed_on_comes_again(fake: FakeTelegram, tmp_path: Path) -> None:
    adapter, inbox = adapter_for(fake, tmp_path), Inbox()
    inbox.fail_next = 1
    update = fake.user_says(42, "do not lose me")
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
    assert inbox.entered == 2 and inbox.events[0].external_id == str(update["update_id"])


async def test_polling_survives_an_outage(fake: FakeTelegram, tmp_path: Path) -> None:
    states: list[str] = []

    async def pause(seconds: float) -> None:
        states.append(adapter.state)
        await asyncio.sleep(0)

    adapter, inbox = adapter_for(fake, tmp_path, backoff=Backoff(sleep=pause)), Inbox()
    fake.fail("getMe", "disconnect")  # the network is down at start
    fake.fail("getUpdates", 502, times=3)  # then the Bot API is
    fake.user_says(42, "sent during the outage")
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
        assert adapter.state == "connected"
    assert states == ["reconnecting"] * 4
    assert [e.text for e in inbox.events] == ["sent during the outage"]


async def test_flood_wait_while_polling_is_honoured(fake: FakeTelegram, tmp_path: Path) -> None:
    delays: list[float] = []

    async def pause(seconds: float) -> None:
        delays.append(seconds)
        await asyncio.sleep(0)

    adapter, inbox = adapter_for(fake, tmp_path, backoff=Backoff(sleep=pause)), Inbox()
    fake.fail("getUpdates", 429, retry_after=4)
    fake.user_says(42, "hi")
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 1)
    assert delays == [4.0]


async def test_edits_and_service_messages_are_skipped(fake: FakeTelegram, tmp_path: Path) -> None:
    adapter, inbox = adapter_for(fake, tmp_path), Inbox()
    first = fake.user_says(-100555, "original", user_id=5)
    fake.user_edits(-100555, first["message"]["message_id"], "edited")
    joined = {"id": 8, "is_bot": False, "first_name": "Cy"}
    service = {"message_id": 900, "date": 1, "chat": first["message"]["chat"], "from": joined}
    fake.queue_update({"message": {**service, "new_chat_members": [joined]}})
    last = fake.user_says(-100555, "next", user_id=5)
    async with running(adapter, inbox):
        await wait_until(lambda: fake.confirmed_offset > last["update_id"])
    assert [e.text for e in inbox.events] == ["original", "next"]


@pytest.mark.parametrize(
    ("failure", "retryable", "retry_after", "words"),
    [
        ({"status": 502}, True, None, "unreachable"),
        ({"status": "disconnect"}, True, None, "unreachable"),
        ({"status": 429, "retry_after": 7}, True, 7.0, "rate limit"),
        ({"status": 403}, False, None, "blocked"),
        ({"status": 413, "description": "Request Entity Too Large"}, False, None, "too large"),
    ],
)
async def test_send_failures_say_whether_to_retry(
    fake: FakeTelegram,
    tmp_path: Path,
    failure: dict[str, Any],
    retryable: bool,
    retry_after: float | None,
    words: str,
) -> None:
    adapter = adapter_for(fake, tmp_path)
    fake.add_chat(42)
    fake.fail("sendMessage", **failure)
    with pytest.raises(SendError) as caught:
        await adapter.send(Outbound(Target("telegram", "42"), "hello"))
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after
    assert words in str(caught.value).lower() and "\n" not in str(caught.value)
    assert await adapter.send(Outbound(Target("telegram", "42"), "hello")) != ""  # recovered
    await adapter.close()


async def test_sending_to_an_unknown_chat_is_not_retryable(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    adapter = adapter_for(fake, tmp_path)
    with pytest.raises(SendError) as caught:
        await adapter.send(Outbound(Target("telegram", "404404"), "hello"))
    assert not caught.value.retryable
    assert str(caught.value) == "Telegram refused the message: Chat not found"
    await adapter.close()


async def test_a_bad_token_fails_with_one_clear_line(fake: FakeTelegram, tmp_path: Path) -> None:
    adapter, inbox = adapter_for(fake, tmp_path, token="999:not-the-token"), Inbox()
    with pytest.raises(AdapterUnavailable) as caught:
        await adapter.run(inbox)
    await adapter.close()
    assert adapter.state.startswith("failed: ") and "TELEGRAM_BOT_TOKEN" in adapter.state
    assert "\n" not in str(caught.value) and "not-the-token" not in str(caught.value)
    assert "getUpdates" not in fake.calls


async def test_another_poller_is_waited_out(fake: FakeTelegram, tmp_path: Path) -> None:
    adapter, inbox = adapter_for(fake, tmp_path), Inbox()
    fake.fail("getUpdates", 409, times=None)
    fake.user_says(42, "still there?")
    async with running(adapter, inbox):
        await wait_until(lambda: adapter.state.startswith("conflict: another program is polling"))
        assert inbox.events == []
        fake.recover()  # the other program stopped
        await wait_until(lambda: len(inbox.events) == 1)
        assert adapter.state == "connected"


def test_build_reads_token_base_url_and_mention_setting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(
        "telegram:\n  base_url: http://127.0.0.1:9/tg\n  require_mention: true\n"
    )
    env = {"HERMES_HOME": str(home), "HOME": str(tmp_path)}
    assert not PLATFORM.configured(load_profile(env=env).env)
    (home / ".env").write_text("TELEGRAM_BOT_TOKEN=123:abc\n")
    profile = load_profile(env=env)
    assert PLATFORM.configured(profile.env)
    adapter = PLATFORM.build(Build(profile))
    assert isinstance(adapter, TelegramAdapter)
    assert (adapter.token, adapter.base_url, adapter.require_mention) == (
        "123:abc",
        "http://127.0.0.1:9/tg",
        True,
    )
    assert adapter.downloads == profile.workspace / "inbox"
    override = load_profile(env={**env, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8/"})
    other = PLATFORM.build(Build(override))
    assert other.base_url == "http://127.0.0.1:8"


# -- spoken replies and audio that is not a voice note ---------------------------------


async def test_a_spoken_reply_is_a_voice_note_in_the_topic(
    fake: FakeTelegram, tmp_path: Path, voice_ogg: Path, voice_bytes: bytes
) -> None:
    assert PLATFORM.capabilities.audio_out
    asked = fake.user_says(-1001234, "say it", thread_id=6, title="Team")["message"]
    adapter = adapter_for(fake, tmp_path)
    target = Target("telegram", "-1001234", "6")
    reply = VoiceOut(target, str(voice_ogg), 2.6, reply_to_message_id=str(asked["message_id"]))
    message_id = await adapter.send_voice(reply)
    await adapter.close()
    sent = fake.sent[-1]
    assert (sent["kind"], sent["chat_id"], sent["message_thread_id"]) == ("voice", -1001234, 6)
    assert sent["file"] == voice_bytes  # the OGG/Opus bytes as they are
    assert sent["duration"] == 3 and sent["reply_to_message_id"] == asked["message_id"]
    assert sent["message_id"] == int(message_id)


@pytest.mark.parametrize(
    ("failure", "retry_after"), [({"status": 429, "retry_after": 4}, 4.0), ({"status": 502}, None)]
)
async def test_a_failed_voice_send_can_be_retried(
    fake: FakeTelegram,
    tmp_path: Path,
    voice_ogg: Path,
    failure: dict[str, Any],
    retry_after: float | None,
) -> None:
    adapter = adapter_for(fake, tmp_path)
    fake.add_chat(42)
    fake.fail("sendVoice", **failure)
    voice = VoiceOut(Target("telegram", "42"), str(voice_ogg), 2.0)
    with pytest.raises(SendError) as caught:
        await adapter.send_voice(voice)
    assert caught.value.retryable and caught.value.retry_after == retry_after
    assert await adapter.send_voice(voice) != ""  # recovered
    gone = VoiceOut(Target("telegram", "42"), str(tmp_path / "missing.ogg"), 2.0)
    with pytest.raises(SendError) as caught:
        await adapter.send_voice(gone)
    assert not caught.value.retryable and "missing.ogg" in str(caught.value)
    await adapter.close()
    assert [s["kind"] for s in fake.sent] == ["voice"]


async def test_an_audio_file_is_no_voice_note(
    fake: FakeTelegram, tmp_path: Path, voice_ogg: Path, voice_bytes: bytes
) -> None:
    adapter, inbox = adapter_for(fake, tmp_path), Inbox()
    note = voice_bytes
    fake.voice_note(42, None, note, 3)
    fake.user_sends_file(42, b"ID3 song", kind="audio", name="song.mp3", mime="audio/mpeg")
    fake.user_sends_file(42, note, name="memo.ogg", mime="audio/ogg")  # as a document
    async with running(adapter, inbox):
        await wait_until(lambda: len(inbox.events) == 3)
        fetched = [(await adapter.fetch(e)).attachments[0] for e in inbox.events]
    assert [(a.kind, a.voice) for a in fetched] == [
        ("audio", True),
        ("audio", False),
        ("audio", False),
    ]
    assert all(a.path is not None for a in fetched)
    assert contents(fetched[0].path or "") == note and fetched[2].name == "memo.ogg"
