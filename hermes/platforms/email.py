"""Email: Hermes reads one mailbox over IMAP and answers over SMTP.

Configured by EMAIL_IMAP_URL (imap://HOST[:143] or imaps://HOST[:993]),
EMAIL_SMTP_URL (smtp://, submission:// or smtps://), EMAIL_ADDRESS and
EMAIL_PASSWORD (an app password at most providers); EMAIL_ALLOWED_USERS lists the
addresses it answers. The adapter is hermes/platforms/email_adapter.py, the mail
format email_wire.py, the IMAP client email_imap.py, sending email_smtp.py.

A chat is a sender's address and a thread is a conversation's first Message-ID, so
each thread of mail is its own session. Replies are threaded (In-Reply-To,
References, `Re:`), plain text with an HTML alternative, sent once when the answer is
done (mail cannot be edited). Approvals are answered by replying `/approve ID`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hermes.platforms.spec import Build, Capabilities, Credential, Platform, section
from hermes.settings import bounded

if TYPE_CHECKING:
    from hermes.platforms.email_adapter import EmailAdapter


@dataclass
class EmailSettings:
    """The `email:` section of config.yaml."""

    folder: str = "INBOX"  # the folder read for new mail
    sent_folder: str = "Sent"  # where sent mail is kept and looked up ("": nowhere)
    save_sent: bool = True  # append each sent mail there (off where the server does it)
    poll_seconds: float = bounded(60.0, 0.05, 3600)  # a server without IDLE: look this often
    idle_seconds: float = bounded(240.0, 0.05, 1740)  # IDLE silent this long: NOOP probe
    timeout: float = bounded(30.0, 0.1, 600)  # each server command and connection
    subject: str = "Hermes"  # the subject of mail that starts a conversation
    from_name: str = "Hermes"  # the name shown with EMAIL_ADDRESS


CAPABILITIES = Capabilities(
    max_length=200_000,  # a reply is one mail
    length_unit="chars",
    markup="plain",  # Markdown as the text part; the adapter adds the HTML alternative
    can_edit=False,
    buttons=False,
    threads=True,
    audio_out=True,  # spoken replies: a mail in the thread with an audio/ogg attachment
)


def build(spec: Build) -> EmailAdapter:
    from hermes.platforms.email_adapter import EmailAdapter

    profile = spec.profile
    env = profile.env
    settings: EmailSettings = section(profile.settings, PLATFORM)
    address = env.get("EMAIL_ADDRESS", "").strip()
    return EmailAdapter(
        imap_url=env.get("EMAIL_IMAP_URL", "").strip(),
        smtp_url=env.get("EMAIL_SMTP_URL", "").strip(),
        address=address,
        password=env.get("EMAIL_PASSWORD", ""),
        allowed=env.get("EMAIL_ALLOWED_USERS", ""),
        settings=settings,
        downloads=profile.workspace / "inbox",
        cursor=spec.cursor(f"email.{address.lower()}") if spec.cursor is not None else None,
        dead_letters=spec.dead_letters,
    )


async def check(env: Mapping[str, str]) -> str | None:
    """`hermes gateway setup`: log in to the IMAP and the SMTP server; None, or what is wrong."""
    from hermes.errors import HermesError
    from hermes.platforms.email_adapter import check_imap
    from hermes.platforms.email_smtp import check_login, endpoint

    user, password = env.get("EMAIL_ADDRESS", "").strip(), env.get("EMAIL_PASSWORD", "")
    try:
        problem = await check_imap(env.get("EMAIL_IMAP_URL", ""), user, password, 20.0)
        if problem is None:
            where = endpoint(env.get("EMAIL_SMTP_URL", ""))
            problem = await check_login(where, user, password, 20.0)
    except HermesError as exc:
        return str(exc)
    return problem


PLATFORM = Platform(
    name="email",
    title="Email",
    required=("EMAIL_IMAP_URL", "EMAIL_SMTP_URL", "EMAIL_ADDRESS", "EMAIL_PASSWORD"),
    how=(
        "set EMAIL_IMAP_URL (imaps://imap.example.com), EMAIL_SMTP_URL "
        "(submission://smtp.example.com), EMAIL_ADDRESS and EMAIL_PASSWORD (an app password)"
    ),
    build=build,
    capabilities=CAPABILITIES,
    credentials=(Credential("EMAIL_ADDRESS", "the email address"),),
    optional=("EMAIL_ALLOWED_USERS",),
    settings=EmailSettings,
    extra="email",
    check=check,
)
