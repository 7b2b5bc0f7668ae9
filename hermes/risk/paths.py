"""Where a path points and how bad it is to delete or overwrite it.

A deletion in the agent's workspace or /tmp is routine; the same `rm -rf` on
/etc, on another user's home or on the home directory itself is not. Paths are
resolved the way the shell would (`~`, `~user`, `$HOME`, relative to the
workspace, `..`), without touching the disk: the command has not run yet and
the classifier must not depend on what happens to exist.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from hermes.risk.model import Assessment, Level, Where

# Top-level directories whose recursive removal destroys the system or every user's data.
_ESSENTIAL = frozenset(
    ["etc", "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "boot", "var", "home", "root"]
)
_SYSTEM = _ESSENTIAL | frozenset(
    ["opt", "srv", "proc", "sys", "run", "snap", "nix", "mnt", "media", "lost+found"]
)
_DISK = re.compile(
    r"^/dev/(sd|hd|vd|xvd)[a-z]|^/dev/(nvme|mmcblk|md|loop|sr)\d|^/dev/(disk|mapper)/|^/dev/dm-"
)
_HARMLESS_DEV = re.compile(
    r"^/dev/(null|zero|full|u?random|tty|stdin|stdout|stderr|fd/\d+|pts/\d+)$"
)
_GLOB_ALL = frozenset({"*", ".*", "**", "*.*", "{*,.*}", "[!.]*"})
_SECRET = re.compile(
    r"^\.(ssh/(authorized_keys2?|id_[^/]*|[^/]*key[^/]*|[^/]*\.pem)|gnupg(/|$)|netrc$|pgpass$"
    r"|aws/credentials|docker/config\.json|kube/config)|^\.ssh$"
)
_CACHE_PART = re.compile(r"^[.\w-]*caches?$|^node_modules$|^\.(tox|nox|npm|gradle)$", re.I)
_VARS = (("$HOME", "home"), ("${HOME}", "home"), ("$PWD", "cwd"), ("${PWD}", "cwd"),
         ("$(pwd)", "cwd"), ("`pwd`", "cwd"))  # fmt: skip
UNKNOWN_DIR = Path("/$CWD")  # the directory after `cd "$DIR"`: relative paths are unknown

# The level of deleting / overwriting each kind of place.
_DELETE: dict[str, Level] = {
    "device": "hard", "root": "high", "essential": "high", "home": "high", "system": "high",
    "other-home": "high", "secret": "high", "top": "high", "dev": "high", "config": "medium",
    "user": "medium", "other": "medium", "vcs": "medium", "tmp-root": "medium", "dynamic": "medium",
    "workspace": "low", "temp": "low", "cache": "low", "log": "low",
}  # fmt: skip
_WRITE: dict[str, Level] = {
    "device": "hard", "root": "high", "essential": "high", "system": "high", "other-home": "high",
    "secret": "high", "top": "high", "dev": "high", "config": "medium", "log": "low",
    "dynamic": "low",
}  # fmt: skip
_LABEL = {
    "device": "a disk device", "root": "the whole filesystem", "essential": "a system directory",
    "home": "your home directory", "system": "a system path", "other-home": "another user's home",
    "secret": "keys or credentials", "top": "a top-level directory", "dev": "a device file",
    "config": "a config file", "user": "your files", "other": "outside the workspace",
    "tmp-root": "the shared temp directory", "dynamic": "a path computed at run time",
    "workspace": "in the workspace", "temp": "temporary files", "cache": "a cache",
    "log": "log cleanup", "harmless": "a harmless device", "vcs": "a repository's history",
}  # fmt: skip


@dataclass(frozen=True)
class Moved(Where):
    """`where` after a `cd`: relative paths resolve against the new `cwd`, while
    the agent's workspace (the safe place) is still `workspace`."""

    workspace: Path = Path("/")


def moved(where: Where, args: tuple[str, ...]) -> Where:
    """Where the next commands run after `cd ARGS` (`cd` alone: home; `cd -`: unknown)."""
    target = next((a for a in args if not a.startswith("-") or a == "-"), "~")
    p = None if target == "-" else resolve(target, where)[0]
    workspace = where.workspace if isinstance(where, Moved) else where.cwd
    return Moved(
        cwd=Path(p) if p else UNKNOWN_DIR,
        home=where.home,
        hermes_root=where.hermes_root,
        hermes_home=where.hermes_home,
        probe=where.probe,
        workspace=workspace,
    )


@dataclass(frozen=True)
class Place:
    """A resolved path: `kind` keys the tables above, `shown` is for reasons."""

    kind: str
    shown: str

    @property
    def label(self) -> str:
        return _LABEL.get(self.kind, self.kind)


