"""WhatsApp's wire formats: Cloud API webhooks -> Inbound, Graph API payloads and
errors, the bridge contract's messages (docs/whatsapp-bridge.md), phone numbers.

Pure helpers of hermes/platforms/whatsapp_cloud.py and whatsapp_bridge.py (no state,
no network). The Cloud API shapes follow Meta's public docs: a webhook POST is
`{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
"value": {"metadata": {...}, "contacts": [...], "messages": [...], "statuses": [...]}}]}]}`,
signed with `X-Hub-Signature-256: sha256=HEX(HMAC-SHA256(app secret, raw body))`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from typing import Any

from hermes.gateway.events import Attachment, Button, Inbound
from hermes.platforms.adapter import Malformed, SendError, json_object, one_line
from hermes.platforms.spec import Capabilities

JSON = dict[str, Any]
NAME = "whatsapp"
DEFAULT_GRAPH_URL = "https://graph.facebook.com"
GRAPH_VERSION = "v21.0"
MAX_TEXT = 4096  # characters of a text message
MAX_BODY = 1024  # characters of an interactive message's body
MAX_BUTTONS = 3  # reply buttons per interactive message
MAX_TITLE = 20  # characters of a reply button's title
MAX_BUTTON_ID = 256  # characters of a reply button's id
WINDOW = 24 * 3600.0  # the customer service window: free-form messages only within it
MEDIA_KINDS = {"audio": "audio", "voice": "audio", "image": "image", "video": "video"}
MEDIA_KINDS |= {"document": "file", "sticker": "image"}
CAPABILITIES = Capabilities(
    max_length=MAX_TEXT,
    length_unit="chars",
    markup="plain",  # WhatsApp's own *bold* is not Markdown; Markdown reads fine as text
    can_edit=False,  # no streaming drafts: the answer is sent once
    buttons=True,  # Cloud API: reply buttons inside the 24-hour window
    voice_notes=True,
    audio_out=True,  # spoken replies: OGG/Opus audio, which WhatsApp shows as a voice note
)
MAX_AUDIO = 16 * 1024 * 1024  # the Cloud API's limit for an audio upload

# Graph error codes (error.code)
TOKEN_CODES = frozenset({190, 102, 463, 467})  # the access token is invalid or expired
PERMISSION_CODES = frozenset({10, 200, 3})  # the token lacks a permission
RATE_CODES = frozenset({4, 17, 32, 613, 80007, 130429, 131048, 131056})
TRANSIENT_CODES = frozenset({1, 2, 131000})  # unknown / temporarily unavailable
OUTSIDE_WINDOW = 131047  # re-engagement: more than 24 h since the user last wrote
TOKEN_FIX = (
    "make a new permanent token (Meta Business Settings -> System users -> Generate "
    "token, with whatsapp_business_messaging) and set WHATSAPP_TOKEN"
)


# ----- phone numbers ---------------------------------------------------------------------


def phone(text: str) -> str:
    """A phone number as `+DIGITS` (E.164): '+1 555-123 4567', '15551234567' and a
    WhatsApp JID '15551234567:3@s.whatsapp.net' are all '+15551234567'. '' if none."""
    head = text.strip().split("@", 1)[0].split(":", 1)[0]
    digits = re.sub(r"\D", "", head)
    return f"+{digits}" if digits else ""


def allowed_numbers(raw: str) -> set[str]:
    """WHATSAPP_ALLOWED_USERS: phone numbers separated by commas, semicolons or line
    breaks; spaces, dashes, dots and brackets inside a number do not matter."""
    return {p for p in (phone(part) for part in re.split(r"[,;\n]+", raw)) if p}


def digits(number: str) -> str:
    """What the Graph API takes in `to`: the number's digits."""
    return re.sub(r"\D", "", number)


# ----- the webhook -----------------------------------------------------------------------


