"""Code that reaches a shell or interpreter from somewhere else.

`curl URL | sh`, `bash <(wget -O- URL)`, `sh -c "$(curl URL)"` run whatever a
server sends; `echo ... | base64 -d | bash` hides what runs. These are judged
by where the code comes from, which only the parser sees (pipeline stages,
substitutions), so the parser calls these helpers.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex
from collections.abc import Sequence

from hermes.risk import carriers_special, expand
from hermes.risk.model import Assessment, Command
from hermes.risk.options import scan
from hermes.risk.wrappers import ITEM, SHELLS, find_parts, first_arg, language, matched

_DOWNLOADERS = frozenset(
    ["curl", "wget", "fetch", "aria2c", "http", "https", "xh", "lwp-request", "GET", "nc", "ncat"]
)
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^/@\s]*@)?([a-z0-9-]+(?:\.[a-z0-9-]+)+)", re.I)
_SHELL_TAKES = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})


def items(before: list[Command], text: str | None) -> tuple[str, ...]:
    """The words a pipeline stage reads, when known: literal text, what `find`
    matches, or the names `ls` lists."""
    if text is not None:
        return tuple(text.split()[:16])
    finds = [c for c in before if c.name == "find" and not c.dynamic]
    if len(finds) == 1 and not any(a.startswith("-exec") for a in finds[0].args):
        roots, match, _ = find_parts(finds[0].args)
        return tuple(matched(r, match) for r in roots)
    lists = [c for c in before if c.name in _LISTERS and not c.dynamic]
    return listed(lists[0]) if len(lists) == 1 else ()


_LISTERS = frozenset({"ls", "dir", "vdir"})
_LS_TAKES = frozenset(
    {"-I", "--ignore", "--hide", "-w", "--width", "-T", "--tabsize", "--format", "--sort",
     "--time", "--time-style", "--quoting-style", "--indicator-style", "--block-size"}
)  # fmt: skip
_GLOB = re.compile(r"[*?\[]")


def listed(cmd: Command) -> tuple[str, ...]:
    """What `ls` prints, as items for xargs: the entries of each directory as bare
    names (`*`: every name, which xargs appends relative to its own directory, or
    puts where a template says: `-I{} rm ~/{}` is everything in ~); with `-d`, or
    for the paths a glob gives it, the paths as given."""
    o = scan(cmd.args, _LS_TAKES)
    if o.has("-d", "--directory"):
        return tuple(o.pos[:16]) or (".",)
    given = tuple(p for p in o.pos if _GLOB.search(p))
    return (*given[:15], "*")


def fill(argvs: list[tuple[str, ...]], items: tuple[str, ...]) -> list[tuple[str, ...]]:
    """xargs/parallel commands with the words they read put in (`$ITEM`, or appended)."""
    out = []
    for argv in argvs:
        if any(ITEM in a for a in argv):
            out += [tuple(a.replace(ITEM, item) for a in argv) for item in items]
        else:
            out.append(argv + items)
    return out


def _word(item: str) -> str:
    """An item as a shell word; `~` keeps meaning the home directory it was printed as."""
    return item if re.fullmatch(r"[\w@%+=:,./~-]+", item) else shlex.quote(item)


def fill_scripts(scripts: list[str], items: tuple[str, ...]) -> list[str]:
    """parallel's command templates with the words it reads put in for `$ITEM`."""
    out = []
    for script in scripts:
        if ITEM in script:
            out += [script.replace(ITEM, _word(item)) for item in items]
        else:
            out.append(script)
    return out[:16]


def local_file(cmds: list[Command]) -> bool:
    """`cat script.sh | sh` runs a file already on disk, like `sh script.sh`."""
    return len(cmds) == 1 and cmds[0].name == "cat" and bool(cmds[0].args) and not cmds[0].dynamic


def program(cmd: Command) -> str:
    """The command's name, `.` included (its `name` is empty: "." has no base name)."""
    return "." if cmd.argv[:1] == (".",) else cmd.name


def stdin_language(cmd: Command) -> str | None:
    """The language of the code `cmd` reads from its standard input, if it does:
    "sh" for `sh`, `bash -s`, `source /dev/stdin`, `at now`; "python" for
    `python3 -`; "make" for `make -f -`; ... (hermes/risk/carriers.py)."""
    name = program(cmd)
    if name in ("source", "."):
        return "sh" if cmd.args[:1] in (("/dev/stdin",), ("-",)) else None
    if name not in SHELLS and language(name) is None:
        return carriers_special.stdin_language(cmd.argv)
    args = cmd.args
    if any(a.startswith("-") and not a.startswith("--") and "c" in a[1:] for a in args):
        return None
    rest = args[first_arg(args, _SHELL_TAKES) :]
    if not rest or rest[0] in ("-", "/dev/stdin") or "-s" in args:
        return "sh" if name in SHELLS else language(name)
    return None


def code_reader(cmd: Command) -> str | None:
    """The program's name if `cmd` reads code it runs from its stdin (SQL a database
    client reads is judged by the SQL rules instead)."""
    lang = stdin_language(cmd)
    return program(cmd) or cmd.name if lang and lang != "sqlclient" else None


