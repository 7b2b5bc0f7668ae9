"""Messaging platforms: one module each, found by name in `MODULES`.

A module is imported only when its platform is asked for; its `PLATFORM`
(hermes/platforms/spec.py) says everything the rest of Hermes needs to know.
Adding a platform: its module, one line here, its test fake, its tests, its docs.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from hermes.errors import HermesError
from hermes.platforms.spec import Platform

# name -> module (imported lazily)
MODULES: dict[str, str] = {
    "web": "hermes.platforms.web",
    "telegram": "hermes.platforms.telegram",
    "discord": "hermes.platforms.discord",
    "slack": "hermes.platforms.slack",
    "matrix": "hermes.platforms.matrix",
    "email": "hermes.platforms.email",
    "homeassistant": "hermes.platforms.homeassistant",
    "signal": "hermes.platforms.signal",
    "whatsapp": "hermes.platforms.whatsapp",
}


class UnknownPlatform(HermesError):
    """A platform name Hermes has no module for."""


def platform(name: str) -> Platform:
    """The declaration of platform NAME (UnknownPlatform if there is none)."""
    found = find(name)
    if found is None:
        known = ", ".join(p.name for p in every())
        raise UnknownPlatform(f"unknown platform {name!r}; known platforms: {known}")
    return found


def find(name: str) -> Platform | None:
    """The declaration of platform NAME, or None when Hermes has no module for it
    (a name not in `MODULES`, or a module left out of this build). A module that
    exists but fails to import raises: that is a bug to see, not to hide."""
    module = MODULES.get(name)
    if module is None:
        return None
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None
    found = loaded.PLATFORM
    assert isinstance(found, Platform) and found.name == name, module
    return found


def every() -> Iterator[Platform]:
    """Every platform's declaration, in `MODULES` order."""
    for name in MODULES:
        found = find(name)
        if found is not None:
            yield found


def configured(env: Mapping[str, str]) -> list[Platform]:
    """The platforms ENV configures (the web chat always)."""
    return [p for p in every() if p.configured(env)]
