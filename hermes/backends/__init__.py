"""Terminal backends: where the agent's commands run and its files live, one
module each, found by name in `MODULES` (imported only when asked for).

Every module defines `BACKEND`, a subclass of hermes.backends.base.Backend with
a `from_profile(profile, scope)` constructor. Adding a backend: its module, one
line here, its settings section (hermes/settings.py TerminalSettings), its
tests in tests/test_backends.py's parametrisation, its docs (docs/backends.md).
This package's own module imports nothing of Hermes, so settings can ask it
for the valid names.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# name -> module (imported lazily)
MODULES: dict[str, str] = {
    "local": "hermes.backends.local",
    "ssh": "hermes.backends.ssh",
    "docker": "hermes.backends.docker",
    "singularity": "hermes.backends.singularity",
    "modal": "hermes.backends.modal",
    "daytona": "hermes.backends.daytona",
}


def names() -> str:
    return ", ".join(MODULES)


def unknown(name: object) -> str | None:
    """What is wrong with a terminal.backend value, or None (for settings)."""
    if isinstance(name, str) and name in MODULES:
        return None
    return f"unknown terminal backend {name!r}; valid backends: {names()}"


def load(name: str) -> ModuleType | None:
    """The module of backend NAME, or None when this build has none. A module
    that exists but fails to import raises: that is a bug to see, not to hide."""
    module = MODULES.get(name)
    if module is None:
        return None
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None
