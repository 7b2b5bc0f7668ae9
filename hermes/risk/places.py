"""Kinds of places and how bad it is to delete, overwrite or read each.

A resolved path (hermes/risk/paths.py) is one kind of place: the root, a
system directory, the home, the workspace, temporary files, a cache, logs (a
`*.log` file, or anything in a `logs` directory of the home), your files, keys
and credentials, Hermes' own control files (any Hermes home's
config.yaml, .env, state.db, gateway.json/pid: the approval gate's control
plane), another Hermes profile's home... The tables here give each kind its
level for deleting and for writing, and which places reading reveals secrets.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from hermes.risk.model import Level

# Top-level directories whose recursive removal destroys the system or every user's data.
ESSENTIAL = frozenset(
    ["etc", "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "boot", "var", "home", "root"]
)
SYSTEM = ESSENTIAL | frozenset(
    ["opt", "srv", "proc", "sys", "run", "snap", "nix", "mnt", "media", "lost+found"]
)
_DISK = re.compile(
    r"^/dev/(sd|hd|vd|xvd)[a-z]|^/dev/(nvme|mmcblk|md|loop|sr)\d|^/dev/(disk|mapper)/|^/dev/dm-"
)
_HARMLESS_DEV = re.compile(
    r"^/dev/(null|zero|full|u?random|tty|stdin|stdout|stderr|fd/\d+|pts/\d+)$"
)
# under a home: what must not be deleted or overwritten (keys, the login's authorized keys)
_SECRET = re.compile(
    r"^\.(ssh/(authorized_keys2?|id_[^/]*|[^/]*key[^/]*|[^/]*\.pem)|gnupg(/|$)|netrc$|pgpass$"
    r"|aws/credentials|docker/config\.json|kube/config)|^\.ssh$"
)
# under a home: what reading reveals (private keys and credentials; not public keys)
_READ_SECRET = re.compile(
    r"^\.ssh/(?!authorized_keys|known_hosts|config$)[^/]+(?<!\.pub)$|^\.gnupg(/|$)|^\.netrc$"
    r"|^\.pgpass$|^\.git-credentials$|^\.aws/(credentials|sso/)|^\.config/gcloud/|^\.azure/"
    r"|^\.kube/config$|^\.docker/config\.json$|^\.npmrc$|^\.pypirc$|^\.cargo/credentials"
    r"|^\.gem/credentials$|^\.config/gh/hosts\.yml$|^\.terraform\.d/credentials|^\.vault-token$"
    r"|^\.password-store(/|$)|^\.local/share/keyrings(/|$)|^\.boto$|^\.s3cfg$|^\.my\.cnf$"
)
_SYSTEM_SECRET = re.compile(
    r"^/etc/(g?shadow-?|sudoers)$|^/etc/ssh/ssh_host_[^/]*_key$|^/proc/[^/]+/(environ|mem)$"
)
# directories that hold secrets (reading them whole reveals them), relative to a home
SECRET_DIRS = (
    ".ssh", ".gnupg", ".aws", ".config/gcloud", ".azure", ".kube", ".docker", ".password-store",
    ".local/share/keyrings", ".netrc", ".git-credentials",
)  # fmt: skip
# variables that name the temporary directory (judged as /tmp, whatever their value)
TEMP_VARS = ("TMPDIR", "TMP", "TEMP")
# a log file by its name (app.log, app.log.1, app.log.2.gz), or a directory of logs
_LOG_NAME = re.compile(r"\.log(\.\d+)?(\.(gz|bz2|xz|zst|old))?$", re.I)
_LOG_DIRS = frozenset({"log", "logs"})
_CACHE_PART = re.compile(r"^[.\w-]*caches?$|^node_modules$|^\.(tox|nox|npm|gradle)$", re.I)
CONTROL_FILES = re.compile(
    r"^(config\.yaml|\.env|state\.db(-wal|-shm|-journal)?|gateway\.(json|pid))$"
)
READ_CONTROL = re.compile(r"^(\.env|state\.db(-wal|-shm|-journal)?)$")

# Where a container's own files are: a name no shell word can spell (it holds a NUL)
CONTAINER = "\0container"
Mounts = tuple[tuple[str, str | None], ...]  # (path in a container, host path or None: unknown)

# The level of deleting / overwriting each kind of place.
DELETE: dict[str, Level] = {
    "device": "hard", "root": "high", "essential": "high", "home": "high", "system": "high",
    "other-home": "high", "secret": "high", "top": "high", "dev": "high", "config": "medium",
    "user": "medium", "other": "medium", "vcs": "medium", "tmp-root": "medium", "dynamic": "medium",
    "workspace": "medium", "ws-config": "medium", "build": "low", "temp": "low", "cache": "low",
    "log": "low", "hermes": "high",
    "hermes-other": "high", "container": "none",
}  # fmt: skip
WRITE: dict[str, Level] = {
    "device": "hard", "root": "high", "essential": "high", "system": "high", "other-home": "high",
    "secret": "high", "top": "high", "dev": "high", "config": "medium", "log": "low",
    "dynamic": "low", "hermes": "high", "hermes-other": "high",
}  # fmt: skip
LABEL = {
    "device": "a disk device", "root": "the whole filesystem", "essential": "a system directory",
    "home": "your home directory", "system": "a system path", "other-home": "another user's home",
    "secret": "keys or credentials", "top": "a top-level directory", "dev": "a device file",
    "config": "a config file", "user": "your files", "other": "outside the workspace",
    "tmp-root": "the shared temp directory", "dynamic": "a path computed at run time",
    "workspace": "your file in the workspace", "ws-config": "a config file in the workspace",
    "build": "build output, logs or temporary files", "temp": "temporary files", "cache": "a cache",
    "log": "log cleanup", "harmless": "a harmless device", "vcs": "a repository's history",
    "hermes": "Hermes' own settings/state: the approval gate's control plane",
    "hermes-other": "another Hermes profile's home", "container": "inside the container",
}  # fmt: skip
# your files: deleting or overwriting an existing one is medium, one that is not there is nothing
OVERWRITABLE = frozenset({"user", "other", "ws-config"})
# in the workspace: what a build or a tool makes again (build output, bytecode, logs, temp and
# backup files), and configuration files (moving or overwriting one is a config change)
_BUILD_PART = re.compile(
    r"^(build|dist|target|out|_build|\.eggs|[\w.-]+\.egg-info|\.(pytest|mypy|ruff)_cache"
    r"|\.(tox|nox|next|nuxt|parcel-cache|turbo|coverage)|coverage|htmlcov|__pycache__)$"
)
_BUILD_NAME = re.compile(
    r"\.(pyc|pyo|o|obj|a|class|tmp|temp|bak|orig|rej|swp|swo)$|.~$|^\.coverage$"
)
_CONFIG_NAME = re.compile(
    r"^(config|settings)\.(ya?ml|json|toml|ini|cfg|conf)$|^\.env(\.[\w-]+)?$|\.conf$"
)


def within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def kind_of_container(p: str) -> bool:
    """Whether `p` is a container's own file (see `on_host`)."""
    return p.startswith("/" + CONTAINER)


