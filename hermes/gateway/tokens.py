"""One bot, one gateway: platform credentials claimed across profiles.

Two gateways polling the same Telegram bot (or holding the same Discord, Slack,
WhatsApp or Signal identity) steal each other's messages, and the platform
reports the clash in ways that are hard to trace back. So a gateway, before it
connects anything, claims each configured credential (every platform module
declares its own: `Platform.credentials`) under the default home:
ROOT/.tokens/<sha256(value)[:32]>.lock, held with flock for its lifetime and
naming the profile and pid that hold it. The kernel drops the lock when the
process dies, so a crash never blocks the next start. Only a hash of the value
is written to disk, and no message ever shows the value.

`hermes doctor` uses `shared_tokens` to find the same clash statically, in the
.env files of profiles that are not running.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from hermes.errors import HermesError
from hermes.platforms.spec import Credential

log = logging.getLogger("hermes.gateway")
LOCK_DIR = ".tokens"


def credentials() -> list[Credential]:
    """The credentials every platform declares (hermes/platforms/), each variable once."""
    from hermes import platforms

    found: dict[str, Credential] = {}
    for platform in platforms.every():
        for credential in platform.credentials:
            found.setdefault(credential.var, credential)
    return list(found.values())


class TokenConflict(HermesError):
    """A credential of this profile is in use by another profile's gateway."""


def configured(env: Mapping[str, str]) -> list[tuple[Credential, str]]:
    """The credentials set in ENV, with their values (each value once)."""
    found: list[tuple[Credential, str]] = []
    seen: set[str] = set()
    for credential in credentials():
        value = env.get(credential.var, "").strip()
        if value and value not in seen:
            seen.add(value)
            found.append((credential, value))
    return found


def lock_path(root: Path, value: str) -> Path:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return root / LOCK_DIR / f"{digest}.lock"


def _holder(fd: int) -> tuple[str, str]:
    """(profile, pid) written by the lock's holder. It writes them right after it
    takes the lock, so an empty file means "a moment ago": look again briefly."""
    deadline = time.monotonic() + 1.0
    while True:
        text = os.pread(fd, 200, 0).decode(errors="replace").split()
        if len(text) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return (text[0], text[1]) if len(text) >= 2 else ("?", "?")


def _claim(path: Path, credential: Credential, profile: str) -> int:
    """Lock PATH for this process and write who holds it; the open descriptor."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other, pid = _holder(fd)
        os.close(fd)
        conflict = TokenConflict(
            f"{credential.named()} is already used by the gateway of profile "
            f'"{other}" (pid {pid}); give each profile its own bot'
        )
        log.error("not starting: %s", conflict)  # a service's only trace, in `hermes logs`
        raise conflict from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{profile} {os.getpid()}\n".encode(), 0)
    return fd


@contextlib.contextmanager
def claim_tokens(root: Path, profile: str, env: Mapping[str, str]) -> Iterator[None]:
    """Hold every credential configured in ENV for PROFILE while the block runs;
    TokenConflict (naming the other profile) if another gateway holds one."""
    wanted = configured(env)
    held: list[int] = []
    try:
        try:
            if wanted:
                (root / LOCK_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
            for credential, value in wanted:
                held.append(_claim(lock_path(root, value), credential, profile))
        except OSError as exc:
            raise HermesError(
                f"cannot claim the bot tokens in {root / LOCK_DIR}: {exc.strerror or exc}; "
                "check that directory's permissions"
            ) from exc
        yield
    finally:
        for fd in held:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)


def profile_env_files(root: Path) -> list[tuple[str, Path]]:
    """(profile name, .env path) of every profile under ROOT, the default first."""
    files = [("default", root / ".env")]
    profiles = root / "profiles"
    if profiles.is_dir():
        files += [(d.name, d / ".env") for d in sorted(profiles.iterdir()) if d.is_dir()]
    return [(name, path) for name, path in files if path.is_file()]


def shared_tokens(
    root: Path, home: Path, env: Mapping[str, str]
) -> list[tuple[Credential, str, Path]]:
    """Credentials of ENV (the profile at HOME) that another profile's .env also
    holds: (credential, that profile, its .env). Unreadable .env files are skipped
    (`hermes doctor` reports them in their own profile)."""
    from hermes.envfile import read_env_file

    mine = configured(env)
    if not mine:
        return []
    shared: list[tuple[Credential, str, Path]] = []
    every = credentials()
    for name, path in profile_env_files(root):
        if path.parent.resolve() == home.resolve():
            continue
        try:
            values = read_env_file(path)
        except HermesError:
            continue
        theirs = {values.get(c.var, "").strip() for c in every}
        shared += [(cred, name, path) for cred, value in mine if value in theirs]
    return shared
