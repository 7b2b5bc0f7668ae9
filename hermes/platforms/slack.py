"""Slack: a bot in Socket Mode (slack-bolt's AsyncApp on slack_sdk's aiohttp Socket
Mode client), and the incoming webhook as a notification-only target.

Configured by `SLACK_BOT_TOKEN` (xoxb-...) + `SLACK_APP_TOKEN` (xapp-..., Socket
Mode), or by `SLACK_WEBHOOK_URL` alone: then `slack:webhook` is a target for approval
prompts, cron and task results, and nothing comes in. With a bot, `slack:webhook`
still goes to the webhook; `slack:CHANNEL[:THREAD_TS]` goes through the bot.

Acknowledging: every envelope (event or button press) goes through bolt with
`process_before_response=True`, so bolt answers the envelope only after our listener
returned, and our listener returns only after the gateway's sink committed the
message (or the guard recorded it as skipped). A listener that fails leaves the
envelope unanswered, so Slack sends it again; envelopes bolt has no listener for are
answered at once (nothing of ours is in them). Slack re-sends an envelope that is not
answered within 3 s: the gateway stores a message once per CHANNEL:TS, and button
presses (not stored) are remembered here for a while.

Liveness: the Socket Mode client's ping/pong (a socket that stays open but answers
nothing is stale after 4 pings) and, when nothing came in for `probe_interval`
seconds, `auth.test`. A closed or stale socket is torn down (the old client fully
closed) and rebuilt; a revoked token ends in `failed: ...` with no retry loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes.aio import within
from hermes.gateway.events import Inbound, Outbound, Target, VoiceOut
from hermes.platforms import slack_files
from hermes.platforms import slack_wire as wire
from hermes.platforms.adapter import (
    Adapter,
    AdapterUnavailable,
    DeadLetters,
    MemoryDeadLetters,
    SendError,
    Sink,
    Terminal,
    UpdateGuard,
    require,
)
from hermes.platforms.slack_check import check
from hermes.platforms.slack_webhook import post_webhook
from hermes.platforms.spec import Build, Capabilities, Credential, Platform, section
from hermes.providers.http import Backoff
from hermes.settings import bounded

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest
    from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("hermes.gateway.slack")


class _OneLine(logging.Filter):
    """The Socket Mode client logs each failed try with a traceback of its internals:
    one line is what a user can use (the adapter says what it does about it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.levelno >= logging.WARNING:
            record.exc_info, record.exc_text = None, None
        return True


SOCKET_LOG = logging.getLogger("hermes.gateway.slack.socket")
SOCKET_LOG.addFilter(_OneLine())
CONNECT_TIMEOUT = (5.0, 15.0)  # seconds for the socket to open and say hello: 4 pings, within
RECONNECT_CAP = 5.0
REMEMBERED = 2000  # recent button presses kept to drop Slack's re-sends


@dataclass
class SlackSettings:
    """The `slack:` section of config.yaml."""

    require_mention: bool = False  # in channels, answer only when mentioned (@bot)
    base_url: str = wire.DEFAULT_BASE_URL  # the Web API root (tests: a local fake)
    ping_interval: float = bounded(10.0, 0.05, 300)  # socket pings; 4 unanswered: rebuilt
    probe_interval: float = bounded(60.0, 0.1, 3600)  # quiet this long: auth.test


CAPABILITIES = Capabilities(
    max_length=4000,  # Slack advises at most 4000 characters per message
    length_unit="chars",
    markup="slack_mrkdwn",
    can_edit=True,
    edit_interval=1.2,  # chat.update is Tier 3 (~50 a minute)
    buttons=True,
    threads=True,
    voice_notes=True,
    audio_out=True,  # an OGG audio file (Slack has no voice note for bots)
)


class SlackPlatform(Platform):
    """Configured by the bot and app tokens, or by the incoming webhook alone."""

    def configured(self, env: Mapping[str, str]) -> bool:
        return super().configured(env) or bool(env.get("SLACK_WEBHOOK_URL", "").strip())


def build(b: Build) -> SlackAdapter:
    env = b.profile.env
    settings: SlackSettings = section(b.profile.settings, PLATFORM)
    return SlackAdapter(
        bot_token=env.get("SLACK_BOT_TOKEN", "").strip(),
        app_token=env.get("SLACK_APP_TOKEN", "").strip(),
        webhook_url=env.get("SLACK_WEBHOOK_URL", "").strip(),
        base_url=env.get("SLACK_API_BASE_URL") or settings.base_url,
        require_mention=settings.require_mention,
        ping_interval=settings.ping_interval,
        probe_interval=settings.probe_interval,
        dead_letters=b.dead_letters,
        downloads=b.profile.workspace / "inbox",
    )


PLATFORM = SlackPlatform(
    name="slack",
    title="Slack",
    required=("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"),
    how=(
        "set SLACK_BOT_TOKEN (xoxb-...) and SLACK_APP_TOKEN (xapp-..., Socket Mode), "
        "or SLACK_WEBHOOK_URL alone for notifications to slack:webhook"
    ),
    build=build,
    capabilities=CAPABILITIES,
    credentials=(
        Credential("SLACK_BOT_TOKEN", "the Slack bot token"),
        Credential("SLACK_APP_TOKEN", "the Slack app-level token"),
    ),
    optional=("SLACK_WEBHOOK_URL", "SLACK_ALLOWED_USERS", "SLACK_API_BASE_URL"),
    settings=SlackSettings,
    extra="slack",
    check=check,  # hermes gateway setup: auth.test and apps.connections.open
)


class SlackAdapter(Adapter):
    name = "slack"
    capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        bot_token: str = "",
        app_token: str = "",
        webhook_url: str = "",
        base_url: str = wire.DEFAULT_BASE_URL,
        require_mention: bool = False,
        ping_interval: float = 10.0,
        probe_interval: float = 60.0,
        dead_letters: DeadLetters | None = None,
        backoff: Backoff | None = None,
        downloads: Path | None = None,
    ) -> None:
        require("slack_bolt", "slack")
        self.downloads = downloads  # where fetch puts shared files (None: not fetched)
        if not (bot_token and app_token):  # the webhook alone cannot upload audio
            self.capabilities = replace(CAPABILITIES, audio_out=False)
        self.bot_token, self.app_token, self.webhook_url = bot_token, app_token, webhook_url
        self.base_url = wire.api_root(base_url)
        self.require_mention = require_mention
        self.ping_interval = ping_interval
        self.probe_interval = probe_interval
        self.dead_letters: DeadLetters = dead_letters or MemoryDeadLetters()
        self.backoff = backoff or Backoff(base=0.5, cap=RECONNECT_CAP)
        self.state = "starting"
        self.bot_user: str | None = None  # the bot's user id (auth.test)
        self._web: AsyncWebClient | None = None
        self._app: AsyncApp | None = None
        self._socket: SocketModeClient | None = None
        self._guard: UpdateGuard | None = None
        self._sink: Sink | None = None
        self._hello = asyncio.Event()
        self._last_seen = time.monotonic()  # the last frame from Slack
        self._pressed: OrderedDict[str, None] = OrderedDict()  # recent button presses
        # The client hands each envelope to its own task; each takes this lock before
        # any await, so envelopes reach the gateway one at a time in arrival order.
        self._in_order = asyncio.Lock()

    @property
    def has_bot(self) -> bool:
        return bool(self.bot_token and self.app_token)

    def _client(self) -> AsyncWebClient:
        if self._web is None:
            from slack_sdk.web.async_client import AsyncWebClient

            self._web = AsyncWebClient(token=self.bot_token, base_url=self.base_url, timeout=30)
        return self._web

    # -- receiving ------------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        if not self.has_bot:  # the incoming webhook only: nothing comes in
            log.info("slack: notification-only (SLACK_WEBHOOK_URL): target slack:webhook")
            self.state = "connected"
            await asyncio.Event().wait()
        self._sink = sink
        self._guard = UpdateGuard(self.name, self.dead_letters, wait=self.backoff)
        attempt, down_since = 0, 0.0
        while True:
            try:
                await self._connect()
                if self.state == "reconnecting":
                    log.info("slack: connected again after %.0f s", time.monotonic() - down_since)
                self.state, attempt = "connected", 0
                reason = await self._watch()
                log.warning("slack: %s; reconnecting", reason)
                down_since, retry_after = time.monotonic(), None
                self.state = "reconnecting"
            except Terminal as exc:
                self.state = f"failed: {exc}"
                await self._drop_socket()
                raise AdapterUnavailable(f"slack: {exc}") from None
            except Exception as exc:
                _, _, retry_after = wire.api_error(exc)
                if self.state != "reconnecting":  # one line per outage, not per try
                    down_since = time.monotonic()
                    log.warning("slack: cannot connect (%s); reconnecting", _short(exc))
                self.state = "reconnecting"
            await self._drop_socket()
            await self.backoff.sleep(self.backoff.delay(attempt, retry_after))
            attempt += 1

    async def _connect(self) -> None:
        """auth.test, a Socket Mode URL, the socket open and Slack's hello."""
        from slack_sdk.socket_mode.aiohttp import SocketModeClient
        from slack_sdk.web.async_client import AsyncWebClient

        me = await self._call(self._client().auth_test(), "SLACK_BOT_TOKEN")
        self.bot_user = str(me.get("user_id") or "") or None
        app = self._bolt()
        opener = AsyncWebClient(base_url=self.base_url, timeout=30)
        opened = await self._call(
            opener.apps_connections_open(app_token=self.app_token), "SLACK_APP_TOKEN"
        )
        socket = SocketModeClient(
            app_token=self.app_token,
            logger=SOCKET_LOG,
            web_client=opener,
            auto_reconnect_enabled=False,  # we rebuild it ourselves (_watch)
            ping_interval=self.ping_interval,
        )
        socket.wss_uri = str(opened["url"])
        socket.message_listeners.append(self._on_frame)
        socket.socket_mode_request_listeners.append(self._requests(app))
        self._socket, self._hello = socket, asyncio.Event()
        low, high = CONNECT_TIMEOUT
        limit = min(high, max(low, 4 * self.ping_interval))
        # (connect() retries a refused handshake by itself every ping_interval: the
        # limit ends that, and the next round asks auth.test whether the token is gone)
        await within(socket.connect(), limit)  # type: ignore[no-untyped-call]
        await within(self._hello.wait(), limit)

    async def _call(self, call: Any, var: str) -> Any:
        try:
            return await call
        except Exception as exc:
            code = wire.terminal(exc)
            if code is not None:
                raise Terminal(f"Slack rejected {var} ({code}); {wire.FIX[var]}") from None
            raise

    async def _watch(self) -> str:
        """Returns why the connection must be rebuilt; raises Terminal."""
        socket, probed = self._socket, time.monotonic()
        assert socket is not None
        while True:
            await asyncio.sleep(min(self.ping_interval, self.probe_interval))
            if not await socket.is_connected():
                await self._probe()
                return "the Socket Mode connection closed or went silent"
            quiet = time.monotonic() - max(self._last_seen, probed)
            if quiet >= self.probe_interval:
                await self._probe()
                probed = time.monotonic()

    async def _probe(self) -> None:
        """auth.test: Terminal if the token is gone; other failures raise as they are."""
        await self._call(self._client().auth_test(), "SLACK_BOT_TOKEN")

    async def _drop_socket(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            try:
                await socket.close()  # type: ignore[no-untyped-call]
            except Exception as exc:  # a broken socket may fail to close: it is gone anyway
                log.debug("slack: closing the old socket: %s", exc)

    async def _on_frame(self, client: Any, message: dict[str, Any], raw: str | None) -> None:
        if client is not self._socket:
            return  # a frame the old client still read
        self._last_seen = time.monotonic()
        if message.get("type") == "hello":
            self._hello.set()

    def _requests(self, app: AsyncApp) -> Any:
        async def handle(client: SocketModeClient, req: SocketModeRequest) -> None:
            from slack_bolt.adapter.socket_mode.async_internals import (
                run_async_bolt_app,
                send_async_response,
            )
            from slack_sdk.socket_mode.response import SocketModeResponse

            started = time.time()
            async with self._in_order:  # taken in the order the envelopes came
                response = await run_async_bolt_app(app, req)
                if response.status == 404:  # no listener of ours: nothing to keep
                    await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))
                    return
                await send_async_response(client, req, response, started)

        return handle

    def _bolt(self) -> AsyncApp:
        """The bolt app (one per adapter: it keeps auth.test's answer)."""
        if self._app is not None:
            return self._app
        from slack_bolt.async_app import AsyncApp

        bolt_log = logging.getLogger("hermes.gateway.slack.bolt")
        app = AsyncApp(
            client=self._client(),  # with the bot token
            process_before_response=True,  # answer the envelope after the listener
            logger=bolt_log,
        )

        async def on_message(body: dict[str, Any]) -> None:
            await self._deliver(body, self._message)

        async def on_button(body: dict[str, Any], ack: Any) -> None:
            await self._deliver(body, self._button)
            await ack()

        app.event("message")(on_message)
        app.event("app_mention")(on_message)
        app.action(re.compile(".*"))(on_button)  # every button of ours
        self._app = app
        return app

    async def _deliver(self, body: dict[str, Any], normalize: Any) -> None:
        """Through the guard to the sink; returns once it is committed or recorded.
        A button press handed over is remembered (presses are not stored)."""
        assert self._guard is not None and self._sink is not None
        key = str(body.get("event_id") or _press_key(body))
        handed: list[Inbound] = []

        async def run() -> Inbound | None:
            event: Inbound | None = await normalize(body)
            if event is not None:
                handed[:] = [event]
            return event

        if await self._guard.deliver(key, body, run, self._sink):
            for event in handed:
                if event.callback_data is not None:
                    self._pressed[event.external_id] = None
            while len(self._pressed) > REMEMBERED:
                self._pressed.popitem(last=False)

    async def _message(self, body: dict[str, Any]) -> Inbound | None:
        return wire.message(body.get("event"), self.bot_user, self.require_mention)

    async def _button(self, body: dict[str, Any]) -> Inbound | None:
        event = wire.button_press(body)
        if event is None or event.external_id in self._pressed:
            return None  # Slack sent this press again
        return event

    # -- sending --------------------------------------------------------------------

    async def send(self, message: Outbound) -> str:
        target = message.target
        if target.chat == wire.WEBHOOK_CHAT:
            return await post_webhook(self.webhook_url, message.text)
        if not self.has_bot:
            raise SendError(
                f"slack: only SLACK_WEBHOOK_URL is set: send to slack:webhook, not {target} "
                "(or set SLACK_BOT_TOKEN and SLACK_APP_TOKEN)",
                retryable=False,
            )
        kwargs: dict[str, Any] = {"channel": target.chat, "text": message.text}
        if target.thread:
            kwargs["thread_ts"] = target.thread
        if message.buttons:
            kwargs["blocks"] = wire.blocks(message.text, message.buttons)
        try:
            sent = await self._client().chat_postMessage(**kwargs)
        except Exception as exc:
            raise wire.send_error(exc) from exc
        return str(sent["ts"])

    async def send_voice(self, voice: VoiceOut) -> str:
        if voice.target.chat == wire.WEBHOOK_CHAT or not self.has_bot:
            raise SendError("slack: the incoming webhook cannot send audio", retryable=False)
        return await slack_files.upload_voice(self._client(), voice)

    async def fetch(self, event: Inbound) -> Inbound:
        """The shared files of an accepted message, downloaded (slack_files.py)."""
        if self.downloads is None or not self.has_bot:
            return event
        return await slack_files.download(self._client(), self.downloads, event)

    async def edit(self, target: Target, message_id: str, text: str) -> None:
        if target.chat == wire.WEBHOOK_CHAT or not self.has_bot:
            raise SendError(
                "slack: messages of the incoming webhook cannot be edited", retryable=False
            )
        try:
            await self._client().chat_update(channel=target.chat, ts=message_id, text=text)
        except Exception as exc:
            raise wire.send_error(exc, "editing") from exc

    async def close(self) -> None:
        await self._drop_socket()
        if not self.state.startswith("failed"):
            self.state = "stopped"


def _press_key(body: dict[str, Any]) -> str:
    actions = body.get("actions") if isinstance(body.get("actions"), list) else []
    first = actions[0] if actions and isinstance(actions[0], dict) else {}
    return f"action-{first.get('action_ts') or body.get('trigger_id') or 'unknown'}"


def _short(exc: BaseException) -> str:
    code, status, _ = wire.api_error(exc)
    if code or status:
        return f"{code or ''} HTTP {status}".strip()
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