def on_host(p: str, mounts: Mounts) -> str | None:
    """The host path a container's absolute path `p` is: under a mount, the host
    path mounted there (None when that is unknown); above mounts (`rm -rf /` with
    `-v /:/host`), the widest host path mounted below it, which it reaches; else
    the container's own file, `/CONTAINER/...`. `mounts` go longest first."""
    for dst, src in mounts:
        if within(p, dst):
            rest = p[len(dst) :].lstrip("/")
            return None if src is None else posixpath.normpath(posixpath.join(src, rest))
    below = [src for dst, src in mounts if within(dst, p)]
    known = [src for src in below if src is not None]
    if below:
        return min(known, key=len) if len(known) == len(below) else None
    return posixpath.normpath(f"/{CONTAINER}/{p.lstrip('/')}")


@dataclass(frozen=True)
class Bases:
    """The places paths are judged against, absolute and normalized."""

    home: str
    workspace: str
    root: str  # Hermes' root (~/.hermes)
    served: str  # the Hermes home being served (the root, or ROOT/profiles/NAME)


def hermes_owner(p: str, b: Bases) -> tuple[str, list[str]] | None:
    """The Hermes home `p` is in (the root, `ROOT/profiles/NAME`, or the served home
    when it lies elsewhere) and the parts of `p` inside it; None outside every home."""
    if within(p, b.served) and not within(b.served, b.root):
        rest = p[len(b.served) :].strip("/")
        return b.served, rest.split("/") if rest else []
    if not within(p, b.root):
        return None
    rel = p[len(b.root) :].strip("/")
    parts = rel.split("/") if rel else []
    if parts[:1] == ["profiles"] and len(parts) > 1:
        return posixpath.join(b.root, "profiles", parts[1]), parts[2:]
    return b.root, parts


def hermes_kind(p: str, b: Bases) -> str | None:
    """ "hermes" for the control files of any Hermes home (and for the homes themselves),
    "hermes-other" for anything else in a profile's home that is not the one served,
    "log" for the served home's logs."""
    found = hermes_owner(p, b)
    if found is None:
        return None
    owner, inner = found
    if not inner or inner == ["profiles"] or (len(inner) == 1 and CONTROL_FILES.match(inner[0])):
        return "hermes"
    if owner != b.served:
        return "hermes-other"
    return "log" if inner[0] == "logs" and len(inner) > 1 else None


