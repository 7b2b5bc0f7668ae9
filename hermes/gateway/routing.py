"""Which profile answers a chat (SPEC §9): `gateway.profile_routes` and the
flat form a platform's section may declare (`Platform.flat_routes`, e.g.
`telegram.topic_profiles`), read into one table. Pure: no I/O.

    gateway:
      profile_routes:
        telegram:
          "-1003961179976":      # a forum: topic -> profile
            "6": career
            "*": research        # the chat's other topics (optional)
          "555": systems         # a whole chat
    telegram:
      topic_profiles:
        "-1003961179976:9": finance   # CHAT:THREAD, or CHAT for the whole chat

The most specific route wins: a chat's thread before the chat. A chat with no
route (and every DM, unless routed by its chat id) stays with the gateway's
own profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hermes.errors import HermesError
from hermes.home import validate_profile_name
from hermes.settings import Settings

Key = tuple[str, str, str | None]  # platform, chat, thread (None: the whole chat)


@dataclass(frozen=True)
class Routes:
    table: dict[Key, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, own: str) -> Routes:
        """The routes of a gateway whose own profile is `own` (routes to it are dropped).
        A route given twice with different profiles is a HermesError naming both."""
        found: dict[Key, tuple[str, str]] = {}  # key -> (profile, where it was written)

        def add(key: Key, profile: object, where: str) -> None:
            if not isinstance(profile, str):
                raise HermesError(f"{where}: expected a profile name, got {profile!r}")
            try:
                validate_profile_name(profile)
            except HermesError as exc:
                raise HermesError(f"{where}: {exc}") from None
            earlier = found.get(key)
            if earlier is not None and earlier[0] != profile:
                raise HermesError(
                    f"{where} routes to {profile!r} but {earlier[1]} routes the same chat "
                    f"to {earlier[0]!r}; keep one"
                )
            found[key] = (profile, where)

        for platform, chats in settings.gateway.profile_routes.items():
            for chat, target in chats.items():
                where = f"gateway.profile_routes.{platform}.{chat}"
                if isinstance(target, str):
                    add((platform, chat, None), target, where)
                    continue
                for thread, profile in target.items():
                    key: Key = (platform, chat, None if thread == "*" else thread)
                    add(key, profile, f"{where}.{thread}")
        for platform, setting, routes in flat_routes(settings):
            for spec, profile in routes.items():
                chat, _, thread = spec.partition(":")
                where = f"{platform}.{setting}.{spec}"
                add((platform, chat, thread or None), profile, where)
        return cls({k: p for k, (p, _) in found.items() if p != own})

    def profile_for(self, platform: str, chat: str, thread: str | None) -> str | None:
        """The routed profile of a chat (and thread), or None for the gateway's own."""
        if thread is not None:
            routed = self.table.get((platform, chat, thread))
            if routed is not None:
                return routed
        return self.table.get((platform, chat, None))

    def profiles(self) -> list[str]:
        """Every profile some chat is routed to, sorted."""
        return sorted(set(self.table.values()))


def flat_routes(settings: Settings) -> list[tuple[str, str, dict[str, str]]]:
    """(platform, setting, CHAT[:THREAD] -> profile) of each platform section that
    declares a flat routing form (`Platform.flat_routes`) and has routes in it."""
    from hermes import platforms
    from hermes.platforms.spec import section

    found = []
    for name in settings.platforms:  # sections absent from the file route nothing
        declared = platforms.find(name)
        if declared is None or declared.flat_routes is None:
            continue
        routes = getattr(section(settings, declared), declared.flat_routes)
        if routes:
            found.append((name, declared.flat_routes, dict(routes)))
    return found
