"""Where a profile's data lives: its home's state.db (SQLite, the default), or
PostgreSQL when ``HERMES_DATABASE_URL`` is set (then the profile is a tenant
with a schema of its own; see hermes/store/pg.py and docs/scale-out.md)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hermes.errors import HermesError
from hermes.store.pg import PgTarget, redact, schema_for

Database = Path | PgTarget

URL_VARIABLE = "HERMES_DATABASE_URL"


def profile_name(home: Path) -> str:
    """A home's profile name: NAME for ROOT/profiles/NAME, else "default"."""
    return home.name if home.parent.name == "profiles" else "default"


def locate(home: Path, profile: str, env: Mapping[str, str]) -> Database:
    """The profile's database, from its environment (the process's, overlaid by
    the home's .env)."""
    url = env.get(URL_VARIABLE, "").strip()
    if not url:
        return home / "state.db"
    if not url.startswith(("postgresql://", "postgres://")):
        raise HermesError(
            f"{URL_VARIABLE}={redact(url)} is not a PostgreSQL URL: use"
            " postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or unset it for SQLite"
        )
    return PgTarget(url, schema_for(profile))


def locate_home(home: Path, env: Mapping[str, str] | None = None) -> Database:
    """A home's database for the command line: ENV (default: this process's
    environment) overlaid by the home's .env, as a profile's environment is."""
    import contextlib
    import os

    from hermes.envfile import read_env_file

    merged = dict(os.environ if env is None else env)
    with contextlib.suppress(HermesError, OSError):  # the commands that need it say so
        merged.update(read_env_file(home / ".env"))
    return locate(home, profile_name(home), merged)


def is_cluster(where: Database) -> bool:
    return isinstance(where, PgTarget)
