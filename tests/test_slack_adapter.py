"""The Slack adapter (slack-bolt on slack_sdk's Socket Mode client) against the fake
Slack (tests/fakes/slack_api.py): what it hands the gateway, when it acknowledges,
how it sends, and how it lives through outages, silent sockets and a revoked token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hermes.gateway.events import Button, Inbound, Outbound, Target, VoiceOut
from hermes.platforms import slack_wire as wire
from hermes.platforms.adapter import AdapterUnavailable, SendError
from hermes.platforms.slack import SlackAdapter
from hermes.platforms.slack_check import check
from hermes.providers.http import Backoff
from tests.fakes.slack_api import FakeSlack
from tests.tools_helpers import wait_until

DM, CHANNEL, ADA = "D0ADA0001", "C0TEAM001", "U0ADA0001"


class Inbox:
    """A sink that records events; while `held` is set, it waits before returning."""

    def __init__(self) -> None:
        self.events: list[Inbound] = []
        self.held: asyncio.Event | None = None
        self.entered = 0

    async def __call__(self, event: Inbound) -> None:
        self.entered += 1
        if self.held is not None:
            await self.held.wait()
        self.events.append(event)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(ack_timeout=1.0) as fake:
        yield fake


def adapter_for(fake: FakeSlack, **kw: object) -> SlackAdapter:
    options: dict[str, object] = {
        "bot_token": fake.bot_token,
        "app_token": fake.app_token,
        "base_url": fake.api_url,
        "ping_interval": 0.2,
        "probe_interval": 1.0,
        "backoff": Backoff(base=0.05, cap=0.2),
        **kw,
    }
    return SlackAdapter(**options)  # type: ignore[arg-type]


@pytest.fixture
async def running(slack: FakeSlack) -> AsyncIterator[tuple[SlackAdapter, Inbox]]:
    adapter, inbox = adapter_for(slack), Inbox()
    task = asyncio.create_task(adapter.run(inbox))
    await wait_until(lambda: adapter.state == "connected", 10)
    yield adapter, inbox
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await adapter.close()


async def test_a_dm_is_acknowledged_only_after_the_sink_returned(
    slack: FakeSlack, running: tuple[SlackAdapter, Inbox]
) -> None:
    _, inbox = running
    inbox.held = asyncio.Event()
    slack.user_says(DM, "hello there", user=ADA)
    await wait_until(lambda: inbox.entered == 1, 10)
    # while the sink holds it, no ack: Slack's clock runs out and it sends it again
    await wait_until(lambda: len(slack.envelopes) >= 2, 10)
    assert slack.envelopes[1]["retry_attempt"] == 1 and slack.acks == []
    inbox.held.set()
    await wait_until(lambda: slack.pending() == 0 and len(inbox.events) >= 2, 10)
    event = inbox.events[0]
    assert (event.platform, event.chat, event.user, event.text) == ("slack", DM, ADA, "hello there")
    assert not event.is_group and event.thread is None
    assert event.external_id == f"{DM}:{event.message_id}"
    # the re-sent envelope is the same message to the gateway, which stores it once
    # (its inbound table is unique per platform and external id)
    assert {e.external_id for e in inbox.events} == {event.external_id}


async def test_channel_threads_and_mentions(slack: FakeSlack) -> None:
    adapter, inbox = adapter_for(slack, require_mention=True), Inbox()
    task = asyncio.create_task(adapter.run(inbox))
    try:
        await wait_until(lambda: adapter.state == "connected", 10)
        slack.user_says(CHANNEL, "chatter without a mention", user=ADA)
        parent = slack.user_says(CHANNEL, f"<@{slack.bot_user}> deploy?", user=ADA)
        slack.user_says(CHANNEL, f"<@{slack.bot_user}> and in the thread", ADA, parent["ts"])
        await wait_until(lambda: slack.pending() == 0 and len(slack.acks) == 5, 10)
        # the mention came as `message` and as `app_mention`: one message id
        by_id = {e.external_id: e for e in inbox.events}
        assert [e.text for e in by_id.values()] == ["deploy?", "and in the thread"]
        first, second = by_id.values()
        assert first.is_group and first.mentions_bot and first.thread is None
        assert second.thread == parent["ts"] and second.chat == CHANNEL
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await adapter.close()


async def test_replies_go_to_their_thread_and_buttons_are_block_kit(
    slack: FakeSlack, running: tuple[SlackAdapter, Inbox]
) -> None:
    adapter, inbox = running
    thread = Target("slack", CHANNEL, "1700000000.000100")
    long_text = "Approval needed\n" + "x" * 3500  # more than one section block holds
    ts = await adapter.send(
        Outbound(
            thread,
            long_text,
            buttons=[[Button("Approve", "approve:a1"), Button("Deny", "deny:a1")]],
        )
    )
    sent = slack.sent[-1]
    assert sent["thread_ts"] == "1700000000.000100" and sent["text"] == long_text
    sections = [b for b in sent["blocks"] if b["type"] == "section"]
    assert len(sections) == 2 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert "".join(b["text"]["text"] for b in sections).replace("\n", "") == long_text.replace(
        "\n", ""
    )
    slack.press_button(CHANNEL, ts, "approve:a1", user=ADA)
    await wait_until(lambda: any(e.callback_data for e in inbox.events), 10)
    press = inbox.events[-1]
    assert (press.callback_data, press.text, press.user) == ("approve:a1", "Approve", ADA)
    assert press.thread == "1700000000.000100"
    await adapter.edit(thread, ts, "Approved.")
    assert slack.shown(CHANNEL, "1700000000.000100") == ["Approved."]


async def test_a_press_delivered_twice_reaches_the_gateway_once(
    slack: FakeSlack, running: tuple[SlackAdapter, Inbox]
) -> None:
    adapter, inbox = running
    ts = await adapter.send(Outbound(Target("slack", DM), "Go?", buttons=[[Button("Go", "go:1")]]))
    slack.duplicate_next()
    slack.press_button(DM, ts, "go:1", user=ADA)
    await wait_until(lambda: slack.pending() == 0 and len(slack.acks) == 2, 10)
    assert [e.callback_data for e in inbox.events] == ["go:1"]


async def test_send_errors_say_whether_to_retry(
    slack: FakeSlack, running: tuple[SlackAdapter, Inbox]
) -> None:
    adapter, _ = running
    slack.fail("chat.postMessage", 429, times=1, retry_after=7)
    with pytest.raises(SendError) as limited:
        await adapter.send(Outbound(Target("slack", DM), "hi"))
    assert limited.value.retryable and limited.value.retry_after == 7
    slack.fail("chat.postMessage", 503, times=1)
    with pytest.raises(SendError) as down:
        await adapter.send(Outbound(Target("slack", DM), "hi"))
    assert down.value.retryable
    with pytest.raises(SendError) as gone:
        await adapter.send(Outbound(Target("slack", "nowhere"), "hi"))
    assert not gone.value.retryable and "channel_not_found" in str(gone.value)
    assert await adapter.send(Outbound(Target("slack", DM), "hi"))


async def test_a_silent_socket_is_replaced_and_the_old_one_closed(
    slack: FakeSlack, running: tuple[SlackAdapter, Inbox]
) -> None:
    _, inbox = running
    opened = len(slack.calls_to("apps.connections.open"))
    slack.silence_sockets(pongs=False)  # open, but nothing comes and nothing answers
    await wait_until(lambda: len(slack.calls_to("apps.connections.open")) > opened, 15)
    await wait_until(lambda: len(slack.sockets) == 1 and not slack.sockets[0].deaf, 15)
    slack.user_says(DM, "still there?", user=ADA)
    await wait_until(lambda: [e.text for e in inbox.events] == ["still there?"], 10)


async def test_an_outage_then_slack_is_back(
    slack: FakeSlack, running: tuple[SlackAdapter, Inbox]
) -> None:
    adapter, inbox = running
    slack.fail("*", 503)
    slack.drop_sockets()
    await wait_until(lambda: adapter.state == "reconnecting", 10)
    slack.recover()
    await wait_until(lambda: adapter.state == "connected", 10)
    slack.user_says(DM, "back?", user=ADA)
    await wait_until(lambda: [e.text for e in inbox.events] == ["back?"], 10)


async def test_a_revoked_token_fails_once_without_a_reconnect_loop(slack: FakeSlack) -> None:
    adapter = adapter_for(slack)
    task = asyncio.create_task(adapter.run(Inbox()))
    await wait_until(lambda: adapter.state == "connected", 10)
    before = len(slack.calls)
    slack.revoke_token()
    with pytest.raises(AdapterUnavailable, match="token_revoked"):
        await asyncio.wait_for(task, 10)
    assert adapter.state.startswith("failed: Slack rejected SLACK_BOT_TOKEN (token_revoked)")
    # run() ended and closed the socket client: one probe told it, nothing retries
    assert [c.name for c in slack.calls[before:]] == ["auth.test"]
    await adapter.close()
    assert adapter.state.startswith("failed")


async def test_a_wrong_app_token_is_named(slack: FakeSlack) -> None:
    adapter = adapter_for(slack, app_token="xapp-wrong")
    with pytest.raises(AdapterUnavailable, match="SLACK_APP_TOKEN"):
        await asyncio.wait_for(adapter.run(Inbox()), 10)
    assert len(slack.calls_to("apps.connections.open")) == 1
    await adapter.close()


async def test_the_webhook_alone_is_a_notification_target(slack: FakeSlack) -> None:
    adapter = SlackAdapter(webhook_url=slack.webhook_url)
    task = asyncio.create_task(adapter.run(Inbox()))
    await wait_until(lambda: adapter.state == "connected", 10)
    await adapter.send(
        Outbound(
            Target("slack", wire.WEBHOOK_CHAT),
            "Approval needed: /approve a1",
            buttons=[[Button("Approve", "approve:a1")]],  # presses need the bot: dropped
        )
    )
    assert slack.webhook_posts == [{"text": "Approval needed: /approve a1"}]
    with pytest.raises(SendError, match="slack:webhook") as wrong:
        await adapter.send(Outbound(Target("slack", DM), "hi"))
    assert not wrong.value.retryable
    slack.fail("webhook", 429, times=1, retry_after=3)
    with pytest.raises(SendError) as limited:
        await adapter.send(Outbound(Target("slack", wire.WEBHOOK_CHAT), "again"))
    assert limited.value.retryable and limited.value.retry_after == 3
    slack.revoke_token()  # the webhook was removed from the workspace
    with pytest.raises(SendError) as removed:
        await adapter.send(Outbound(Target("slack", wire.WEBHOOK_CHAT), "again"))
    assert not removed.value.retryable and "no_service" in str(removed.value)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await adapter.close()


def test_sections_and_mentions_are_cut_as_slack_wants() -> None:
    assert wire.sections("a" * 6001) == ["a" * 3000, "a" * 3000, "a"]
    assert wire.strip_mention("<@U0BOT> hi  <@U0ADA|ada>", "U0BOT") == (True, "hi <@U0ADA|ada>")
    assert wire.strip_mention("hi", None) == (False, "hi")


async def test_the_setup_check_asks_slack_about_both_tokens(slack: FakeSlack) -> None:
    good = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "SLACK_API_BASE_URL": slack.api_url,
    }
    assert await check(good) is None
    wrong_bot = await check({**good, "SLACK_BOT_TOKEN": "xoxb-wrong"})
    assert wrong_bot is not None and "SLACK_BOT_TOKEN (invalid_auth)" in wrong_bot
    wrong_app = await check({**good, "SLACK_APP_TOKEN": "xapp-wrong"})
    assert wrong_app is not None and "SLACK_APP_TOKEN (invalid_auth)" in wrong_app
    assert await check({"SLACK_WEBHOOK_URL": slack.webhook_url}) is None
    assert "both" in str(await check({"SLACK_BOT_TOKEN": slack.bot_token}))


async def test_envelopes_reach_the_gateway_one_at_a_time_in_order(
    slack: FakeSlack, running: tuple[SlackAdapter, Inbox]
) -> None:
    _, inbox = running
    inbox.held = asyncio.Event()
    said = [slack.user_says(DM, f"message {i}", user=ADA) for i in range(5)]
    # the first waits in the (held) sink; the others wait their turn, not in the sink,
    # until Slack's clock runs out and it re-sends the first
    await wait_until(lambda: any(e.get("retry_attempt") for e in slack.envelopes), 10)
    assert inbox.entered == 1
    inbox.held.set()
    await wait_until(lambda: slack.pending() == 0, 10)
    first_seen = list(dict.fromkeys(e.text for e in inbox.events))
    assert first_seen == [m["text"] for m in said]


# -- voice: spoken replies out, audio clips in ----------------------------------------------


async def test_a_spoken_reply_is_an_audio_file_in_the_thread(
    slack: FakeSlack, voice_ogg: Path, voice_bytes: bytes
) -> None:
    adapter = adapter_for(slack)
    assert adapter.capabilities.audio_out
    asked = slack.user_says(CHANNEL, "say it")
    voice = VoiceOut(Target("slack", CHANNEL, asked["ts"]), str(voice_ogg), 2.0)
    file_id = await adapter.send_voice(voice)
    await adapter.close()
    [upload] = slack.uploads
    assert (upload["channel"], upload["thread_ts"], upload["file"]["id"]) == (
        CHANNEL,
        asked["ts"],
        file_id,
    )
    assert upload["data"] == voice_bytes
    assert upload["file"]["mimetype"] == "audio/ogg"
    webhook_only = adapter_for(slack, bot_token="", app_token="", webhook_url=slack.webhook_url)
    assert not webhook_only.capabilities.audio_out
    with pytest.raises(SendError):
        await webhook_only.send_voice(VoiceOut(Target("slack", "webhook"), str(voice_ogg), 2.0))


@pytest.mark.parametrize(
    ("step", "status", "retry_after"),
    [
        ("files.getUploadURLExternal", 429, 7.0),
        ("upload", 503, None),
        ("files.completeUploadExternal", 500, None),
    ],
)
async def test_a_failed_voice_upload_can_be_retried(
    slack: FakeSlack, voice_ogg: Path, step: str, status: int, retry_after: float | None
) -> None:
    adapter = adapter_for(slack)
    slack.fail(step, status, times=1, retry_after=retry_after)
    voice = VoiceOut(Target("slack", DM), str(voice_ogg), 2.0)
    with pytest.raises(SendError) as caught:
        await adapter.send_voice(voice)
    assert caught.value.retryable and caught.value.retry_after == retry_after
    assert await adapter.send_voice(voice)
    await adapter.close()
    assert len(slack.uploads) == 1


async def test_an_audio_clip_is_a_voice_note_and_an_audio_file_is_not(
    slack: FakeSlack, tmp_path: Path, voice_ogg: Path, voice_bytes: bytes
) -> None:
    adapter, inbox = adapter_for(slack, downloads=tmp_path / "inbox"), Inbox()
    task = asyncio.create_task(adapter.run(inbox))
    clip = voice_bytes
    slack.user_shares_file(DM, clip, "audio_message.ogg", "audio/ogg", clip=True)
    slack.user_shares_file(DM, b"ID3 a song", "song.mp3", "audio/mpeg")
    await wait_until(lambda: len(inbox.events) == 2, 10)
    voice, song = [(await adapter.fetch(e)).attachments[0] for e in inbox.events]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await adapter.close()
    assert (voice.kind, voice.voice, song.kind, song.voice) == ("audio", True, "audio", False)
    assert await asyncio.to_thread(Path(voice.path or "").read_bytes) == clip
    assert Path(song.path or "").parent == tmp_path / "inbox"
