"""Where a path points and how bad it is to delete, overwrite or read it.

A deletion in the agent's workspace or /tmp is routine; the same `rm -rf` on
/etc, on another user's home or on the home directory itself is not. Paths are
resolved the way the shell would (`~`, `~user`, `$HOME`, `$TMPDIR` (the temp
directory, whatever its value), relative to the workspace, `..`) and then
through symlinks: links made earlier on the same command line (`ln -s ~ /tmp/h;
rm -rf /tmp/h/`, bind mounts too), and, when the gate gives a `Probe`, links
already on disk. Deleting a path resolves its directory and keeps the last name
(rm removes a link, not what it points to), unless the path ends in `/`, `/.`
or a glob; writing resolves it whole. In a container (hermes/risk/containers.py)
a path is first mapped to the host. The kinds of places and their levels are in
hermes/risk/places.py.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass, replace
from pathlib import Path

from hermes.risk import places
from hermes.risk.model import Assessment, Command, Level, Where
from hermes.risk.options import scan
from hermes.risk.places import DELETE, LABEL, OVERWRITABLE, TEMP_VARS, WRITE, Bases, within

_GLOB_ALL = frozenset({"*", ".*", "**", "*.*", "{*,.*}", "[!.]*"})
_VARS = (("$HOME", "home"), ("${HOME}", "home"), ("$PWD", "cwd"), ("${PWD}", "cwd"),
         ("$(pwd)", "cwd"), ("`pwd`", "cwd"), ("$HERMES_HOME", "hermes"),
         ("${HERMES_HOME}", "hermes"), *((f"${v}", "tmp") for v in TEMP_VARS),
         *((f"${{{v}}}", "tmp") for v in TEMP_VARS))  # fmt: skip
_ABSOLUTE = ("/", "~", *(v for v, base in _VARS if base != "cwd"))
_TEMP_SPELLINGS = tuple(v for v, base in _VARS if base == "tmp")
UNKNOWN_DIR = Path("/$CWD")  # the directory after `cd "$DIR"`: relative paths are unknown
MAX_LINK_HOPS = 8


@dataclass(frozen=True)
class Moved(Where):
    """`where` as earlier commands on the line left it: after a `cd`, relative paths
    resolve against the new `cwd` while the agent's workspace (the safe place) is
    still `workspace`; `links` are symlinks, hard links and bind mounts made so far
    (link -> what it points to, both absolute)."""

    workspace: Path = Path("/")
    links: tuple[tuple[str, str], ...] = ()
    container: places.Mounts | None = None  # inside a container: its mounts (containers.py)


def state(where: Where) -> Moved:
    if isinstance(where, Moved):
        return where
    return Moved(where.cwd, where.home, where.hermes_root, where.hermes_home, where.probe,
                 workspace=where.cwd)  # fmt: skip


def moved(where: Where, args: tuple[str, ...]) -> Where:
    """Where the next commands run after `cd ARGS` (`cd` alone: home; `cd -`: unknown)."""
    target = next((a for a in args if not a.startswith("-") or a == "-"), "~")
    p = None if target == "-" else resolve(target, where, inside=False)[0]
    return replace(state(where), cwd=Path(p) if p else UNKNOWN_DIR)


def linked(where: Where, cmd: Command) -> Where:
    """`where` after a command that makes one path stand for another: `ln [-s]`, `mount --bind`."""
    pairs: list[tuple[str, str]] = []
    if cmd.name == "ln":
        o = scan(cmd.args, {"-t", "--target-directory", "-S", "--suffix"})
        into = o.get("-t", "--target-directory")
        targets = list(o.pos) if into else list(o.pos[:-1])
        dest = into or (o.pos[-1] if len(o.pos) > 1 else None)
        if dest is None:
            return where
        inside = bool(into) or len(targets) > 1 or dest.endswith("/") or dest in (".", "..")
        for target in targets:
            name = posixpath.join(dest, posixpath.basename(target.rstrip("/"))) if inside else dest
            link = resolve(name, where, follow=False)[0]
            base = posixpath.dirname(link) if link and o.has("-s", "--symbolic") else ""
            real = resolve(target if target.startswith(("/", "~", "$")) or not base
                           else posixpath.join(base, target), where)[0]  # fmt: skip
            if link and real:
                pairs.append((link, real))
    elif cmd.name == "mount" and any(
        a in ("--bind", "--rbind", "-B", "-R") or "bind" in a for a in cmd.args
    ):
        pos = scan(cmd.args, {"-o", "-t", "-L", "-U", "--options", "--types"}).pos
        if len(pos) >= 2:
            src, dst = resolve(pos[-2], where)[0], resolve(pos[-1], where, follow=False)[0]
            if src and dst:
                pairs.append((dst, src))
    if not pairs:
        return where
    now = state(where)
    return replace(now, links=now.links + tuple(pairs))


@dataclass(frozen=True)
class Place:
    """A resolved path: `kind` keys the tables in places.py, `shown` is for reasons."""

    kind: str
    shown: str
    path: str | None = None  # absolute and resolved; None when computed at run time

    @property
    def label(self) -> str:
        return LABEL.get(self.kind, self.kind)


def bases(where: Where) -> Bases:
    home = posixpath.normpath(str(where.home))
    work = where.workspace if isinstance(where, Moved) else where.cwd
    root = posixpath.normpath(str(where.hermes_root or Path(home) / ".hermes"))
    served = posixpath.normpath(str(where.hermes_home or root))
    return Bases(home, posixpath.normpath(str(work)), root, served)


def resolve(
    path: str, where: Where, *, follow: bool = True, inside: bool = True
) -> tuple[str | None, bool]:
    """The absolute, normalized path (None when only known at run time) and
    whether it ends in a glob that means "everything in that directory".
    Links are followed, the last one only with `follow` (or a trailing `/`, `/.`).
    In a container, the path on the host (`inside=False`: the container's own path)."""
    p = path.strip()
    home, cwd = posixpath.normpath(str(where.home)), posixpath.normpath(str(where.cwd))
    if "$" in cwd and not p.startswith(_ABSOLUTE):
        return None, False
    for var, base in _VARS:
        if p == var or p.startswith(var + "/"):
            value = {"home": home, "cwd": cwd, "hermes": bases(where).served, "tmp": "/tmp"}[base]
            p = value + p[len(var) :]
    if p == "~+" or p.startswith("~+/"):
        p = cwd + p[2:]
    elif p == "~" or p.startswith("~/"):
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
    follow = follow or p.endswith(("/", "/."))
    head, _, last = posixpath.join(cwd, p).rstrip("/").rpartition("/")
    everything = last in _GLOB_ALL
    p = posixpath.normpath((head or "/") if everything else posixpath.join(cwd, p))
    p = _glob_known("/" + p.lstrip("/"), home)
    mounts = where.container if isinstance(where, Moved) else None
    if mounts is not None:
        if not inside:
            return p, everything
        found = places.on_host(p, mounts)
        if found is None:
            return None, False
        p = found
    return _real(p, where, follow or everything), everything


_GLOB = re.compile(r"[*?\[]")
_TOP_NAMES = sorted(places.ESSENTIAL) + sorted(places.SYSTEM - places.ESSENTIAL)
_HOME_NAMES = (*places.SECRET_DIRS, ".hermes", ".config", ".local", ".bashrc", ".profile")


def _glob_known(p: str, home: str) -> str:
    """A glob that matches a system directory (`/e*c`, `/???`) or a secret place in the
    home (`~/.s?h`) is judged as that place."""
    if not _GLOB.search(p):
        return p
    parts = p.split("/")
    if len(parts) > 1 and _GLOB.search(parts[1]):
        parts[1] = next((n for n in _TOP_NAMES if fnmatch.fnmatchcase(n, parts[1])), parts[1])
    inside = len(home.split("/"))
    if within(p, home) and len(parts) > inside and _GLOB.search(parts[inside]):
        name = parts[inside]
        parts[inside] = next((n for n in _HOME_NAMES if fnmatch.fnmatchcase(n, name)), name)
    return "/".join(parts)


def _real(p: str, where: Where, follow: bool) -> str:
    """`p` with links made on the line, then links on disk (through the probe), resolved."""
    links = where.links if isinstance(where, Moved) else ()
    for _ in range(MAX_LINK_HOPS if links else 0):
        for link, target in reversed(links):
            if (p == link and follow) or p.startswith(link.rstrip("/") + "/"):
                p = posixpath.normpath(target + p[len(link) :])
                break
        else:
            break
    probe = where.probe
    if probe is None or "…" in p or places.kind_of_container(p):
        return p
    try:
        if follow:
            real = probe.realpath(p)
        else:
            head, name = posixpath.split(p)
            real = posixpath.join(probe.realpath(head), name) if name else probe.realpath(p)
        return _nominal(posixpath.normpath(real), where)
    except (OSError, ValueError):
        return p


def _nominal(p: str, where: Where) -> str:
    """A resolved path spelled through the home, workspace and Hermes homes as the
    gate knows them (they may themselves sit behind symlinks)."""
    b = bases(where)
    best = ("", "")
    for base in (b.home, b.workspace, b.root, b.served):
        real = _real_base(where, base)
        if real != base and within(p, real) and len(real) > len(best[0]):
            best = (real, base)
    return best[1] + p[len(best[0]) :] if best[0] else p


_BASES: dict[tuple[int, str], tuple[object, str]] = {}  # (id(probe), base) -> (probe, real)


def _real_base(where: Where, base: str) -> str:
    """Where a base directory really is, asked once per probe (the gate makes one per call)."""
    probe = where.probe
    if probe is None:
        return base
    key = (id(probe), base)
    cached = _BASES.get(key)
    if cached is not None and cached[0] is probe:
        return cached[1]
    if len(_BASES) > 64:
        _BASES.clear()
    real = posixpath.normpath(probe.realpath(base))
    _BASES[key] = (probe, real)
    return real


def exists(path: str | None, where: Where) -> bool:
    """Whether something is at `path`; without a probe, assume it is (the careful answer)."""
    if path is None or where.probe is None or "…" in path:
        return True
    try:
        return where.probe.exists(path)
    except (OSError, ValueError):
        return True


def place(path: str, where: Where, *, follow: bool = True) -> Place:
    """Which kind of place `path` is, seen from `where`."""
    p, everything = resolve(path, where, follow=follow)
    if p is None:
        return Place("dynamic", path)
    b = bases(where)
    kind = places.kind(p, b, everything)
    shown = p + ("/*" if everything and p != "/" else "")
    if kind == "root" and everything:
        shown = "/*"
    if within(p, b.home):
        shown = "~" + shown[len(b.home) :]
    elif within(p, b.workspace) and kind in (
        "workspace",
        "ws-config",
        "build",
        "log",
        "cache",
        "vcs",
    ):
        rel = shown[len(b.workspace) :]
        shown = "./" + rel.lstrip("/") if p != b.workspace else "." + rel
    if kind == "tmp-root" and everything:
        kind = "temp"
    if kind == "container":
        shown = "/" + p.partition(places.CONTAINER)[2].lstrip("/")
    if kind in ("temp", "tmp-root") and path.strip().startswith(_TEMP_SPELLINGS):
        shown = path.strip()  # `$TMPDIR/x`: /tmp is only what it usually is
    return Place(kind, shown, p)


def every(path: str) -> bool:
    """`ROOT/**` stands for every file below ROOT (find without narrowing tests)."""
    return path.rstrip().endswith("/**")


def delete_level(where_kind: str, recursive: bool) -> Level:
    """How risky removing (or emptying) a place of this kind is."""
    if where_kind in ("root", "essential", "home") and recursive:
        return "hard"
    return DELETE.get(where_kind, "high")


def path_risk(path: str, where: Where, *, recursive: bool) -> Assessment:
    """The risk of deleting `path` (recursively or not), with a reason naming it."""
    at = place(path, where, follow=False)
    recursive = recursive or every(path)
    how = " recursively" if recursive else ""
    level = delete_level(at.kind, recursive)
    if at.kind in (*OVERWRITABLE, "workspace") and not exists(at.path, where):
        level = "none"  # nothing there to delete
    return Assessment(level, f"deletes {at.shown}{how} ({at.label})")


def write_risk(path: str, where: Where, *, replaces: bool = True) -> Assessment:
    """The risk of writing the file at `path`: creating it, or, with `replaces`,
    overwriting what is there (appending and touching do not destroy it)."""
    at = place(path, where)
    if at.shown == "/proc/sysrq-trigger":
        return Assessment("hard", "writes to /proc/sysrq-trigger (can crash or reboot the machine)")
    if at.shown == "/proc/sys/vm/drop_caches":
        return Assessment("low", "drops the kernel's caches (a cache purge)")
    level = WRITE.get(at.kind, "none")
    if at.kind == "device":
        return Assessment(level, f"overwrites the disk device {at.shown}")
    if at.kind in OVERWRITABLE and replaces and exists(at.path, where):
        return Assessment("medium", f"overwrites {at.shown} ({at.label})")
    label = "a log file" if at.kind == "log" else at.label
    return Assessment(level, f"writes to {at.shown} ({label})")


def read_risk(path: str, where: Where, *, whole: bool = False) -> Assessment:
    """The risk of reading `path` (with `whole`: everything below it)."""
    p, everything = resolve(path, where)
    if p is None:
        return Assessment("none", f"reads {path}")
    found = places.read_kind(p, bases(where), whole or everything or every(path))
    shown = place(path, where).shown
    if found == "secret":
        return Assessment("medium", f"reads keys or credentials ({shown})")
    if found == "hermes":
        return Assessment("medium", f"reads Hermes' own keys or state ({shown})")
    if found == "hermes-other":
        return Assessment("medium", f"reads another Hermes profile's home ({shown})")
    return Assessment("none", f"reads {shown}")
