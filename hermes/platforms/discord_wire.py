"""Discord's wire format: Gateway dispatch JSON -> Inbound, message payloads, errors.

Pure helpers of hermes/platforms/discord.py (no state, no network). The shapes follow
Discord's public API docs (Message, Interaction, Channel objects), not discord.py's
object model: discord.py carries the connection, Hermes reads the JSON.
"""

from __future__ import annotations

import re
from typing import Any

from hermes.gateway.events import Attachment, Button, Inbound, Outbound
from hermes.platforms.adapter import Malformed, SendError, json_object

JSON = dict[str, Any]
REPLY_CUT = 200  # characters of a replied-to message the agent sees
MAX_TEXT = 4 * 4000  # Discord sends at most 4000 characters (Nitro); far more is no message
THREAD_TYPES = frozenset({10, 11, 12})  # announcement, public and private threads
VOICE_MESSAGE = 1 << 13  # message flag IS_VOICE_MESSAGE
COMPONENT = 3  # interaction type MESSAGE_COMPONENT
BUTTON = 2  # component type
EPHEMERAL = 1 << 6
# Gateway close codes after which reconnecting cannot help (the user must act)
FATAL_CLOSE = {
    4004: "Discord rejected the bot token (close code 4004): check DISCORD_BOT_TOKEN "
    "(Developer Portal -> your application -> Bot -> Reset Token)",
    4010: "Discord refused the shard (close code 4010)",
    4011: "Discord wants this bot sharded (close code 4011)",
    4012: "Discord refused the API version (close code 4012)",
    4013: "Discord refused the gateway intents (close code 4013)",
    4014: "the bot lacks a privileged intent (close code 4014): enable MESSAGE CONTENT "
    "INTENT in the Developer Portal -> your application -> Bot",
}
TOKEN_FIX = "check DISCORD_BOT_TOKEN (Developer Portal -> your application -> Bot)"


def _snowflake(value: Any) -> bool:
    return isinstance(value, str) and value.isdigit()


def _id(parent: JSON, key: str, what: str) -> str:
    value = parent.get(key)
    if not _snowflake(value):
        raise Malformed(f"{what}.{key} is {'missing' if value is None else 'not a snowflake'}")
    return str(value)


def check_message(value: Any) -> JSON:
    """A MESSAGE_CREATE payload with the fields we rely on; raises Malformed otherwise."""
    message = json_object(value, "message")
    _id(message, "id", "message")
    _id(message, "channel_id", "message")
    _id(json_object(message.get("author"), "message.author"), "id", "message.author")
    content = message.get("content", "")
    if not isinstance(content, str):
        raise Malformed("message.content is not a string")
    if len(content) > MAX_TEXT:
        raise Malformed(f"message.content has {len(content)} characters (Discord sends <= 4000)")
    for key in ("attachments", "mentions"):
        items = message.get(key)
        if items is not None and not (
            isinstance(items, list) and all(isinstance(i, dict) for i in items)
        ):
            raise Malformed(f"message.{key} is not a list of objects")
    guild = message.get("guild_id")
    if guild is not None and not _snowflake(guild):
        raise Malformed("message.guild_id is not a snowflake")
    return message


def check_interaction(value: Any) -> JSON:
    """An INTERACTION_CREATE payload with what button_press relies on."""
    interaction = json_object(value, "interaction")
    _id(interaction, "id", "interaction")
    if not isinstance(interaction.get("token"), str):
        raise Malformed("interaction.token is missing")
    if interaction.get("type") == COMPONENT:
        _id(interaction, "channel_id", "interaction")
        data = json_object(interaction.get("data"), "interaction.data")
        if not isinstance(data.get("custom_id"), str):
            raise Malformed("interaction.data.custom_id is not a string")
        user = (interaction.get("member") or {}).get("user") or interaction.get("user")
        _id(json_object(user, "interaction.user"), "id", "interaction.user")
    return interaction


# -- channels: a thread is a channel whose parent is the chat ---------------------------


def parents(channels: Any) -> dict[str, str | None]:
    """channel id -> parent id (threads) or None, from GUILD_CREATE channels/threads,
    THREAD_CREATE/UPDATE, CHANNEL_CREATE or GET /channels/{id} objects."""
    found: dict[str, str | None] = {}
    for channel in channels if isinstance(channels, list) else [channels]:
        if not isinstance(channel, dict) or not _snowflake(channel.get("id")):
            continue
        parent = channel.get("parent_id")
        is_thread = channel.get("type") in THREAD_TYPES and _snowflake(parent)
        found[str(channel["id"])] = str(parent) if is_thread else None
    return found


