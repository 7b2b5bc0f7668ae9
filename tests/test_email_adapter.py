"""The email adapter against real servers (tests/fakes/mail_server.py), without a
gateway: polling where the server has no IDLE, a silent server found by the probe,
the first start leaving old mail alone, a resend recognised in the Sent folder, and
the set-up check."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.gateway.events import Inbound, Outbound, Target, VoiceOut
from hermes.platforms.adapter import MemoryCursor, SendError
from hermes.platforms.email import PLATFORM, EmailSettings
from hermes.platforms.email_adapter import EmailAdapter
from hermes.platforms.email_smtp import check_login, endpoint
from tests.fakes.mail_server import MailServers
from tests.gateway_helpers import running_adapter
from tests.tools_helpers import wait_until
from tests.voice_helpers import spoken

_names = itertools.count(1)


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServers]:
    names = [f"{who}{n}" for who in ("bot", "ada") for n in range(1, 20)]
    with MailServers(names) as servers:
        yield servers


def adapter(
    mail: MailServers,
    user: str,
    cursor: MemoryCursor | None = None,
    smtp_url: str | None = None,
    downloads: Path | None = None,
    **kw: Any,
) -> EmailAdapter:
    settings = EmailSettings(**{"idle_seconds": 1.0, "timeout": 5.0, **kw})
    return EmailAdapter(
        imap_url=mail.imap_url,
        smtp_url=smtp_url or mail.smtp_url,
        downloads=downloads,
        address=mail.address(user),
        password=mail.password(user),
        settings=settings,
        cursor=cursor or MemoryCursor(),
    )


def users(mail: MailServers) -> tuple[str, str]:
    n = next(_names)
    mail.add_user(f"bot{n}")
    mail.add_user(f"ada{n}")
    return f"bot{n}", f"ada{n}"


class Inbox:
    def __init__(self) -> None:
        self.events: list[Inbound] = []

    async def __call__(self, event: Inbound) -> None:
        self.events.append(event)


async def test_without_idle_the_folder_is_polled() -> None:
    with MailServers(["bot", "ada"], idle=False) as mail:
        email, inbox = adapter(mail, "bot", poll_seconds=0.2), Inbox()
        async with running_adapter(email, inbox):
            await wait_until(
                lambda: email.state == "connected", 10, why=lambda: email.state + mail.logs()
            )
            assert email.details()["mode"] == "polling"
            mail.send(mail.compose("ada", "bot", "Polled", "found by polling"))
            await wait_until(lambda: len(inbox.events) == 1, 20)
            assert inbox.events[0].text.endswith("found by polling")
            await wait_until(lambda: mail.all_seen("bot"), 10)


async def test_a_silent_server_is_probed_and_the_link_rebuilt(mail: MailServers) -> None:
    bot, ada = users(mail)
    email, inbox = adapter(mail, bot, idle_seconds=0.3, timeout=1.0), Inbox()
    async with running_adapter(email, inbox):
        await wait_until(
            lambda: email.state == "connected", 10, why=lambda: email.state + mail.logs()
        )
        assert email.details()["mode"] == "IDLE"
        mail.freeze_imap()
        try:
            await wait_until(lambda: email.state == "reconnecting", 10)
        finally:
            mail.freeze_imap(False)
        await wait_until(lambda: email.state == "connected", 20)
        mail.send(mail.compose(ada, bot, "Back", "after the freeze"))
        await wait_until(lambda: len(inbox.events) == 1, 20, why=mail.logs)


async def test_the_first_start_leaves_old_mail_alone_and_later_mail_waits(
    mail: MailServers,
) -> None:
    bot, ada = users(mail)
    mail.send(mail.compose(ada, bot, "Old", "before Hermes"))
    mail.wait_for(lambda: mail.count(bot) == 1)
    cursor, inbox = MemoryCursor(), Inbox()
    email = adapter(mail, bot, cursor)
    async with running_adapter(email, inbox):
        await wait_until(
            lambda: email.state == "connected", 10, why=lambda: email.state + mail.logs()
        )
        mail.send(mail.compose(ada, bot, "New", "after the start"))
        await wait_until(lambda: len(inbox.events) == 1, 20)
    # mail that comes while Hermes is down is read at the next start
    mail.send(mail.compose(ada, bot, "Meanwhile", "while it was down"))
    mail.wait_for(lambda: mail.count(bot) == 3)
    email = adapter(mail, bot, cursor)
    async with running_adapter(email, inbox):
        await wait_until(lambda: len(inbox.events) == 2, 20)
    assert [e.text.splitlines()[-1] for e in inbox.events] == [
        "after the start",
        "while it was down",
    ]
    assert [seen for seen, _ in mail.messages(bot)] != []
    assert "\\Seen" not in mail.messages(bot)[0][0]  # the old mail was not even marked


async def test_a_resend_after_a_crash_is_recognised_in_the_sent_folder(
    mail: MailServers,
) -> None:
    bot, ada = users(mail)
    cursor, inbox = MemoryCursor(), Inbox()
    email = adapter(mail, bot, cursor)
    async with running_adapter(email, inbox):
        await wait_until(
            lambda: email.state == "connected", 10, why=lambda: email.state + mail.logs()
        )
        mail.send(mail.compose(ada, bot, "Hi", "hello"))
        await wait_until(lambda: len(inbox.events) == 1, 20)
        reply = Outbound(
            inbox.events[0].target,
            "Hello!",
            reply_to_message_id=inbox.events[0].message_id,
            key="9.0",
        )
        first = await email.send(reply)
        mail.wait_for(lambda: mail.count(ada) == 1)
    # a new process (the ledger did not record the send before a crash) tries again
    email = adapter(mail, bot, cursor)
    async with running_adapter(email, inbox):
        await wait_until(
            lambda: email.state == "connected", 10, why=lambda: email.state + mail.logs()
        )
        assert await email.send(reply) == first
        other = await email.send(Outbound(reply.target, "Next.", key="10.0"))
    assert other != first
    mail.wait_for(lambda: mail.count(ada) == 2)
    assert mail.queue_empty() and mail.count(ada) == 2 and mail.count(bot, "Sent") == 2
    late = mail.parsed(ada)[1]
    assert late["Subject"] == "Re: Hi"  # looked up in the folder by a process that never saw it


async def test_a_spoken_reply_is_a_threaded_mail_with_the_ogg_attached(
    mail: MailServers, tmp_path: Path
) -> None:
    ogg = spoken("Here is your answer.", tmp_path / "reply.ogg")
    bot, ada = users(mail)
    cursor, inbox = MemoryCursor(), Inbox()
    email = adapter(mail, bot, cursor)
    assert email.capabilities.audio_out
    async with running_adapter(email, inbox):
        await wait_until(
            lambda: email.state == "connected", 10, why=lambda: email.state + mail.logs()
        )
        mail.send(mail.compose(ada, bot, "Question", "what is it?"))
        await wait_until(lambda: len(inbox.events) == 1, 20)
        asked = inbox.events[0]
        voice = VoiceOut(asked.target, str(ogg), 1.6, asked.message_id, key="4.1")
        first = await email.send_voice(voice)
        mail.wait_for(lambda: mail.count(ada) == 1)
        assert await email.send_voice(voice) == first  # a resend: found in Sent, not sent
    (got,) = mail.parsed(ada)
    assert got["Message-ID"] == first and first.startswith("<hermes.4.1.")
    assert got["In-Reply-To"] == asked.message_id and asked.message_id in got["References"]
    assert got["Subject"] == "Re: Question"
    (audio,) = got.iter_attachments()
    assert (audio.get_content_type(), audio.get_filename()) == ("audio/ogg", "voice.ogg")
    assert audio.get_content() == ogg.read_bytes()
    assert mail.count(bot, "Sent") == 1


async def test_a_voice_reply_the_smtp_server_cannot_take_is_retryable(
    mail: MailServers, tmp_path: Path
) -> None:
    ogg = spoken("Later.", tmp_path / "reply.ogg")
    bot, ada = users(mail)
    email = adapter(mail, bot, smtp_url="smtp://127.0.0.1:1")  # nothing listens there
    async with running_adapter(email, Inbox()):
        await wait_until(lambda: email.state == "connected", 10, why=lambda: email.state)
        voice = VoiceOut(Target("email", mail.address(ada)), str(ogg), 0.7, key="5.1")
        with pytest.raises(SendError) as failed:
            await email.send_voice(voice)
    assert failed.value.retryable and "SMTP" in str(failed.value)


async def test_an_audio_file_mailed_in_is_a_file_not_a_voice_note(
    mail: MailServers, tmp_path: Path
) -> None:
    memo = spoken("A memo.", tmp_path / "memo.ogg").read_bytes()
    bot, ada = users(mail)
    inbox = Inbox()
    email = adapter(mail, bot, downloads=tmp_path / "inbox")
    async with running_adapter(email, inbox):
        await wait_until(
            lambda: email.state == "connected", 10, why=lambda: email.state + mail.logs()
        )
        sent = mail.compose(ada, bot, "Memo", "listen to this")
        sent.add_attachment(memo, maintype="audio", subtype="ogg", filename="memo.ogg")
        mail.send(sent)
        await wait_until(lambda: len(inbox.events) == 1, 20)
        event = await email.fetch(inbox.events[0])
    (file,) = event.attachments
    assert (file.kind, file.voice, file.mime, file.name) == (
        "audio",
        False,
        "audio/ogg",
        "memo.ogg",
    )
    assert file.path is not None
    assert await asyncio.to_thread(Path(file.path).read_bytes) == memo


async def test_the_setup_check_logs_in_to_both_servers(mail: MailServers) -> None:
    bot, _ = users(mail)
    env = mail.env(bot)
    assert PLATFORM.check is not None
    assert await PLATFORM.check(env) is None
    wrong = await PLATFORM.check({**env, "EMAIL_PASSWORD": "nope"})
    assert wrong is not None and "IMAP" in wrong and "EMAIL_PASSWORD" in wrong
    smtp_wrong = await check_login(endpoint(mail.smtp_url), mail.address(bot), "nope", 20)
    assert smtp_wrong is not None and "SMTP" in smtp_wrong and "EMAIL_PASSWORD" in smtp_wrong
    bad_url = await PLATFORM.check({**env, "EMAIL_IMAP_URL": "http://x"})
    assert bad_url is not None and "imaps://" in bad_url
    closed = await PLATFORM.check({**env, "EMAIL_IMAP_URL": "imap://127.0.0.1:1"})
    assert closed is not None and "cannot use the IMAP server" in closed
    await asyncio.sleep(0)
