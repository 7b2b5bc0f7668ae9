"""The Matrix adapter: the /sync long-poll in, room messages and edits out.

The platform's declaration is hermes/platforms/matrix.py, the transport (matrix-nio)
matrix_link.py, the JSON both ways matrix_wire.py.

- The place in the stream is the sync token (`next_batch`), kept in a Cursor
  (`matrix.sync.USER_ID` in state.db) only after every event of that sync was handed
  to the sink (committed): a kill re-reads the last sync, and the gateway's dedupe by
  event id (external_id) drops what it had stored already. The very first start has
  no token: it takes the initial sync's token without answering the rooms' history
  (only pending invites are handled).
- Liveness is the sync itself: a long-poll that answers at least every
  `sync_timeout` seconds. A sync that fails (the network, 5xx) or stays silent for
  `stall_grace` seconds more drops the client (its aiohttp session closed) and backs
  off; the next try builds a new client, whose first call is whoami (the probe). A
  rejected token (401, M_UNKNOWN_TOKEN) logs in again when a password is set, else it
  is `failed: ...` with no retry loop; 429 waits out M_LIMIT_EXCEEDED's retry_after_ms.
- End-to-end encrypted rooms are not served (no E2EE here): nothing is ever sent into a
  room with m.room.encryption state; its messages are dropped, the log says so once
  and `details()["encrypted_rooms"]` (status, doctor) names the room.
- Approvals are reactions: a request carries its buttons in its content
  (matrix_wire.BUTTONS); the bot reacts ✅ and ❌ on it, and a user's reaction becomes a
  button press (Inbound.callback_data), also after a restart (the event is fetched).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hermes.gateway.events import Attachment, Inbound, Outbound, Target, VoiceOut
from hermes.platforms import matrix_voice
from hermes.platforms import matrix_wire as wire
from hermes.platforms.adapter import (
    Adapter,
    AdapterUnavailable,
    DeadLetters,
    MemoryCursor,
    MemoryDeadLetters,
    SendError,
    Sink,
    Terminal,
    UpdateGuard,
    one_line,
    require,
)
from hermes.platforms.matrix import CAPABILITIES
from hermes.platforms.matrix_link import (
    TOKEN_FIX,
    Link,
    Login,
    MatrixError,
    login_record,
    stored_login,
)
from hermes.platforms.matrix_rooms import (
    Rooms,
    as_list,
    entries,
    section_events,
    since_invited,
)
from hermes.platforms.spec import Cursor
from hermes.providers.http import Backoff

log = logging.getLogger("hermes.gateway.matrix")
JSON = dict[str, Any]
RECONNECT_CAP = 5.0  # seconds between tries while the homeserver is unreachable, at most
RECENT = 2048  # event ids of our own messages remembered (replies to the bot)
MAX_DOWNLOAD = 25 * 1024 * 1024


class MatrixAdapter(Adapter):
    name = "matrix"
    capabilities = CAPABILITIES

    def __init__(
        self,
        login: Login,
        *,
        allowed: Callable[[], frozenset[str] | None] = lambda: frozenset(),
        require_mention: bool = False,
        sync_timeout: float = 30.0,
        stall_grace: float = 20.0,
        history_limit: int = 100,
        downloads: Path | None = None,
        cursor: Callable[[str], Cursor] | None = None,
        dead_letters: DeadLetters | None = None,
        backoff: Backoff | None = None,
        retry: Backoff | None = None,
    ) -> None:
        require("nio", "matrix")
        self.login = dataclasses.replace(login, homeserver=login.homeserver.rstrip("/"))
        self.bot = login.user_id
        self.allowed = allowed
        self.require_mention = require_mention
        self.sync_timeout = sync_timeout
        self.stall_grace = stall_grace
        self.history_limit = history_limit
        self.downloads = downloads
        self.cursors = cursor
        self.cursor: Cursor = cursor(f"matrix.sync.{self.bot}") if cursor else MemoryCursor()
        self.saved_login: Cursor = cursor(f"matrix.login.{self.bot}") if cursor else MemoryCursor()
        self.dead_letters: DeadLetters = dead_letters or MemoryDeadLetters()
        self.backoff = backoff or Backoff(base=0.5, cap=RECONNECT_CAP)
        self.retry = retry
        self.state = "starting"
        self.names: tuple[str, ...] = ()  # the bot's display name (mentions)
        self.since: str | None = None
        self.link: Link | None = None
        self._loaded = False  # the sync token was read from the cursor
        self._full_state = True  # the next sync asks for every room's state
        self.rooms = Rooms()
        self._encrypted: dict[str, bool] = {}  # room -> has m.room.encryption (asked)
        self._unsupported: dict[str, str] = {}  # encrypted rooms, for details()
        self._mine: OrderedDict[str, None] = OrderedDict()  # our recent event ids
        self._requests: dict[str, JSON] = {}  # our approval requests: event id -> event
        self._link_lock = asyncio.Lock()
        self._down_since: float | None = None
        self.last_sync: float | None = None

    def details(self) -> dict[str, str | float | None]:
        found = super().details()
        if self._unsupported:
            found["encrypted_rooms"] = "; ".join(self._unsupported.values())
        return found

    # -- connecting -------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        guard = UpdateGuard(self.name, self.dead_letters, retry=self.retry, wait=self.backoff)
        attempt = 0
        while True:
            try:
                link = await self._linked()
                await self._sync(link, guard, sink)
                attempt = 0
                continue
            except Terminal as exc:
                self.state = f"failed: {exc}"
                await self._drop_link()
                raise AdapterUnavailable(f"matrix: {exc}") from None
            except MatrixError as exc:
                problem: MatrixError = exc
            if problem.token_rejected:
                await self._token_rejected(problem)
                continue
            if problem.limited:  # M_LIMIT_EXCEEDED: the link is fine, wait as asked
                log.info("matrix: rate-limited; waiting %.1f s", problem.retry_after or 1.0)
                await self.backoff.sleep(self.backoff.delay(attempt, problem.retry_after or 1.0))
                continue
            await self._drop_link()
            self._outage(problem)
            await self.backoff.sleep(self.backoff.delay(attempt, problem.retry_after))
            attempt += 1

    def _outage(self, problem: MatrixError) -> None:
        if self._down_since is None:  # one line per outage, not per try
            self._down_since = time.monotonic()
            log.warning("matrix: the homeserver is unavailable (%s); retrying", problem)
        if self.state != "starting" or problem.status is None:
            self.state = "reconnecting"

    async def _token_rejected(self, problem: MatrixError) -> None:
        """A password logs in again (once per stored token); otherwise it is over."""
        await self._drop_link()
        record = stored_login(await self.saved_login.load(), self.login.homeserver)
        if self.login.access_token or not self.login.password or record is None:
            self.state = f"failed: the homeserver rejected the access token ({problem})"
            raise AdapterUnavailable(
                f"matrix: the homeserver rejected the access token: {TOKEN_FIX}"
            ) from None
        log.warning("matrix: the stored access token was rejected; logging in again")
        await self.saved_login.save("{}")

    async def _linked(self) -> Link:
        async with self._link_lock:
            if self.link is None:
                self.link = await self._connect()
        return self.link

    async def _connect(self) -> Link:
        """A new client: credentials, whoami (the probe), the display name, the cursor."""
        problem = self.login.problem()
        if problem is not None:
            raise Terminal(problem)
        token, device = self.login.access_token, None
        if not token:
            record = stored_login(await self.saved_login.load(), self.login.homeserver)
            token, device = record or ("", None)
        link = Link(self.login, token, device)
        try:
            if not token:
                try:
                    token, device = await link.password_login()
                except MatrixError as exc:
                    if exc.errcode == "M_FORBIDDEN" or exc.token_rejected:
                        raise Terminal(f"the homeserver refused MATRIX_PASSWORD ({exc})") from exc
                    raise
                link.client.access_token = token
                await self.saved_login.save(login_record(self.login.homeserver, token, device))
                log.info("matrix: logged in as %s (device %s)", self.bot, device)
            user, device = await link.whoami()
            if user != self.bot:
                raise Terminal(f"the access token belongs to {user}, not MATRIX_USER_ID {self.bot}")
            link.client.user_id, link.client.device_id = user, device or ""
            name = await link.display_name()
            self.names = (name,) if name else ()
            if not self._loaded:
                self.since, self._loaded = await self.cursor.load(), True
        except BaseException:
            await link.close()
            raise
        self._full_state = True
        self.rooms.forget_state()
        return link

    async def _drop_link(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            await link.close()

    def _connected(self) -> None:
        self.last_sync = time.time()
        if self.state == "connected":
            return
        if self._down_since is not None:
            down = time.monotonic() - self._down_since
            log.info("matrix: connected again after %.0f s", down)
        else:
            log.info("matrix: connected as %s", self.bot)
        self.state, self._down_since = "connected", None

    # -- receiving --------------------------------------------------------------------

    async def _sync(self, link: Link, guard: UpdateGuard, sink: Sink) -> None:
        """One /sync: every event to the sink in order, invites, then the token saved."""
        first, full = self.since is None, self._full_state
        timeout = 0.0 if first else self.sync_timeout
        limit = 1 if first else self.history_limit
        response = await link.sync(self.since, timeout, self.stall_grace, limit, full)
        self._full_state = False
        self._connected()
        rooms = response.get("rooms") if isinstance(response.get("rooms"), dict) else {}
        assert isinstance(rooms, dict)
        for room_id, info in entries(rooms.get("join")):
            timeline = info.get("timeline") if isinstance(info.get("timeline"), dict) else {}
            assert isinstance(timeline, dict)
            events = [e for e in as_list(timeline.get("events")) if isinstance(e, dict)]
            state = section_events(info, "state")
            complete = full or self.rooms.get(room_id) is None  # a room just joined: all state
            self._note(room_id, [*state, *events], complete)
            if first:
                continue
            if complete and not full:  # just joined: only what came since the invite
                events = since_invited(events, self.bot)
            elif timeline.get("limited"):
                log.warning(
                    "matrix: more than %d events came in %s while Hermes was away; "
                    "the older ones are not answered",
                    self.history_limit,
                    room_id,
                )
            for event in events:
                key = str(event.get("event_id") or f"no-id-{uuid.uuid4()}")
                await guard.deliver(key, event, self._normalizer(link, room_id, event), sink)
        for room_id, info in entries(rooms.get("invite")):
            await self._invited(link, room_id, section_events(info, "invite_state"))
        token = response.get("next_batch")
        if isinstance(token, str) and token != self.since:
            self.since = token
            try:
                await self.cursor.save(token)
            except Exception as exc:  # a lost save only means a replay (deduped)
                log.warning("matrix: could not save the sync token (%s)", exc)
        if first:
            log.info("matrix: first start; the rooms' history is not answered")

    def _note(self, room: str, events: list[Any], complete: bool) -> None:
        if "encrypted" in self.rooms.apply(room, events, full=complete):
            self._mark_encrypted(room)
        if any(isinstance(e, dict) and e.get("type") == "m.room.encrypted" for e in events):
            self._mark_encrypted(room)

    def _mark_encrypted(self, room: str) -> None:
        self._encrypted[room] = True
        if room not in self._unsupported:
            self._unsupported[room] = wire.unsupported(room)
            log.warning(
                "matrix: room %s is end-to-end encrypted, which Hermes does not support: "
                "it sends nothing there and answers nothing from there (use an "
                "unencrypted room)",
                room,
            )

    async def _is_encrypted(self, room: str) -> bool:
        known = self.rooms.get(room)
        if known is not None and known.encrypted:
            self._encrypted[room] = True
        if room in self._encrypted:
            return self._encrypted[room]
        link = await self._linked()
        try:
            found = await link.encrypted(room)
        except MatrixError as exc:
            if exc.retryable:
                raise ConnectionError(str(exc)) from exc
            return False  # not in the room: the send will say so
        if found:
            self._mark_encrypted(room)
        elif known is not None and known.complete:
            self._encrypted[room] = False  # its state is followed from now on
        return found

    async def _invited(self, link: Link, room: str, state: list[Any]) -> None:
        sender = wire.inviter([e for e in state if isinstance(e, dict)], self.bot)
        allowed = self.allowed()
        try:
            if sender is not None and (allowed is None or sender in allowed):
                await link.join(room)
                log.info("matrix: joined %s (invited by %s)", room, sender)
            else:
                await link.leave(room)
                log.info("matrix: declined the invite to %s from %s (not allowed)", room, sender)
        except MatrixError as exc:
            if exc.retryable or exc.token_rejected:
                raise
            log.warning("matrix: could not answer the invite to %s (%s)", room, exc)

    def _normalizer(
        self, link: Link, room: str, raw: Any
    ) -> Callable[[], Awaitable[Inbound | None]]:
        async def normalize() -> Inbound | None:
            event = wire.check_event(raw)
            kind = event["type"]
            if event["sender"] == self.bot:
                return None
            if kind == "m.room.encrypted":
                self._mark_encrypted(room)
                return None
            if kind not in ("m.room.message", "m.reaction") or await self._is_encrypted(room):
                return None
            user_name = self.rooms.user_name(room, event["sender"])
            is_group = await self._is_group(link, room)
            if kind == "m.reaction":
                found = wire.reaction_target(event)
                reacted = await self._request(link, room, found[0]) if found else None
                if not reacted:
                    return None
                return wire.button_press(
                    event, room, reacted, bot=self.bot, is_group=is_group, user_name=user_name
                )
            content = event.get("content") or {}
            to_bot, reply_text = False, None
            for related in {wire.replied_to(content), wire.thread_root(content)} - {None}:
                assert related is not None
                other = await self._event(link, room, related)
                to_bot = to_bot or other.get("sender") == self.bot
                if related == wire.real_reply(content):
                    reply_text = wire.text_of(other.get("content") or {}) or None
            return wire.message_event(
                event,
                room,
                bot=self.bot,
                names=self.names,
                is_group=is_group,
                require_mention=self.require_mention,
                to_bot=to_bot,
                reply_text=reply_text,
                user_name=user_name,
                chat_name=self.rooms.room_name(room),
            )

        return normalize

    async def _is_group(self, link: Link, room: str) -> bool:
        known = self.rooms.is_group(room)
        if known is not None:
            return known
        try:
            return await link.members(room) > 2
        except MatrixError as exc:
            if exc.retryable:
                raise ConnectionError(str(exc)) from exc
            return True

    async def _event(self, link: Link, room: str, event_id: str) -> JSON:
        """An event of ROOM ({} when it cannot be read); our own are known."""
        if event_id in self._requests:
            return self._requests[event_id]
        if event_id in self._mine:
            return {"sender": self.bot, "event_id": event_id}
        try:
            return await link.event(room, event_id)
        except MatrixError as exc:
            if exc.retryable:  # transient for the UpdateGuard: tried again, not skipped
                raise ConnectionError(str(exc)) from exc
            return {}

    async def _request(self, link: Link, room: str, event_id: str) -> JSON:
        found = self._requests.get(event_id)
        if found is None:
            found = await self._event(link, room, event_id)
        return found if wire.BUTTONS in (found.get("content") or {}) else {}

    async def fetch(self, event: Inbound) -> Inbound:
        """Download an accepted message's file (mxc://) into the downloads dir."""
        files: list[Attachment] = []
        for a in event.attachments:
            path, size = a.path, a.size
            if a.path is None and a.platform_file_id and self.downloads is not None:
                try:
                    if size is None or size <= MAX_DOWNLOAD:
                        data = await (await self._linked()).download(a.platform_file_id)
                        if data and len(data) <= MAX_DOWNLOAD:
                            name = "".join(
                                c if c.isalnum() or c in "._-" else "_" for c in a.name or a.kind
                            )
                            target = self.downloads / f"matrix-{uuid.uuid4().hex[:12]}-{name}"
                            self.downloads.mkdir(parents=True, exist_ok=True)
                            await asyncio.to_thread(target.write_bytes, data)
                            path, size = str(target), len(data)
                except Exception as exc:
                    log.warning("matrix: could not download a %s: %s", a.kind, one_line(str(exc)))
            files.append(dataclasses.replace(a, path=path, size=size))
        return dataclasses.replace(event, attachments=tuple(files))

    # -- sending ----------------------------------------------------------------------

    async def send(self, message: Outbound) -> str:
        room = message.target.chat
        content = wire.message_content(
            message.text,
            thread=message.target.thread,
            reply_to=message.reply_to_message_id,
            buttons=message.buttons,
        )
        # a part the ledger sends again (after a timeout) keeps its transaction id, so the
        # homeserver answers with the event it made the first time instead of a duplicate
        key = getattr(message, "key", None)
        txn = f"hermes-{key}" if key else None
        event_id = await self._send(room, "m.room.message", content, txn)
        if wire.BUTTONS in content:
            self._requests[event_id] = {
                "sender": self.bot,
                "event_id": event_id,
                "content": content,
            }
            for emoji, _ in wire.reactions(message.buttons):  # one tap for the user
                relation = {"rel_type": "m.annotation", "event_id": event_id, "key": emoji}
                try:
                    await self._send(room, "m.reaction", {"m.relates_to": relation}, None)
                except SendError as exc:
                    log.info("matrix: could not add the %s reaction (%s)", emoji, exc)
        return event_id

    async def send_voice(self, voice: VoiceOut) -> str:
        """A voice message (m.audio, MSC3245): hermes/platforms/matrix_voice.py."""
        try:
            content = await matrix_voice.content(await self._linked(), voice)
        except (MatrixError, Terminal, ConnectionError) as exc:
            raise _send_error(exc) from exc
        txn = f"hermes-voice-{voice.key}" if voice.key else None  # sent again: same event
        return await self._send(voice.target.chat, "m.room.message", content, txn)

    async def edit(self, target: Target, message_id: str, text: str) -> None:
        await self._send(target.chat, "m.room.message", wire.edit_content(message_id, text), None)

    async def _send(self, room: str, kind: str, content: JSON, txn: str | None) -> str:
        if self.state.startswith("failed"):
            raise SendError(f"matrix is {self.state}", retryable=False)
        try:
            if await self._is_encrypted(room):
                raise SendError(f"matrix: {wire.unsupported(room)}", retryable=False)
            link = await self._linked()
            event_id = await link.send(room, kind, content, txn or f"hermes-{uuid.uuid4().hex}")
        except (MatrixError, Terminal, ConnectionError) as exc:
            raise _send_error(exc) from exc
        self._mine[event_id] = None
        while len(self._mine) > RECENT:
            self._mine.popitem(last=False)
        return event_id

    async def close(self) -> None:
        await self._drop_link()
        if not self.state.startswith("failed"):
            self.state = "stopped"


def _send_error(exc: MatrixError | Terminal | ConnectionError) -> SendError:
    retryable = not isinstance(exc, Terminal) and (
        not isinstance(exc, MatrixError) or exc.retryable
    )
    after = exc.retry_after if isinstance(exc, MatrixError) else None
    return SendError(f"matrix: {exc}", retryable=retryable, retry_after=after)
