"""Telegram's wire format: normalizing Bot API JSON and mapping PTB's errors.

Pure helpers of hermes/platforms/telegram.py (no state, no network).
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes.gateway.events import Attachment, Inbound, Target, VoiceOut
from hermes.platforms.adapter import Malformed, SendError, json_object

if TYPE_CHECKING:
    from telegram.request import BaseRequest

JSON = dict[str, Any]
REPLY_CUT = 200  # characters of a replied-to message the agent sees
TOKEN_FIX = "check TELEGRAM_BOT_TOKEN (from @BotFather) and telegram.base_url"
# Status codes PTB already turns into a specific error; other 4xx become BadRequest.
_MAPPED_4XX = frozenset({400, 401, 403, 404, 409, 429})
# Telegram sends at most 4096 characters of text (1024 of caption); far more is no
# message from Telegram (and would only fill the model's context).
MAX_TEXT = 4 * 4096


# -- the documented shape (https://core.telegram.org/bots/api#update) -------------------


def update_id(update: Any) -> int | None:
    """The update's id, if it has a valid one."""
    if isinstance(update, dict):
        value = update.get("update_id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(parent: JSON, key: str, what: str) -> None:
    value = parent.get(key)
    if not _is_int(value):
        raise Malformed(f"{what}.{key} is {'missing' if value is None else 'not a number'}")


def _chat(message: JSON, what: str) -> None:
    chat = json_object(message.get("chat"), f"{what}.chat")
    _integer(chat, "id", f"{what}.chat")
    if not isinstance(chat.get("type", ""), str):
        raise Malformed(f"{what}.chat.type is not a string")


def check_message(value: Any) -> JSON:
    """The message if it has the fields we rely on with their documented types;
    raises Malformed (naming the field) otherwise."""
    message = json_object(value, "message")
    _integer(message, "message_id", "message")
    _chat(message, "message")
    sender = message.get("from")
    if sender is not None:  # optional: channels and anonymous admins have none
        _integer(json_object(sender, "message.from"), "id", "message.from")
    for key in ("text", "caption"):
        text = message.get(key)
        if text is not None and not isinstance(text, str):
            raise Malformed(f"message.{key} is not a string")
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise Malformed(
                f"message.{key} has {len(text)} characters (Telegram sends at most 4096)"
            )
    for key in ("entities", "caption_entities"):
        entities = message.get(key)
        if entities is not None and not (
            isinstance(entities, list) and all(isinstance(e, dict) for e in entities)
        ):
            raise Malformed(f"message.{key} is not a list of objects")
    thread_id = message.get("message_thread_id")
    if thread_id is not None and not _is_int(thread_id):
        raise Malformed("message.message_thread_id is not a number")
    reply = message.get("reply_to_message")
    if reply is not None:
        original = json_object(reply, "message.reply_to_message")
        author = original.get("from")
        if author is not None:
            json_object(author, "message.reply_to_message.from")
    return message


def check_query(value: Any) -> JSON:
    """A callback_query with what button_press relies on; raises Malformed otherwise."""
    query = json_object(value, "callback_query")
    if not isinstance(query.get("id"), str | int) or isinstance(query.get("id"), bool):
        raise Malformed("callback_query.id is missing")
    sender = query.get("from")
    if sender is not None:
        _integer(json_object(sender, "callback_query.from"), "id", "callback_query.from")
    data = query.get("data")
    if data is not None and not isinstance(data, str):
        raise Malformed("callback_query.data is not a string")
    message = query.get("message")
    if message is not None:  # absent for inline-mode messages: not ours, ignored
        message = json_object(message, "callback_query.message")
        _integer(message, "message_id", "callback_query.message")
        _chat(message, "callback_query.message")
    return query


# -- normalizing helpers (plain Bot API JSON) ------------------------------------------


def display(who: JSON) -> str | None:
    name = " ".join(p for p in (who.get("first_name"), who.get("last_name")) if p)
    return name or who.get("username") or None


def thread(message: JSON) -> str | None:
    """Forum topics only: in plain groups message_thread_id marks a reply chain."""
    thread = message.get("message_thread_id")
    return str(thread) if thread and message.get("is_topic_message") else None


def media(message: JSON) -> list[tuple[str, JSON]]:
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


def replied(message: JSON, bot_id: Any) -> tuple[str | None, bool]:
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


def strip_mention(text: str, message: JSON, me: JSON) -> tuple[bool, str]:
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


def button_press(query: JSON) -> Inbound | None:
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
        thread=thread(message),
        user_name=display(sender),
        chat_name=chat.get("title") or display(chat),
        is_group=chat.get("type") in ("group", "supergroup"),
        message_id=str(message["message_id"]),
        mentions_bot=True,
        callback_data=data,
        callback_id=str(query["id"]),
    )


def safe(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name).strip("._")[:80] or "file"


# -- errors -----------------------------------------------------------------------------


def chat_id(target: Target) -> int | str:
    chat = target.chat
    return int(chat) if re.fullmatch(r"-?\d+", chat) else chat


def voice_call(voice: VoiceOut) -> JSON:
    """sendVoice's arguments for a spoken reply: the OGG/Opus file as it is (Telegram's
    own voice note format), in the target's topic, replying to the user's message."""
    from telegram import ReplyParameters

    reply = None
    if voice.reply_to_message_id:
        reply = ReplyParameters(int(voice.reply_to_message_id), allow_sending_without_reply=True)
    thread = voice.target.thread
    return {
        "chat_id": chat_id(voice.target),
        "voice": Path(voice.path).read_bytes(),
        "filename": "reply.ogg",
        "duration": max(1, round(voice.duration)),
        "message_thread_id": int(thread) if thread else None,
        "reply_parameters": reply,
    }


def fingerprint(update: Any) -> str:
    """A stable name for an update without a valid update_id (Telegram sends none)."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps(update, sort_keys=True, default=repr).encode())
    return f"no-id-{digest.hexdigest()[:16]}"


def retry_seconds(exc: Any) -> float:
    with warnings.catch_warnings():  # PTB warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def fatal_reason(exc: Exception) -> str:
    from telegram import error as tg

    if isinstance(exc, tg.Conflict):
        detail = exc.message.removeprefix("Conflict: ")
        return (
            f"another program is polling this bot token ({detail}): stop the other bot "
            "or gateway that uses this TELEGRAM_BOT_TOKEN"
        )
    return f"Telegram rejected the bot token ({exc}): {TOKEN_FIX}"


def send_error(exc: Exception) -> SendError:
    """Retryable: Telegram is down, slow or rate-limiting. Not: the request can never work."""
    from telegram import error as tg

    if isinstance(exc, tg.RetryAfter):
        seconds = retry_seconds(exc)
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
    if isinstance(exc, OSError):  # the voice note to send is gone
        return SendError(f"cannot read the file to send: {exc}", retryable=False)
    raise exc


def request(read_timeout: float = 5.0) -> BaseRequest:
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


def attachment(message: JSON, kind: str, info: JSON) -> Attachment:
    """What a message carries, not downloaded yet (TelegramAdapter.fetch does that)."""
    duration = info.get("duration")
    return Attachment(
        kind=kind,
        mime=info.get("mime_type") or ("image/jpeg" if "photo" in message else None),
        name=info.get("file_name"),
        size=info.get("file_size"),
        duration=float(duration) if duration is not None else None,
        voice="voice" in message,
        platform_file_id=info.get("file_id"),
    )
