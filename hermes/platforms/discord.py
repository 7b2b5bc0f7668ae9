"""Discord: what Hermes needs to know about the platform, and its adapter's builder.

Bots connect with DISCORD_BOT_TOKEN through discord.py (the `discord` extra); the
adapter is hermes/platforms/discord_adapter.py, its JSON helpers discord_wire.py.
DMs, server channels and threads (a thread is CHANNEL:THREAD), replies streamed by
editing, approvals as buttons (message components), attachments and voice messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hermes.platforms.spec import Build, Capabilities, Credential, Platform, section
from hermes.settings import bounded

if TYPE_CHECKING:
    from hermes.platforms.discord_adapter import DiscordAdapter

API = "https://discord.com/api/v10"
MESSAGE_CONTENT = (1 << 18) | (1 << 19)  # application flags: the intent is enabled


@dataclass
class DiscordSettings:
    """The `discord:` section of config.yaml."""

    require_mention: bool = False  # in servers, answer only when mentioned or replied to
    base_url: str = API  # the REST root (tests point it at a fake)
    heartbeat_timeout: float = bounded(60.0, 1, 600)  # silent this long: reconnect


CAPABILITIES = Capabilities(
    max_length=2000,
    length_unit="chars",
    markup="discord_md",
    can_edit=True,
    edit_interval=1.5,  # PATCH shares a per-channel bucket of about 5 per 5 s
    buttons=True,
    threads=True,
    voice_notes=True,
    audio_out=True,
)


def build(spec: Build) -> DiscordAdapter:
    """The profile's Discord adapter (the gateway builds it when DISCORD_BOT_TOKEN is set)."""
    from hermes.platforms.discord_adapter import DiscordAdapter

    profile = spec.profile
    settings: DiscordSettings = section(profile.settings, PLATFORM)
    return DiscordAdapter(
        profile.env.get("DISCORD_BOT_TOKEN", "").strip(),
        base_url=profile.env.get("DISCORD_API_BASE_URL") or settings.base_url,
        downloads=profile.workspace / "inbox",
        require_mention=settings.require_mention,
        heartbeat_timeout=settings.heartbeat_timeout,
        cursor=spec.cursor,
        dead_letters=spec.dead_letters,
    )


async def check(env: Mapping[str, str]) -> str | None:
    """Whether DISCORD_BOT_TOKEN works (GET /users/@me) and the application has the
    Message Content intent that reading messages needs; None, or what is wrong."""
    import httpx

    token = env.get("DISCORD_BOT_TOKEN", "").strip()
    base = (env.get("DISCORD_API_BASE_URL", "").strip() or API).rstrip("/")
    headers = {"Authorization": f"Bot {token}"}
    try:
        async with httpx.AsyncClient(timeout=20, headers=headers) as client:
            me = await client.get(f"{base}/users/@me")
            app = await client.get(f"{base}/oauth2/applications/@me") if me.is_success else me
    except httpx.HTTPError as exc:
        return f"could not reach Discord at {base} ({exc or type(exc).__name__}): check the network"
    if me.status_code == 401:
        return (
            "Discord does not know this bot token: copy DISCORD_BOT_TOKEN again "
            "(Developer Portal -> your application -> Bot -> Reset Token)"
        )
    if not (me.is_success and app.is_success):
        failed = me if not me.is_success else app
        return f"Discord answered {failed.status_code} {failed.reason_phrase}"
    try:
        flags = int(app.json().get("flags") or 0)
    except (ValueError, AttributeError, TypeError):
        flags = 0
    if not flags & MESSAGE_CONTENT:
        return (
            "the bot cannot read messages: enable MESSAGE CONTENT INTENT "
            "(Developer Portal -> your application -> Bot -> Privileged Gateway Intents)"
        )
    return None


PLATFORM = Platform(
    name="discord",
    title="Discord",
    required=("DISCORD_BOT_TOKEN",),
    how="set DISCORD_BOT_TOKEN (Developer Portal -> your application -> Bot -> Reset Token; "
    "enable MESSAGE CONTENT INTENT there)",
    build=build,
    capabilities=CAPABILITIES,
    credentials=(Credential("DISCORD_BOT_TOKEN", "the Discord bot token"),),
    optional=("DISCORD_ALLOWED_USERS", "DISCORD_API_BASE_URL"),
    settings=DiscordSettings,
    extra="discord",
    check=check,
)
