"""Slack's wire format: Events API and Block Kit JSON, and slack_sdk's errors.

Pure helpers of hermes/platforms/slack.py (no state, no network), written from
Slack's public docs: the `message` and `app_mention` events
(https://api.slack.com/events/message), `block_actions` interactive payloads
(https://api.slack.com/reference/interaction-payloads/block-actions), Block Kit
section and actions blocks, and the Web API's `{"ok": false, "error": ...}`
answers.
"""

from __future__ import annotations

import re
from typing import Any

from hermes.gateway.events import Attachment, Button, Inbound
from hermes.platforms.adapter import Malformed, SendError

JSON = dict[str, Any]
SECTION_MAX = 3000  # characters of mrkdwn text in one section block
BUTTON_LABEL_MAX = 75
BUTTON_VALUE_MAX = 2000
MAX_TEXT = 40_000  # Slack truncates messages longer than this: no longer text is Slack's
DEFAULT_BASE_URL = "https://slack.com/api/"
FIX = {  # what to do when Slack refuses a token
    "SLACK_BOT_TOKEN": "check SLACK_BOT_TOKEN (the xoxb- Bot User OAuth Token)",
    "SLACK_APP_TOKEN": "check SLACK_APP_TOKEN (an xapp- app-level token with connections:write)",
}
WEBHOOK_CHAT = "webhook"  # slack:webhook, the incoming webhook (SLACK_WEBHOOK_URL)
# Message subtypes that are what a person wrote; the others (edits, deletions, joins,
# bot messages, ...) are not messages to answer.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})
# Errors that mean the token is gone for good: retrying cannot help.
TERMINAL = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "app_uninstalled",
        "team_disabled",
        "not_allowed_token_type",
        "missing_scope",
    }
)
RETRYABLE = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise Malformed(f"{what} is {'missing' if value is None else 'not a string'}")
    return value


def message(event: Any, bot_user: str | None, require_mention: bool) -> Inbound | None:
    """A `message` or `app_mention` event -> Inbound, or None for what is not a
    person's message to the bot (edits, the bot's own posts, channel chatter
    without a mention when `require_mention`). Raises Malformed for an event that
    breaks the documented shape. The external id is CHANNEL:TS, the message's
    identity: Slack's re-sends, and the same message arriving both as `message` and
    as `app_mention`, are one message to the gateway."""
    if not isinstance(event, dict):
        raise Malformed("the event is not a JSON object")
    if event.get("subtype") not in PERSON_SUBTYPES or event.get("bot_id"):
        return None
    channel = _text(event.get("channel"), "event.channel")
    ts = _text(event.get("ts"), "event.ts")
    user = _text(event.get("user"), "event.user")
    text = event.get("text") or ""
    if not isinstance(text, str):
        raise Malformed("event.text is not a string")
    if len(text) > MAX_TEXT:
        raise Malformed(f"event.text has {len(text)} characters (Slack sends at most 40000)")
    if bot_user is not None and user == bot_user:
        return None
    files = attachments(event.get("files"))
    mentioned, text = strip_mention(text, bot_user)
    mentioned = mentioned or event.get("type") == "app_mention"
    kind = event.get("channel_type")
    is_group = kind in ("channel", "group", "mpim") if kind else not channel.startswith("D")
    if not (text or files):
        return None
    if require_mention and is_group and not mentioned and not text.startswith("/"):
        return None
    thread = event.get("thread_ts")
    return Inbound(
        platform="slack",
        chat=channel,
        user=user,
        text=text,
        external_id=f"{channel}:{ts}",
        thread=thread if isinstance(thread, str) and thread else None,
        is_group=is_group,
        message_id=ts,
        attachments=tuple(files),
        mentions_bot=mentioned,
    )


def strip_mention(text: str, bot_user: str | None) -> tuple[bool, str]:
    """Whether TEXT mentions the bot (`<@U123>`), and the text without that mention."""
    if bot_user is None:
        return False, text.strip()
    found = False

    def drop(match: re.Match[str]) -> str:
        nonlocal found
        if match.group(1) == bot_user:
            found = True
            return ""
        return match.group(0)

    stripped = re.sub(r"[ \t]{2,}", " ", _MENTION.sub(drop, text)).strip()
    return found, stripped


def attachments(files: Any) -> list[Attachment]:
    """Files shared with a message (not downloaded: Slack's private URLs)."""
    found: list[Attachment] = []
    for f in files if isinstance(files, list) else []:
        if not isinstance(f, dict):
            continue
        mime = f.get("mimetype") if isinstance(f.get("mimetype"), str) else None
        top = (mime or "").split("/", 1)[0]
        kind = {"audio": "audio", "image": "image", "video": "video"}.get(top, "file")
        size = f.get("size")
        found.append(
            Attachment(
                kind=kind,
                mime=mime,
                name=f.get("name") if isinstance(f.get("name"), str) else None,
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                voice=f.get("subtype") == "slack_audio",
                platform_file_id=f.get("id") if isinstance(f.get("id"), str) else None,
            )
        )
    return found


