"""What a platform module declares about its platform: the one place that knows it.

Every messaging platform is one module in `hermes/platforms/` (listed by name in
`hermes/platforms/__init__.py`, imported lazily) with a module-level
`PLATFORM = Platform(...)`. The gateway, the settings loader, the token-conflict
check, the router, the delivery-target check, `hermes gateway setup` and the HTTP
server read these declarations; none of them names a platform.

A platform module keeps its top level light (dataclasses, this module): its SDK is
imported inside the adapter, so a missing extra is an error only when the platform
is configured (`require(module, extra)` in hermes/platforms/adapter.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from hermes.context import Profile

LengthUnit = Literal["chars", "utf16", "bytes"]  # what a platform's max message length counts
Markup = Literal["plain", "telegram_html", "discord_md", "slack_mrkdwn", "matrix_html"]


@dataclass(frozen=True)
class Credential:
    """A variable whose value identifies a bot or an account: at most one gateway
    (one profile) may use a value at a time (hermes/gateway/tokens.py)."""

    var: str
    what: str  # how a user names it, e.g. "the Telegram bot token"

    def named(self) -> str:
        return f"{self.what} ({self.var})"


@dataclass(frozen=True)
class Capabilities:
    """What a platform's messages can do. The courier renders a reply into the
    platform's `markup` first, then splits it to `max_length` counted in
    `length_unit`, never inside a formatting entity or a code block."""

    max_length: int = 4096
    length_unit: LengthUnit = "chars"
    markup: Markup = "plain"
    can_edit: bool = True  # replies stream by editing one message
    edit_interval: float = 1.0  # seconds between edits of one message (rate limits)
    buttons: bool = False  # buttons under a message (approvals)
    threads: bool = False
    voice_notes: bool = False  # voice notes arrive (and can be sent) as such
    audio_out: bool = False  # the adapter implements send_voice (spoken replies)


class Cursor(Protocol):
    """Where an adapter keeps its place in its platform's stream across restarts
    (Telegram's update offset, Discord's session/sequence, Matrix's `since` token,
    IMAP UIDs): a text value under the adapter's own key in state.db. Save only
    after the events up to that place were handed to the sink (committed)."""

    async def load(self) -> str | None: ...

    async def save(self, value: str) -> None: ...


@dataclass(frozen=True)
class Build:
    """What the gateway hands a platform module to build its adapter.
    `cursor(key)`: a Cursor under that key (per bot/account: a new token must not
    resume an old bot's place); `dead_letters`: where skipped updates are recorded
    (hermes/platforms/adapter.py DeadLetters); both None when there is no store."""

    profile: Profile
    cursor: Callable[[str], Cursor] | None = None
    dead_letters: Any = None


@dataclass(frozen=True)
class Platform:
    """One platform, as its module declares it."""

    name: str  # "discord": the config.yaml section, the target prefix, Inbound.platform
    title: str  # "Discord"
    required: tuple[str, ...]  # env variables that must all be set for it to be configured
    how: str  # one line: how to configure it ("set DISCORD_BOT_TOKEN (a bot token from ...)")
    build: Callable[[Build], Any]  # -> its Adapter (the SDK is imported by the adapter)
    capabilities: Capabilities = Capabilities()
    credentials: tuple[Credential, ...] = ()  # values at most one gateway may hold
    optional: tuple[str, ...] = ()  # other env variables it reads (PLATFORM_ALLOWED_USERS ...)
    settings: type | None = None  # dataclass of its config.yaml section, validated on load
    extra: str | None = None  # the pip extra with its SDK: pip install 'hermes[EXTRA]'
    # webhook platforms: the HTTP routes it serves, given its adapter; the gateway's
    # server serves them under /webhooks/NAME ("/" is that URL itself), without the
    # bearer key (they check the platform's signatures themselves)
    routes: Callable[[Any], list[BaseRoute]] | None = None
    # for `hermes gateway setup`: a live check of credentials before they are saved;
    # returns None when they work, else what is wrong (one line)
    check: Callable[[Mapping[str, str]], Any] | None = None
    # the flat routing form of its section, if any: setting -> "CHAT[:THREAD]" keys
    # (e.g. telegram.topic_profiles), read by hermes/gateway/routing.py
    flat_routes: str | None = None
    local: bool = field(default=False)  # always present (the web chat): no credentials
    # other sets of env variables that configure it instead of `required`, each complete
    # on its own (WhatsApp: a bridge's URL instead of the Cloud API's four); their
    # variables are listed in `optional` too
    alternatives: tuple[tuple[str, ...], ...] = ()
    # how its {NAME}_ALLOWED_USERS value reads into user ids (phone numbers, which may
    # hold spaces); None: ids separated by commas and/or spaces
    allowlist: Callable[[str], set[str]] | None = None

    def configured(self, env: Mapping[str, str]) -> bool:
        """Whether ENV configures it (every required variable set, or every variable
        of one of its `alternatives`)."""
        ways = (self.required, *self.alternatives)
        return self.local or any(all(env.get(v, "").strip() for v in way) for way in ways)


def section(settings: Any, declared: Platform) -> Any:
    """The platform's parsed config.yaml section (`Settings.platforms[name]`), or its
    defaults when the file has none (None for a platform without settings)."""
    found = getattr(settings, "platforms", {}).get(declared.name)
    if found is None and declared.settings is not None:
        found = declared.settings()
    return found
