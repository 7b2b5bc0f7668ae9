"""`hermes doctor` on PostgreSQL (HERMES_DATABASE_URL): the database is reachable
and its schema current, and this replica cannot silently diverge from the
others. The profile's files (config.yaml, .env, SOUL.md, memories, skills, the
workspace) are read from the home, so every replica must run on the same home
volume (docs/scale-out.md): a home whose volume id (HOME/.volume-id) is not
the one the tenant's replicas recorded is an error, as the gateway refuses it
too. Reads only: it creates no schema and applies no migration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hermes.cli.doctor import Finding, error, ok, warn


def check_cluster(name: str, home: Path, env: Mapping[str, str], settings: Any) -> list[Finding]:
    from hermes.errors import HermesError
    from hermes.store.pg import PgTarget, redact
    from hermes.store.where import locate

    try:
        where = locate(home, name, env)
    except HermesError as exc:
        return [error(str(exc).split(":")[0], str(exc).split(": ", 1)[-1])]
    if not isinstance(where, PgTarget):
        return []
    try:
        import psycopg
    except ImportError:
        return [
            error(
                "HERMES_DATABASE_URL names PostgreSQL, but psycopg is not installed",
                "pip install 'hermes[postgres]' (or scripts/install)",
            )
        ]
    try:
        conn = psycopg.connect(where.url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return [
            error(
                f"PostgreSQL at {redact(where.url)} is out of reach ({first})",
                "start it, or fix HERMES_DATABASE_URL",
            )
        ]
    with conn:
        return [_schema(conn, where.schema), *_volume(conn, where.schema, home, settings)]


def _schema(conn: Any, schema: str) -> Finding:
    from hermes.store.schema_pg import PG_MIGRATIONS

    found = conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
        " AND table_name = 'schema_migrations'",
        (schema,),
    ).fetchone()
    if found is None:
        return ok(f"PostgreSQL reachable; schema {schema} not created yet (the gateway creates it)")
    rows = conn.execute(f'SELECT name FROM "{schema}".schema_migrations').fetchall()
    done = {str(r[0]) for r in rows}
    known = [n for n, _ in PG_MIGRATIONS]
    if newer := sorted(done - set(known)):
        return warn(
            f"schema {schema} was written by a newer Hermes ({', '.join(newer)})",
            "update Hermes on this replica to the version of the others",
        )
    if pending := [n for n in known if n not in done]:
        return warn(
            f"schema {schema} lacks {len(pending)} update(s)",
            "they apply by themselves when a gateway of this version starts",
        )
    return ok(f"PostgreSQL schema {schema} up to date ({len(known)} migrations)")


def _volume(conn: Any, schema: str, home: Path, settings: Any) -> list[Finding]:
    from hermes.gateway.cluster import VOLUME_FILE, VOLUME_KEY

    try:
        row = conn.execute(f'SELECT value FROM "{schema}".kv WHERE key = %s', (VOLUME_KEY,))
        recorded = row.fetchone()
    except Exception:
        recorded = None  # no schema yet
    path = home / VOLUME_FILE
    mine = path.read_text().strip() if path.is_file() else None
    found: list[Finding] = []
    if recorded is not None and recorded[0] != mine:
        found.append(
            error(
                f"this home ({home}) is not the volume the profile's replicas use"
                f" (volume {recorded[0]}, here {mine or 'none'}): memories, skills, SOUL.md"
                " and config.yaml written here would diverge from theirs",
                "mount the shared volume as the home on every replica (docs/scale-out.md),"
                " or run `hermes cluster adopt` on the home to keep",
            )
        )
    else:
        found.append(ok("this home is the profile's shared volume"))
    cwd = settings.terminal.cwd if settings is not None else ""
    if cwd and settings.terminal.backend == "local":
        workspace = Path(cwd).expanduser()
        if workspace.is_absolute() and not workspace.resolve().is_relative_to(home.resolve()):
            found.append(
                warn(
                    f"the workspace {workspace} is outside the home volume: a replica that"
                    " takes over will not see the files the agent made on another",
                    "keep terminal.cwd inside the home, mount it on every replica, or use a"
                    " remote terminal backend (ssh, docker)",
                )
            )
    return found