def signature_ok(body: bytes, header: str | None, secret: str) -> bool:
    """Whether HEADER (X-Hub-Signature-256) signs BODY with SECRET (constant time)."""
    if not header or not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def sign(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 value Meta sends with BODY (for tests and tools)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def challenge(params: Any, verify_token: str) -> str | None:
    """The verification handshake: hub.challenge when hub.mode is subscribe and
    hub.verify_token is ours (constant time), else None."""
    mode, token = params.get("hub.mode"), params.get("hub.verify_token") or ""
    if mode != "subscribe" or not verify_token:
        return None
    if not hmac.compare_digest(str(token).encode(), verify_token.encode()):
        return None
    return str(params.get("hub.challenge") or "")


def changes(payload: Any) -> Iterator[JSON]:
    """The `value` of each change of a webhook body. Raises Malformed."""
    body = json_object(payload, "webhook body")
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise Malformed("webhook body.entry is not a list")
    for entry in entries:
        found = json_object(entry, "entry").get("changes") or []
        if not isinstance(found, list):
            raise Malformed("entry.changes is not a list")
        for change in found:
            yield json_object(json_object(change, "change").get("value"), "change.value")


def messages(value: JSON) -> Iterator[tuple[str, JSON]]:
    """(wamid, message) of each message of a change's value."""
    for message in value.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("id"), str):
            yield message["id"], message


def names(value: JSON) -> dict[str, str]:
    """wa_id -> profile name, from the value's contacts."""
    found: dict[str, str] = {}
    for contact in value.get("contacts") or []:
        if isinstance(contact, dict) and isinstance(contact.get("wa_id"), str):
            name = (contact.get("profile") or {}).get("name")
            if isinstance(name, str) and name:
                found[contact["wa_id"]] = name
    return found


def sent_at(message: JSON) -> float | None:
    """When the user sent MESSAGE (its `timestamp`, unix seconds), if it says."""
    value = message.get("timestamp")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def cloud_inbound(message: JSON, contacts: dict[str, str]) -> Inbound | None:
    """A webhook message -> Inbound (None for kinds Hermes does not take: reactions,
    locations, contacts, system notices). Raises Malformed."""
    sender = message.get("from")
    if not isinstance(sender, str) or not phone(sender):
        raise Malformed("message.from is missing or not a phone number")
    wamid, kind = str(message["id"]), message.get("type")
    user = phone(sender)
    context = message.get("context") if isinstance(message.get("context"), dict) else {}
    base: JSON = {
        "platform": NAME,
        "chat": user,
        "user": user,
        "external_id": wamid,
        "user_name": contacts.get(sender),
        "message_id": wamid,
        "mentions_bot": bool(context),  # a reply to one of our messages
    }
    if kind == "text":
        body = json_object(message.get("text"), "message.text").get("body")
        if not isinstance(body, str):
            raise Malformed("message.text.body is not a string")
        return Inbound(text=body, **base)
    if kind == "interactive":
        inner = json_object(message.get("interactive"), "message.interactive")
        reply = inner.get("button_reply") or inner.get("list_reply")
        reply = json_object(reply, "message.interactive.button_reply")
        data, title = reply.get("id"), reply.get("title")
        if not isinstance(data, str):
            raise Malformed("message.interactive.button_reply.id is not a string")
        return Inbound(text=str(title or data), callback_data=data, **base)
    if kind == "button":  # a template's quick reply
        pressed = json_object(message.get("button"), "message.button")
        data = str(pressed.get("payload") or pressed.get("text") or "")
        return Inbound(text=str(pressed.get("text") or data), callback_data=data, **base)
    if kind in MEDIA_KINDS:
        media = json_object(message.get(kind), f"message.{kind}")
        if not isinstance(media.get("id"), str):
            raise Malformed(f"message.{kind}.id is missing")
        attachment = Attachment(
            kind=MEDIA_KINDS[str(kind)],
            mime=media.get("mime_type"),
            name=media.get("filename"),
            voice=bool(media.get("voice")) or kind == "voice",
            platform_file_id=media["id"],
        )
        caption = media.get("caption")
        return Inbound(
            text=caption if isinstance(caption, str) else "", attachments=(attachment,), **base
        )
    return None


# ----- sending through the Graph API ---------------------------------------------------


