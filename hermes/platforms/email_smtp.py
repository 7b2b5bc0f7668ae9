"""Sending mail: one SMTP session per mail through aiosmtplib (MIT), its failures
sorted into "try again later" and "never". URLs:

- smtp://HOST[:587]: STARTTLS when the server offers it;
- submission://HOST[:587]: STARTTLS required;
- smtps://HOST[:465]: TLS from the start.
"""

from __future__ import annotations

from email.message import EmailMessage

from hermes.platforms.adapter import SendError
from hermes.platforms.email_imap import Endpoint

SMTP_SCHEMES = {"smtp": (587, False), "submission": (587, False), "smtps": (465, True)}


def endpoint(url: str) -> Endpoint:
    return Endpoint.parse(url, SMTP_SCHEMES)


def _client(where: Endpoint, user: str, password: str, seconds: float) -> object:
    import aiosmtplib

    start_tls: bool | None = True if where.scheme == "submission" else None
    if where.tls:
        start_tls = False
    return aiosmtplib.SMTP(
        hostname=where.host,
        port=where.port,
        username=user or None,
        password=password or None,
        use_tls=where.tls,
        start_tls=start_tls,
        timeout=seconds,
    )


async def send(
    where: Endpoint, user: str, password: str, msg: EmailMessage, seconds: float
) -> None:
    """Send MSG to its To; raises SendError (retryable unless the server said no for good)."""
    import aiosmtplib

    client = _client(where, user, password, seconds)
    assert isinstance(client, aiosmtplib.SMTP)
    try:
        async with client:
            await client.send_message(msg)
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise SendError(
            f"email: the SMTP server refused EMAIL_ADDRESS/EMAIL_PASSWORD ({exc.code}); "
            "check them (an app password where the provider needs one)",
            retryable=False,
        ) from None
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        raise SendError(
            f"email: the SMTP server refused the recipient: {_line(exc)}",
            retryable=any(400 <= c < 500 for c in codes),
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise SendError(
            f"email: the SMTP server answered {exc.code} {_line(exc.message)}",
            retryable=not 500 <= exc.code < 600,
        ) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise SendError(
            f"email: cannot reach the SMTP server {where.host}:{where.port} ({_line(exc)})",
            retryable=True,
        ) from None


async def check_login(where: Endpoint, user: str, password: str, seconds: float) -> str | None:
    """Whether USER/PASSWORD log in to the SMTP server: None, or what is wrong."""
    import aiosmtplib

    client = _client(where, user, password, seconds)
    assert isinstance(client, aiosmtplib.SMTP)
    try:
        async with client:
            return None
    except aiosmtplib.SMTPAuthenticationError as exc:
        return (
            f"the SMTP server {where.host} refused EMAIL_ADDRESS/EMAIL_PASSWORD ({exc.code} "
            f"{_line(exc.message)}): check them (an app password where the provider needs one)"
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return f"cannot use the SMTP server {where.host}:{where.port} ({_line(exc)})"


def _line(value: object) -> str:
    text = " ".join(str(value).split())
    return (text or type(value).__name__)[:200]
