"""Rules for what a command does to files: deleting, moving, overwriting, permissions.

Each rule reads the command's own option syntax (hermes/risk/options.py) and
asks hermes/risk/paths.py how bad the place it touches is, so `rm -rf build`
in the workspace is low while `rm -rf /etc` is high and `rm -rf ~` is hard.
The machine-level rules (disks, power, processes, cleanup) are in
hermes/risk/machine_rules.py; `RULES` here lists both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hermes.risk.machine_rules import MACHINE_RULES
from hermes.risk.model import Assessment, Command, Level, Rule, Where, rank, riskiest
from hermes.risk.options import scan
from hermes.risk.outputs import targets as output_files
from hermes.risk.paths import delete_level, every, exists, path_risk, place, write_risk
from hermes.risk.wrappers import find_parts, matched

_TAKES = {
    "mv": {"-t", "--target-directory", "-S", "--suffix"},
    "cp": {"-t", "--target-directory", "-S", "--suffix"},
    "install": {"-t", "--target-directory", "-S", "--suffix", "-m", "--mode", "-o", "--owner",
                "-g", "--group"},
    "ln": {"-t", "--target-directory", "-S", "--suffix"},
    "rsync": {"-e", "--rsh", "--exclude", "--include", "--filter", "-f", "--backup-dir"},
}  # fmt: skip
_LOOSE = re.compile(
    r"^[0-7]?[0-7]?[0-7][2367]$|^[0-7]?[0-7][2367][0-7]$|[ao+]w|=\S*w|\+s|^[2-7][0-7]{3}$"
)
_EXPOSES = re.compile(r"^[0-7]?[0-7]([1-7][0-7]|[0-7][1-7])$|[goa]\+|^\+")  # group/others may read
_PERM_OPT = re.compile(r"^-[RvcfhHLP]+$|^--")
_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", ">&", "<>"})
_APPEND_OPS = frozenset({">>", "&>>"})


def _worst(found: Iterable[Assessment | None]) -> Assessment | None:
    best = riskiest(found)
    return best if best.risk != "none" else None


def _capped(a: Assessment, cap: Level) -> Assessment:
    return a if rank(a.risk) <= rank(cap) else Assessment(cap, a.reason)


def delete(cmd: Command, where: Where) -> Assessment | None:
    """rm, unlink, rmdir, shred, srm, truncate and `find -delete`."""
    name, args = cmd.name, cmd.args
    if name in ("rm", "srm", "unlink"):
        o = scan(args)
        recursive = o.has("-r", "-R", "--recursive")
        if o.has("--no-preserve-root"):
            return Assessment("hard", "deletes with --no-preserve-root (allows wiping /)")
        if not o.pos:
            return _from_input(cmd, "deletes")
        return _worst(path_risk(p, where, recursive=recursive) for p in o.pos)
    if name == "rmdir":  # only empty directories go
        o = scan(args)
        found = [_capped(path_risk(p, where, recursive=False), "medium") for p in o.pos]
        return _worst(found) or _from_input(cmd, "deletes directories")
    if name == "shred":
        o = scan(args, {"-n", "--iterations", "-s", "--size", "--random-source"})
        return _worst(_overwrite(p, where, "shreds") for p in o.pos) or _from_input(cmd, "shreds")
    if name == "truncate":
        o = scan(args, {"-s", "--size", "-r", "--reference"})
        return _worst(_overwrite(p, where, "truncates") for p in o.pos)
    if name == "find" and "-delete" in args:
        roots, match, _ = find_parts(args)
        found = [path_risk(matched(r, match), where, recursive=not match) for r in roots]
        return _worst(found)
    return None


def _overwrite(path: str, where: Where, verb: str) -> Assessment:
    """Destroying a file's contents: judged like deleting it (a disk device: wiping it)."""
    at = place(path, where)
    if at.kind == "device":
        return Assessment("hard", f"{verb} the disk device {at.shown}")
    how = " (every file below it)" if every(path) else ""
    return Assessment(delete_level(at.kind, every(path)), f"{verb} {at.shown}{how} ({at.label})")


def _from_input(cmd: Command, verb: str) -> Assessment | None:
    if cmd.piped_in:
        return Assessment("medium", f"{verb} files named by its input")
    return None


