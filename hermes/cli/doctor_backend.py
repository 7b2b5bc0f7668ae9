"""`hermes doctor`'s look at the terminal backend: can it be reached, and if
not, exactly why (a changed host key, a refused key, nothing listening)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from hermes.cli.doctor import Finding, error, ok, warn
from hermes.context import Profile
from hermes.errors import HermesError
from hermes.settings import Settings

FIX = "see README, Terminal backends"


def check_backend(
    name: str, home: Path, env: Mapping[str, str], settings: Settings, *, live: bool = True
) -> Finding:
    """Connect to the configured backend and run `true` there."""
    from hermes.backends.pool import backend_for

    kind = settings.terminal.backend
    try:
        backend = backend_for(Profile(name=name, home=home, settings=settings, env=dict(env)))
    except HermesError as exc:
        return error(f"terminal backend {kind}: {exc}", FIX)
    if not live and not backend.where().host_paths:
        return warn(f"terminal backend {kind}: not checked (offline)", "run hermes doctor")

    async def reach() -> str:
        try:
            return await backend.check()
        finally:
            await backend.close()

    try:
        reached = asyncio.run(reach())
    except HermesError as exc:
        return error(f"terminal backend {kind}: {exc}", FIX)
    return ok(f"terminal backend {kind}: {reached} runs commands")
