"""Where a message or a result may go: the one check of a PLATFORM:CHAT[:THREAD]
target that every front end applies (`hermes send`, `hermes cron add/edit
--deliver`, the cron and send API routes, delegation, the agent's cron tool).

A platform Hermes has no module for (hermes/platforms/) is refused with the list
of known ones; a known platform that is not configured is refused with what to
set (its declaration's `how`). Pure:
the caller says which platforms are configured (the gateway: its adapters;
a command line without a gateway: the profile's environment).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from hermes import platforms
from hermes.errors import HermesError
from hermes.gateway.events import Target


class TargetError(HermesError):
    """A target that cannot be reached: malformed, unknown or unconfigured platform."""


def configured(env: Mapping[str, str]) -> set[str]:
    """The platforms the environment configures (the web chat always)."""
    return {p.name for p in platforms.configured(env)}


def how_to_configure(platform: str, env_file: str = ".env") -> str:
    """'telegram is not configured: set TELEGRAM_BOT_TOKEN ... in ~/.hermes/.env'."""
    known = platforms.find(platform)
    if known is None or not known.required:
        return f"{platform} is not connected; {known.how if known else 'start the gateway'}"
    return (
        f"{platform} is not configured: {known.how} in {env_file} "
        "and (re)start the gateway (hermes gateway run)"
    )


def check_target(text: str, ready: Collection[str], env_file: str = ".env") -> Target:
    """TEXT as a Target whose platform is in READY (configured or connected), else a
    TargetError saying what is wrong and what to do. Platforms in READY that Hermes
    has no entry for (a test's fake adapter) are known too."""
    try:
        target = Target.parse(text)
    except ValueError as exc:
        raise TargetError(str(exc)) from None
    known = sorted({p.name for p in platforms.every()} | set(ready))
    if target.platform not in known:
        raise TargetError(
            f"unknown platform {_short(target.platform)} in {_short(text.strip())}; "
            f"known platforms: {', '.join(known)}"
        )
    if target.platform not in ready:
        raise TargetError(how_to_configure(target.platform, env_file))
    return target


def _short(text: str, limit: int = 80) -> str:
    """TEXT quoted for an error line, cut to LIMIT characters (a huge target stays short)."""
    return repr(text[:limit] + "…" if len(text) > limit else text)
