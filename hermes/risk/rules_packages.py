"""Package managers: what they remove, and what they change on the system.

Judgement used here: removing system packages (apt, dnf, pacman, brew, ...)
can take other software with it (medium). Installing or upgrading system
packages changes the machine for every user, a config change (medium);
Homebrew's are the user's own (low). Project-level installs (pip in a venv,
npm, cargo) are everyday work (none) unless run with sudo, which writes
into the system's own Python or Node (medium). Uninstalling project packages
is easily undone (low), and emptying a package cache is a cache purge (low).
"""

from __future__ import annotations

from hermes.risk.model import Assessment, Command, Level, Where
from hermes.risk.options import Opts, scan

_APT = frozenset({"apt", "apt-get", "aptitude"})
_RPM = frozenset({"dnf", "yum", "microdnf", "zypper"})
_PACMAN = frozenset({"pacman", "yay", "paru"})
_JS = frozenset({"npm", "pnpm", "yarn", "bun"})
_PIP = frozenset({"pip", "pip3"})
_SYSTEM_TAKES = frozenset(
    {"-o", "-c", "-t", "--target-release", "--option", "--repo", "--enablerepo",
     "--disablerepo", "--releasever", "--installroot", "-R", "--root", "-X", "--repository"}
)  # fmt: skip
_SIMULATE = ("-s", "--simulate", "--dry-run", "--just-print", "--no-act", "--recon", "--assumeno")
_REMOVES = frozenset(
    {"remove", "purge", "autoremove", "erase", "rm", "uninstall", "del", "autopurge",
     "remove-orphans"}
)  # fmt: skip
_INSTALLS = frozenset(
    {"install", "in", "reinstall", "upgrade", "update", "up", "full-upgrade", "dist-upgrade",
     "distro-sync", "downgrade", "dup", "add", "refresh", "localinstall"}
)  # fmt: skip
_CLEANS = frozenset({"clean", "autoclean", "cleanup"})


def _listed(words: tuple[str, ...]) -> str:
    """` a, b` for the package names after the verb ("" when none are named)."""
    return f" {', '.join(words)}" if words else ""


def _system(tool: str, o: Opts) -> Assessment | None:
    """apt, dnf/yum/zypper, apk, snap, flatpak, brew: one verb, then package names."""
    verb = o.pos[0] if o.pos else ""
    if o.has(*_SIMULATE) or (verb == "update" and (tool in _APT or tool == "brew")):
        return None  # `apt update` and `brew update` only refresh the package lists
    pkgs = _listed(o.pos[1:])
    if verb in _CLEANS or (tool == "apk" and o.pos[:2] == ("cache", "clean")):
        return Assessment("low", f"purges the {tool} package cache")
    if verb in _REMOVES:
        return Assessment("medium", f"removes system packages{pkgs} through {tool}")
    if verb in _INSTALLS:
        if tool == "brew":
            return Assessment("low", f"installs or upgrades Homebrew packages{pkgs}")
        return Assessment("medium", f"installs or upgrades system packages{pkgs} through {tool}")
    return None


def _pacman(tool: str, args: tuple[str, ...]) -> Assessment | None:
    """pacman's operation is the capital letter among its short flags (-Rns, -Syu, -Sc)."""
    letters = "".join(a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
    named = tuple(a for a in args if not a.startswith("-"))
    targets = _listed(named)
    if "R" in letters or "--remove" in args:
        return Assessment("medium", f"removes system packages{targets} through {tool}")
    if "S" in letters or "--sync" in args:
        if "c" in letters or "--clean" in args:
            return Assessment("low", f"purges the {tool} package cache")
        if any(q in letters for q in "silgp"):
            return None
        if "u" in letters or named:
            return Assessment("medium", f"installs or upgrades system packages{targets}")
        return None
    if "U" in letters or "--upgrade" in args:
        return Assessment("medium", f"installs package files{targets} through {tool}")
    return None


def _project(tool: str, o: Opts, elevated: bool) -> Assessment | None:
    """pip, npm and friends: project packages, risky only when they touch the system."""
    verb = o.pos[0] if o.pos else ""
    pkgs = _listed(o.pos[1:])
    system = elevated or o.has("--break-system-packages")
    level: Level = "medium" if system else "low"
    where = " in the system environment" if system else ""
    if verb in ("uninstall", "remove", "rm", "un", "r", "unlink"):
        return Assessment(level, f"uninstalls {tool} packages{pkgs}{where}")
    if verb in ("install", "i", "add") and system:
        return Assessment("medium", f"installs {tool} packages{pkgs}{where}")
    if verb == "cache" and o.pos[1:2] in (("purge",), ("clean",), ("remove",)):
        return Assessment("low", f"purges the {tool} cache")
    if (tool, verb) == ("pnpm", "store") and o.pos[1:2] == ("prune",):
        return Assessment("low", "purges the pnpm store")
    return None


def packages_rule(cmd: Command, where: Where) -> Assessment | None:
    """Package removal, system installs, cache purges."""
    name, args = cmd.name, cmd.args
    if name in _APT or name in _RPM or name in ("apk", "snap", "flatpak", "brew", "port"):
        return _system(name, scan(args, _SYSTEM_TAKES))
    if name in _PACMAN:
        return _pacman(name, args)
    if name in _PIP or name in _JS:
        return _project(name, scan(args, {"-r", "--requirement", "-t", "--target"}), cmd.elevated)
    if name == "uv" and args[:1] == ("pip",):
        return _project("uv pip", scan(args[1:], {"-r", "--requirement"}), cmd.elevated)
    if name == "uv" and args[:2] == ("cache", "clean"):
        return Assessment("low", "purges the uv cache")
    if name in ("pipx", "cargo", "gem", "conda", "mamba") and args[:1] in (
        ("uninstall",),
        ("uninstall-all",),
        ("remove",),
    ):
        return Assessment("low", f"uninstalls {name} packages{_listed(args[1:])}")
    if (name == "cargo" and args[:1] == ("clean",)) or (
        name == "go" and args[:1] == ("clean",) and any("cache" in a for a in args)
    ):
        return Assessment("low", f"purges the {name} build cache")
    return None