def kind(p: str, b: Bases, everything: bool) -> str:
    """Which kind of place the absolute, normalized path `p` is."""
    parts = p.split("/")[1:]
    if kind_of_container(p):
        return "container"
    if p.startswith("/dev/"):
        if _DISK.match(p):
            return "device"
        return "harmless" if _HARMLESS_DEV.match(p) else "dev"
    if p == "/":
        return "root"
    if p == b.home:  # also when Hermes' home is the user's home: deleting it is the worst
        return "home"
    hermes = hermes_kind(p, b)
    if hermes is not None:
        return hermes
    home, cwd = b.home, b.workspace
    if within(p, home):
        rel = p[len(home) :].lstrip("/")
        if not rel:
            return "home"
        if _SECRET.match(rel):
            return "secret"
        if any(_CACHE_PART.search(part) for part in rel.split("/")):
            return "cache"
        if within(p, cwd) and workspace_ok(cwd, home):
            return _workspace(parts, cwd)
        if _LOG_NAME.search(parts[-1]) or any(part.lower() in _LOG_DIRS for part in rel.split("/")):
            return "log"
        return "config" if rel.startswith(".") else "user"
    if within(p, cwd) and workspace_ok(cwd, home):
        return _workspace(parts, cwd)
    for tmp in ("/tmp", "/var/tmp", "/dev/shm"):
        if within(p, tmp):
            return "tmp-root" if p == tmp else "temp"
    if len(parts) > (1 if everything else 2) and parts[0] == "var" and parts[1] in ("log", "cache"):
        return "log" if parts[1] == "log" else "cache"
    if parts[0] in ("home", "root") and len(parts) > 1:
        return "other-home"
    if "__pycache__" in parts:
        return "cache"
    if len(parts) == 1 or parts[0] == "…":  # `/…/*.conf`: things anywhere on the system
        return "essential" if parts[0] in ESSENTIAL else "system" if parts[0] in SYSTEM else "top"
    if parts[0] in SYSTEM:
        return "system"
    return "log" if _LOG_NAME.search(parts[-1]) else "other"


def _workspace(parts: list[str], cwd: str) -> str:
    """A place in the workspace: its history, build output and temporary files (made
    again by a build), logs, a config file, or the user's own file."""
    if ".git" in parts:
        return "vcs"
    inner = parts[len(cwd.strip("/").split("/")) :]
    if any(_BUILD_PART.match(part) or _CACHE_PART.search(part) for part in inner[:-1]):
        return "build"
    name = inner[-1] if inner else ""
    if _BUILD_PART.match(name) or _BUILD_NAME.search(name) or _CACHE_PART.search(name):
        return "build"
    if _LOG_NAME.search(name) or any(part.lower() in _LOG_DIRS for part in inner[:-1]):
        return "build"
    return "ws-config" if _CONFIG_NAME.search(name) else "workspace"


def workspace_ok(cwd: str, home: str) -> bool:
    """The workspace counts as a safe place unless it is / , home, or a system directory."""
    if cwd == "/" or within(home, cwd):
        return False
    top = cwd.split("/")[1]
    if within(cwd, home) or top == "tmp":
        return True
    return top not in SYSTEM or (top in {"opt", "srv", "mnt", "media"} and cwd.count("/") > 1)


def _home_of(p: str, b: Bases) -> tuple[str, str] | None:
    """(home, path relative to it) for a path in the user's or another user's home."""
    if within(p, b.home):
        return b.home, p[len(b.home) :].lstrip("/")
    m = re.match(r"^(/home/[^/]+|/root)(?:/(.*))?$", p)
    return (m.group(1), m.group(2) or "") if m else None


def read_kind(p: str, b: Bases, whole: bool) -> str | None:
    """What reading `p` reveals: "secret" (keys, credentials), "hermes" (a Hermes home's
    .env or state.db), "hermes-other" (another profile's home); None for the rest.
    `whole`: the read takes everything below `p` (a recursive copy, a glob)."""
    hermes = hermes_kind(p, b)
    owner = hermes_owner(p, b)
    if hermes == "hermes-other" or (owner is not None and owner[1] and owner[0] != b.served):
        return "hermes-other"
    if hermes == "hermes" and (READ_CONTROL.match(posixpath.basename(p)) or whole):
        return "hermes"
    if _SYSTEM_SECRET.match(p):
        return "secret"
    found = _home_of(p, b)
    if found is not None:
        home, rel = found
        if rel and _READ_SECRET.match(rel):
            return "secret"
        if whole and (not rel or any(within(posixpath.join(home, d), p) for d in SECRET_DIRS)):
            return "secret"
    if whole and (within(b.root, p) or p in ("/", "/home", "/root")):
        return "hermes" if within(b.root, p) and p != "/" else "secret"
    return None
