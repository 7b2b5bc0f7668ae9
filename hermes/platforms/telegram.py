"""Telegram: long-polls the Bot API with python-telegram-bot's `Bot` and normalizes updates.

We run our own getUpdates loop instead of PTB's Application/Updater because of
the acknowledging contract: an update is confirmed to Telegram (the next
getUpdates offset moves past it) only after `await sink(event)` returned, so a
gateway killed between receiving and storing gets the update again. The offset
lives in a `Cursor` the gateway persists (state.db kv, hermes/gateway/cursors.py).

Updates are read as plain Bot API JSON (getUpdates through PTB's request object,
not `Bot.get_updates`, whose parsing of a whole batch fails on one odd update):
the normalizing code follows the public API docs and not PTB's object model.
Each update goes through adapter.UpdateGuard: one that cannot be read or handled
is recorded in `dead_letters` and skipped; the gateway being down never skips one.

While the Bot API is unreachable the adapter is `reconnecting` and tries again
every few seconds (the backoff is capped at `RECONNECT_CAP`), so it is back
within seconds of Telegram.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from hermes.aio import within
from hermes.gateway.events import Attachment, Inbound, Outbound, Target, VoiceOut
from hermes.platforms import telegram_check
from hermes.platforms import telegram_wire as wire
from hermes.platforms.adapter import (
    Adapter,
    AdapterUnavailable,
    DeadLetters,
    Malformed,
    MemoryCursor,
    MemoryDeadLetters,
    Sink,
    UpdateGuard,
    describe,
    require,
)
from hermes.platforms.render_html import html_text
from hermes.platforms.spec import Build, Capabilities, Credential, Cursor, Platform, section
from hermes.providers.http import Backoff
from hermes.settings import bounded, profile_name

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.request import BaseRequest


log = logging.getLogger("hermes.gateway.telegram")
T = TypeVar("T")
JSON = dict[str, Any]
MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API serves no bigger files
ALLOWED_UPDATES = ["message", "callback_query"]
TOKEN_FIX = "check TELEGRAM_BOT_TOKEN (from @BotFather) and telegram.base_url"
RECONNECT_CAP = 3.0  # seconds between tries while Telegram is unreachable, at most
CONFLICT_WAIT = 60.0  # another poller holds the token: look again this often
WATCHDOG = 75.0  # seconds without any getUpdates answer before getMe probes the link
# (a poll answers within 25 s; the probe takes at most 10 s: a deaf link is rebuilt in < 90 s)


@dataclass
class TelegramSettings:
    """The `telegram:` section of config.yaml."""

    # CHAT[:THREAD] -> profile: the flat form of gateway.profile_routes.telegram
    topic_profiles: dict[str, str] = field(
        default_factory=dict, metadata={"each_leaf": profile_name}
    )
    base_url: str = "https://api.telegram.org"
    require_mention: bool = False
    # getUpdates silent this long (no updates, no empty answer): probe with getMe, and
    # if that fails too, drop the HTTP connections and connect anew
    watchdog_seconds: float = bounded(WATCHDOG, 2, 3600)


# Telegram counts its 4096 in UTF-16 code units (an emoji is 2)
CAPABILITIES = Capabilities(
    max_length=4096,
    length_unit="utf16",
    markup="telegram_html",
    can_edit=True,
    edit_interval=1.0,
    buttons=True,
    threads=True,
    voice_notes=True,
    audio_out=True,
)


class TelegramAdapter(Adapter):
    name = "telegram"
    capabilities = CAPABILITIES

    def __init__(
        self,
        token: str,
        *,
        downloads: Path,
        base_url: str = "https://api.telegram.org",
        require_mention: bool = False,
        cursor: Cursor | None = None,
        dead_letters: DeadLetters | None = None,
        poll_timeout: int = 25,
        backoff: Backoff | None = None,
        retry: Backoff | None = None,
        conflict_wait: float = CONFLICT_WAIT,
        watchdog: float = WATCHDOG,
    ) -> None:
        require("telegram", "telegram")
        self.token = token
        self.base_url = base_url.rstrip("/")  # the root; PTB adds /bot<token>/<method>
        self.downloads = downloads
        self.require_mention = require_mention
        self.cursor: Cursor = cursor or MemoryCursor()  # the getUpdates offset, as text
        self.dead_letters: DeadLetters = dead_letters or MemoryDeadLetters()
        self.poll_timeout = poll_timeout  # seconds a getUpdates call waits for news
        # reconnecting (and waiting for a busy gateway): never more than a few seconds
        self.backoff = backoff or Backoff(base=0.5, cap=RECONNECT_CAP)
        self.retry = retry  # between tries of an update that fails (UpdateGuard's default)
        self.conflict_wait = conflict_wait
        self.watchdog = watchdog
        self._next_probe = 0.0  # time.monotonic() at which silence is probed
        self.state = "starting"
        self._bot: Bot | None = None
        self._requests: list[BaseRequest] = []
        self._me: JSON | None = None  # {"id", "username"} from getMe

    def _client(self) -> Bot:
        if self._bot is None:
            from telegram import Bot

            self._requests = [wire.request(), wire.request(read_timeout=10.0)]
            self._bot = Bot(
                self.token,
                base_url=f"{self.base_url}/bot",
                base_file_url=f"{self.base_url}/file/bot",
                request=self._requests[0],
                get_updates_request=self._requests[1],
            )
        return self._bot

    # -- receiving ------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        from telegram import error as tg

        guard = UpdateGuard(self.name, self.dead_letters, retry=self.retry, wait=self.backoff)
        offset = await self._load_offset()
        attempt, down_since = 0, 0.0
        self._next_probe = time.monotonic() + self.watchdog
        while True:
            try:
                if self._me is None:
                    await self._connect(self._client())  # a new one after a rebuild
                updates = await self._watched_poll(offset)
            except tg.InvalidToken as exc:
                reason = wire.fatal_reason(exc)
                self.state = f"failed: {reason}"
                raise AdapterUnavailable(f"telegram: {reason}") from exc
            except tg.Conflict as exc:  # another poller: wait it out, it may stop
                reason = wire.fatal_reason(exc)
                if not self.state.startswith("conflict"):
                    log.error("telegram: %s; retrying until it stops", reason)
                self.state = f"conflict: {reason}"
                await self.backoff.sleep(self.conflict_wait)  # polling would kick it off
                attempt += 1
                continue
            except Exception as exc:
                retry_after = wire.retry_seconds(exc) if isinstance(exc, tg.RetryAfter) else None
                if self.state != "reconnecting":  # one line per outage, not per try
                    down_since = time.monotonic()
                    if isinstance(exc, tg.TelegramError):
                        log.warning("telegram: %s; reconnecting", exc.message)
                    else:
                        log.warning("telegram: polling failed; reconnecting", exc_info=exc)
                self.state = "reconnecting"
                await self.backoff.sleep(self.backoff.delay(attempt, retry_after))
                attempt += 1
                continue
            if self.state == "reconnecting":
                log.info("telegram: connected again after %.0f s", time.monotonic() - down_since)
            self.state, attempt = "connected", 0
            before = offset
            for update in updates:
                number = wire.update_id(update)
                key = str(number) if number is not None else wire.fingerprint(update)
                await guard.deliver(key, update, _normalizer(self, update), sink)
                if number is not None and (offset is None or number >= offset):
                    offset = number + 1  # acknowledged by the next getUpdates
                    await self._save_offset(offset)
            if updates and offset == before:  # only updates without an id: none to confirm
                await self.backoff.sleep(self.backoff.cap)

    async def _watched_poll(self, offset: int | None) -> list[Any]:
        """`_poll`, watched: when getUpdates has not answered for `watchdog` seconds
        (counted across failed polls), getMe probes the link; if that fails too, the
        HTTP connections are closed and rebuilt, and polling starts over."""
        from telegram.error import NetworkError

        poll = asyncio.ensure_future(self._poll(offset))
        try:
            while True:
                wait = max(0.0, self._next_probe - time.monotonic())
                done, _ = await asyncio.wait({poll}, timeout=wait)
                if done:
                    result = poll.result()  # raises what the poll raised
                    self._next_probe = time.monotonic() + self.watchdog
                    return result
                alive = await self._probe()
                self._next_probe = time.monotonic() + self.watchdog
                if not alive:
                    break
        finally:
            if not poll.done():
                poll.cancel()
                await asyncio.gather(poll, return_exceptions=True)
        await self._rebuild()
        raise NetworkError(
            f"getUpdates silent for over {self.watchdog:.0f} s and getMe failed too; "
            "connecting anew"
        )

    async def _probe(self) -> bool:
        """Does Telegram answer getMe? A revoked token raises (the adapter fails)."""
        from telegram import error as tg

        try:
            await within(self._client().get_me(), min(10.0, self.watchdog))
            return True
        except tg.InvalidToken:
            raise
        except Exception as exc:
            log.info("telegram: getMe probe failed (%s)", describe(exc))
            return False

    async def _rebuild(self) -> None:
        """Close the HTTP clients fully; the next call builds new ones (and getMe)."""
        old, self._requests, self._bot, self._me = self._requests, [], None, None
        for request in old:
            try:
                await request.shutdown()
            except Exception as exc:
                log.info("telegram: closing a stale connection: %s", describe(exc))

    async def _poll(self, offset: int | None) -> list[Any]:
        """One getUpdates call: the updates as plain JSON, however odd each one is."""
        from urllib.parse import urlencode

        from telegram.error import NetworkError

        query: dict[str, Any] = {
            "timeout": self.poll_timeout,
            "allowed_updates": json.dumps(ALLOWED_UPDATES),
        }
        if offset is not None:
            query["offset"] = offset
        url = f"{self.base_url}/bot{self.token}/getUpdates?{urlencode(query)}"
        self._client()  # built anew after a rebuild
        request = self._requests[1]
        read_timeout = (request.read_timeout or 0.0) + self.poll_timeout
        result = await request.post(url, read_timeout=read_timeout)
        if not isinstance(result, list):
            raise NetworkError(f"getUpdates answered {type(result).__name__}, not a list")
        return result

    async def _load_offset(self) -> int | None:
        raw = await self.cursor.load()
        try:
            return int(raw) if raw else None
        except ValueError:  # not ours: start from what Telegram still holds
            log.warning("telegram: ignoring a stored update offset that is not a number")
            return None

    async def _save_offset(self, offset: int) -> None:
        """A lost save only means updates come again after a restart (stored ones are
        dropped as duplicates), so it never stops the stream."""
        try:
            await self.cursor.save(str(offset))
        except Exception as exc:
            log.warning("telegram: could not save the update offset (%s)", exc)

    async def _connect(self, bot: Bot) -> None:
        me = await bot.get_me()
        await bot.delete_webhook()  # getUpdates is refused while a webhook is set
        self._me = {"id": me.id, "username": me.username or ""}
        self.state = "connected"

    async def _normalize(self, update: Any) -> Inbound | None:
        """One update -> Inbound, or None for what the gateway does not handle
        (edits, channel posts, service messages, stickers, kinds added to the Bot API
        later, group chatter without a mention). Raises Malformed for an update that
        breaks the documented shape."""
        if not isinstance(update, dict):
            raise Malformed("the update is not a JSON object")
        if wire.update_id(update) is None:
            raise Malformed("the update has no update_id")
        if update.get("callback_query") is not None:
            return wire.button_press(wire.check_query(update["callback_query"]))
        if update.get("message") is None:
            return None
        message = wire.check_message(update["message"])
        me = self._me or {}
        sender, chat = message.get("from") or {}, message["chat"]
        text = message.get("text") or message.get("caption") or ""
        media = wire.media(message)
        if sender.get("id") == me.get("id") or not (text or media):
            return None
        reply_to, to_bot = wire.replied(message, me.get("id"))
        mentioned, text = wire.strip_mention(text, message, me)
        is_group = chat.get("type") in ("group", "supergroup")
        addressed = mentioned or to_bot or text.startswith("/")  # commands name bots anyway
        if self.require_mention and is_group and not addressed:
            return None
        files = [wire.attachment(message, kind, info) for kind, info in media]
        return Inbound(
            platform=self.name,
            chat=str(chat["id"]),
            user=str(sender.get("id", chat["id"])),
            text=text,
            external_id=str(update["update_id"]),
            thread=wire.thread(message),
            user_name=wire.display(sender),
            chat_name=chat.get("title") or wire.display(chat),
            is_group=is_group,
            message_id=str(message["message_id"]),
            reply_to=reply_to,
            attachments=tuple(files),
            mentions_bot=mentioned or to_bot,
        )

    async def fetch(self, event: Inbound) -> Inbound:
        """Download the attachments of an accepted message into the downloads dir.
        Only accepted senders get here, so strangers cannot fill the disk. A file too
        big or refused by Telegram, or a network failure, leaves it undownloaded."""
        from telegram import error as tg

        bot = self._client()
        files: list[Attachment] = []
        for a in event.attachments:
            if a.path is not None or a.platform_file_id is None:
                files.append(a)
                continue
            path, size = None, a.size
            if size is None or size <= MAX_DOWNLOAD:
                try:
                    file = await bot.get_file(a.platform_file_id)
                    if (file.file_size or 0) <= MAX_DOWNLOAD:
                        suffix = PurePosixPath(file.file_path or "").suffix
                        base = (
                            wire.safe(a.name)
                            if a.name
                            else f"{'voice' if a.voice else a.kind}{suffix}"
                        )
                        unique = f"telegram-{event.chat}-{event.message_id}"
                        target = self.downloads / f"{unique}-{base}"
                        self.downloads.mkdir(parents=True, exist_ok=True)
                        await file.download_to_drive(target)
                        path, size = str(target), target.stat().st_size
                except tg.TelegramError as exc:
                    log.warning("telegram: could not download a %s: %s", a.kind, exc.message)
            files.append(dataclasses.replace(a, path=path, size=size))
        return dataclasses.replace(event, attachments=tuple(files))

    async def send(self, message: Outbound) -> str:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters

        markup = None
        if message.buttons:
            rows = [
                [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
                for row in message.buttons
            ]
            markup = InlineKeyboardMarkup(rows)
        try:
            reply = None
            if message.reply_to_message_id:
                reply = ReplyParameters(
                    int(message.reply_to_message_id), allow_sending_without_reply=True
                )
            thread = message.target.thread
            sent = await _formatted(
                lambda text, mode: self._client().send_message(
                    chat_id=wire.chat_id(message.target),
                    text=text,
                    parse_mode=mode,
                    message_thread_id=int(thread) if thread else None,
                    reply_parameters=reply,
                    reply_markup=markup,
                ),
                message.text,
            )
        except Exception as exc:
            raise wire.send_error(exc) from exc
        return str(sent.message_id)

    async def send_voice(self, voice: VoiceOut) -> str:
        try:
            sent = await self._client().send_voice(**wire.voice_call(voice), write_timeout=60)
        except Exception as exc:
            raise wire.send_error(exc) from exc
        return str(sent.message_id)

    async def edit(self, target: Target, message_id: str, text: str) -> None:
        try:
            await _formatted(
                lambda text, mode: self._client().edit_message_text(
                    text, chat_id=wire.chat_id(target), message_id=int(message_id), parse_mode=mode
                ),
                text,
            )
        except Exception as exc:
            if "not modified" in str(exc).lower():
                return  # the message already shows this text
            raise wire.send_error(exc) from exc

    async def acknowledge(self, event: Inbound, text: str | None = None) -> None:
        if not event.callback_id:
            return
        try:
            await self._client().answer_callback_query(event.callback_id, text=text)
        except Exception as exc:
            if "query is too old" in str(exc).lower():
                return  # nothing left to acknowledge
            raise wire.send_error(exc) from exc

    async def close(self) -> None:
        for request in self._requests:
            await request.shutdown()
        self._requests, self._bot = [], None
        if not self.state.startswith("failed"):
            self.state = "stopped"


async def _formatted(call: Callable[[str, str | None], Awaitable[T]], html: str) -> T:
    """Send HTML (the courier renders replies into Telegram's HTML); if Telegram
    refuses its formatting, send it once more as plain text: a reply is never
    lost to formatting."""
    try:
        return await call(html, "HTML")
    except Exception as exc:
        if "can't parse entities" not in str(exc).lower():
            raise
        log.warning("telegram refused a message's formatting (%s); sending it as plain text", exc)
        return await call(html_text(html), None)


def _normalizer(adapter: TelegramAdapter, update: Any) -> Callable[[], Awaitable[Inbound | None]]:
    async def normalize() -> Inbound | None:
        return await adapter._normalize(update)

    return normalize


def offset_key(token: str) -> str:
    """The Cursor key of a bot's getUpdates offset. Update ids count per bot, so the
    key names the bot: a new token must not skip updates below the old bot's offset."""
    return f"telegram.offset.{token.split(':', 1)[0]}"


def build(spec: Build) -> TelegramAdapter:
    """The profile's Telegram adapter (the gateway builds it when TELEGRAM_BOT_TOKEN is set)."""
    profile = spec.profile
    token = profile.env.get("TELEGRAM_BOT_TOKEN", "").strip()
    settings: TelegramSettings = section(profile.settings, PLATFORM)
    return TelegramAdapter(
        token,
        base_url=profile.env.get("TELEGRAM_API_BASE_URL") or settings.base_url,
        downloads=profile.workspace / "inbox",
        require_mention=settings.require_mention,
        cursor=spec.cursor(offset_key(token)) if spec.cursor is not None else None,
        dead_letters=spec.dead_letters,
        watchdog=float(settings.watchdog_seconds),
    )


PLATFORM = Platform(
    name="telegram",
    title="Telegram",
    required=("TELEGRAM_BOT_TOKEN",),
    how="set TELEGRAM_BOT_TOKEN (a bot token from @BotFather)",
    build=build,
    capabilities=CAPABILITIES,
    credentials=(Credential("TELEGRAM_BOT_TOKEN", "the Telegram bot token"),),
    optional=("TELEGRAM_ALLOWED_USERS", "TELEGRAM_API_BASE_URL"),
    settings=TelegramSettings,
    extra="telegram",
    flat_routes="topic_profiles",
    check=telegram_check.check,
)