def resolve(path: str, where: Where) -> tuple[str | None, bool]:
    """The absolute, normalized path (None when only known at run time) and
    whether it ends in a glob that means "everything in that directory"."""
    p = path.strip()
    home, cwd = posixpath.normpath(str(where.home)), posixpath.normpath(str(where.cwd))
    if "$" in cwd and not p.startswith(("/", "~", "$HOME", "${HOME}")):
        return None, False
    for var, base in _VARS:
        if p == var or p.startswith(var + "/"):
            p = (home if base == "home" else cwd) + p[len(var) :]
    if p == "~" or p.startswith("~/"):
        p = home + p[1:]
    elif p.startswith("~"):
        user, _, rest = p[1:].partition("/")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", user):
            return None, False
        known = {posixpath.basename(home): home, "root": "/root"}
        p = known.get(user, "/home/" + user) + "/" + rest
    cut = min((i for i in (p.find("$"), p.find("`"), p.find("<(")) if i >= 0), default=-1)
    if cut >= 0:  # known up to a run-time part: `build-$(date)` stays a name in that directory
        if not p[:cut].rpartition("/")[2]:
            return None, False
        p = p[:cut] + "…"
    head, _, last = posixpath.join(cwd, p).rstrip("/").rpartition("/")
    everything = last in _GLOB_ALL
    p = posixpath.normpath((head or "/") if everything else posixpath.join(cwd, p))
    return ("/" + p.lstrip("/")), everything


def _within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _workspace_ok(cwd: str, home: str) -> bool:
    """The workspace counts as a safe place unless it is / , home, or a system directory."""
    if cwd == "/" or _within(home, cwd):
        return False
    top = cwd.split("/")[1]
    if _within(cwd, home) or top == "tmp":
        return True
    return top not in _SYSTEM or (top in {"opt", "srv", "mnt", "media"} and cwd.count("/") > 1)


def place(path: str, where: Where) -> Place:
    """Which kind of place `path` is, seen from `where`."""
    p, everything = resolve(path, where)
    if p is None:
        return Place("dynamic", path)
    home = posixpath.normpath(str(where.home))
    cwd = posixpath.normpath(str(where.workspace if isinstance(where, Moved) else where.cwd))
    kind = _kind(p, home, cwd, everything)
    shown = p + ("/*" if everything and p != "/" else "")
    if kind == "root" and everything:
        shown = "/*"
    if _within(p, home):
        shown = "~" + shown[len(home) :]
    elif _within(p, cwd) and kind in ("workspace", "cache", "vcs"):
        shown = "./" + shown[len(cwd) :].lstrip("/") if p != cwd else "." + shown[len(cwd) :]
    if kind == "tmp-root" and everything:
        kind = "temp"
    return Place(kind, shown)


def _kind(p: str, home: str, cwd: str, everything: bool) -> str:
    parts = p.split("/")[1:]
    if p.startswith("/dev/"):
        if _DISK.match(p):
            return "device"
        return "harmless" if _HARMLESS_DEV.match(p) else "dev"
    if p == "/":
        return "root"
    if _within(p, home):
        rel = p[len(home) :].lstrip("/")
        if not rel:
            return "home"
        if _SECRET.match(rel):
            return "secret"
        if any(_CACHE_PART.search(part) for part in rel.split("/")):
            return "cache"
        if rel.startswith("."):
            return "config"
        return _workspace(parts) if _within(p, cwd) and _workspace_ok(cwd, home) else "user"
    if _within(p, cwd) and _workspace_ok(cwd, home):
        return _workspace(parts)
    for tmp in ("/tmp", "/var/tmp", "/dev/shm"):
        if _within(p, tmp):
            return "tmp-root" if p == tmp else "temp"
    if len(parts) > (1 if everything else 2) and parts[0] == "var" and parts[1] in ("log", "cache"):
        return "log" if parts[1] == "log" else "cache"
    if parts[0] in ("home", "root") and len(parts) > 1:
        return "other-home"
    if "__pycache__" in parts:
        return "cache"
    if len(parts) == 1:
        return "essential" if parts[0] in _ESSENTIAL else "system" if parts[0] in _SYSTEM else "top"
    return "system" if parts[0] in _SYSTEM else "other"


def _workspace(parts: list[str]) -> str:
    return "vcs" if ".git" in parts else "workspace"


def delete_level(where_kind: str, recursive: bool) -> Level:
    """How risky removing (or emptying) a place of this kind is."""
    if where_kind in ("root", "essential", "home") and recursive:
        return "hard"
    return _DELETE.get(where_kind, "high")


def path_risk(path: str, where: Where, *, recursive: bool) -> Assessment:
    """The risk of deleting `path` (recursively or not), with a reason naming it."""
    at = place(path, where)
    how = " recursively" if recursive else ""
    return Assessment(delete_level(at.kind, recursive), f"deletes {at.shown}{how} ({at.label})")


def write_risk(path: str, where: Where) -> Assessment:
    """The risk of writing (creating, overwriting, appending to) the file at `path`."""
    at = place(path, where)
    if at.shown == "/proc/sysrq-trigger":
        return Assessment("hard", "writes to /proc/sysrq-trigger (can crash or reboot the machine)")
    if at.shown == "/proc/sys/vm/drop_caches":
        return Assessment("low", "drops the kernel's caches (a cache purge)")
    level = _WRITE.get(at.kind, "none")
    if at.kind == "device":
        return Assessment(level, f"overwrites the disk device {at.shown}")
    label = "a log file" if at.kind == "log" else at.label
    return Assessment(level, f"writes to {at.shown} ({label})")
