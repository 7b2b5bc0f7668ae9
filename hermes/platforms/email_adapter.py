"""The email adapter: new mail in through IMAP (IDLE, or polling), replies out through
SMTP.

Receiving: the folder is searched for unseen mail; each is read without marking it
(BODY.PEEK), handed to the gateway (which stores it once per Message-ID), and only
then marked \\Seen. A crash in between reads it again, and the gateway's dedupe
keeps it one message. Mail that a machine or a list sent, or that we sent, is
marked seen and never answered (hermes/platforms/email_wire.py `automated`). Only
mail that arrived after the first start counts: the first connection keeps the
folder's UIDNEXT as a floor (with its UIDVALIDITY) in the cursor.

Liveness: with IDLE, an IDLE that stays silent for `idle_seconds` ends with a NOOP;
without IDLE the folder is searched every `poll_seconds`. A command without an answer
within `timeout`, or a closed link, rebuilds the connection with backoff; a refused
login ends in `failed: ...` (no retry loop: the password will not fix itself).

Sending: each mail's Message-ID comes from the ledger's part key and a salt of this
home, so every try of one reply carries the same id. Before sending, the Sent folder
is searched for that id: a reply that went out just before a crash (sent, but not
yet recorded by the ledger) is not sent again. Each sent mail is appended there.
A spoken reply is a mail of its own in the thread, with an audio/ogg attachment.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes.gateway.events import Attachment, Inbound, Outbound, Target, VoiceOut
from hermes.platforms import email_smtp as smtp
from hermes.platforms import email_wire as wire
from hermes.platforms.adapter import (
    Adapter,
    AdapterUnavailable,
    DeadLetters,
    MemoryCursor,
    MemoryDeadLetters,
    SendError,
    Sink,
    UpdateGuard,
    require,
)
from hermes.platforms.email_imap import IMAP_SCHEMES, AuthFailed, Endpoint, ImapClient, ImapError
from hermes.platforms.spec import Cursor
from hermes.platforms.voice_file import voice_bytes
from hermes.providers.http import Backoff

if TYPE_CHECKING:
    from hermes.platforms.email import EmailSettings

log = logging.getLogger("hermes.gateway.email")

MAX_DOWNLOAD = 25 * 1024 * 1024
MAX_AUDIO = 15 * 1024 * 1024  # attached: base64 makes it ~20 MiB, what most servers take
REMEMBERED = 500  # threads whose subject and references are kept for replies
LINK_ERRORS = (OSError, TimeoutError, ImapError, EOFError, asyncio.IncompleteReadError)


async def check_imap(url: str, user: str, password: str, seconds: float) -> str | None:
    """Whether USER/PASSWORD log in to the IMAP server at URL: None, or what is wrong."""
    where = Endpoint.parse(url, IMAP_SCHEMES)
    client = ImapClient(where, timeout=seconds)
    try:
        await client.connect()
        await client.login(user, password)
    except AuthFailed as exc:
        return (
            f"the IMAP server {where.host} refused EMAIL_ADDRESS/EMAIL_PASSWORD ({exc}): check "
            "them (an app password where the provider needs one)"
        )
    except LINK_ERRORS as exc:
        return f"cannot use the IMAP server {where.host}:{where.port} ({_short(exc)})"
    finally:
        await client.logout()
    return None


class EmailAdapter(Adapter):
    name = "email"

    def __init__(
        self,
        *,
        imap_url: str,
        smtp_url: str,
        address: str,
        password: str,
        settings: EmailSettings,
        allowed: str = "",
        downloads: Path | None = None,
        cursor: Cursor | None = None,
        dead_letters: DeadLetters | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        from hermes.platforms.email import CAPABILITIES

        require("aiosmtplib", "email")
        self.capabilities = CAPABILITIES
        self.imap = Endpoint.parse(imap_url, IMAP_SCHEMES)
        self.smtp = smtp.endpoint(smtp_url)
        self.address, self.password = address, password
        self.settings = settings
        # the allowlist's spelling of each address (the gateway compares ids exactly)
        self.spelled = {a.lower(): a for a in re.split(r"[\s,]+", allowed) if a}
        self.downloads = downloads or Path("inbox")
        self.cursor: Cursor = cursor or MemoryCursor()
        self.dead_letters: DeadLetters = dead_letters or MemoryDeadLetters()
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.state = "starting"
        self.ignored = 0  # automated mail seen and not answered
        self.idle: bool | None = None  # whether the server has IDLE (once connected)
        self._salt = ""
        self._floor = 0
        self._threads: OrderedDict[str, tuple[str, tuple[str, ...]]] = OrderedDict()
        self._client: ImapClient | None = None

    def details(self) -> dict[str, str | float | None]:
        found = super().details()
        found["mode"] = None if self.idle is None else ("IDLE" if self.idle else "polling")
        found["ignored"] = float(self.ignored)
        return found

    # -- receiving ------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        guard = UpdateGuard(self.name, self.dead_letters, wait=self.backoff)
        attempt, down_since = 0, 0.0
        while True:
            client = ImapClient(self.imap, timeout=self.settings.timeout)
            self._client = client
            try:
                await client.connect()
                await client.login(self.address, self.password)
                await self._select(client)
                self.idle = "IDLE" in client.capabilities
                if self.state == "reconnecting":
                    log.info("email: connected again after %.0f s", time.monotonic() - down_since)
                self.state, attempt = "connected", 0
                await self._serve(client, guard, sink)
            except AuthFailed as exc:
                self.state = (
                    f"failed: the IMAP server refused EMAIL_ADDRESS/EMAIL_PASSWORD ({exc}); "
                    "fix them and restart the gateway"
                )
                raise AdapterUnavailable(f"email: {self.state}") from None
            except LINK_ERRORS as exc:
                if self.state != "reconnecting":  # one line per outage, not per try
                    down_since = time.monotonic()
                    log.warning("email: IMAP link lost (%s); reconnecting", _short(exc))
                self.state = "reconnecting"
            finally:
                self._client = None
                await client.close()
            await self.backoff.sleep(self.backoff.delay(attempt))
            attempt += 1

    async def _select(self, client: ImapClient) -> None:
        """Open the folder; the first time (or after UIDVALIDITY changed) the mail
        already there is left alone: only what arrives from now on is answered."""
        validity, following = await client.select(self.settings.folder)
        saved = _load(await self.cursor.load())
        self._salt = str(saved.get("salt") or "") or secrets.token_hex(8)
        if saved.get("validity") == validity and isinstance(saved.get("floor"), int):
            self._floor = int(saved["floor"])
        else:
            if saved:
                log.warning("email: %s was recreated (UIDVALIDITY changed)", self.settings.folder)
            self._floor = following
        place = {"validity": validity, "floor": self._floor, "salt": self._salt}
        if place != saved:
            await self.cursor.save(json.dumps(place))

    async def _serve(self, client: ImapClient, guard: UpdateGuard, sink: Sink) -> None:
        while True:
            await self._drain(client, guard, sink)
            if self.idle:
                if not await client.idle(self.settings.idle_seconds):
                    await client.noop()  # silent for long: is the link still there?
            else:
                await asyncio.sleep(self.settings.poll_seconds)

    async def _drain(self, client: ImapClient, guard: UpdateGuard, sink: Sink) -> None:
        """Hand every unseen mail to the gateway, then mark it seen."""
        for uid in await client.search(f"UID {max(1, self._floor)}:* UNSEEN"):
            if uid < self._floor:  # "N:*" always names the last mail
                continue
            raw = await client.fetch(uid)
            if raw is not None:
                await self._deliver(uid, raw, guard, sink)
            await client.store_seen(uid)

    async def _deliver(self, uid: int, raw: bytes, guard: UpdateGuard, sink: Sink) -> None:
        head = raw[:4000].decode("utf-8", "replace")
        found = re.search(r"(?im)^message-id:\s*(<[^>\s]+>)", head)
        update_id = found.group(1) if found else f"uid:{uid}"

        async def normalize() -> Inbound | None:
            mail = wire.parse(raw, self.address.lower())
            if mail.automated is not None:
                self.ignored += 1
                log.info(
                    "email: not answering mail %s from %s: %s",
                    mail.message_id or uid,
                    mail.sender or "?",
                    mail.automated,
                )
                return None
            return self._inbound(mail, uid)

        summary = {"uid": uid, "head": head[:1500]}
        await guard.deliver(update_id, summary, normalize, sink)

    def _inbound(self, mail: wire.Mail, uid: int) -> Inbound:
        message_id = mail.message_id or f"<uid.{uid}.{self._salt}@{self.imap.host}>"
        root = mail.root or message_id
        self._remember(message_id, mail.subject, (*mail.references, message_id))
        sender = self.spelled.get(mail.sender, mail.sender)
        text = mail.text
        if not text.startswith("/") and not mail.references and mail.subject:
            text = f"Subject: {mail.subject}\n\n{text}".strip()
        elif not text and mail.subject.startswith("/"):
            text = mail.subject
        files = tuple(
            Attachment(
                kind=wire.kind_of(p.mime),
                mime=p.mime,
                name=p.name,
                size=p.size,
                platform_file_id=str(p.index),
            )
            for p in mail.attachments
        )
        return Inbound(
            platform=self.name,
            chat=sender,
            user=sender,
            text=text,
            external_id=message_id,
            thread=wire.thread_of(root),
            user_name=mail.sender_name,
            chat_name=mail.subject or None,
            message_id=message_id,
            attachments=files,
        )

    def _remember(self, message_id: str, subject: str, refs: tuple[str, ...]) -> None:
        self._threads[message_id] = (subject, refs)
        self._threads.move_to_end(message_id)
        while len(self._threads) > REMEMBERED:
            self._threads.popitem(last=False)

    # -- a second connection for lookups ------------------------------------------------

    @contextlib.asynccontextmanager
    async def _side(self) -> AsyncIterator[ImapClient]:
        client = ImapClient(self.imap, timeout=self.settings.timeout)
        try:
            await client.connect()
            await client.login(self.address, self.password)
            yield client
        finally:
            await client.logout()

    async def _find(self, client: ImapClient, folder: str, message_id: str) -> int | None:
        """The UID of the mail with MESSAGE_ID in FOLDER, or None."""
        if '"' in message_id or "\\" in message_id:
            return None
        try:
            await client.select(folder)
        except ImapError:  # no such folder
            return None
        found = await client.search(f'HEADER Message-ID "{message_id}"')
        return found[0] if found else None

    async def fetch(self, event: Inbound) -> Inbound:
        """Save the attachments of an accepted mail into the downloads dir (the mail is
        read again: only accepted senders' files are ever written)."""
        wanted = [a for a in event.attachments if a.path is None and a.platform_file_id]
        if not wanted or event.message_id is None:
            return event
        try:
            async with self._side() as client:
                uid = await self._find(client, self.settings.folder, event.message_id)
                raw = await client.fetch(uid) if uid is not None else None
        except LINK_ERRORS as exc:
            log.warning("email: could not read the attachments again: %s", _short(exc))
            return event
        files: list[Attachment] = []
        stem = re.sub(r"[^A-Za-z0-9]+", "-", event.message_id.strip("<>"))[:60]
        for a in event.attachments:
            data = None
            if raw is not None and a.path is None and a.platform_file_id:
                data = wire.attachment_bytes(raw, int(a.platform_file_id))
            if data is None or len(data) > MAX_DOWNLOAD:
                files.append(a)
                continue
            name = re.sub(r"[^\w.\-]+", "_", a.name or a.kind).strip("._") or a.kind
            target = self.downloads / f"email-{stem}-{a.platform_file_id}-{name}"
            self.downloads.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(target.write_bytes, data)
            files.append(dataclasses.replace(a, path=str(target), size=len(data)))
        return dataclasses.replace(event, attachments=tuple(files))

    # -- sending --------------------------------------------------------------------

    async def send(self, message: Outbound) -> str:
        target, reply_to = message.target, message.reply_to_message_id
        return await self._mail(target, reply_to, message.key, message.text)

    async def send_voice(self, voice: VoiceOut) -> str:
        """The spoken reply as a mail of its own in the thread, the audio attached."""
        data = await voice_bytes(voice, self.name, MAX_AUDIO)
        text = f"A spoken reply is attached (voice.ogg, {voice.duration:.0f} s)."
        return await self._mail(voice.target, voice.reply_to_message_id, voice.key, text, data)

    async def _mail(
        self,
        target: Target,
        reply_to: str | None,
        key: str | None,
        text: str,
        audio: bytes | None = None,
    ) -> str:
        root = wire.message_id_of(target.thread) if target.thread else None
        parent = reply_to or root
        if key:
            message_id = wire.our_message_id(key, await self._home_salt(), self.address)
        else:
            domain = self.address.rsplit("@", 1)[-1]
            message_id = email.utils.make_msgid(wire.OUR_MARKER.rstrip("."), domain=domain)
        sent_folder = self.settings.sent_folder
        try:
            async with self._side() as client:
                known = self._threads.get(parent) if parent else None
                if known is None and parent:
                    known = await self._look_up(client, parent)
                resent = sent_folder and key
                if resent and await self._find(client, sent_folder, message_id) is not None:
                    log.info("email: %s was sent before (it is in %s)", message_id, sent_folder)
                    return message_id
                subject, refs = known or ("", ())
                in_reply_to, references = wire.thread_headers(parent, refs, root)
                mail = wire.compose(
                    wire.Reply(
                        sender=self.address,
                        sender_name=self.settings.from_name,
                        to=target.chat,
                        subject=wire.reply_subject(subject) if known else self.settings.subject,
                        text=text,
                        message_id=message_id,
                        in_reply_to=in_reply_to,
                        references=references,
                        key=key,
                        audio=audio,
                    )
                )
                await smtp.send(self.smtp, self.address, self.password, mail, self.settings.timeout)
                if sent_folder and self.settings.save_sent:
                    await self._keep(client, sent_folder, mail.as_bytes())
        except AuthFailed as exc:
            raise SendError(
                f"email: the IMAP server refused the login ({exc})", retryable=False
            ) from None
        except LINK_ERRORS as exc:
            raise SendError(
                f"email: the IMAP server is unreachable ({_short(exc)})", retryable=True
            ) from None
        return message_id

    async def _home_salt(self) -> str:
        """This home's salt of Message-IDs (made at the first connection)."""
        if not self._salt:
            self._salt = str(_load(await self.cursor.load()).get("salt") or "")
        if not self._salt:
            raise SendError("email: not connected to the IMAP server yet", retryable=True)
        return self._salt

    async def _look_up(self, client: ImapClient, message_id: str) -> tuple[str, tuple[str, ...]]:
        """The subject and references of a mail we answer (read from the folder when
        it is no longer remembered, e.g. after a restart)."""
        uid = await self._find(client, self.settings.folder, message_id)
        head = await client.fetch(uid, "BODY.PEEK[HEADER]") if uid is not None else None
        if head is None:
            return "", (message_id,)
        mail = wire.parse(head)
        found = (mail.subject, (*mail.references, message_id))
        self._remember(message_id, *found)
        return found

    async def _keep(self, client: ImapClient, folder: str, data: bytes) -> None:
        """Append a sent mail to FOLDER (created if missing). The mail went out: a
        failure here is logged, not raised."""
        try:
            await client.append(folder, data)
        except ImapError:
            try:
                await client.create(folder)
                await client.append(folder, data)
            except LINK_ERRORS as exc:
                log.warning("email: sent, but could not keep a copy in %s: %s", folder, _short(exc))
        except LINK_ERRORS as exc:
            log.warning("email: sent, but could not keep a copy in %s: %s", folder, _short(exc))

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()
        if not self.state.startswith("failed"):
            self.state = "stopped"


def _load(raw: str | None) -> dict[str, Any]:
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