def script_arg(cmd: Command) -> str | None:
    """The file a shell or interpreter runs (`bash <(curl ...)` gives `<(curl ...)`)."""
    if program(cmd) in ("source", "."):
        return cmd.args[0] if cmd.args else None
    if cmd.name not in SHELLS and language(cmd.name) is None:
        return None
    rest = cmd.args[first_arg(cmd.args, _SHELL_TAKES) :]
    return rest[0] if rest else None


def download_host(cmd: Command) -> str | None:
    """Where `cmd` downloads from, when it is a downloader."""
    if cmd.name not in _DOWNLOADERS and not (
        language(cmd.name) == "python" and any("urllib" in a or "requests" in a for a in cmd.args)
    ):
        return None
    for arg in cmd.args:
        m = _URL.match(arg)
        if m and not arg.startswith("-") and "." in m.group(1):
            return m.group(1)
    return "the network"


def decodes(cmd: Command) -> bool:
    """Whether `cmd` decodes data (base64, hex dumps, ...): what comes out is hidden."""
    args = cmd.args
    if cmd.name in ("base64", "base32", "basenc", "uudecode"):
        return cmd.name == "uudecode" or any(a in ("-d", "-D", "--decode") for a in args)
    if cmd.name == "xxd":
        return any(a.startswith("-r") for a in args)
    if cmd.name == "openssl":
        return "-d" in args or "-base64" in args or "base64" in args
    return False


def source_finding(cmds: Sequence[Command], target: str) -> Assessment | None:
    """What it means for `target` (e.g. "sh") to run the output of `cmds`."""
    for cmd in cmds:
        host = download_host(cmd)
        if host:
            return Assessment("high", f"pipes a download from {host} into {target}")
    if any(decodes(c) for c in cmds):
        return Assessment("high", f"pipes decoded (hidden) data into {target}")
    return None


def code_finding(cmds: Sequence[Command], what: str) -> Assessment | None:
    """The risk of running code produced by `cmds` (a substitution or process
    substitution) as `what` (e.g. "sh code")."""
    for cmd in cmds:
        host = download_host(cmd)
        if host:
            return Assessment("high", f"runs {what} downloaded from {host}")
    if any(decodes(c) for c in cmds):
        return Assessment("high", f"runs decoded (hidden) {what}")
    return None


def printed(cmd: Command, stdin: str | None) -> str | None:
    """What `cmd` prints when that is literal: `echo`, `printf`, `cat` of its
    here-document or here-string; None for anything else."""
    if cmd.dynamic:
        return None
    if cmd.name == "echo":
        return expand.echo(cmd.args)
    if cmd.name == "printf" and cmd.args[:1] != ("-v",):
        args = cmd.args[1:] if cmd.args[:1] == ("--",) else cmd.args
        return expand.printf(args)
    if cmd.name == "cat" and cmd.args in ((), ("-",)) and stdin is not None:
        return stdin
    return None


def literal_output(mains: Sequence[Command | None], heredocs: dict[int, str]) -> str | None:
    """The text a pipeline prints, when it is literal: its first stage prints
    literal text (`printed`), each later one transforms it statically (base64 -d,
    xxd -r, rev, tr), so `echo cm0gLXJmIC8= | base64 -d` gives "rm -rf /".
    `mains` holds each stage's command (None for a stage that is not one)."""
    text: str | None = None
    for cmd in mains:
        if cmd is None or cmd.dynamic:
            return None
        text = printed(cmd, heredocs.get(id(cmd))) if text is None else transformed(cmd, text)
        if text is None:
            return None
    return text


def transformed(cmd: Command, text: str) -> str | None:
    """What a filter makes of literal `text`, when that is static; else None."""
    if decodes(cmd):
        return _decode(cmd, text)
    if cmd.name == "rev" and not cmd.args:
        return "\n".join(line[::-1] for line in text.split("\n"))
    if cmd.name == "tr":
        return _tr(cmd.args, text)
    if cmd.name in ("cat", "tee") and not [a for a in cmd.args if a != "-"]:
        return text
    return None


def _tr_set(spec: str) -> str:
    spec = expand.escapes(spec) if "\\" in spec else spec
    return re.sub(
        r"(.)-(.)", lambda m: "".join(map(chr, range(ord(m.group(1)), ord(m.group(2)) + 1))), spec
    )


def _tr(args: tuple[str, ...], text: str) -> str | None:
    flags = [a for a in args if a.startswith("-") and len(a) > 1]
    sets = [_tr_set(a) for a in args if not (a.startswith("-") and len(a) > 1)]
    if flags == ["-d"] and len(sets) == 1:
        return "".join(ch for ch in text if ch not in sets[0])
    if flags or len(sets) != 2 or not sets[1]:
        return None
    source, dest = sets
    dest = dest + dest[-1] * max(0, len(source) - len(dest))
    return text.translate(str.maketrans(source, dest[: len(source)]))


def _decode(cmd: Command, text: str) -> str | None:
    try:
        if cmd.name == "xxd":
            return bytes.fromhex("".join(text.split())).decode(errors="replace")
        if cmd.name in ("base64", "openssl"):
            return base64.b64decode("".join(text.split()) + "==").decode(errors="replace")
        if cmd.name == "base32":
            data = "".join(text.split())
            return base64.b32decode(data + "=" * (-len(data) % 8)).decode(errors="replace")
    except (ValueError, binascii.Error):
        return None
    return None
