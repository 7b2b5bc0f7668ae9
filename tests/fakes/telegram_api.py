"""FakeTelegram: a loopback fake of the Telegram Bot API, written from the public docs.

Tests drive it from the user's side (`user_says`, `press_button`, `voice_note`, ...)
and read what the bot did (`sent`, `edits`, `calls`, `messages_in`). It answers the
way python-telegram-bot expects: POSTs of form fields whose non-string values are
JSON-encoded (multipart when files are uploaded; plain JSON bodies are accepted
too), `{"ok": true, "result": ...}` on success and `{"ok": false, "error_code",
"description"[, "parameters"]}` on failure.

It runs on a ThreadingHTTPServer in a background thread, so in-process asyncio
tests and a gateway subprocess can both reach it at `base_url`:
`{base_url}/bot{TOKEN}/{method}` and `{base_url}/file/bot{TOKEN}/{file_path}`.
Every method is thread-safe (one condition variable guards all state).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .telegram_html import ParseError
from .telegram_html import parse as parse_html

JSON = dict[str, Any]
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_TEXT = 4096
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a specified content and reply markup of the message"
)
DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: CONFLICT,
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
# Parameters that are strings even when they look like JSON ("123", "true").
STRING_FIELDS = frozenset(
    {"text", "caption", "callback_query_id", "file_id", "data", "parse_mode", "action", "url"}
    | {"inline_message_id", "secret_token", "title", "name", "description", "emoji"}
)
MENTION = re.compile(r"(?<![\w@])@\w{3,}|^/\w+(?:@\w+)?")


class _Outage(Exception):
    """A long poll was waiting when the API went down."""


class ApiError(Exception):
    """A Bot API error answer."""

    def __init__(self, status: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


@dataclass
class _Failure:
    status: int | str  # an HTTP status, "disconnect" (close without answering) or "silent"
    times: int | None  # None: until recover()
    description: str | None
    retry_after: int | None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _formatted(p: JSON) -> JSON:
    """A message's text as Telegram stores it: with parse_mode HTML, the tags become
    entities (malformed HTML is refused, as Telegram refuses it)."""
    text = str(p.get("text") or "")
    if str(p.get("parse_mode") or "").upper() != "HTML":
        return {"text": text}
    try:
        plain, entities = parse_html(text)
    except ParseError as exc:
        raise ApiError(400, f"Bad Request: {exc}") from None
    return {"text": plain, "entities": entities} if entities else {"text": plain}


def _entities(text: str) -> list[JSON]:
    """Mentions and bot commands, with offsets in UTF-16 code units as Telegram counts."""
    found = []
    for m in MENTION.finditer(text):
        kind = "bot_command" if m.group().startswith("/") else "mention"
        found.append(
            {"type": kind, "offset": _utf16_len(text[: m.start()]), "length": _utf16_len(m.group())}
        )
    return found


class FakeTelegram:
    """A fake Bot API server: queue user updates, inspect what the bot sent."""

    def __init__(
        self,
        token: str = "123456789:TEST-fake-token",
        *,
        username: str = "hermes_test_bot",
        first_name: str = "Hermes",
    ) -> None:
        self.token = token
        head = token.split(":", 1)[0]
        bot_id = int(head) if head.isdigit() else 7000000001
        self.bot_user: JSON = {"id": bot_id, "is_bot": True, "first_name": first_name}
        self.bot_user["username"] = username
        self.sent: list[JSON] = []  # every message the bot sent (sendMessage, sendVoice, ...)
        self.edits: list[JSON] = []  # every successful editMessageText
        self.calls: list[str] = []  # method names, in arrival order
        self.requests: list[tuple[str, JSON]] = []  # (method, decoded parameters)
        self.answered: list[JSON] = []  # answerCallbackQuery calls
        self.actions: list[JSON] = []  # sendChatAction calls
        self.commands: list[JSON] = []  # the last setMyCommands list
        self.webhook_url: str | None = None  # set one to see getUpdates refused until deleted
        self.confirmed_offset = 0  # the highest getUpdates offset the client sent
        self._cond = threading.Condition()
        # not yet confirmed: (position in the stream, the update as sent); the position is
        # the update_id, also for a raw update whose own update_id is missing or odd
        self._updates: list[tuple[int, Any]] = []
        self._update_ids = itertools.count(500_000_001)
        self._ids = itertools.count(1)
        self._chats: dict[int, JSON] = {}
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._files: dict[str, tuple[str, bytes, int]] = {}  # file_id -> (path, bytes, size)
        self._queries: dict[str, JSON] = {}  # callback queries not answered yet
        self._failures: dict[str, list[_Failure]] = {}
        self._poll_generation = 0
        self._outages = 0  # fail() of getUpdates cuts the long polls waiting then
        self._recoveries = 0  # recover() ends the calls kept "silent"
        self._closed = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> FakeTelegram:
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="fake-telegram",
                daemon=True,
            )
            self._thread.start()
        return self

    @property
    def base_url(self) -> str:
        """The root URL (what config `telegram.base_url` holds)."""
        if self._server is None:
            raise RuntimeError("FakeTelegram.start() first")
        return f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()  # wake long polls so their threads end
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- outages ------------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int | str = 502,
        *,
        times: int | None = 1,
        description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next `times` calls of `method` ("*": any method) fail with `status`
        (429 carries parameters.retry_after), "disconnect" (the socket closes unanswered) or
        "silent" (no answer at all: the call hangs until recover() or close(), then the
        socket closes). times=None: until recover()."""
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._cond:
            failure = _Failure(status, times, description, retry_after)
            self._failures.setdefault(method.lower(), []).append(failure)
            if method.lower() in ("*", "getupdates"):  # an outage drops open connections too
                self._outages += 1
                self._cond.notify_all()

    def recover(self) -> None:
        with self._cond:
            self._failures.clear()
            self._recoveries += 1
            self._cond.notify_all()

    def _stay_silent(self) -> None:
        """A "silent" failure: answer nothing until recover() or close()."""
        with self._cond:
            mine = self._recoveries
            while self._recoveries == mine and not self._closed:
                self._cond.wait()

    # -- the user's side -------------------------------------------------------------

    def add_chat(
        self, chat_id: int, chat_type: str | None = None, *, title: str | None = None
    ) -> JSON:
        """Make a chat known (a private chat exists once the user pressed Start)."""
        with self._cond:
            return copy.deepcopy(self._chat(chat_id, chat_type, title, None))

    def user_says(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ada",
        last_name: str | None = None,
        username: str | None = None,
        thread_id: int | None = None,
        chat_type: str | None = None,
        title: str | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        """Queue a text message from a user; returns the update."""
        sender = self._user(chat_id, user_id, first_name, last_name, username)
        with self._cond:
            message = self._user_message(chat_id, sender, thread_id, chat_type, title, reply_to)
            message["text"] = text
            if entities := _entities(text):
                message["entities"] = entities
            return self._queue({"message": message})

    def voice_note(
        self,
        chat_id: int,
        user_id: int | None,
        data: bytes,
        duration: int,
        *,
        first_name: str = "Ada",
        thread_id: int | None = None,
        mime: str = "audio/ogg",
    ) -> JSON:
        """Queue a voice note recorded in the app; its bytes are served by getFile."""
        sender = self._user(chat_id, user_id, first_name, None, None)
        with self._cond:
            message = self._user_message(chat_id, sender, thread_id, None, None, None)
            voice = self._file("voice", data, ".oga", None)
            message["voice"] = {**voice, "duration": duration, "mime_type": mime}
            return self._queue({"message": message})

    def user_sends_file(
        self,
        chat_id: int,
        data: bytes,
        *,
        kind: str = "document",
        name: str = "file.bin",
        mime: str = "application/octet-stream",
        caption: str | None = None,
        user_id: int | None = None,
        first_name: str = "Ada",
        size: int | None = None,
        duration: int | None = None,
    ) -> JSON:
        """Queue a photo, document or audio file. `size` overrides the declared size."""
        sender = self._user(chat_id, user_id, first_name, None, None)
        with self._cond:
            message = self._user_message(chat_id, sender, None, None, None, None)
            if caption is not None:
                message["caption"] = caption
            if kind == "photo":
                thumb = self._file("photos", data[:64], ".jpg", None)
                full = self._file("photos", data, ".jpg", size)
                message["photo"] = [
                    {**thumb, "width": 90, "height": 90},
                    {**full, "width": 1280, "height": 960},
                ]
            else:
                info = self._file("documents" if kind == "document" else "music", data, "", size)
                info.update(file_name=name, mime_type=mime)
                if kind == "audio":
                    info["duration"] = duration or 1
                message[kind] = info
            return self._queue({"message": message})

    def user_edits(self, chat_id: int, message_id: int, text: str) -> JSON:
        """Queue an edited_message update for a message the user sent before."""
        with self._cond:
            message = copy.deepcopy(self._messages[(chat_id, message_id)])
            message.update(text=text, edit_date=int(time.time()))
            self._messages[(chat_id, message_id)] = copy.deepcopy(message)
            return self._queue({"edited_message": message})

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ada",
    ) -> JSON:
        """Queue a callback_query: the user pressed the inline button carrying `data`."""
        sender = self._user(chat_id, user_id, first_name, None, None)
        with self._cond:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            if not any(b.get("callback_data") == data for row in rows for b in row):
                raise ValueError(f"message {message_id} has no button with data {data!r}")
            query_id = str(4_000_000_000_000_000 + next(self._ids))
            query = {
                "id": query_id,
                "from": sender,
                "message": copy.deepcopy(message),
                "chat_instance": str(-abs(chat_id) * 7),
                "data": data,
            }
            self._queries[query_id] = query
            return self._queue({"callback_query": query})

    def queue_update(self, payload: JSON) -> JSON:
        """Queue any update body (e.g. a service message); update_id is added."""
        with self._cond:
            return self._queue(copy.deepcopy(payload))

    def inject_raw(self, payload: Any, *, with_id: bool = True) -> int:
        """Queue an update exactly as given, however malformed (any JSON value: a message
        without a chat, ids of the wrong type, nulls, ...). With `with_id` and a dict,
        the next update_id is set unless `payload` has one. Returns the update's position
        in the stream (what a getUpdates offset must pass to confirm it)."""
        with self._cond:
            position = next(self._update_ids)
            raw = copy.deepcopy(payload)
            if with_id and isinstance(raw, dict):
                raw.setdefault("update_id", position)
            self._updates.append((position, raw))
            self._cond.notify_all()
            return position

    # -- what the bot did -------------------------------------------------------------

    def messages_in(self, chat_id: int) -> dict[int, str]:
        """The bot's messages in a chat: message id -> current text (after edits)."""
        with self._cond:
            return {
                mid: str(m.get("text", m.get("caption", "")))
                for (chat, mid), m in sorted(self._messages.items())
                if chat == chat_id and m["from"]["id"] == self.bot_user["id"]
            }

    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._cond:
            return len(self._updates)

    def pending_update_ids(self) -> list[int]:
        """Positions of the updates queued and not yet confirmed."""
        with self._cond:
            return [position for position, _ in self._updates]

    # -- building objects (callers hold the lock) --------------------------------------

    def _user(
        self,
        chat_id: int,
        user_id: int | None,
        first_name: str,
        last_name: str | None,
        username: str | None,
    ) -> JSON:
        uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
        user: JSON = {"id": uid, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        user["language_code"] = "en"
        return user

    def _chat(
        self, chat_id: int, chat_type: str | None, title: str | None, sender: JSON | None
    ) -> JSON:
        chat = self._chats.get(chat_id)
        if chat is None:
            kind = chat_type or ("private" if chat_id > 0 else "supergroup")
            chat = {"id": chat_id, "type": kind}
            if kind == "private":
                chat["first_name"] = (sender or {}).get("first_name", "Ada")
            else:
                chat["title"] = title or f"Group {abs(chat_id)}"
            self._chats[chat_id] = chat
            self._next_message_id[chat_id] = 100
        elif title:
            chat["title"] = title
        return chat

    def _message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] += 1
        return self._next_message_id[chat_id]

    def _user_message(
        self,
        chat_id: int,
        sender: JSON,
        thread_id: int | None,
        chat_type: str | None,
        title: str | None,
        reply_to: int | None,
    ) -> JSON:
        chat = self._chat(chat_id, chat_type, title, sender)
        if thread_id is not None:
            chat["is_forum"] = True
        message: JSON = {
            "message_id": self._message_id(chat_id),
            "from": sender,
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if reply_to is not None:
            if (chat_id, reply_to) not in self._messages:
                raise ValueError(f"no message {reply_to} in chat {chat_id} to reply to")
            original = copy.deepcopy(self._messages[(chat_id, reply_to)])
            original.pop("reply_to_message", None)
            message["reply_to_message"] = original
        elif thread_id is not None:  # in a topic, a plain message "replies" to its creation
            message["reply_to_message"] = {
                "message_id": thread_id,
                "from": sender,
                "chat": copy.deepcopy(chat),
                "date": int(time.time()) - 3600,
                "message_thread_id": thread_id,
                "forum_topic_created": {"name": f"Topic {thread_id}", "icon_color": 7322096},
                "is_topic_message": True,
            }
        return message

    def _file(self, folder: str, data: bytes, suffix: str, size: int | None) -> JSON:
        n = next(self._ids)
        file_id = f"AgAD{n:06d}fake-file-id"
        declared = size if size is not None else len(data)
        self._files[file_id] = (f"{folder}/file_{n}{suffix}", data, declared)
        return {"file_id": file_id, "file_unique_id": f"AQAD{n:06d}", "file_size": declared}

    def _queue(self, payload: JSON) -> JSON:
        if message := payload.get("message"):  # stored as sent, for replies and buttons
            self._messages[(message["chat"]["id"], message["message_id"])] = copy.deepcopy(message)
        update = {"update_id": next(self._update_ids), **payload}
        self._updates.append((update["update_id"], update))
        self._cond.notify_all()
        return copy.deepcopy(update)

    # -- serving (called from server threads) --------------------------------------------

    def _dispatch(self, token: str, method: str, params: JSON) -> tuple[int, Any, JSON] | None:
        """Answer one API call: (status, result or error body, extra headers); None means
        close the connection without an answer."""
        with self._cond:
            self.calls.append(method)
            self.requests.append((method, {k: v for k, v in params.items()}))
            if token != self.token:
                return _error(ApiError(401, "Unauthorized"))
            failure = self._take_failure(method.lower())
        if failure is not None:
            if failure.status in ("disconnect", "silent"):
                if failure.status == "silent":
                    self._stay_silent()
                return None
            status = int(failure.status)
            text = failure.description or DESCRIPTIONS.get(status, "")
            if status == 429:
                text = (
                    failure.description or f"Too Many Requests: retry after {failure.retry_after}"
                )
            return _error(ApiError(status, text, failure.retry_after))
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            return _error(ApiError(404, "Not Found"))
        try:
            return 200, handler(params), {}
        except ApiError as exc:
            return _error(exc)
        except _Outage:  # cut while waiting: answered as the outage answers
            with self._cond:
                failure = self._take_failure(method.lower())
            if failure is None:
                return 200, [], {}
        if failure.status in ("disconnect", "silent"):
            if failure.status == "silent":
                self._stay_silent()
            return None
        return _error(ApiError(int(failure.status), DESCRIPTIONS.get(int(failure.status), "")))

    def _take_failure(self, method: str) -> _Failure | None:
        for key in (method, "*"):
            queue = self._failures.get(key)
            if queue:
                failure = queue[0]
                if failure.times is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        queue.pop(0)
                return failure
        return None

    def _file_bytes(self, token: str, path: str) -> bytes | None:
        with self._cond:
            if token != self.token:
                return None
            for file_path, data, _size in self._files.values():
                if file_path == path:
                    return data
        return None

    # -- Bot API methods -------------------------------------------------------------------

    def _api_getme(self, p: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _api_getupdates(self, p: JSON) -> list[JSON]:
        offset = p.get("offset")
        limit = int(p.get("limit") or 100)
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        with self._cond:
            if self.webhook_url:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if offset is not None and int(offset) < 0:
                self._updates = self._updates[int(offset) :]
            elif offset is not None:
                self._updates = [u for u in self._updates if u[0] >= int(offset)]
                self.confirmed_offset = max(self.confirmed_offset, int(offset))
            self._poll_generation += 1
            mine, outages = self._poll_generation, self._outages
            self._cond.notify_all()  # an older poll still waiting is terminated (409)
            while True:
                if self._updates or self._closed:
                    return copy.deepcopy([raw for _, raw in self._updates[:limit]])
                if self._poll_generation != mine:
                    raise ApiError(409, CONFLICT)
                if self._outages != outages:
                    raise _Outage()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def _api_deletewebhook(self, p: JSON) -> bool:
        with self._cond:
            self.webhook_url = None
            if p.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _api_getwebhookinfo(self, p: JSON) -> JSON:
        with self._cond:
            return {
                "url": self.webhook_url or "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def _api_sendmessage(self, p: JSON) -> JSON:
        content = _formatted(p)
        if not content["text"].strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(content["text"]) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return self._bot_message(p, content, "text")

    def _send_media(self, kind: str, p: JSON) -> JSON:
        upload = p.get(kind)
        data = upload if isinstance(upload, bytes) else b""
        with self._cond:
            info: Any = self._file(kind, data, "", None)
        if kind in ("voice", "audio"):
            info["duration"] = int(p.get("duration") or 1)
        if kind == "voice" and data.startswith(b"OggS"):
            info["mime_type"] = "audio/ogg"  # a voice note proper (OGG/Opus)
        elif kind == "photo":
            info = [{**info, "width": 1280, "height": 960}]
        extra: JSON = {kind: info}
        if p.get("caption"):
            extra["caption"] = str(p["caption"])
        return self._bot_message(p, extra, kind, data)

    def _api_sendvoice(self, p: JSON) -> JSON:
        return self._send_media("voice", p)

    def _api_sendaudio(self, p: JSON) -> JSON:
        return self._send_media("audio", p)

    def _api_senddocument(self, p: JSON) -> JSON:
        return self._send_media("document", p)

    def _api_sendphoto(self, p: JSON) -> JSON:
        return self._send_media("photo", p)

    def _bot_message(self, p: JSON, content: JSON, kind: str, data: bytes | None = None) -> JSON:
        with self._cond:
            chat = self._known_chat(p.get("chat_id"))
            thread = p.get("message_thread_id")
            if thread is not None and not chat.get("is_forum"):
                raise ApiError(400, "Bad Request: message thread not found")
            reply = p.get("reply_parameters") or {}
            reply_id = reply.get("message_id", p.get("reply_to_message_id"))
            lenient = reply.get("allow_sending_without_reply", p.get("allow_sending_without_reply"))
            message: JSON = {
                "message_id": self._message_id(chat["id"]),
                "from": copy.deepcopy(self.bot_user),
                "chat": copy.deepcopy(chat),
                "date": int(time.time()),
            }
            if thread is not None:
                message.update(message_thread_id=int(thread), is_topic_message=True)
            if reply_id is not None:
                original = self._messages.get((chat["id"], int(reply_id)))
                if original is None and not lenient:
                    raise ApiError(400, "Bad Request: message to be replied not found")
                if original is not None:
                    message["reply_to_message"] = copy.deepcopy(original)
                    message["reply_to_message"].pop("reply_to_message", None)
            message.update(content)
            if p.get("reply_markup"):
                message["reply_markup"] = p["reply_markup"]
            self._messages[(chat["id"], message["message_id"])] = copy.deepcopy(message)
            self.sent.append(
                {
                    "kind": kind,
                    "chat_id": chat["id"],
                    "text": content.get("text", content.get("caption")),
                    "message_thread_id": thread,
                    "reply_to_message_id": reply_id,
                    "reply_markup": p.get("reply_markup"),
                    "parse_mode": p.get("parse_mode"),
                    "raw": p.get("text", p.get("caption")),  # as sent (HTML before parsing)
                    "entities": content.get("entities"),
                    "message_id": message["message_id"],
                    "file": data,
                    "duration": p.get("duration"),
                }
            )
            return message

    def _known_chat(self, chat_id: Any) -> JSON:
        try:
            chat = self._chats.get(int(chat_id))
        except (TypeError, ValueError):
            chat = None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _api_editmessagetext(self, p: JSON) -> JSON:
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by this fake")
        content = _formatted(p)
        text = content["text"]
        with self._cond:
            chat = self._known_chat(p.get("chat_id"))
            key = (chat["id"], int(p.get("message_id") or 0))
            message = self._messages.get(key)
            if message is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            if message["from"]["id"] != self.bot_user["id"] or "text" not in message:
                raise ApiError(400, "Bad Request: message can't be edited")
            if not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            if _utf16_len(text) > MAX_TEXT:
                raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
            markup = p.get("reply_markup")
            if text == message["text"] and markup == message.get("reply_markup"):
                raise ApiError(400, NOT_MODIFIED)
            message.pop("entities", None)
            message.update(content, edit_date=int(time.time()))
            message.pop("reply_markup", None)
            if markup:
                message["reply_markup"] = markup
            self.edits.append(
                {
                    "chat_id": key[0],
                    "message_id": key[1],
                    "text": text,
                    "reply_markup": markup,
                    "parse_mode": p.get("parse_mode"),
                    "raw": p.get("text"),
                }
            )
            return copy.deepcopy(message)

    def _api_deletemessage(self, p: JSON) -> bool:
        with self._cond:
            chat = self._known_chat(p.get("chat_id"))
            if self._messages.pop((chat["id"], int(p.get("message_id") or 0)), None) is None:
                raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def _api_answercallbackquery(self, p: JSON) -> bool:
        with self._cond:
            query_id = str(p.get("callback_query_id"))
            if self._queries.pop(query_id, None) is None:
                raise ApiError(
                    400,
                    "Bad Request: query is too old and response timeout expired "
                    "or query ID is invalid",
                )
            self.answered.append(
                {
                    "callback_query_id": query_id,
                    "text": p.get("text"),
                    "show_alert": p.get("show_alert"),
                }
            )
        return True

    def _api_getfile(self, p: JSON) -> JSON:
        with self._cond:
            found = self._files.get(str(p.get("file_id")))
        if found is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, _data, size = found
        if size > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        unique = "AQAD" + str(p.get("file_id"))[4:10]
        return {
            "file_id": p["file_id"],
            "file_unique_id": unique,
            "file_size": size,
            "file_path": path,
        }

    def _api_sendchataction(self, p: JSON) -> bool:
        with self._cond:
            chat = self._known_chat(p.get("chat_id"))
            thread = p.get("message_thread_id")
            self.actions.append(
                {"chat_id": chat["id"], "action": p.get("action"), "message_thread_id": thread}
            )
        return True

    def _api_setmycommands(self, p: JSON) -> bool:
        with self._cond:
            self.commands = list(p.get("commands") or [])
        return True

    def _api_getmycommands(self, p: JSON) -> list[JSON]:
        with self._cond:
            return copy.deepcopy(self.commands)

    def _api_deletemycommands(self, p: JSON) -> bool:
        with self._cond:
            self.commands = []
        return True

    def _api_getchat(self, p: JSON) -> JSON:
        with self._cond:
            return copy.deepcopy(self._known_chat(p.get("chat_id")))

    def _api_close(self, p: JSON) -> bool:
        return True

    def _api_logout(self, p: JSON) -> bool:
        return True


def _error(exc: ApiError) -> tuple[int, JSON, JSON]:
    body: JSON = {"ok": False, "error_code": exc.status, "description": exc.description}
    headers: JSON = {}
    if exc.retry_after is not None:
        body["parameters"] = {"retry_after": exc.retry_after}
        headers["Retry-After"] = str(exc.retry_after)
    return exc.status, body, headers


def _decode(name: str, value: str) -> Any:
    """Form values: strings stay strings for text-like fields, the rest is JSON."""
    if name in STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_params(query: str, content_type: str, body: bytes) -> JSON:
    """What a client may send: query string, form fields, multipart parts or a JSON body."""
    params: JSON = {k: _decode(k, v) for k, v in parse_qsl(query)}
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json" and body:
        data = json.loads(body)
        params.update(data if isinstance(data, dict) else {})
    elif ctype == "application/x-www-form-urlencoded":
        params.update({k: _decode(k, v) for k, v in parse_qsl(body.decode(), True)})
    elif ctype == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        for part in message.walk():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue  # the multipart container itself
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            params[name] = raw if part.get_filename() else _decode(name, raw.decode())
    return params


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: FakeTelegram) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            path = unquote(url.path)
            if path.startswith("/file/bot"):
                token, _, file_path = path[len("/file/bot") :].partition("/")
                data = self.server.owner._file_bytes(token, file_path)
                if data is None:
                    self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                else:
                    self._raw(200, data, "application/octet-stream")
                return
            if not path.startswith("/bot") or "/" not in path[4:]:
                self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            token, _, method = path[4:].partition("/")
            params = parse_params(url.query, self.headers.get("content-type") or "", body)
            answer = self.server.owner._dispatch(token, method, params)
            if answer is None:
                self.close_connection = True  # "disconnect": no answer at all
                return
            status, result, headers = answer
            if status == 200:
                self._reply(200, {"ok": True, "result": result})
            elif status == 504:  # a proxy's HTML page, as nginx answers
                page = b"<html><body><h1>504 Gateway Time-out</h1></body></html>"
                self._raw(status, page, "text/html")
            else:
                self._reply(status, result, headers)
        except (OSError, ValueError):
            self.close_connection = True

    def _reply(self, status: int, data: Any, headers: JSON | None = None) -> None:
        body = json.dumps(data).encode()
        self._raw(status, body, "application/json", headers)

    def _raw(self, status: int, body: bytes, ctype: str, headers: JSON | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.end_headers()
        self.wfile.write(body)