def text_payload(to: str, text: str, reply_to: str | None = None) -> JSON:
    payload: JSON = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": digits(to),
        "type": "text",
        "text": {"preview_url": False, "body": text},
    }
    if reply_to:
        payload["context"] = {"message_id": reply_to}
    return payload


def audio_payload(to: str, media_id: str, reply_to: str | None = None) -> JSON:
    """An audio message of an uploaded file (OGG/Opus: WhatsApp shows it as a voice note)."""
    payload: JSON = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": digits(to),
        "type": "audio",
        "audio": {"id": media_id},
    }
    if reply_to:
        payload["context"] = {"message_id": reply_to}
    return payload


def media_id(answer: Any) -> str:
    """The id the Graph API gave an uploaded file (POST /{phone-number-id}/media)."""
    found = answer.get("id") if isinstance(answer, dict) else None
    if not found:
        raise SendError("the Graph API answered a media upload without an id", retryable=True)
    return str(found)


def buttons_payload(to: str, text: str, rows: list[list[Button]], reply_to: str | None) -> JSON:
    """An interactive message with reply buttons: at most 3, titles cut to 20
    characters, ids to 256; the body must be 1..1024 characters."""
    flat = [b for row in rows for b in row][:MAX_BUTTONS]
    payload: JSON = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": digits(to),
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": text[:MAX_BODY] or "…"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": b.data[:MAX_BUTTON_ID], "title": title(b)}}
                    for b in flat
                ]
            },
        },
    }
    if reply_to:
        payload["context"] = {"message_id": reply_to}
    return payload


def title(button: Button) -> str:
    label = " ".join(button.label.split()) or button.data
    return label if len(label) <= MAX_TITLE else label[: MAX_TITLE - 1] + "…"


def typed_commands(text: str, rows: list[list[Button]]) -> str:
    """TEXT with what each approve:ID / deny:ID button does, as the command to type,
    where the text does not say it already: buttons cannot be sent."""
    lines = [text]
    for b in (b for row in rows for b in row):
        verb, _, ident = b.data.partition(":")
        if verb in ("approve", "deny") and ident and f"/{verb} {ident}" not in text:
            lines.append(f"/{verb} {ident}")
    return "\n".join(lines)


def message_id(answer: Any) -> str:
    """The wamid the Graph API gave a sent message."""
    sent = answer.get("messages") if isinstance(answer, dict) else None
    if isinstance(sent, list) and sent and isinstance(sent[0], dict) and sent[0].get("id"):
        return str(sent[0]["id"])
    raise SendError("the Graph API answered without a message id", retryable=True)


class OutsideWindow(SendError):
    """131047: the user last wrote more than 24 hours ago (free-form messages refused)."""


class BadToken(SendError):
    """The Graph API refused WHATSAPP_TOKEN for good (expired, revoked, no permission)."""


