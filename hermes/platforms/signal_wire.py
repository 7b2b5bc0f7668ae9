"""Signal through signal-cli's HTTP daemon: the JSON both ways, pure.

In: server-sent events (`event: receive`, `data: {"account", "envelope"}`), whose
envelope is signal-cli's JSON of a Signal message (sourceNumber/sourceUuid,
timestamp, dataMessage {message, groupInfo, attachments, mentions, quote,
reaction}). Out: JSON-RPC 2.0 params for send, sendReaction and sendTyping, and the
errors signal-cli answers (its codes: -1 user error, -3 I/O, -4 untrusted key, -5
rate limit, and JSON-RPC's own -326xx) as SendError.

Chats: a direct chat is the other person's number (their UUID when the number is
hidden); a group is `group.GROUP_ID` (signal-cli's base64 group id). An event's id
(external_id) is SENDER:TIMESTAMP, which Signal keeps unique per sender.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from hermes.gateway.events import Attachment, Button, Inbound, Outbound, VoiceOut
from hermes.platforms.adapter import Malformed, SendError, json_object
from hermes.platforms.voice_file import VOICE_MIME

JSON = dict[str, Any]
NAME = "signal"
GROUP = "group."
MENTION = "\ufffc"  # what Signal puts in a message's text where a mention is
QUOTE_CLIP = 300
# signal-cli's JSON-RPC error codes (SignalJsonRpcCommandHandler, JsonRpcResponse)
USER_ERROR, IO_ERROR, UNTRUSTED_KEY, RATE_LIMIT, CAPTCHA = -1, -3, -4, -5, -6
INVALID_PARAMS, METHOD_NOT_FOUND, INTERNAL_ERROR = -32602, -32601, -32603
APPROVE, DENY = "👍", "👎"
KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣")
_SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)} | {"\ufe0f", "\ufe0e"}


@dataclass(frozen=True)
class SseEvent:
    name: str
    data: str


@dataclass
class SseParser:
    """Server-sent events from the stream's lines, one at a time (comments, such as
    signal-cli's keep-alive `:`, are skipped)."""

    _name: str = ""
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> SseEvent | None:
        line = line.rstrip("\r\n")
        if not line:
            if not self._data and not self._name:
                return None
            event = SseEvent(self._name or "message", "\n".join(self._data))
            self._name, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "event":
            self._name = value
        elif key == "data":
            self._data.append(value)
        return None


class RpcError(Exception):
    """A JSON-RPC error answer of signal-cli."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (signal-cli error {code})")
        self.code, self.text, self.data = code, message, data

    @property
    def account_missing(self) -> bool:
        """The daemon has no such account (multi-account mode): nothing to retry."""
        return self.code == INVALID_PARAMS and "account" in self.text.lower()

    def retry_after(self) -> float | None:
        """The longest retryAfterSeconds of a rate-limited send's results."""
        response = self.data.get("response") if isinstance(self.data, dict) else None
        results = response.get("results") if isinstance(response, dict) else None
        waits = [
            float(r["retryAfterSeconds"])
            for r in results or []
            if isinstance(r, dict) and isinstance(r.get("retryAfterSeconds"), int | float)
        ]
        return max(waits) if waits else None


def rpc_result(body: Any) -> Any:
    """The result of a JSON-RPC answer; RpcError for an error answer."""
    if not isinstance(body, dict):
        raise RpcError(INTERNAL_ERROR, "signal-cli answered something that is not JSON-RPC")
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        raise RpcError(
            code if isinstance(code, int) else INTERNAL_ERROR,
            str(error.get("message") or "error"),
            error.get("data"),
        )
    return body.get("result")


def send_error(exc: RpcError) -> SendError:
    """A signal-cli error as the courier's SendError (retryable or not)."""
    if exc.code == RATE_LIMIT:
        wait = exc.retry_after()
        return SendError(f"signal: rate limited ({exc.text})", retryable=True, retry_after=wait)
    if exc.code == UNTRUSTED_KEY:
        return SendError(
            f"signal: {exc.text}; the contact's safety number changed: check it, then "
            "`signal-cli -a ACCOUNT trust -a NUMBER`",
            retryable=False,
        )
    if exc.code in (IO_ERROR, INTERNAL_ERROR):
        return SendError(f"signal: {exc}", retryable=True)
    return SendError(f"signal: {exc}", retryable=False)


def recipient(chat: str) -> JSON:
    """The params that address CHAT: a group id or a recipient."""
    if chat.startswith(GROUP):
        return {"groupId": chat[len(GROUP) :]}
    return {"recipient": [chat]}


