"""Code that reaches a shell or interpreter from somewhere else.

`curl URL | sh`, `bash <(wget -O- URL)`, `sh -c "$(curl URL)"` run whatever a
server sends; `echo ... | base64 -d | bash` hides what runs. These are judged
by where the code comes from, which only the parser sees (pipeline stages,
substitutions), so the parser calls these helpers.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Sequence

from hermes.risk.model import Assessment, Command
from hermes.risk.wrappers import ITEM, SHELLS, find_parts, first_arg, language, matched

_DOWNLOADERS = frozenset(
    ["curl", "wget", "fetch", "aria2c", "http", "https", "xh", "lwp-request", "GET", "nc", "ncat"]
)
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^/@\s]*@)?([a-z0-9-]+(?:\.[a-z0-9-]+)+)", re.I)
_SHELL_TAKES = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})


def items(before: list[Command], text: str | None) -> tuple[str, ...]:
    """The words a pipeline stage reads, when known: literal text, or what `find` matches."""
    if text is not None:
        return tuple(text.split()[:16])
    finds = [c for c in before if c.name == "find" and not c.dynamic]
    if len(finds) == 1 and not any(a.startswith("-exec") for a in finds[0].args):
        roots, filtered, _ = find_parts(finds[0].args)
        return tuple(matched(r, filtered) for r in roots)
    return ()


def fill(argvs: list[tuple[str, ...]], items: tuple[str, ...]) -> list[tuple[str, ...]]:
    """xargs/parallel commands with the words they read put in (`$ITEM`, or appended)."""
    out = []
    for argv in argvs:
        if any(ITEM in a for a in argv):
            out += [tuple(a.replace(ITEM, item) for a in argv) for item in items]
        else:
            out.append(argv + items)
    return out


def local_file(cmds: list[Command]) -> bool:
    """`cat script.sh | sh` runs a file already on disk, like `sh script.sh`."""
    return len(cmds) == 1 and cmds[0].name == "cat" and bool(cmds[0].args) and not cmds[0].dynamic


def program(cmd: Command) -> str:
    """The command's name, `.` included (its `name` is empty: "." has no base name)."""
    return "." if cmd.argv[:1] == (".",) else cmd.name


def code_reader(cmd: Command) -> str | None:
    """The program's name if `cmd` reads the code it runs from its stdin
    (`sh`, `bash -s`, `python3 -`, `source /dev/stdin`)."""
    name = program(cmd)
    if name in ("source", "."):
        return name if cmd.args[:1] in (("/dev/stdin",), ("-",)) else None
    if name not in SHELLS and language(name) is None:
        return None
    args = cmd.args
    if any(a.startswith("-") and not a.startswith("--") and "c" in a[1:] for a in args):
        return None
    rest = args[first_arg(args, _SHELL_TAKES) :]
    return name if not rest or rest[0] in ("-", "/dev/stdin") or "-s" in args else None


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


def literal_output(stages: Sequence[Sequence[Command]], heredocs: dict[int, str]) -> str | None:
    """The text a pipeline's first stages print, when it is literal: `echo`,
    `printf`, `cat` of a here-document (`heredocs`, by id of the command), then
    any decoding stages applied (so `echo cm0gLXJmIC8= | base64 -d` gives
    "rm -rf /"). None when it depends on anything else."""
    text: str | None = None
    for stage in stages:
        cmd = stage[0] if len(stage) == 1 else None
        if cmd is None or cmd.dynamic:
            return None
        if text is None and cmd.name == "cat" and not cmd.args and id(cmd) in heredocs:
            text = heredocs[id(cmd)]
        elif text is None and cmd.name in ("echo", "printf"):
            args = list(cmd.args)
            while cmd.name == "echo" and args and re.fullmatch(r"-[neE]+", args[0]):
                args.pop(0)
            text = " ".join(args)
            if cmd.name == "printf" or "-e" in cmd.args:
                text = _escapes(text)
        elif text is not None and decodes(cmd):
            text = _decode(cmd, text)
        else:
            return None
    return text


def _escapes(text: str) -> str:
    try:
        return codecs.decode(text.encode("latin-1", "backslashreplace"), "unicode_escape")
    except (UnicodeDecodeError, ValueError):
        return text


def _decode(cmd: Command, text: str) -> str | None:
    try:
        if cmd.name == "xxd":
            return bytes.fromhex("".join(text.split())).decode(errors="replace")
        if cmd.name == "base64" or cmd.name == "openssl":
            return base64.b64decode("".join(text.split()) + "==").decode(errors="replace")
    except (ValueError, binascii.Error):
        return None
    return None
