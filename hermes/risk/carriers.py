"""Programs that run code given in their arguments, read with one generic step.

`tar --to-command=CMD`, `rsync -e CMD`, `awk 'BEGIN{system(...)}'`, `vim -c
'!cmd'`, `unshare -r CMD ARGS`: `carried()` reads a program's entry in the
carriers table (hermes/risk/carrier_table.py) and returns what it runs as
shell code, commands, or code in another language; the parser then reads the
code in turn (hermes/risk/languages.py), so one set of rules judges what
finally runs. `stdin_language()` says in what language a program reads code
from its standard input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from hermes.risk.carrier_table import SUBCOMMAND_RUNNERS, TABLE, Carrier
from hermes.risk.model import Assessment
from hermes.risk.wrappers import Argv, Unwrapped

STDIN_FILES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})
_SH = "sh"


def scan_words(
    entry: Carrier, args: Sequence[str]
) -> tuple[list[tuple[str, str | None]], list[str], Argv | None]:
    """Options (name, value), positionals, and the command after a "rest" option."""
    opts: list[tuple[str, str | None]] = []
    pos: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            pos.extend(args[i:])
            break
        if len(word) < 2 or not word.startswith("-"):
            pos.append(word)
            if entry.rest and not entry.program and len(pos) > entry.own:
                pos.extend(args[i:])
                break
            continue
        name, eq, value = word.partition("=")
        if word.startswith("--") or entry.dash_long or name in entry.code or name in entry.takes:
            lang = entry.code.get(name)
            if lang == "rest":
                return opts, pos, tuple(args[i:])
            if eq:
                opts.append((name, value))
            elif (name in entry.takes or lang) and i < len(args):
                opts.append((name, args[i]))
                i += 1
            else:
                opts.append((name, None))
            continue
        for at, letter in enumerate(word[1:], start=2):
            name, glued = "-" + letter, word[at:]
            if entry.code.get(name) == "rest":
                return opts, pos, tuple(args[i:])
            if name in entry.glued:
                opts.append((name, glued or None))
                break
            if name in entry.takes or name in entry.code:
                if glued:
                    opts.append((name, glued.removeprefix("=")))
                elif i < len(args):
                    opts.append((name, args[i]))
                    i += 1
                else:
                    opts.append((name, None))
                break
            opts.append((name, None))
    return opts, pos, None


def fed(command: str) -> str:
    """Shell code for `command` run with data it cannot know on its input (a pager, a
    filter, tar's --to-command): `sh` there runs commands the gate cannot see."""
    return f": | {{ {command}\n}}"


def add_code(found: Unwrapped, lang: str, value: str, what: str) -> None:
    """Put code in `lang` where the parser reads it (shell code, a command, a file, ...)."""
    if lang == _SH:
        found.scripts.append(value)
    elif lang == "fed":  # a command the program feeds its data to: its input is unknown
        found.scripts.append(fed(value))
    elif lang == "tar-action":  # --checkpoint-action=exec=CMD
        kind, _, command = value.partition("=")
        if kind == "exec":
            found.scripts.append(command)
    elif lang.startswith("file:"):
        found.files.append((lang[5:], value))
    elif lang == "hidden":
        found.findings.append(Assessment("medium", f"runs code the gate cannot see ({what})"))
    else:
        found.codes.append((lang, value))


def _generic(name: str, entry: Carrier, args: Sequence[str]) -> Unwrapped:
    opts, pos, tail = scan_words(entry, args)
    found = Unwrapped(name, keep=entry.keep)
    given = False
    for opt, value in opts:
        lang = entry.code.get(opt)
        if lang is not None and value is not None:
            add_code(found, lang, value, f"{name} {opt}")
            given = True
    if entry.program and not given and pos:
        add_code(found, entry.program, pos[0], name)
        pos = pos[1:]
    if tail:
        found.argvs.append(tail)
    elif entry.rest and len(pos) > entry.own:
        words = pos[entry.own :]
        if entry.rest == "argv":
            found.argvs.append(tuple(words))
        else:
            add_code(found, entry.rest, " ".join(words), name)
    return found


def carried(argv: Argv) -> Unwrapped | None:
    """What `argv` runs when its program carries code in its arguments; None otherwise."""
    if not argv:
        return None
    name = PurePosixPath(argv[0]).name
    args = argv[1:]
    entry = TABLE.get(_family(name))
    if entry is not None:
        return _generic(name, entry, args)
    if args and (name, args[0]) in SUBCOMMAND_RUNNERS:
        return _generic(f"{name} {args[0]}", SUBCOMMAND_RUNNERS[(name, args[0])], args[1:])
    return None


def _family(name: str) -> str:
    """`gawk`, `mawk`, `nawk`, `busybox awk` are awk; `gsed` is sed; `gmake` is make."""
    if name in ("gawk", "mawk", "nawk", "busybox-awk", "original-awk"):
        return "awk"
    return {"gsed": "sed", "gmake": "make", "gtar": "tar", "bsdtar": "tar"}.get(name, name)


def stdin_language(argv: Argv) -> str | None:
    """The language of code this program reads from its standard input, if it does."""
    if not argv:
        return None
    name = PurePosixPath(argv[0]).name
    entry = TABLE.get(_family(name))
    if entry is None:
        return None
    opts, pos, _ = scan_words(entry, argv[1:])
    for opt, value in opts:
        lang = entry.code.get(opt, "")
        if lang.startswith("file:") and value in STDIN_FILES:
            return lang[5:]
    if entry.stdin is None or any(o in entry.no_stdin for o, _ in opts):
        return None
    if any(entry.code.get(o) for o, v in opts if v is not None) or (entry.rest and not entry.own):
        return None
    operands = pos[entry.own :]
    return entry.stdin if not operands or operands[0] in STDIN_FILES else None