def button_press(payload: Any) -> Inbound | None:
    """A `block_actions` payload -> Inbound with callback_data (the button's value),
    or None for a press of something that is not one of our buttons."""
    if not isinstance(payload, dict):
        raise Malformed("the payload is not a JSON object")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise Malformed("payload.actions is missing")
    action = actions[0]
    value = action.get("value")
    if action.get("type") != "button" or not isinstance(value, str) or not value:
        return None
    user, container = _obj(payload, "user"), _obj(payload, "container")
    channel_obj = _obj(payload, "channel")
    channel = _text(channel_obj.get("id") or container.get("channel_id"), "payload.channel.id")
    user_id = _text(user.get("id"), "payload.user.id")
    action_ts = _text(action.get("action_ts"), "payload.actions[0].action_ts")
    label, message = _obj(action, "text"), _obj(payload, "message")
    thread = container.get("thread_ts") or message.get("thread_ts")
    name = user.get("name") or user.get("username")
    return Inbound(
        platform="slack",
        chat=channel,
        user=user_id,
        text=str(label.get("text") or value),
        external_id=f"action:{channel}:{action_ts}:{user_id}",
        thread=thread if isinstance(thread, str) and thread else None,
        user_name=name if isinstance(name, str) else None,
        is_group=not channel.startswith("D"),
        message_id=container.get("message_ts") or message.get("ts"),
        callback_data=value,
        callback_id=action_ts,
    )


def api_root(url: str) -> str:
    """The Web API root as slack_sdk wants it (ending in /: it appends method names)."""
    return url if url.endswith("/") else url + "/"


def _obj(parent: JSON, key: str) -> JSON:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def sections(text: str) -> list[str]:
    """TEXT in pieces of at most SECTION_MAX characters, cut at line ends if it can."""
    pieces: list[str] = []
    while len(text) > SECTION_MAX:
        cut = text.rfind("\n", 0, SECTION_MAX)
        cut = cut if cut > SECTION_MAX // 2 else SECTION_MAX
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text or not pieces:
        pieces.append(text or " ")
    return pieces


def blocks(text: str, rows: list[list[Button]]) -> list[JSON]:
    """Block Kit for a message with buttons: its text in section blocks (each within
    3000 characters), then one actions block per row of buttons."""
    found: list[JSON] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in sections(text)
    ]
    for i, row in enumerate(rows):
        elements = [
            {
                "type": "button",
                "action_id": f"hermes_{i}_{j}",
                "text": {"type": "plain_text", "text": b.label[:BUTTON_LABEL_MAX] or "?"},
                "value": b.data[:BUTTON_VALUE_MAX],
            }
            for j, b in enumerate(row)
        ]
        found.append({"type": "actions", "block_id": f"hermes_{i}", "elements": elements})
    return found


# -- errors -------------------------------------------------------------------------------


def api_error(exc: BaseException) -> tuple[str | None, int | None, float | None]:
    """(Slack's error code, the HTTP status, Retry-After seconds) of a slack_sdk error;
    all None for what is not an answer from Slack (network, timeouts)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None, None, None
    status = getattr(response, "status_code", None)
    data = getattr(response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    headers = getattr(response, "headers", None) or {}
    retry_after: float | None = None
    for key in ("Retry-After", "retry-after"):
        raw = headers.get(key) if hasattr(headers, "get") else None
        if raw is not None:
            try:
                retry_after = max(0.0, float(raw))
            except (TypeError, ValueError):
                retry_after = None
            break
    if isinstance(status, int) and status == 429 and code is None:
        code = "ratelimited"
    return (code if isinstance(code, str) else None), status, retry_after


def terminal(exc: BaseException) -> str | None:
    """The error code if EXC means the token is gone for good, else None."""
    code, _, _ = api_error(exc)
    return code if code in TERMINAL else None


def send_error(exc: BaseException, what: str = "sending") -> SendError:
    """A slack_sdk (or network) failure as a SendError: retryable when Slack is down,
    slow or rate-limiting; not when the message can never go (channel gone, token
    revoked, bad request)."""
    code, status, retry_after = api_error(exc)
    if status is None and code is None:  # no answer: the network
        return SendError(f"slack: {what} failed: {type(exc).__name__}: {exc}", retryable=True)
    retryable = code in RETRYABLE or (status is not None and (status >= 500 or status == 429))
    fix = ""
    if code in TERMINAL:
        fix = "; check SLACK_BOT_TOKEN (the bot token, xoxb-...)"
    elif code in ("not_in_channel", "channel_not_found"):
        fix = "; invite the bot to the channel (/invite @YOUR_BOT)"
    return SendError(
        f"slack: {what} failed: {code or f'HTTP {status}'}{fix}",
        retryable=retryable,
        retry_after=retry_after,
    )