def move_copy(cmd: Command, where: Where) -> Assessment | None:
    """mv (removes its sources), cp/install/ln/rsync (write their destination)."""
    name = cmd.name
    if name not in ("mv", "cp", "install", "ln", "rsync"):
        return None
    o = scan(cmd.args, _TAKES[name])
    target = o.get("-t", "--target-directory")
    sources = list(o.pos) if target else list(o.pos[:-1])
    dest = target or (o.pos[-1] if len(o.pos) > 1 else None)
    if dest is None:
        return None
    found: list[Assessment | None] = []
    if name == "mv":  # moving your files out of where they are, or config or system files
        for src in sources:
            at = place(src, where, follow=False)
            if at.kind not in ("workspace", "build", "temp", "cache", "log", "dynamic") and exists(
                at.path, where
            ):
                level = delete_level(at.kind, True)
                found.append(Assessment(level, f"moves {at.shown} away ({at.label})"))
    replaces = name != "ln" or o.has("-f", "--force")
    written = write_risk(dest, where, replaces=replaces)
    verb = {"mv": "moves", "ln": "links"}.get(name, "copies")
    found.append(Assessment(written.risk, written.reason.replace("writes to", f"{verb} into", 1)))
    if name == "rsync" and o.has("--delete", "--delete-after", "--delete-before", "--del"):
        found.append(path_risk(dest, where, recursive=True))
    return _worst(found)


def writes(cmd: Command, where: Where) -> Assessment | None:
    """Redirections (`> /etc/hosts`), tee, in-place edits (`sed -i`), touch, sudoedit, dd,
    programs' output options and in-place flags (hermes/risk/outputs.py: `sort -o`,
    `yq -i`, `curl -o`, `gzip FILE`), and unpacking archives (`tar -xf x.tar -C /`),
    which overwrites what is there."""
    targets = [
        (t, op not in _APPEND_OPS)
        for op, t in cmd.redirects
        if op in _WRITE_OPS and t and not t.startswith(">(")
    ]
    name, args = cmd.name, cmd.args
    targets += output_files(cmd.argv)
    if name == "tee":
        o = scan(args)
        targets += [(t, not o.has("-a", "--append")) for t in o.pos]
    elif name == "sed" and any(re.match(r"-\w*i|--in-place", a) for a in args):
        o = scan(args, {"-e", "--expression", "-f", "--file", "-l"})
        targets += [
            (t, True) for t in o.pos[0 if o.get("-e", "--expression", "-f", "--file") else 1 :]
        ]
    elif name in ("touch", "sudoedit"):
        touched = scan(args, {"-d", "--date", "-r", "--reference", "-t"}).pos
        targets += [(t, name == "sudoedit") for t in touched]
    elif name == "dd":
        targets += [(a[3:], True) for a in args if a.startswith("of=")]
    elif name in ("tar", "unzip"):
        return _unpack(cmd, where)
    return _worst(write_risk(t, where, replaces=replaces) for t, replaces in targets)


def _unpack(cmd: Command, where: Where) -> Assessment | None:
    args = cmd.args
    if cmd.name == "unzip":
        into = scan(args, {"-d", "-x"}).get("-d")
    elif args and (re.match(r"-?[a-zA-Z]*x", args[0]) or "--extract" in args):
        into = scan(args[1:], {"-C", "--directory", "-f", "--file"}).get("-C", "--directory")
    else:
        return None
    written = write_risk((into or ".").rstrip("/") + "/…", where)
    at = place(into or ".", where)
    return Assessment(written.risk, f"unpacks an archive into {at.shown} ({at.label})")


def permissions(cmd: Command, where: Where) -> Assessment | None:
    """chmod/chown/chgrp: harmless on your own files, risky on system paths or recursively."""
    if cmd.name not in ("chmod", "chown", "chgrp"):
        return None
    opts = [a for a in cmd.args if _PERM_OPT.match(a)]
    words = [a for a in cmd.args if not _PERM_OPT.match(a)]
    recursive = any(a == "--recursive" or (a[1] != "-" and "R" in a) for a in opts)
    by_reference = any(a.startswith("--reference") for a in opts)
    spec, paths = ("", words) if by_reference or not words else (words[0], words[1:])
    # chmod that lets others write, or sets setuid/setgid; any change of owner
    loose = cmd.name != "chmod" or bool(_LOOSE.search(spec))
    verb = "changes permissions of" if cmd.name == "chmod" else "changes the owner of"
    found: list[Assessment] = []
    for path in paths:
        at = place(path, where)
        deep = recursive or every(path)
        level: Level = "none"
        if deep and at.kind in ("root", "essential", "home"):
            level = "hard"  # every file of the system, or of the user, changes hands or modes
        elif at.kind in ("root", "essential") or (deep and at.kind in ("system", "other-home")):
            level = "high"
        elif at.kind in ("system", "other-home", "device", "dev", "top"):
            level = "high" if loose else "medium"
        elif at.kind == "secret" and (loose or _EXPOSES.search(spec)):
            level = "high" if loose and cmd.name == "chmod" else "medium"
        elif at.kind not in (
            "workspace",
            "ws-config",
            "build",
            "log",
            "temp",
            "cache",
            "container",
        ):
            level = "medium"  # your files outside the workspace: a permission change
        how = " recursively" if deep else ""
        found.append(Assessment(level, f"{verb} {at.shown}{how} ({at.label})"))
    return _worst(found)


RULES: list[Rule] = [delete, move_copy, writes, permissions, *MACHINE_RULES]