def place(channel_id: str, parent: str | None) -> tuple[str, str | None]:
    """(chat, thread) of a message in channel_id whose parent (if a thread) is parent."""
    return (parent, channel_id) if parent else (channel_id, None)


# -- messages -> Inbound ---------------------------------------------------------------


def display(user: JSON, member: JSON | None = None) -> str | None:
    nick = (member or {}).get("nick")
    return nick or user.get("global_name") or user.get("username") or None


def mentions(message: JSON, bot_id: str | None) -> bool:
    return bool(bot_id) and any(str(u.get("id")) == bot_id for u in message.get("mentions") or ())


def strip_mention(text: str, bot_id: str | None) -> str:
    """The text without <@BOT> / <@!BOT> mentions of the bot."""
    if not bot_id:
        return text
    stripped = re.sub(rf"<@!?{bot_id}>[,:]?", "", text)
    stripped = re.sub(r"[ \t]{2,}", " ", stripped).strip()
    return stripped or text


def replied(message: JSON, bot_id: str | None) -> tuple[str | None, bool]:
    """The replied-to text (cut) and whether that message was the bot's."""
    original = message.get("referenced_message")
    if not isinstance(original, dict):
        return None, False
    text = original.get("content") or ""
    if not text and original.get("attachments"):
        text = "[attachment]"
    if len(text) > REPLY_CUT:
        text = text[: REPLY_CUT - 1].rstrip() + "…"
    author = original.get("author") or {}
    return text or None, bool(bot_id) and str(author.get("id")) == bot_id


def attachments(message: JSON) -> tuple[Attachment, ...]:
    """What a message carries, not downloaded yet (DiscordAdapter.fetch does that)."""
    voice = bool(int(message.get("flags") or 0) & VOICE_MESSAGE)
    found = []
    for item in message.get("attachments") or ():
        mime = str(item.get("content_type") or "").split(";")[0] or None
        kinds = {"image": "image", "audio": "audio", "video": "video"}
        kind = "audio" if voice else kinds.get((mime or "").split("/")[0], "file")
        duration = item.get("duration_secs")
        size = item.get("size")
        found.append(
            Attachment(
                kind=kind,
                mime=mime,
                name=item.get("filename") if isinstance(item.get("filename"), str) else None,
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                duration=float(duration) if isinstance(duration, int | float) else None,
                voice=voice,
                platform_file_id=item.get("url") if isinstance(item.get("url"), str) else None,
            )
        )
    return tuple(found)


def message_event(
    message: JSON, *, bot_id: str | None, parent: str | None, require_mention: bool
) -> Inbound | None:
    """A checked MESSAGE_CREATE -> Inbound, or None for what the gateway does not handle
    (the bot's own and other bots' messages, system messages, empty ones, guild chatter
    without a mention when require_mention is on)."""
    author = message["author"]
    if str(author["id"]) == bot_id or author.get("bot") or message.get("webhook_id"):
        return None
    if message.get("type", 0) not in (0, 19):  # DEFAULT and REPLY; the rest are system
        return None
    files = attachments(message)
    text = message.get("content") or ""
    if not (text or files):
        return None
    is_group = message.get("guild_id") is not None
    reply_to, to_bot = replied(message, bot_id)
    mentioned = mentions(message, bot_id)
    text = strip_mention(text, bot_id) if mentioned else text
    if require_mention and is_group and not (mentioned or to_bot or text.startswith("/")):
        return None
    chat, thread = place(str(message["channel_id"]), parent)
    return Inbound(
        platform="discord",
        chat=chat,
        user=str(author["id"]),
        text=text,
        external_id=str(message["id"]),
        thread=thread,
        user_name=display(author, message.get("member")),
        is_group=is_group,
        message_id=str(message["id"]),
        reply_to=reply_to,
        attachments=files,
        mentions_bot=mentioned or to_bot,
    )


