"""WhatsApp: two ways in, one platform.

- Meta's WhatsApp Business Cloud API (hermes/platforms/whatsapp_cloud.py): Meta POSTs
  each message to our webhook, /webhooks/whatsapp, signed with the app secret; replies
  go out through the Graph API. Configured by WHATSAPP_TOKEN, WHATSAPP_PHONE_NUMBER_ID,
  WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN (all four).
- A bridge next to Hermes that links an ordinary WhatsApp account the way WhatsApp
  Web does (Baileys, whatsmeow) and speaks the small HTTP contract in
  docs/whatsapp-bridge.md (hermes/platforms/whatsapp_bridge.py). Configured by
  WHATSAPP_BRIDGE_URL (and WHATSAPP_BRIDGE_TOKEN if the bridge wants one).

Either set configures the platform; when both are complete the Cloud API is used
(the log says so). No SDK: both talk HTTP with httpx, a core dependency. Senders
are phone numbers (+15551234567): WHATSAPP_ALLOWED_USERS lists them in any common
spelling (spaces, dashes; commas between numbers); others get a pairing code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hermes.platforms import whatsapp_wire as wire
from hermes.platforms.spec import Build, Credential, Platform, section
from hermes.settings import bounded

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

log = logging.getLogger("hermes.gateway.whatsapp")

CLOUD: tuple[str, ...] = ("WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET")
CLOUD += ("WHATSAPP_VERIFY_TOKEN",)
BRIDGE = ("WHATSAPP_BRIDGE_URL",)


@dataclass
class WhatsAppSettings:
    """The `whatsapp:` section of config.yaml."""

    graph_url: str = wire.DEFAULT_GRAPH_URL  # the Graph API root (tests: a local fake)
    graph_version: str = wire.GRAPH_VERSION
    # quiet this long: the Cloud API is asked for the phone number (token, reachability);
    # the bridge is probed end to end (a round trip through WhatsApp's servers)
    probe_interval: float = bounded(60.0, 0.1, 3600)
    probe_timeout: float = bounded(20.0, 0.1, 300)  # bridge: the probe's answer within
    poll_timeout: float = bounded(25.0, 0.1, 120)  # bridge: one GET /messages long-poll
    require_mention: bool = False  # bridge groups: answer only when mentioned or replied to


CAPABILITIES = wire.CAPABILITIES


class WhatsAppPlatform(Platform):
    def cloud(self, env: Mapping[str, str]) -> bool:
        return all(env.get(var, "").strip() for var in CLOUD)


def build(b: Build) -> Any:
    env = b.profile.env
    settings: WhatsAppSettings = section(b.profile.settings, PLATFORM)
    downloads = b.profile.workspace / "inbox"
    if PLATFORM.cloud(env):
        from hermes.platforms.whatsapp_cloud import CloudAdapter

        if env.get("WHATSAPP_BRIDGE_URL", "").strip():
            log.warning("whatsapp: the Cloud API is configured too: WHATSAPP_BRIDGE_URL is unused")
        return CloudAdapter(
            token=env["WHATSAPP_TOKEN"].strip(),
            phone_number_id=env["WHATSAPP_PHONE_NUMBER_ID"].strip(),
            app_secret=env["WHATSAPP_APP_SECRET"].strip(),
            verify_token=env["WHATSAPP_VERIFY_TOKEN"].strip(),
            graph_url=env.get("WHATSAPP_GRAPH_URL", "").strip() or settings.graph_url,
            graph_version=settings.graph_version,
            probe_interval=settings.probe_interval,
            downloads=downloads,
            cursor=b.cursor,
            dead_letters=b.dead_letters,
        )
    from hermes.platforms.whatsapp_bridge import BridgeAdapter

    return BridgeAdapter(
        url=env["WHATSAPP_BRIDGE_URL"].strip(),
        token=env.get("WHATSAPP_BRIDGE_TOKEN", "").strip(),
        probe_interval=settings.probe_interval,
        probe_timeout=settings.probe_timeout,
        poll_timeout=settings.poll_timeout,
        require_mention=settings.require_mention,
        downloads=downloads,
        cursor=b.cursor,
        dead_letters=b.dead_letters,
    )


def routes(adapter: Any) -> list[BaseRoute]:
    """/webhooks/whatsapp: Meta's verification handshake (GET) and events (POST)."""
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def hook(request: Request) -> Response:
        handle = getattr(adapter, "webhook", None)
        if handle is None:  # the bridge: nothing comes in here
            return PlainTextResponse("the WhatsApp Cloud API is not configured", 404)
        answer: Response = await handle(request)
        return answer

    return [Route("/", hook, methods=["GET", "POST"])]


async def check(env: Mapping[str, str]) -> str | None:
    """`hermes gateway setup`: the Cloud API's phone number asked with the token, or
    the bridge's GET /health. None when it works, else what is wrong (one line)."""
    if PLATFORM.cloud(env):
        from hermes.platforms.whatsapp_cloud import check_cloud

        return await check_cloud(env)
    if env.get("WHATSAPP_BRIDGE_URL", "").strip():
        from hermes.platforms.whatsapp_bridge import check_bridge

        return await check_bridge(env)
    return f"set {', '.join(CLOUD)} (the Cloud API), or WHATSAPP_BRIDGE_URL (a bridge)"


PLATFORM = WhatsAppPlatform(
    name="whatsapp",
    title="WhatsApp",
    required=CLOUD,
    alternatives=(BRIDGE,),
    how=(
        "set WHATSAPP_TOKEN, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET and "
        "WHATSAPP_VERIFY_TOKEN (Meta's Cloud API), or WHATSAPP_BRIDGE_URL (a bridge, "
        "docs/whatsapp-bridge.md)"
    ),
    build=build,
    capabilities=CAPABILITIES,
    credentials=(
        Credential("WHATSAPP_PHONE_NUMBER_ID", "the WhatsApp phone number id"),
        Credential("WHATSAPP_BRIDGE_URL", "the WhatsApp bridge"),
    ),
    optional=(
        "WHATSAPP_BRIDGE_URL",
        "WHATSAPP_BRIDGE_TOKEN",
        "WHATSAPP_ALLOWED_USERS",
        "WHATSAPP_GRAPH_URL",
    ),
    settings=WhatsAppSettings,
    routes=routes,
    check=check,
    allowlist=wire.allowed_numbers,
)
