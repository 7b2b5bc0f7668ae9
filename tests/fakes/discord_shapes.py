"""The JSON objects of the loopback Discord (tests/fakes/discord_api.py), shaped as
Discord's public API docs describe them: users, the application, a server, threads,
messages, interactions; the form validation of a message body; the front end's headers.
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

JSON = dict[str, Any]
BOT_ID = "1100000000000000001"
APP_ID = "1100000000000000002"
GUILD = "900000000000000001"
CHANNEL = "900000000000000002"  # #general in GUILD
USER = "500000000000000001"  # the owner
MAX_CONTENT = 2000
VOICE_MESSAGE = 1 << 13  # message flag IS_VOICE_MESSAGE
STAMP = "2026-01-01T00:00:00+00:00"
THREADS = (10, 11, 12)  # announcement, public and private threads


def user(user_id: str, name: str | None = None) -> JSON:
    return {
        "id": str(user_id),
        "username": name or f"user{str(user_id)[-4:]}",
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": False,
    }


def application(flags: int) -> JSON:
    """GET /oauth2/applications/@me (flags: 1 << 18 or 1 << 19 = Message Content intent)."""
    return {
        "id": APP_ID,
        "name": "Hermes",
        "icon": None,
        "description": "",
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": user(USER, "owner"),
        "verify_key": "0" * 64,
        "flags": flags,
        "team": None,
        "summary": "",
    }


def guild(channels: list[JSON]) -> JSON:
    """GUILD_CREATE's payload for the test server with these channels and threads."""
    return {
        "id": GUILD,
        "name": "Test server",
        "icon": None,
        "owner_id": USER,
        "unavailable": False,
        "large": False,
        "member_count": 2,
        "joined_at": STAMP,
        "roles": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "members": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "channels": [c for c in channels if c["type"] not in THREADS],
        "threads": [c for c in channels if c["type"] in THREADS],
    }


def thread(thread_id: str, parent: str) -> JSON:
    """A public thread (channel type 11) under `parent`."""
    return {
        "id": thread_id,
        "type": 11,
        "guild_id": GUILD,
        "parent_id": parent,
        "name": f"thread {thread_id[-4:]}",
        "owner_id": USER,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": STAMP,
            "locked": False,
        },
        "message_count": 0,
        "member_count": 1,
    }


def message(message_id: str, channel_id: str, author: JSON, content: str) -> JSON:
    """A Message object (type 0, DEFAULT)."""
    return {
        "id": message_id,
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": STAMP,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
        "components": [],
    }


def interaction(
    interaction_id: str, token: str, channel: JSON, message: JSON, custom_id: str, user_id: str
) -> JSON:
    """INTERACTION_CREATE for a button press (type 3, MESSAGE_COMPONENT)."""
    data: JSON = {
        "id": interaction_id,
        "application_id": APP_ID,
        "type": 3,
        "token": token,
        "version": 1,
        "channel_id": channel["id"],
        "channel": {k: v for k, v in channel.items() if k != "recipients"},
        "data": {"custom_id": custom_id, "component_type": 2},
        "message": message,
        "app_permissions": "0",
        "locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "context": 0 if channel.get("guild_id") else 1,
    }
    who = user(user_id)
    if channel.get("guild_id"):
        data["guild_id"] = channel["guild_id"]
        data["member"] = {"user": who, "nick": None, "roles": [], "permissions": "0"}
    else:
        data["user"] = who
    return data


def invalid(body: JSON) -> str | None:
    """What Discord's form validation says about a message body (None: fine)."""
    content = body.get("content") or ""
    if not isinstance(content, str) or len(content) > MAX_CONTENT:
        return "Invalid Form Body: content must be 2000 or fewer in length."
    rows = body.get("components") or []
    if not content and not rows:
        return "Cannot send an empty message"
    if len(rows) > 5:
        return "Invalid Form Body: components must be 5 or fewer in length."
    for row in rows:
        buttons = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(buttons) <= 5:
            return "Invalid Form Body: an action row holds 1 to 5 components."
        for b in buttons:
            if len(str(b.get("custom_id") or "")) > 100 or len(str(b.get("label") or "")) > 80:
                return "Invalid Form Body: custom_id <= 100, label <= 80 characters."
    return None


def invalid_upload(body: JSON, files: dict[str, tuple[str, str, bytes]]) -> str | None:
    """What Discord says about a multipart message (payload_json + files[n]); a voice
    message (flag IS_VOICE_MESSAGE) is one OGG attachment with duration and waveform."""
    described = {str(a.get("id")): a for a in body.get("attachments") or []}
    if not files or set(described) - {k[6:-1] for k in files}:
        return "Invalid Form Body: attachments must name uploaded files[n]."
    if not int(body.get("flags") or 0) & VOICE_MESSAGE:
        return invalid({**body, "content": body.get("content") or " "})
    if body.get("content") or body.get("components") or len(files) != 1:
        return "Voice messages do not support additional content."  # code 50159
    [item] = described.values()
    [(_name, ctype, _data)] = files.values()
    try:
        points = base64.b64decode(str(item.get("waveform")), validate=True)
    except ValueError:
        return "Invalid Form Body: waveform is not base64."
    if not isinstance(item.get("duration_secs"), int | float) or not 0 < len(points) <= 256:
        return "Invalid Form Body: a voice message needs duration_secs and a waveform."
    if ctype.split(";")[0] != "audio/ogg":
        return "Voice messages must be audio/ogg."
    return None


@web.middleware
async def via(request: web.Request, handler: Any) -> web.StreamResponse:
    """Discord's answers come through Google's front end (discord.py treats a 429
    without a Via header as a Cloudflare ban) and name their type exactly
    `application/json` (discord.py reads anything else as text)."""
    response: web.StreamResponse = await handler(request)
    if not response.prepared:
        response.headers["Via"] = "1.1 google"
        if response.content_type == "application/json":  # Discord sends no charset
            response.headers["Content-Type"] = "application/json"
    return response