def graph_error(status: int, body: Any, retry_after: str | None = None) -> SendError:
    """A Graph API error answer -> SendError: retryable when Meta is down, slow or
    rate-limiting; BadToken for a refused token; OutsideWindow for 131047."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    message = one_line(str(error.get("message") or f"HTTP {status}"), 200)
    details = (error.get("error_data") or {}) if isinstance(error.get("error_data"), dict) else {}
    said = f"(code {code}) {message}" if code is not None else message
    if details.get("details"):
        said += f": {one_line(str(details['details']), 200)}"
    wait = float(retry_after) if retry_after and retry_after.isdigit() else None
    if code in TOKEN_CODES or (status == 401 and code not in RATE_CODES):
        return BadToken(f"WhatsApp rejected WHATSAPP_TOKEN {said}; {TOKEN_FIX}", retryable=False)
    if code in PERMISSION_CODES or status == 403:
        return BadToken(
            f"WhatsApp refused WHATSAPP_TOKEN a permission {said}; {TOKEN_FIX}", retryable=False
        )
    if code == OUTSIDE_WINDOW:
        return OutsideWindow(
            f"WhatsApp refused the message {said}: more than 24 hours since the user last "
            "wrote; it goes out when they write again",
            retryable=False,
        )
    if code in RATE_CODES or status == 429:
        return SendError(f"WhatsApp rate limit {said}", retryable=True, retry_after=wait)
    if status >= 500 or code in TRANSIENT_CODES or error.get("is_transient"):
        return SendError(f"WhatsApp is unavailable {said}", retryable=True, retry_after=wait)
    return SendError(f"WhatsApp refused the message {said}", retryable=False)


def safe(name: str) -> str:
    """A file name made safe to keep."""
    return re.sub(r"[^\w.\-]+", "_", name).strip("._")[:80] or "file"


EXTENSIONS = {"audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/aac": ".aac"}
EXTENSIONS |= {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
EXTENSIONS |= {"video/mp4": ".mp4", "application/pdf": ".pdf"}


def file_name(attachment: Attachment) -> str:
    if attachment.name:
        return safe(attachment.name)
    base = "voice" if attachment.voice else attachment.kind
    mime = (attachment.mime or "").split(";")[0].strip()
    return base + EXTENSIONS.get(mime, "")


# ----- the bridge contract (docs/whatsapp-bridge.md) -------------------------------------


def bridge_inbound(message: Any) -> Inbound | None:
    """One message of GET /messages -> Inbound (None for what is not for the agent:
    probes, and what the linked account itself sent). Raises Malformed."""
    message = json_object(message, "bridge message")
    ident, chat, sender = message.get("id"), message.get("chat"), message.get("from")
    if not isinstance(ident, str) or not ident:
        raise Malformed("bridge message.id is missing")
    if message.get("probe") is not None or message.get("from_me"):
        return None
    if not isinstance(chat, str) or not chat.strip():
        raise Malformed("bridge message.chat is missing")
    if not isinstance(sender, str) or not phone(sender):
        raise Malformed("bridge message.from is missing or not a phone number")
    group = bool(message.get("is_group"))
    text = message.get("text") or ""
    if not isinstance(text, str):
        raise Malformed("bridge message.text is not a string")
    quoted = message.get("reply_to") if isinstance(message.get("reply_to"), dict) else {}
    attachments: tuple[Attachment, ...] = ()
    audio = message.get("audio")
    if isinstance(audio, dict) and isinstance(audio.get("id"), str):
        seconds = audio.get("seconds")
        attachments = (
            Attachment(
                kind="audio",
                mime=audio.get("mime"),
                voice=bool(audio.get("voice")),
                duration=float(seconds) if isinstance(seconds, int | float) else None,
                platform_file_id=audio["id"],
            ),
        )
    button = message.get("button")
    name = message.get("from_name")
    return Inbound(
        platform=NAME,
        chat=chat.strip() if group else phone(chat),
        user=phone(sender),
        text=text,
        external_id=ident,
        user_name=name if isinstance(name, str) and name else None,
        is_group=group,
        message_id=ident,
        reply_to=str(quoted["text"])[:200] if isinstance(quoted.get("text"), str) else None,
        attachments=attachments,
        mentions_bot=bool(message.get("mentions_me")) or bool(quoted.get("from_me")),
        callback_data=button if isinstance(button, str) and button else None,
    )


def bridge_error(status: int, body: Any, retry_after: str | None = None) -> SendError:
    """A bridge's error answer -> SendError (429, 5xx: retryable; 401: a bad token)."""
    said = body.get("error") if isinstance(body, dict) else None
    said = one_line(str(said or f"HTTP {status}"), 200)
    wait = body.get("retry_after") if isinstance(body, dict) else None
    if not isinstance(wait, int | float):
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
    if status in (401, 403):
        return BadToken(
            f"the WhatsApp bridge refused WHATSAPP_BRIDGE_TOKEN (HTTP {status}): {said}",
            retryable=False,
        )
    if status == 429 or status >= 500:
        return SendError(
            f"the WhatsApp bridge cannot send now: {said}", retryable=True, retry_after=wait
        )
    return SendError(
        f"the WhatsApp bridge refused the message (HTTP {status}): {said}", retryable=False
    )
