"""Telegram: long-polls the Bot API with python-telegram-bot's `Bot` and normalizes updates.

We run our own getUpdates loop instead of PTB's Application/Updater because of
the acknowledging contract: an update is confirmed to Telegram (the next
getUpdates offset moves past it) only after `await sink(event)` returned, so a
gateway killed between receiving and storing gets the update again. The offset
lives in an `OffsetStore` the gateway persists (state.db kv).

Updates are read as plain Bot API JSON (`Update.to_dict()`): the normalizing
code then follows the public API docs and not PTB's object model.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from hermes.gateway.adapters.base import Adapter, AdapterUnavailable, SendError, Sink, require
from hermes.gateway.events import Attachment, Capabilities, Inbound, Outbound, Target
from hermes.providers.http import Backoff

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.request import BaseRequest

    from hermes.context import Profile
    from hermes.store import Store

log = logging.getLogger("hermes.gateway.telegram")
JSON = dict[str, Any]
MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API serves no bigger files
REPLY_CUT = 200  # characters of a replied-to message the agent sees
ALLOWED_UPDATES = ["message", "callback_query"]
TOKEN_FIX = "check TELEGRAM_BOT_TOKEN (from @BotFather) and telegram.base_url"
# Status codes PTB already turns into a specific error; other 4xx become BadRequest.
_MAPPED_4XX = frozenset({400, 401, 403, 404, 409, 429})


class OffsetStore(Protocol):
    """Where the getUpdates offset survives restarts (the gateway's state.db kv)."""

    async def load(self) -> int | None: ...

    async def save(self, offset: int) -> None: ...


class MemoryOffsets:
    """An OffsetStore that forgets on restart (tests, or no store given)."""

    def __init__(self, offset: int | None = None) -> None:
        self.offset = offset

    async def load(self) -> int | None:
        return self.offset

    async def save(self, offset: int) -> None:
        self.offset = offset


class KvOffsets:
    """The offset in state.db's kv table. Update ids count per bot, so the key names
    the bot: a new token must not skip updates below the old bot's offset."""

    def __init__(self, store: Store, token: str) -> None:
        self.store = store
        self.key = f"telegram.offset.{token.split(':', 1)[0]}"

    async def load(self) -> int | None:
        from hermes.store import gateway_ops

        raw = await self.store.run(gateway_ops.kv_get, self.key)
        return int(raw) if raw else None

    async def save(self, offset: int) -> None:
        from hermes.store import gateway_ops

        await self.store.run(gateway_ops.kv_set, self.key, str(offset))


class TelegramAdapter(Adapter):
    name = "telegram"
    capabilities = Capabilities(
        max_length=4096, can_edit=True, edit_interval=1.0, buttons=True, threads=True
    )

    def __init__(
        self,
        token: str,
        *,
        downloads: Path,
        base_url: str = "https://api.telegram.org",
        require_mention: bool = False,
        offset_store: OffsetStore | None = None,
        poll_timeout: int = 25,
        backoff: Backoff | None = None,
    ) -> None:
        require("telegram", "telegram")
        self.token = token
        self.base_url = base_url.rstrip("/")  # the root; PTB adds /bot<token>/<method>
        self.downloads = downloads
        self.require_mention = require_mention
        self.offset_store: OffsetStore = offset_store or MemoryOffsets()
        self.poll_timeout = poll_timeout  # seconds a getUpdates call waits for news
        self.backoff = backoff or Backoff(base=1.0, cap=60.0)
        self.state = "starting"
        self._bot: Bot | None = None
        self._requests: list[BaseRequest] = []
        self._me: JSON | None = None  # {"id", "username"} from getMe

    @staticmethod
    def from_profile(
        profile: Profile, offset_store: OffsetStore | None = None
    ) -> TelegramAdapter | None:
        """The profile's Telegram adapter, or None when TELEGRAM_BOT_TOKEN is not set."""
        token = profile.env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            return None
        settings = profile.settings.telegram
        return TelegramAdapter(
            token,
            base_url=profile.env.get("TELEGRAM_API_BASE_URL") or settings.base_url,
            downloads=profile.workspace / "inbox",
            require_mention=settings.require_mention,
            offset_store=offset_store,
        )

    def _client(self) -> Bot:
        if self._bot is None:
            from telegram import Bot

            self._requests = [_request(), _request(read_timeout=10.0)]
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

        bot = self._client()
        offset = await self.offset_store.load()
        attempt = 0
        while True:
            try:
                if self._me is None:
                    await self._connect(bot)
                updates = await bot.get_updates(
                    offset=offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES
                )
                self.state, attempt = "connected", 0
                for update in updates:
                    event = await self._normalize(bot, update.to_dict())
                    if event is not None:
                        await sink(event)
                    offset = update.update_id + 1  # acknowledged by the next getUpdates
                    await self.offset_store.save(offset)
            except (tg.InvalidToken, tg.Conflict) as exc:
                reason = _fatal_reason(exc)
                self.state = f"failed: {reason}"
                raise AdapterUnavailable(f"telegram: {reason}") from exc
            except Exception as exc:
                retry_after = _retry_seconds(exc) if isinstance(exc, tg.RetryAfter) else None
                self.state = "reconnecting"
                if isinstance(exc, tg.TelegramError):
                    log.warning("telegram: %s; retrying", exc.message)
                else:
                    log.exception("telegram: handling an update failed; retrying")
                await self.backoff.sleep(self.backoff.delay(attempt, retry_after))
                attempt += 1

    async def _connect(self, bot: Bot) -> None:
        me = await bot.get_me()
        await bot.delete_webhook()  # getUpdates is refused while a webhook is set
        self._me = {"id": me.id, "username": me.username or ""}
        self.state = "connected"

    async def _normalize(self, bot: Bot, update: JSON) -> Inbound | None:
        """One update -> Inbound, or None for what the gateway does not handle
        (edits, service messages, stickers, group chatter without a mention)."""
        if query := update.get("callback_query"):
            return _button_press(query)
        message = update.get("message")
        if not message:
            return None
        me = self._me or {}
        sender, chat = message.get("from") or {}, message["chat"]
        text = message.get("text") or message.get("caption") or ""
        media = _media(message)
        if sender.get("id") == me.get("id") or not (text or media):
            return None
        reply_to, to_bot = _replied(message, me.get("id"))
        mentioned, text = _strip_mention(text, message, me)
        is_group = chat.get("type") in ("group", "supergroup")
        addressed = mentioned or to_bot or text.startswith("/")  # commands name bots anyway
        if self.require_mention and is_group and not addressed:
            return None
        files = [await self._download(bot, message, *item) for item in media]
        return Inbound(
            platform=self.name,
            chat=str(chat["id"]),
            user=str(sender.get("id", chat["id"])),
            text=text,
            external_id=str(update["update_id"]),
            thread=_thread(message),
            user_name=_display(sender),
            chat_name=chat.get("title") or _display(chat),
            is_group=is_group,
            message_id=str(message["message_id"]),
            reply_to=reply_to,
            attachments=tuple(files),
            mentions_bot=mentioned or to_bot,
        )

    async def _download(self, bot: Bot, message: JSON, kind: str, info: JSON) -> Attachment:
        """Fetch a file into the downloads dir. Files too big or refused by Telegram stay
        undownloaded; network trouble raises, so the update is fetched again later."""
        from telegram import error as tg

        voice = "voice" in message
        name, size = info.get("file_name"), info.get("file_size")
        path: str | None = None
        if size is None or size <= MAX_DOWNLOAD:
            try:
                file = await bot.get_file(info["file_id"])
                if (file.file_size or 0) <= MAX_DOWNLOAD:
                    suffix = PurePosixPath(file.file_path or "").suffix
                    base = _safe(name) if name else f"{'voice' if voice else kind}{suffix}"
                    unique = f"telegram-{message['chat']['id']}-{message['message_id']}"
                    target = self.downloads / f"{unique}-{base}"
                    self.downloads.mkdir(parents=True, exist_ok=True)
                    await file.download_to_drive(target)
                    path, size = str(target), target.stat().st_size
            except (tg.BadRequest, tg.Forbidden, tg.InvalidToken) as exc:
                log.warning("telegram: could not download a %s: %s", kind, exc.message)
        duration = info.get("duration")
        return Attachment(
            kind=kind,
            path=path,
            mime=info.get("mime_type") or ("image/jpeg" if "photo" in message else None),
            name=name,
            size=size,
            duration=float(duration) if duration is not None else None,
            voice=voice,
            platform_file_id=info.get("file_id"),
        )

    # -- sending --------------------------------------------------------------------

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
            sent = await self._client().send_message(
                chat_id=_chat_id(message.target),
                text=message.text,
                message_thread_id=int(thread) if thread else None,
                reply_parameters=reply,
                reply_markup=markup,
            )
        except Exception as exc:
            raise _send_error(exc) from exc
        return str(sent.message_id)

    async def edit(self, target: Target, message_id: str, text: str) -> None:
        try:
            await self._client().edit_message_text(
                text, chat_id=_chat_id(target), message_id=int(message_id)
            )
        except Exception as exc:
            if "not modified" in str(exc).lower():
                return  # the message already shows this text
            raise _send_error(exc) from exc

    async def acknowledge(self, event: Inbound, text: str | None = None) -> None:
        if not event.callback_id:
            return
        try:
            await self._client().answer_callback_query(event.callback_id, text=text)
        except Exception as exc:
            if "query is too old" in str(exc).lower():
                return  # nothing left to acknowledge
            raise _send_error(exc) from exc

    async def close(self) -> None:
        for request in self._requests:
            await request.shutdown()
        self._requests, self._bot = [], None
        if not self.state.startswith("failed"):
            self.state = "stopped"


# -- normalizing helpers (plain Bot API JSON) ------------------------------------------


def _display(who: JSON) -> str | None:
    name = " ".join(p for p in (who.get("first_name"), who.get("last_name")) if p)
    return name or who.get("username") or None


def _thread(message: JSON) -> str | None:
    """Forum topics only: in plain groups message_thread_id marks a reply chain."""
    thread = message.get("message_thread_id")
    return str(thread) if thread and message.get("is_topic_message") else None


def _media(message: JSON) -> list[tuple[str, JSON]]:
    if voice := message.get("voice"):
        return [("audio", voice)]
    if photos := message.get("photo"):
        return [("image", max(photos, key=lambda p: p.get("width", 0) * p.get("height", 0)))]
    for key, kind in (("audio", "audio"), ("video", "video"), ("video_note", "video")):
        if info := message.get(key):
            return [(kind, info)]
    if document := message.get("document"):
        mime = str(document.get("mime_type") or "")
        kinds = {"image": "image", "audio": "audio", "video": "video"}
        return [(kinds.get(mime.split("/")[0], "file"), document)]
    return []


def _replied(message: JSON, bot_id: Any) -> tuple[str | None, bool]:
    """The replied-to text (cut) and whether it was the bot's message. In forum topics
    a plain message "replies" to the topic's creation: that is no reply."""
    original = message.get("reply_to_message")
    if not original or "forum_topic_created" in original:
        return None, False
    if message.get("is_topic_message") and original.get("message_id") == message.get(
        "message_thread_id"
    ):
        return None, False
    quote = (message.get("quote") or {}).get("text")
    text = quote or original.get("text") or original.get("caption") or ""
    if not text and original.get("voice"):
        text = "[voice note]"
    if len(text) > REPLY_CUT:
        text = text[: REPLY_CUT - 1].rstrip() + "…"
    return text or None, (original.get("from") or {}).get("id") == bot_id


def _strip_mention(text: str, message: JSON, me: JSON) -> tuple[bool, str]:
    """Whether the bot is mentioned (@name, /cmd@name, or a text mention of it), and the
    text without its @name."""
    username = me.get("username")
    mentioned = any(
        e.get("type") == "text_mention" and (e.get("user") or {}).get("id") == me.get("id")
        for e in message.get("entities") or message.get("caption_entities") or ()
    )
    if not username:
        return mentioned, text
    name = re.escape(username)
    command = re.compile(rf"^(/\w+)@{name}\b", re.IGNORECASE)
    at = re.compile(rf"(?<![\w@])@{name}\b[,:]?", re.IGNORECASE)
    stripped, n_cmd = command.subn(r"\1", text)
    stripped, n_at = at.subn("", stripped)
    stripped = re.sub(r"[ \t]{2,}", " ", stripped).strip()
    return mentioned or bool(n_cmd or n_at), stripped or text


def _button_press(query: JSON) -> Inbound | None:
    message, data = query.get("message") or {}, query.get("data")
    chat = message.get("chat")
    if not chat or data is None:  # inline-mode messages and games are not ours
        return None
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    labels = [b.get("text") for row in rows for b in row if b.get("callback_data") == data]
    sender = query.get("from") or {}
    return Inbound(
        platform="telegram",
        chat=str(chat["id"]),
        user=str(sender.get("id", chat["id"])),
        text=labels[0] if labels else data,
        external_id=f"cb:{query['id']}",
        thread=_thread(message),
        user_name=_display(sender),
        chat_name=chat.get("title") or _display(chat),
        is_group=chat.get("type") in ("group", "supergroup"),
        message_id=str(message["message_id"]),
        mentions_bot=True,
        callback_data=data,
        callback_id=str(query["id"]),
    )


def _safe(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name).strip("._")[:80] or "file"


# -- errors -----------------------------------------------------------------------------


def _chat_id(target: Target) -> int | str:
    chat = target.chat
    return int(chat) if re.fullmatch(r"-?\d+", chat) else chat


def _retry_seconds(exc: Any) -> float:
    with warnings.catch_warnings():  # PTB warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def _fatal_reason(exc: Exception) -> str:
    from telegram import error as tg

    if isinstance(exc, tg.Conflict):
        detail = exc.message.removeprefix("Conflict: ")
        return (
            f"another program is polling this bot token ({detail}): stop the other bot "
            "or gateway that uses this TELEGRAM_BOT_TOKEN"
        )
    return f"Telegram rejected the bot token ({exc}): {TOKEN_FIX}"


def _send_error(exc: Exception) -> SendError:
    """Retryable: Telegram is down, slow or rate-limiting. Not: the request can never work."""
    from telegram import error as tg

    if isinstance(exc, tg.RetryAfter):
        seconds = _retry_seconds(exc)
        return SendError(
            f"Telegram rate limit: retry in {seconds:g} s", retryable=True, retry_after=seconds
        )
    if isinstance(exc, tg.BadRequest | tg.Forbidden):
        return SendError(f"Telegram refused the message: {exc.message}", retryable=False)
    if isinstance(exc, tg.InvalidToken):
        return SendError(f"Telegram rejected the bot token: {TOKEN_FIX}", retryable=False)
    if isinstance(exc, tg.ChatMigrated):
        return SendError(
            f"the Telegram group moved: send to telegram:{exc.new_chat_id}", retryable=False
        )
    if isinstance(exc, tg.TimedOut):
        return SendError("Telegram did not answer in time", retryable=True)
    if isinstance(exc, tg.TelegramError):
        return SendError(f"Telegram is unreachable: {exc.message}", retryable=True)
    if isinstance(exc, ValueError):  # a thread or message id that is not a number
        return SendError(f"bad Telegram target: {exc}", retryable=False)
    raise exc


def _request(read_timeout: float = 5.0) -> BaseRequest:
    """PTB's HTTPX transport, except that a 4xx PTB has no error class for (413, 414, ...)
    is a BadRequest (never worth retrying) instead of a NetworkError."""
    import json

    from telegram.error import BadRequest
    from telegram.request import HTTPXRequest

    class StrictRequest(HTTPXRequest):
        async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
            code, payload = await super().do_request(*args, **kwargs)
            if 400 <= code < 500 and code not in _MAPPED_4XX:
                try:
                    description = str(json.loads(payload).get("description"))
                except (ValueError, AttributeError):
                    description = f"HTTP {code}"
                raise BadRequest(description)
            return code, payload

    return StrictRequest(read_timeout=read_timeout, connection_pool_size=8)
