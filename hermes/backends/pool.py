"""The backends a profile's turns run on: one per scope (the whole profile, or
each session with `terminal.scope: session`), made on first use from the
profile's settings and kept until closed. A settings change (a reloaded
config) makes a new one; the old one is closed with the pool."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hermes.backends import load, names
from hermes.backends.base import Backend, BackendError

if TYPE_CHECKING:
    from hermes.context import Profile

log = logging.getLogger(__name__)


def backend_for(profile: Profile, scope: str = "profile") -> Backend:
    """A new backend as the profile's settings describe it (no I/O yet)."""
    name = profile.settings.terminal.backend
    module = load(name)
    if module is None:  # never fall back to the host when isolation was asked for
        raise BackendError(
            f"terminal.backend '{name}' is not available in this version (available: "
            f"{names()}); nothing was run. Ask the user to set terminal.backend to local "
            "(`hermes config set terminal.backend local`) to run commands on this machine"
        )
    made = module.BACKEND.from_profile(profile, scope)
    assert isinstance(made, Backend)
    return made


class Backends:
    """The backends of one profile's turns (a ProcessManager holds one)."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, ...], Backend] = {}

    def get(self, profile: Profile, session_id: str) -> Backend:
        terminal = profile.settings.terminal
        scope = session_id if terminal.scope == "session" else "profile"
        key = (str(profile.home), scope, terminal.backend, repr(terminal))
        found = self._made.get(key)
        if found is None:
            found = self._made[key] = backend_for(profile, scope)
        return found

    def every(self) -> list[Backend]:
        return list(self._made.values())

    async def close(self) -> None:
        made, self._made = list(self._made.values()), {}
        for backend in made:
            try:
                await backend.close()
            except Exception:
                log.exception("could not close the %s backend", backend.name)
