"""Reloading a running gateway's config.yaml and .env (SIGHUP; `hermes config set`
and `hermes gateway reload` send it).

Every profile the gateway serves (its own and the routed ones) is loaded again
with the validator that loads it at start; if any file is invalid, nothing
changes: one error line is logged and the old settings stay. Otherwise each
profile's new settings take effect for what starts next: a new turn, task or
cron run, and each chat's next turn (its conversation is opened again under
the new settings; a chat keeps its session and the model it runs, as after a
restart). A new cron.timezone recomputes the jobs' next runs.

Some settings are bound when the gateway starts (the address it listens on,
its limits, its routes, the platform connections and the login key); a change
to one of them is logged as needing a restart and the running value is kept,
so what the gateway reports is what it does.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hermes.config import settings_to_dict
from hermes.context import Profile
from hermes.cron.schedule import zone
from hermes.settings import Settings

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway

log = logging.getLogger("hermes.gateway")

# Dotted settings bound at start: a running gateway keeps them until restarted
# (and every platform's section: its adapter is built from it at start).
RESTART_KEYS = (
    "server",
    "gateway.max_concurrent_turns",
    "gateway.max_concurrent_tasks",
    "gateway.delivery_max_attempts",
    "gateway.profile_routes",
    "cluster",
)


def restart_keys() -> tuple[str, ...]:
    """RESTART_KEYS and the section of every platform that has one."""
    from hermes import platforms

    return RESTART_KEYS + tuple(p.name for p in platforms.every() if p.settings is not None)


def restart_env() -> tuple[str, ...]:
    """.env variables bound at start: the login key and every variable a platform
    declares (its adapter reads them when built), except its allowlist
    ({PLATFORM}_ALLOWED_USERS), which access checks read at each message."""
    from hermes import platforms
    from hermes.gateway.access import allowlist_var

    found = ["HERMES_API_KEY", "HERMES_DATABASE_URL"]
    for p in platforms.every():
        declared = (*p.required, *(c.var for c in p.credentials), *p.optional)
        found += [v for v in declared if v != allowlist_var(p.name) and v not in found]
    return tuple(found)


def needs_restart(key: str) -> bool:
    """Whether a change to the dotted settings KEY (or inside it) waits for a restart."""
    return any(_under(key, k) or _under(k, key) for k in restart_keys())


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        found: dict[str, Any] = {}
        for name, inner in value.items():
            found.update(_leaves(inner, f"{prefix}.{name}" if prefix else str(name)))
        return found or {prefix: {}}
    return {prefix: value}


def changed_keys(old: Settings, new: Settings) -> list[str]:
    """The dotted keys whose values differ between OLD and NEW."""
    before, after = _leaves(settings_to_dict(old)), _leaves(settings_to_dict(new))
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _keep(settings: Settings, running: Settings, key: str) -> Settings:
    """SETTINGS with the value at the dotted KEY taken from RUNNING."""
    section, _, name = key.partition(".")
    if not hasattr(settings, section) or section == "platforms":  # a platform's: all of it
        platforms = {n: v for n, v in settings.platforms.items() if n != section}
        if section in running.platforms:
            platforms[section] = running.platforms[section]
        return dataclasses.replace(settings, platforms=platforms)
    kept = getattr(running, section)
    if name:
        kept = dataclasses.replace(getattr(settings, section), **{name: getattr(kept, name)})
    return dataclasses.replace(settings, **{section: kept})


def effective(running: Profile, loaded: Profile) -> tuple[Profile, list[str]]:
    """LOADED as the running gateway can apply it (values bound at start kept from
    RUNNING), and the changed settings and variables that wait for a restart."""
    changed = changed_keys(running.settings, loaded.settings)
    bound = restart_keys()
    waiting = [k for k in bound if any(_under(c, k) for c in changed)]
    settings = loaded.settings
    for key in bound:
        settings = _keep(settings, running.settings, key)
    env = dict(loaded.env)
    for var in restart_env():
        if running.env.get(var) != loaded.env.get(var):
            waiting.append(var)
        env.pop(var, None)
        if var in running.env:
            env[var] = running.env[var]
    return dataclasses.replace(loaded, settings=settings, env=env), waiting


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith((prefix + ".", prefix + "["))


async def reload_gateway(gw: Gateway, inherited: Mapping[str, str]) -> bool:
    """Load the profiles GW serves again (see the module's doc); False when a file
    is invalid (logged; nothing changed)."""
    from hermes.errors import HermesError
    from hermes.home import load_profile

    gateways = [gw, *gw.routed.values()]
    try:
        loaded = [load_profile(g.profile.name, env=dict(inherited)) for g in gateways]
    except HermesError as exc:
        log.error("config not reloaded, the running settings stay: %s", exc)
        return False
    for served, profile in zip(gateways, loaded, strict=True):
        new, waiting = effective(served.profile, profile)
        changed = changed_keys(served.profile.settings, new.settings)
        if new != served.profile:  # each chat's next turn opens under the new profile
            served.profile = new
            served.access.env = new.env
            await served.chats.renew()
        if "cron.timezone" in changed:  # next runs are computed again in the new zone
            await served.scheduler.set_zone(zone(new.settings.cron.timezone))
        log.info(
            "config of profile %s reloaded (%s)",
            new.name,
            ", ".join(changed) + " changed" if changed else "no setting changed",
        )
        if waiting:
            log.warning("profile %s: restart the gateway to apply %s", new.name, ", ".join(waiting))
    return True