def _labels(message: JSON) -> dict[str, str]:
    found = {}
    for row in message.get("components") or ():
        for item in (row or {}).get("components") or ():
            if isinstance(item, dict) and isinstance(item.get("custom_id"), str):
                found[item["custom_id"]] = str(item.get("label") or item["custom_id"])
    return found


def button_press(interaction: JSON) -> Inbound | None:
    """A checked INTERACTION_CREATE -> Inbound for a button press, None for the rest
    (slash commands, select menus, modals: Hermes registers none)."""
    data = interaction.get("data") or {}
    if interaction.get("type") != COMPONENT or data.get("component_type", BUTTON) != BUTTON:
        return None
    member = interaction.get("member")
    user = (member or {}).get("user") or interaction["user"]
    channel = interaction.get("channel") or {}
    parent = parents(channel).get(str(interaction["channel_id"]))
    chat, thread = place(str(interaction["channel_id"]), parent)
    message = interaction.get("message") or {}
    custom_id = str(data["custom_id"])
    return Inbound(
        platform="discord",
        chat=chat,
        user=str(user["id"]),
        text=_labels(message).get(custom_id, custom_id),
        external_id=f"interaction:{interaction['id']}",
        thread=thread,
        user_name=display(user, member),
        is_group=interaction.get("guild_id") is not None,
        message_id=str(message["id"]) if _snowflake(message.get("id")) else None,
        mentions_bot=True,
        callback_data=custom_id,
        callback_id=f"{interaction['id']}:{interaction['token']}",
    )


# -- Inbound/Outbound -> Discord JSON --------------------------------------------------


def _style(button: Button) -> int:
    verb = button.data.split(":", 1)[0]
    return {"approve": 3, "deny": 4}.get(verb, 2)  # success, danger, secondary


def message_payload(message: Outbound) -> JSON:
    """The JSON body of POST /channels/{id}/messages. Mentions in the text never ping
    anyone (a model that writes @everyone must not wake a whole server)."""
    payload: JSON = {
        "content": message.text,
        "allowed_mentions": {"parse": [], "replied_user": False},
    }
    if message.buttons:
        payload["components"] = [
            {
                "type": 1,  # action row: at most 5 buttons, at most 5 rows
                "components": [
                    {"type": BUTTON, "style": _style(b), "label": b.label[:80], "custom_id": b.data}
                    for b in row[:5]
                ],
            }
            for row in message.buttons[:5]
        ]
    if message.reply_to_message_id:
        payload["message_reference"] = {
            "message_id": message.reply_to_message_id,
            "fail_if_not_exists": False,
        }
    return payload


def ack_payload(text: str | None) -> JSON:
    """The interaction callback: a silent acknowledgement (DEFERRED_UPDATE_MESSAGE), or
    with TEXT a reply only the presser sees (CHANNEL_MESSAGE_WITH_SOURCE, ephemeral)."""
    if not text:
        return {"type": 6}
    return {"type": 4, "data": {"content": text[:2000], "flags": EPHEMERAL}}


# -- errors -----------------------------------------------------------------------------


def send_error(exc: BaseException) -> SendError:
    """Retryable: Discord is down, slow or rate-limiting. Not: it can never work as is."""
    import aiohttp
    from discord import errors

    if isinstance(exc, errors.LoginFailure):
        return SendError(f"Discord rejected the bot token: {TOKEN_FIX}", retryable=False)
    if isinstance(exc, errors.RateLimited):
        return SendError(
            f"Discord rate limit: retry in {exc.retry_after:g} s",
            retryable=True,
            retry_after=exc.retry_after,
        )
    if isinstance(exc, errors.DiscordServerError):
        return SendError(f"Discord is unavailable (HTTP {exc.status})", retryable=True)
    if isinstance(exc, errors.HTTPException):
        if exc.status == 429:
            return SendError("Discord rate limit", retryable=True, retry_after=5.0)
        if exc.status == 401:
            return SendError(f"Discord rejected the bot token: {TOKEN_FIX}", retryable=False)
        return SendError(
            f"Discord refused the message (HTTP {exc.status}): {exc.text or exc.status}",
            retryable=exc.status >= 500,
        )
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return SendError(f"Discord is unreachable: {type(exc).__name__}", retryable=True)
    if isinstance(exc, ValueError):  # a channel id that is not a snowflake
        return SendError(f"bad Discord target: {exc}", retryable=False)
    raise exc


def safe(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name).strip("._")[:80] or "file"
