"""Homes and profiles: where a profile lives, its first-use layout, and loading it.

The default profile is the home itself (`$HERMES_HOME`, else `~/.hermes`); profile
NAME lives in `<home>/profiles/NAME/`. Without `-p`, the profile named in
`<home>/active_profile` (written by `hermes profile use`) is used. Everything here
takes the environment as an explicit mapping; only `load_profile` reads
`os.environ` (once, as a copy) when the caller passes no mapping.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from hermes.context import Profile
from hermes.errors import HermesError
from hermes.settings import PROFILE_NAME, PROFILE_NAME_HINT

DEFAULT_PROFILE = "default"
ACTIVE_PROFILE_FILE = "active_profile"  # in the root home: the profile used without -p
_PROFILE_RE = PROFILE_NAME
_DEFAULTS = Path(__file__).parent / "defaults"

_ENV_HEADER = (
    "# Secrets for this Hermes home, one KEY=VALUE per line (API keys, bot tokens).\n"
    "# Values set here win over the same variables in the shell environment.\n"
)

# Directories every home holds (files are created in ensure_home, all mode 0600).
_DIRS = ("memories", "skills", "workspace", "logs")


def validate_profile_name(name: str) -> str:
    """Return NAME if it is a valid profile name, else raise a one-line HermesError."""
    if not _PROFILE_RE.fullmatch(name):
        raise HermesError(f"invalid profile name {name!r}: {PROFILE_NAME_HINT}")
    return name


def _expand_user(value: str, env: Mapping[str, str]) -> Path:
    """Expand a leading `~` using env["HOME"] (falling back to the OS lookup)."""
    if value == "~" or value.startswith("~/"):
        home = env.get("HOME") or str(Path.home())
        return Path(home + value[1:])
    return Path(value)


def home_root(env: Mapping[str, str]) -> Path:
    """The default profile's home: $HERMES_HOME, else ~/.hermes."""
    configured = env.get("HERMES_HOME", "").strip()
    root = _expand_user(configured, env) if configured else _expand_user("~/.hermes", env)
    return root.absolute()


def read_active_profile(root: Path) -> str:
    """The profile `hermes profile use` made sticky for ROOT ("default" when none).

    Unchecked: the name may be invalid or name a profile that no longer exists."""
    try:
        name = (root / ACTIVE_PROFILE_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return DEFAULT_PROFILE
    except (OSError, UnicodeDecodeError) as exc:
        raise HermesError(
            f"cannot read {root / ACTIVE_PROFILE_FILE} ({exc}); "
            "fix its permissions or run `hermes profile use default`"
        ) from exc
    return name or DEFAULT_PROFILE


def _sticky_profile(root: Path) -> str:
    """The active profile, checked: a stale choice is an error, not a silent fallback
    (falling back would quietly run another persona's model, memory and bots)."""
    name = read_active_profile(root)
    if name == DEFAULT_PROFILE:
        return name
    if not _PROFILE_RE.fullmatch(name) or not (root / "profiles" / name).is_dir():
        raise HermesError(
            f"the active profile {name!r} (from {root / ACTIVE_PROFILE_FILE}) does not exist; "
            "run `hermes profile use default`, or pick another with -p NAME"
        )
    return name


def profile_home(root: Path, name: str) -> Path:
    """Where profile NAME of ROOT lives (whether or not it exists)."""
    return root if name == DEFAULT_PROFILE else root / "profiles" / name


def missing_profile(root: Path, name: str) -> HermesError:
    """The one-line error for a named profile that does not exist."""
    return HermesError(
        f"no profile named {name!r} in {root / 'profiles'}; "
        f"see `hermes profile list`, or create it with `hermes profile create {name}`"
    )


def resolve_home(profile: str | None, env: Mapping[str, str]) -> tuple[str, Path]:
    """Return (profile name, home directory) for PROFILE.

    None means "no -p given": the active profile of the root home, else the default
    one. An explicit name (including "default") always wins over the active profile.
    A named profile must exist (only `hermes profile create` makes one: a typo in
    -p must not quietly start an empty agent); the default one is created on first use."""
    root = home_root(env)
    if profile is None:
        profile = _sticky_profile(root)
    if profile == DEFAULT_PROFILE:
        return DEFAULT_PROFILE, root
    validate_profile_name(profile)
    home = profile_home(root, profile)
    if not home.is_dir():
        raise missing_profile(root, profile)
    return profile, home


def _make_dir(path: Path) -> None:
    """Create PATH (and missing parents) with mode 0700; leave existing dirs alone."""
    if path.is_dir():
        return
    parent = path.parent
    if parent != path and not parent.exists():
        _make_dir(parent)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise HermesError(f"{path} exists but is not a directory; move it away") from None
        return
    path.chmod(0o700)  # mkdir's mode is masked by the umask


def _create_file(path: Path, content: str, mode: int) -> None:
    """Create PATH with CONTENT unless it exists (never overwrites; race-safe)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), mode)  # the umask may have masked the mode
        handle.write(content)


def ensure_home(path: Path) -> None:
    """Create the home's layout on first use; idempotent, never overwrites user files.

    A home without a skills/ folder gets the bundled skills with it; later versions
    of them arrive with `hermes update`, which keeps the user's changes."""
    from hermes.skills_sync import sync_skills

    try:
        new_skills = not (path / "skills").exists()
        _make_dir(path)
        for name in _DIRS:
            _make_dir(path / name)
        if not (path / "config.yaml").exists():
            template = (_DEFAULTS / "config.yaml").read_text(encoding="utf-8")
            _create_file(path / "config.yaml", template, 0o600)
        if not (path / "SOUL.md").exists():
            soul = (_DEFAULTS / "SOUL.md").read_text(encoding="utf-8")
            _create_file(path / "SOUL.md", soul, 0o600)
        _create_file(path / ".env", _ENV_HEADER, 0o600)
        _create_file(path / "memories" / "MEMORY.md", "", 0o600)
        _create_file(path / "memories" / "USER.md", "", 0o600)
        if new_skills:
            sync_skills(path / "skills")
    except OSError as exc:
        raise HermesError(
            f"cannot set up the Hermes home {path}: {exc.strerror or exc}; "
            "check its permissions or set HERMES_HOME to a writable directory"
        ) from exc


def load_profile(profile: str | None = None, *, env: Mapping[str, str] | None = None) -> Profile:
    """Resolve, create if needed and load a profile.

    ENV defaults to a copy of os.environ (read once, never changed). The profile's
    environment is ENV overlaid by the home's .env: for a key set in both, the .env
    value wins, so a profile's own keys beat whatever the shell happens to export.
    Environment overrides of settings (HERMES_BACKGROUND_NOTIFICATIONS) are applied.
    """
    from hermes.config import apply_env_overrides, load_settings
    from hermes.envfile import read_env_file

    inherited = dict(os.environ) if env is None else dict(env)
    name, home = resolve_home(profile, inherited)
    ensure_home(home)
    settings = load_settings(home / "config.yaml")
    merged = {**inherited, **read_env_file(home / ".env")}
    settings = apply_env_overrides(settings, merged)
    return Profile(name=name, home=home, settings=settings, env=merged)
