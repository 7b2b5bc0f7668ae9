"""Matrix JSON, both ways: events -> Inbound, replies -> event content. Pure.

What the adapter (hermes/platforms/matrix_adapter.py) sends:

- a message: `body` (plain text) plus `format: org.matrix.custom.html` and
  `formatted_body` (the reply rendered into Matrix HTML by the gateway); in a thread
  with an `m.thread` relation to the thread's root; approvals end with a line that
  says which reaction does what, and carry `org.hermes.buttons` (reaction key -> the
  button's data), so a reaction counts even after a restart (the reacted-to event is
  fetched);
- an edit: `m.replace` with the new text in `m.new_content` (a streamed reply);
- all of it under Matrix's 65,536-byte event limit (`fit`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from hermes.gateway.events import Attachment, Button, Inbound
from hermes.platforms.adapter import Malformed, json_object
from hermes.platforms.render_html import html_text

JSON = dict[str, Any]
HTML = "org.matrix.custom.html"
BUTTONS = "org.hermes.buttons"  # reaction key -> Button.data, in the request's content
CONTENT_LIMIT = 60_000  # bytes of content JSON: the rest of 65,536 is the event's envelope
REPLY_CLIP = 300
KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣")
MEDIA = {"m.image": "image", "m.audio": "audio", "m.video": "video", "m.file": "file"}
_FALLBACK = re.compile(r"\A(?:>[^\n]*\n)+\n?")  # a reply's quoted fallback lines
_REPLY_HTML = re.compile(r"\A<mx-reply>.*?</mx-reply>", re.S)


def size(content: JSON) -> int:
    """Bytes of CONTENT as the homeserver counts them (canonical JSON, UTF-8)."""
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return len(text.encode("utf-8"))


def key(reaction: str) -> str:
    """A reaction key without emoji variation selectors (clients differ in them)."""
    return reaction.replace("\ufe0f", "").strip()


# ----- outbound ----------------------------------------------------------------------------


def reactions(buttons: list[list[Button]]) -> list[tuple[str, Button]]:
    """Each button with the reaction that presses it: the emoji its label starts with
    ("✅ Approve" -> ✅), else a keycap digit."""
    found: list[tuple[str, Button]] = []
    for n, button in enumerate(b for row in buttons for b in row):
        first = button.label.split(maxsplit=1)[0] if button.label.strip() else ""
        emoji = first if first and not any(c.isalnum() for c in first) else ""
        found.append((emoji or KEYCAPS[n % len(KEYCAPS)], button))
    return found


def _verb(label: str, emoji: str) -> str:
    rest = label.strip()
    if rest.startswith(emoji):
        rest = rest[len(emoji) :].strip()
    return rest[:1].lower() + rest[1:] if rest else "choose it"


def reaction_line(pairs: list[tuple[str, Button]]) -> str:
    """'React ✅ to approve or ❌ to deny.'"""
    return "React " + " or ".join(f"{e} to {_verb(b.label, e)}" for e, b in pairs) + "."


def message_content(
    rendered: str,
    *,
    thread: str | None = None,
    reply_to: str | None = None,
    buttons: list[list[Button]] | None = None,
) -> JSON:
    """A message's content from its rendered HTML (matrix_html)."""
    body, formatted = html_text(rendered), rendered
    content: JSON = {"msgtype": "m.text"}
    pairs = reactions(buttons or [])
    if pairs:
        line = reaction_line(pairs)
        body = f"{body}\n\n{line}"
        formatted = f"{formatted}\n<p>{line}</p>"
        content[BUTTONS] = {key(e): b.data for e, b in pairs}
        content[BUTTONS + ".labels"] = {key(e): b.label for e, b in pairs}
    content.update(body=body, format=HTML, formatted_body=formatted)
    if thread is not None:
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread,
            "is_falling_back": reply_to is None,
            "m.in_reply_to": {"event_id": reply_to or thread},
        }
    elif reply_to is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return fit(content)


