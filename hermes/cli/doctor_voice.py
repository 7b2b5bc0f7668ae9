"""`hermes doctor`'s look at voice: can voice notes be understood and replies
spoken with the configured providers (hermes/voice), and do they need a network."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hermes.cli.doctor import Finding, ok, warn
from hermes.settings import Settings


def check_voice(settings: Settings, env: Mapping[str, str], home: Path) -> list[Finding]:
    """One finding per provider; a missing one is a warning (chats still work)."""
    from hermes.voice.service import Voice

    found: list[Finding] = []
    for s in Voice(settings.voice, env, home).status():
        where = "offline" if s.offline else "needs the network"
        if s.ready:
            found.append(ok(f"voice, {s.role}: {s.name} ({where})"))
        else:
            found.append(warn(f"voice, {s.role}: {s.name}: {s.problem}", "see docs/voice.md"))
    return found
