"""Profiles as a whole: create (or clone), list, inspect, delete, rename, the
sticky choice of `hermes profile use`, and the `NAME` wrapper command.

A profile is a home under `<root>/profiles/NAME` (hermes.home); the root home
is the profile "default". The wrapper `~/.local/bin/NAME` runs
`hermes -p NAME "$@"` with the interpreter that created it, so `NAME gateway
start` works without activating a venv. Wrappers carry a marker line naming
the home they serve: only those are ever overwritten or removed, and only for
that home (two roots may hold profiles of the same name).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hermes.errors import HermesError
from hermes.home import (
    ACTIVE_PROFILE_FILE,
    DEFAULT_PROFILE,
    ensure_home,
    home_root,
    missing_profile,
    profile_home,
    read_active_profile,
    validate_profile_name,
)

if TYPE_CHECKING:
    from hermes.service.manager import Service

CLONED_FILES = ("config.yaml", ".env", "SOUL.md")  # what --clone copies: never the data
WRAPPER_MARKER = "# hermes-profile-wrapper: "  # followed by the home the wrapper serves


# --- where things are -----------------------------------------------------------------


def existing_profile(root: Path, name: str) -> Path:
    """The home of profile NAME, which must exist (one-line error otherwise)."""
    if name != DEFAULT_PROFILE:
        validate_profile_name(name)
    home = profile_home(root, name)
    if not home.is_dir():
        if name == DEFAULT_PROFILE:
            raise HermesError(f"no Hermes home at {root} yet; run `hermes setup` to create it")
        raise missing_profile(root, name)
    return home


def all_profiles(root: Path) -> list[tuple[str, Path]]:
    """(name, home) of every profile: "default" first, then the others by name."""
    found = [(DEFAULT_PROFILE, root)]
    folder = root / "profiles"
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            with contextlib.suppress(HermesError):
                if path.is_dir() and validate_profile_name(path.name) != DEFAULT_PROFILE:
                    found.append((path.name, path))
    return found


def installed_services(name: str, env: Mapping[str, str]) -> list[Service]:
    """The installed services of the profile's gateway: one left behind would start
    a gateway for a profile that was deleted or renamed (and so recreate an empty
    home of the old name)."""
    from hermes.service.manager import services

    return [service for service in services(name, env) if service.path.exists()]


# --- the sticky choice ------------------------------------------------------------------


def set_active(root: Path, name: str) -> None:
    """Make NAME the profile used without -p ("default" removes the choice)."""
    path = root / ACTIVE_PROFILE_FILE
    if name == DEFAULT_PROFILE:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    _write_atomic(path, f"{name}\n", 0o600)


def active_name(root: Path) -> str:
    """The active profile's name as written ("default" when unreadable: listing and
    inspecting must keep working while the choice is broken)."""
    try:
        return read_active_profile(root)
    except HermesError:
        return DEFAULT_PROFILE


# --- inspecting -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileStatus:
    """What `profile list` and `profile show` say about one profile."""

    name: str
    home: Path
    active: bool
    model: str | None  # provider:model, None when the config is broken
    config_error: str | None
    pid: int | None  # its running gateway
    platforms: dict[str, str] = field(default_factory=dict)  # of the running gateway
    alias: Path | None = None

    @property
    def gateway(self) -> str:
        return f"running (pid {self.pid})" if self.pid else "stopped"


def model_label(home: Path, env: Mapping[str, str]) -> str:
    """provider:model the profile would use, resolved like a turn resolves it (the
    home's .env over ENV); raises ConfigError for a broken config.yaml or .env."""
    from hermes.config import load_settings
    from hermes.envfile import read_env_file
    from hermes.providers.resolve import DEFAULTS, pick_provider

    settings = load_settings(home / "config.yaml")
    merged = {**env, **read_env_file(home / ".env")}
    provider = pick_provider(settings.model, merged)
    return f"{provider}:{settings.model.model or DEFAULTS[provider].model}"


def profile_status(root: Path, name: str, env: Mapping[str, str]) -> ProfileStatus:
    from hermes.errors import ConfigError
    from hermes.pidfile import read_state, running_pid

    home = profile_home(root, name)
    model: str | None = None
    error: str | None = None
    try:
        model = model_label(home, env)
    except ConfigError as exc:
        error = str(exc)
    pid = running_pid(home)
    state = read_state(home) if pid else None
    reported = state.get("platforms") if state is not None else None
    platforms = {str(k): str(v) for k, v in reported.items()} if isinstance(reported, dict) else {}
    return ProfileStatus(
        name=name,
        home=home,
        active=active_name(root) == name,
        model=model,
        config_error=error,
        pid=pid,
        platforms=platforms,
        alias=our_alias(name, home, env),
    )


def session_count(home: Path) -> int | None:
    """Sessions in state.db, read-only (0 without a database, None if unreadable)."""
    path = home / "state.db"
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return int(row[0])


def skill_count(home: Path) -> int:
    from hermes.agent.prompt import read_skills_index

    return len(read_skills_index(home / "skills"))


# --- create, delete, rename -------------------------------------------------------------


def create_profile(root: Path, name: str, clone_from: Path | None = None) -> Path:
    """Create profile NAME with the full home layout and the bundled skills; with
    CLONE_FROM, its config.yaml, .env and SOUL.md are copied (sessions, memories
    and state.db are not: a clone is a new agent with the same setup)."""
    validate_profile_name(name)
    if name == DEFAULT_PROFILE:
        raise HermesError("'default' is the root home itself; pick another profile name")
    home = profile_home(root, name)
    if home.exists():
        raise HermesError(
            f"profile {name!r} already exists ({home}); pick another name, "
            f"or remove it first with `hermes profile delete {name}`"
        )
    if clone_from is not None and not clone_from.is_dir():
        raise HermesError(f"nothing to clone: {clone_from} does not exist")
    ensure_home(home)
    sources = [clone_from / f for f in CLONED_FILES] if clone_from is not None else []
    for source in sources:
        if source.is_file():
            _write_atomic(home / source.name, source.read_bytes(), 0o600)
    return home


@contextlib.contextmanager
def _stopped_gateway(name: str, home: Path, env: Mapping[str, str]) -> Iterator[None]:
    """Refuse while the profile's gateway runs or its service is installed, and keep
    one from starting while the profile moves or goes (its lock is held)."""
    from hermes.pidfile import home_lock, running_pid

    command = command_for(name, env)
    pid = running_pid(home)
    if pid is not None:
        raise HermesError(
            f"the gateway of profile {name!r} is running (pid {pid}); "
            f"stop it first: {command} gateway stop"
        )
    for service in installed_services(name, env):
        system = " --system" if service.kind == "systemd-system" else ""
        raise HermesError(
            f"profile {name!r} has an installed gateway service ({service.path}); "
            f"remove it first: {command} gateway uninstall{system}"
        )
    with home_lock(home):
        yield


def delete_profile(
    root: Path, name: str, env: Mapping[str, str], confirm: Callable[[Path], bool]
) -> Path | None:
    """Delete profile NAME: its home, its wrapper, the active choice naming it.
    CONFIRM(home) is asked once every check passed; False leaves everything as it
    was (HermesError("not deleted")). Returns the wrapper removed, if any."""
    if name == DEFAULT_PROFILE:
        raise HermesError(
            "the default profile is the root home itself and cannot be deleted; "
            "delete named profiles only"
        )
    home = existing_profile(root, name)
    with _stopped_gateway(name, home, env):
        if not confirm(home):
            raise HermesError(f"not deleted: profile {name!r} is unchanged")
        alias = our_alias(name, home, env)
        shutil.rmtree(home)
    if alias is not None:
        alias.unlink(missing_ok=True)
    if active_name(root) == name:
        set_active(root, DEFAULT_PROFILE)
    return alias


@dataclass(frozen=True)
class Renamed:
    home: Path
    alias: Path | None  # the new wrapper
    alias_problem: str | None  # why the new wrapper could not be installed


def rename_profile(root: Path, old: str, new: str, env: Mapping[str, str]) -> Renamed:
    """Rename profile OLD to NEW: its home moves, its wrapper follows (when it had
    one), and the active choice follows."""
    if DEFAULT_PROFILE in (old, new):
        raise HermesError("the default profile is the root home itself; it cannot be renamed")
    validate_profile_name(new)
    home = existing_profile(root, old)
    target = profile_home(root, new)
    if target.exists():
        raise HermesError(f"profile {new!r} already exists ({target}); pick another name")
    with _stopped_gateway(old, home, env):
        alias = our_alias(old, home, env)
        home.rename(target)
    if alias is not None:
        alias.unlink(missing_ok=True)
    if active_name(root) == old:
        set_active(root, new)
    new_alias: Path | None = None
    problem: str | None = None
    if alias is not None:
        try:
            new_alias = install_alias(new, target, env)
        except HermesError as exc:
            problem = str(exc)
    return Renamed(target, new_alias, problem)


# --- the NAME wrapper command -----------------------------------------------------------


def _user_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def alias_dir(env: Mapping[str, str]) -> Path:
    return _user_home(env) / ".local" / "bin"


def alias_on_path(env: Mapping[str, str]) -> bool:
    """Is ~/.local/bin on PATH (so typing NAME finds the wrapper)?"""
    folder = alias_dir(env).resolve()
    entries = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    return any(Path(p).expanduser().resolve() == folder for p in entries)


def _wrapper_home(path: Path) -> Path | None:
    """The home a wrapper of ours serves, or None when PATH is something else."""
    if path.is_symlink() or not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in head.splitlines()[:5]:
        if line.startswith(WRAPPER_MARKER):
            return Path(line[len(WRAPPER_MARKER) :])
    return None


def our_alias(name: str, home: Path, env: Mapping[str, str]) -> Path | None:
    """~/.local/bin/NAME if it is our wrapper for HOME."""
    path = alias_dir(env) / name
    return path if _wrapper_home(path) == home else None


def command_for(name: str, env: Mapping[str, str]) -> str:
    """How the user types a command for profile NAME: its wrapper when installed."""
    if name == DEFAULT_PROFILE:
        return "hermes"
    home = profile_home(home_root(env), name)
    if our_alias(name, home, env) is not None and alias_on_path(env):
        return name
    return f"hermes -p {name}"


def wrapper_text(name: str, home: Path, root: Path) -> str:
    """The wrapper script: this interpreter (absolute), this root, this profile."""
    python = shlex.quote(str(Path(sys.executable).absolute()))
    return (
        "#!/bin/sh\n"
        f"{WRAPPER_MARKER}{home}\n"
        f"# `{name} ARGS` runs `hermes -p {name} ARGS`; "
        f"`hermes profile delete {name}` removes this file.\n"
        f"export HERMES_HOME={shlex.quote(str(root))}\n"
        f'exec {python} -m hermes -p {shlex.quote(name)} "$@"\n'
    )


def install_alias(name: str, home: Path, env: Mapping[str, str]) -> Path:
    """Write the executable wrapper ~/.local/bin/NAME for profile NAME at HOME.

    Refused (HermesError) when NAME would replace or shadow another command: a file
    there that is not our wrapper for HOME, or a command NAME elsewhere on PATH."""
    folder = alias_dir(env)
    path = folder / name
    skip = f"use `hermes -p {name} ...` instead, or pass --no-alias to skip the command"
    if name == "hermes":
        raise HermesError(f"no command {name!r}: it would replace hermes itself; {skip}")
    if path.exists() or path.is_symlink():
        if _wrapper_home(path) != home:
            raise HermesError(
                f"{path} exists and is not this profile's wrapper; left it alone; {skip}"
            )
    else:
        others = os.pathsep.join(
            p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != folder
        )
        found = shutil.which(name, path=others)
        if found:
            raise HermesError(
                f"{name!r} is already a command ({found}); no wrapper installed; {skip}"
            )
    if "\n" in str(home):
        raise HermesError(f"cannot write a wrapper for a home path with a newline; {skip}")
    folder.mkdir(parents=True, exist_ok=True)
    root = home.parent.parent
    _write_atomic(path, wrapper_text(name, home, root), 0o755)
    return path


def _write_atomic(path: Path, content: str | bytes, mode: int) -> None:
    """Replace PATH with CONTENT at MODE, never leaving a half-written file."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