def edit_content(event_id: str, rendered: str) -> JSON:
    """An m.replace edit of EVENT_ID to the rendered HTML."""
    body = html_text(rendered)
    new: JSON = {"msgtype": "m.text", "body": body, "format": HTML, "formatted_body": rendered}
    content: JSON = {
        "msgtype": "m.text",
        "body": f"* {body}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }
    return fit(content)


def fit(content: JSON) -> JSON:
    """CONTENT within CONTENT_LIMIT: an edit's fallback body is cut first, then the HTML
    goes (the plain body stays: the words matter more than their formatting)."""
    if size(content) <= CONTENT_LIMIT:
        return content
    content = dict(content)
    if "m.new_content" in content:
        content["body"] = "* (edited)"
        if size(content) <= CONTENT_LIMIT:
            return content
        content["m.new_content"] = _plain(content["m.new_content"])
        return content
    return _plain(content)


def _plain(content: JSON) -> JSON:
    return {k: v for k, v in content.items() if k not in ("format", "formatted_body")}


# ----- inbound -----------------------------------------------------------------------------


def check_event(raw: Any) -> JSON:
    """A timeline event with what every event has, else Malformed."""
    event = json_object(raw, "event")
    for field in ("event_id", "sender", "type"):
        if not isinstance(event.get(field), str) or not event[field]:
            raise Malformed(f"event.{field} is missing or not text")
    if not isinstance(event.get("content", {}), dict):
        raise Malformed("event.content is not an object")
    return event


def relation(content: Mapping[str, Any]) -> JSON:
    rel = content.get("m.relates_to")
    return rel if isinstance(rel, dict) else {}


def thread_root(content: Mapping[str, Any]) -> str | None:
    """The thread an event is in (its root's event id), or None."""
    rel = relation(content)
    root = rel.get("event_id")
    return root if rel.get("rel_type") == "m.thread" and isinstance(root, str) else None


def replied_to(content: Mapping[str, Any]) -> str | None:
    """The event a message replies to (a thread's fallback reply counts), or None."""
    reply = relation(content).get("m.in_reply_to")
    target = reply.get("event_id") if isinstance(reply, dict) else None
    return target if isinstance(target, str) else None


def real_reply(content: Mapping[str, Any]) -> str | None:
    """The event a message really replies to (not a thread client's fallback)."""
    if relation(content).get("is_falling_back"):
        return None
    return replied_to(content)


def text_of(content: Mapping[str, Any]) -> str:
    """A message's text without a reply's quoted fallback."""
    body = content.get("body")
    text = body if isinstance(body, str) else ""
    if replied_to(content) is not None:
        text = _FALLBACK.sub("", text, count=1)
    return text.strip()


def mentions(content: Mapping[str, Any], bot: str, names: tuple[str, ...]) -> bool:
    """Whether a message names the bot: m.mentions, its user id or display name."""
    said = content.get("m.mentions")
    if isinstance(said, dict) and bot in (said.get("user_ids") or ()):
        return True
    body = text_of(content).casefold()
    formatted = content.get("formatted_body")
    if isinstance(formatted, str) and f"matrix.to/#/{bot}".casefold() in formatted.casefold():
        return True
    return any(n and n.casefold() in body for n in (bot, *names))


def strip_mention(text: str, bot: str, names: tuple[str, ...]) -> str:
    """'Hermes: what now?' -> 'what now?' (a leading mention only)."""
    for name in (bot, *names):
        if name and text.casefold().startswith(name.casefold()):
            rest = text[len(name) :].lstrip(":, ")
            return rest or text
    return text


def attachment(content: Mapping[str, Any]) -> Attachment | None:
    kind = MEDIA.get(str(content.get("msgtype")))
    url = content.get("url")
    if kind is None or not isinstance(url, str):
        return None
    info = content.get("info") if isinstance(content.get("info"), dict) else {}
    assert isinstance(info, dict)
    size_ = info.get("size")
    seconds = info.get("duration")
    return Attachment(
        kind=kind,
        mime=info.get("mimetype") if isinstance(info.get("mimetype"), str) else None,
        name=str(content.get("filename") or content.get("body") or kind),
        size=size_ if isinstance(size_, int) else None,
        duration=seconds / 1000 if isinstance(seconds, int | float) else None,
        voice="org.matrix.msc3245.voice" in content,
        platform_file_id=url,
    )


def message_event(
    event: JSON,
    room: str,
    *,
    bot: str,
    names: tuple[str, ...],
    is_group: bool,
    require_mention: bool,
    to_bot: bool,
    reply_text: str | None = None,
    user_name: str | None = None,
    chat_name: str | None = None,
) -> Inbound | None:
    """A checked m.room.message -> Inbound, or None for what the gateway does not handle
    (the bot's own, edits, notices from other bots, room chatter without a mention when
    require_mention is on). `to_bot`: it replies to one of the bot's messages."""
    content = event.get("content") or {}
    if event["sender"] == bot or relation(content).get("rel_type") == "m.replace":
        return None
    if content.get("msgtype") == "m.notice":  # bots talk in notices: no loops between bots
        return None
    media = attachment(content)
    text = text_of(content) if media is None else ""
    if not (text or media):
        return None
    mentioned = mentions(content, bot, names)
    text = strip_mention(text, bot, names) if mentioned else text
    if require_mention and is_group and not (mentioned or to_bot or text.startswith("/")):
        return None
    return Inbound(
        platform="matrix",
        chat=room,
        user=event["sender"],
        text=text,
        external_id=event["event_id"],
        thread=thread_root(content),
        user_name=user_name,
        chat_name=chat_name,
        is_group=is_group,
        message_id=event["event_id"],
        reply_to=(reply_text or "")[:REPLY_CLIP] or None,
        attachments=(media,) if media else (),
        mentions_bot=mentioned or to_bot,
    )


def reaction_target(event: JSON) -> tuple[str, str] | None:
    """(reacted-to event id, key) of an m.reaction, else None."""
    rel = relation(event.get("content") or {})
    target, said = rel.get("event_id"), rel.get("key")
    if rel.get("rel_type") != "m.annotation" or not isinstance(target, str):
        return None
    return (target, key(said)) if isinstance(said, str) else None


def button_press(
    event: JSON, room: str, reacted: JSON, *, bot: str, is_group: bool, user_name: str | None
) -> Inbound | None:
    """A user's reaction to one of the bot's requests -> a button press, else None."""
    found = reaction_target(event)
    if found is None or event["sender"] == bot or reacted.get("sender") != bot:
        return None
    content = reacted.get("content") or {}
    data = (content.get(BUTTONS) or {}).get(found[1])
    if not isinstance(data, str):
        return None
    label = (content.get(BUTTONS + ".labels") or {}).get(found[1])
    return Inbound(
        platform="matrix",
        chat=room,
        user=event["sender"],
        text=label if isinstance(label, str) else found[1],
        external_id=event["event_id"],
        thread=thread_root(content),
        user_name=user_name,
        is_group=is_group,
        message_id=event["event_id"],
        mentions_bot=True,
        callback_data=data,
    )


def inviter(invite_state: list[JSON], bot: str) -> str | None:
    """Who invited the bot, from an invited room's stripped state."""
    for event in invite_state:
        content = event.get("content") or {}
        if (
            event.get("type") == "m.room.member"
            and event.get("state_key") == bot
            and content.get("membership") == "invite"
        ):
            sender = event.get("sender")
            return sender if isinstance(sender, str) else None
    return None


def unsupported(room: str) -> str:
    """What status and doctor say about an encrypted room."""
    return f"{room}: end-to-end encryption is not supported; use an unencrypted room"