def send_params(message: Outbound, text: str) -> JSON:
    params: JSON = {**recipient(message.target.chat), "message": text}
    quoted = message.reply_to_message_id
    if quoted and message.target.chat.startswith(GROUP):  # in a group, say whom it answers
        timestamp, _, author = quoted.partition(":")
        if timestamp.isdigit() and author:
            params.update(quoteTimestamp=int(timestamp), quoteAuthor=author)
    return params


def voice_params(voice: VoiceOut, data: bytes) -> JSON:
    """`send` params of a spoken reply: the OGG/Opus file as a data URI attachment
    (signal-cli takes a path or an RFC 2397 data URI), without a file name, as the
    apps send voice notes; quoted like text."""
    message = Outbound(voice.target, "", reply_to_message_id=voice.reply_to_message_id)
    uri = f"data:{VOICE_MIME};base64,{base64.b64encode(data).decode('ascii')}"
    return {**send_params(message, ""), "attachments": [uri]}


def base_emoji(emoji: str) -> str:
    """👍🏽 -> 👍: a reaction counts whatever its skin tone."""
    return "".join(c for c in emoji if c not in _SKIN_TONES) or emoji


def reactions(buttons: list[list[Button]]) -> dict[str, Button]:
    """Which reaction presses which button: 👍 approves, 👎 denies, others get a keycap."""
    found: dict[str, Button] = {}
    for n, button in enumerate(b for row in buttons for b in row):
        verb = button.data.partition(":")[0]
        emoji = {"approve": APPROVE, "deny": DENY}.get(verb, KEYCAPS[n % len(KEYCAPS)])
        found.setdefault(base_emoji(emoji), button)
    return found


def reaction_line(pressed: dict[str, Button]) -> str:
    """'React 👍 to approve, 👎 to deny.'"""
    parts = []
    for emoji, button in pressed.items():
        label = button.label.split(maxsplit=1)
        word = label[-1] if label and not label[0][:1].isalnum() else button.label
        parts.append(f"{emoji} to {word.strip().lower() or 'choose it'}")
    return "React " + ", ".join(parts) + "."


def request_record(pressed: dict[str, Button], chat: str) -> str:
    return json.dumps({"chat": chat, "buttons": {e: [b.label, b.data] for e, b in pressed.items()}})


def parse_request(raw: str | None) -> tuple[str, dict[str, Button]] | None:
    """A stored approval request (request_record) -> (chat, emoji -> button)."""
    try:
        value: Any = json.loads(raw) if raw else {}
        chat, buttons = value["chat"], value["buttons"]
        return str(chat), {str(e): Button(str(b[0]), str(b[1])) for e, b in buttons.items()}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


# ----- inbound ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """The parts of a received envelope Hermes reads."""

    account: str | None
    sender: str  # the number, else the UUID
    number: str | None
    uuid: str | None
    name: str | None
    timestamp: int
    data: JSON | None  # dataMessage
    raw: JSON

    @property
    def key(self) -> str:
        """The event's unique id: SENDER:TIMESTAMP (the UUID when known: it never changes)."""
        return f"{self.uuid or self.sender}:{self.timestamp}"

    def user(self, allowed: frozenset[str] | None) -> str:
        """The id the gateway knows the sender by: the one SIGNAL_ALLOWED_USERS names
        (a number or a UUID), else the number, else the UUID."""
        if allowed and self.uuid in allowed and self.number not in allowed:
            return self.uuid or self.sender
        return self.sender

    @property
    def group(self) -> str | None:
        info = (self.data or {}).get("groupInfo")
        gid = info.get("groupId") if isinstance(info, dict) else None
        return gid if isinstance(gid, str) and gid else None


def envelope(payload: Any) -> Envelope | None:
    """The envelope of a `receive` event's data (None: an error report without one)."""
    body = json_object(payload, "event")
    raw = body.get("envelope")
    if raw is None:
        return None
    env = json_object(raw, "envelope")
    number = _text(env.get("sourceNumber")) or _text(env.get("source"))
    uuid = _text(env.get("sourceUuid"))
    sender = number or uuid
    if not sender:
        raise Malformed("envelope has no source")
    timestamp = env.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise Malformed("envelope.timestamp is not a number")
    data = env.get("dataMessage")
    return Envelope(
        account=_text(body.get("account")),
        sender=sender,
        number=number,
        uuid=uuid,
        name=_text(env.get("sourceName")),
        timestamp=timestamp,
        data=json_object(data, "envelope.dataMessage") if data is not None else None,
        raw=env,
    )


def reaction(env: Envelope) -> JSON | None:
    """The reaction an envelope carries (not a removal), or None."""
    found = (env.data or {}).get("reaction")
    if not isinstance(found, dict) or found.get("isRemove"):
        return None
    if not isinstance(found.get("targetSentTimestamp"), int):
        raise Malformed("reaction.targetSentTimestamp is not a number")
    return found


def chat_of(env: Envelope, user: str) -> str:
    return GROUP + env.group if env.group else user


def button_press(env: Envelope, user: str, button: Button) -> Inbound:
    return Inbound(
        platform=NAME,
        chat=chat_of(env, user),
        user=user,
        text=button.label,
        external_id=env.key,
        user_name=env.name,
        is_group=env.group is not None,
        callback_data=button.data,
    )


def message_event(
    env: Envelope,
    user: str,
    *,
    account: str,
    own: frozenset[str] = frozenset(),
    sent: Any = (),
    require_mention: bool = False,
) -> Inbound | None:
    """A data message as an Inbound; None for what is not a message to answer (a
    group update, a sticker, a remote delete, chatter without a mention when
    require_mention is on). OWN: the bot's ids (number, UUID); SENT: timestamps of
    the bot's own messages (a reply to one of them addresses the bot)."""
    data = env.data
    if data is None:
        return None
    info = data.get("groupInfo")
    if isinstance(info, dict) and info.get("type") == "UPDATE":
        return None
    text = _text(data.get("message")) or ""
    me = own | {account}
    mentions = [m for m in data.get("mentions") or [] if isinstance(m, dict)]
    mentioned = any({_text(m.get("number")), _text(m.get("uuid"))} & me for m in mentions)
    text = _with_mentions(text, mentions, me)
    attachments = tuple(
        _attachment(a) for a in data.get("attachments") or [] if isinstance(a, dict)
    )
    if not text.strip() and not attachments:
        return None
    quote = data.get("quote") if isinstance(data.get("quote"), dict) else None
    to_bot, reply_to = False, None
    if quote is not None:
        author = {_text(quote.get("authorNumber")), _text(quote.get("authorUuid"))}
        to_bot = bool(author & me) or quote.get("id") in sent
        quoted = _text(quote.get("text"))
        reply_to = quoted[:QUOTE_CLIP] if quoted else None
    is_group = env.group is not None
    if require_mention and is_group and not (mentioned or to_bot or text.startswith("/")):
        return None
    return Inbound(
        platform=NAME,
        chat=chat_of(env, user),
        user=user,
        text=text.strip(),
        external_id=env.key,
        user_name=env.name,
        chat_name=_text((info or {}).get("groupName")) if isinstance(info, dict) else None,
        is_group=is_group,
        message_id=f"{env.timestamp}:{env.sender}",
        reply_to=reply_to,
        attachments=attachments,
        mentions_bot=mentioned or to_bot,
    )


def _with_mentions(text: str, mentions: list[JSON], me: set[str] | frozenset[str]) -> str:
    """Each mention placeholder as @NAME (the bot's own as nothing: it is addressed)."""
    if MENTION not in text:
        return text
    out, last = [], 0
    for m in sorted(mentions, key=_start):
        start, length = m.get("start"), m.get("length")
        if not (isinstance(start, int) and isinstance(length, int)) or start < last:
            continue
        ids = {_text(m.get("number")), _text(m.get("uuid"))}
        who = "" if ids & me else "@" + (_text(m.get("name")) or next(iter(ids - {None}), "") or "")
        out += [text[last:start], who]
        last = start + length
    out.append(text[last:])
    return "".join(out).replace(MENTION, "")


def _start(mention: JSON) -> int:
    start = mention.get("start")
    return start if isinstance(start, int) else 0


def _attachment(raw: JSON) -> Attachment:
    mime = _text(raw.get("contentType"))
    name = _text(raw.get("filename"))
    kind = "file"
    if mime:
        kind = {"audio": "audio", "image": "image", "video": "video"}.get(
            mime.split("/")[0], "file"
        )
    size = raw.get("size")
    return Attachment(
        kind=kind,
        mime=mime,
        name=name,
        size=size if isinstance(size, int) else None,
        voice=kind == "audio" and not name,  # recorded in the app: no file name
        platform_file_id=_text(raw.get("id")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
