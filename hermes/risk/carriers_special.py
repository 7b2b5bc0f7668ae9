"""Programs that carry code in a syntax the carriers table cannot express.

ssh's `-o Key=Value` options, a remote command, tmux's and screen's own command
languages (`tmux new -d CMD`, `send-keys`, `screen -X stuff`), vim's `+CMD`
words, make's `VAR=VALUE` overrides (substituted into recipes). Everything
else goes to the generic table (hermes/risk/carriers.py); `carried()` and
`stdin_language()` here are the entry points for both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

from hermes.risk import carriers
from hermes.risk.carrier_table import TABLE
from hermes.risk.carriers import add_code
from hermes.risk.wrappers import SHELLS, Argv, Unwrapped

_SSH_TAKES = frozenset(
    [
        "-p",
        "-i",
        "-l",
        "-o",
        "-F",
        "-J",
        "-L",
        "-R",
        "-D",
        "-b",
        "-c",
        "-E",
        "-e",
        "-I",
        "-m",
        "-O",
        "-Q",
        "-S",
        "-W",
        "-w",
        "-B",
        "-P",
    ]
)
_SCP_TAKES = frozenset(["-c", "-F", "-i", "-J", "-l", "-o", "-P", "-S", "-D", "-X"])
_SFTP_TAKES = frozenset(
    ["-B", "-b", "-c", "-D", "-F", "-i", "-J", "-l", "-o", "-P", "-R", "-S", "-s", "-X"]
)
_SSH_CODE = {"proxycommand", "localcommand", "knownhostscommand", "remotecommand"}


def _words(args: Sequence[str], takes: frozenset[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Short options with their values, and the positionals (first one ends the options)."""
    opts: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return opts, list(args[i + 1 :])
        if not word.startswith("-") or len(word) < 2:
            return opts, list(args[i:])
        i += 1
        for at, letter in enumerate(word[1:], start=2):
            name = "-" + letter
            if name in takes:
                value = word[at:] or (args[i] if i < len(args) else "")
                i += 0 if word[at:] else 1
                opts.append((name, value))
                break
            opts.append((name, ""))
    return opts, []


def _ssh_options(found: Unwrapped, opts: list[tuple[str, str]], program: str) -> None:
    for name, value in opts:
        if name == "-o":
            parts = re.split(r"\s*=\s*|\s+", value.strip(), maxsplit=1)
            key, command = parts[0], parts[1] if len(parts) > 1 else ""
            if key.lower() in _SSH_CODE and command.lower() != "none":
                found.scripts.append(command)
        elif name == "-S" and program in ("scp", "sftp"):
            found.scripts.append(value)  # the program used instead of ssh
        elif name == "-D" and program == "sftp":
            found.scripts.append(value)  # a local sftp server program


def _ssh(name: str, args: Argv) -> Unwrapped:
    opts, pos = _words(args, _SSH_TAKES)
    found = Unwrapped(name, keep=True)
    _ssh_options(found, opts, "ssh")
    if len(pos) > 1:
        found.scripts.append(" ".join(pos[1:]))  # the remote command
    return found


def _scp(name: str, args: Argv) -> Unwrapped:
    takes = _SCP_TAKES if name == "scp" else _SFTP_TAKES
    opts: list[tuple[str, str]] = []
    i = 0
    while i < len(args):  # options may come anywhere
        word = args[i]
        i += 1
        if word == "--":
            break
        if not word.startswith("-") or len(word) < 2:
            continue
        for at, letter in enumerate(word[1:], start=2):
            if "-" + letter in takes:
                value = word[at:] or (args[i] if i < len(args) else "")
                i += 0 if word[at:] else 1
                opts.append(("-" + letter, value))
                break
    found = Unwrapped(name, keep=True)
    _ssh_options(found, opts, name)
    for value in (v for o, v in opts if o == "-b" and name == "sftp"):
        found.files.append(("sftp", value))
    return found


_TMUX_TAKES = {
    "new-session": "-s -n -c -t -x -y -e -F -f", "new-window": "-c -n -t -e -F",
    "split-window": "-c -l -t -e -F -p", "respawn-pane": "-c -t -e", "respawn-window": "-c -t -e",
    "run-shell": "-t -d", "if-shell": "-t", "pipe-pane": "-t",
    "display-popup": "-c -d -e -h -w -x -y -t -T -b -s -S",
    "send-keys": "-t -N",
}  # fmt: skip
_TMUX_ALIASES = {"new": "new-session", "neww": "new-window", "splitw": "split-window",
                 "respawnp": "respawn-pane", "respawnw": "respawn-window", "run": "run-shell",
                 "if": "if-shell", "pipep": "pipe-pane", "popup": "display-popup",
                 "send": "send-keys"}  # fmt: skip
_KEYS = {"Enter": "\n", "C-m": "\n", "KPEnter": "\n", "C-j": "\n", "Space": " ", "Tab": "\t"}


def _tmux(name: str, args: Argv) -> Unwrapped:
    found = Unwrapped(name, keep=True)  # its own commands are judged too (kill-server)
    opts, pos = _words(args, frozenset(["-L", "-S", "-f", "-c", "-T"]))
    for opt, value in opts:
        if opt == "-c":
            found.scripts.append(value)
    commands: list[list[str]] = [[]]
    for word in pos:
        if word in (";", "\\;"):
            commands.append([])
        elif word.endswith(";") and not word.endswith("\\;"):
            commands[-1].append(word[:-1])
            commands.append([])
        else:
            commands[-1].append(word)
    for command in commands:
        if not command:
            continue
        sub = _TMUX_ALIASES.get(command[0], command[0])
        if sub not in _TMUX_TAKES:
            continue
        flags, words = _words(command[1:], frozenset(_TMUX_TAKES[sub].split()))
        if sub == "send-keys":
            literal = any(f == "-l" for f, _ in flags)
            text = "".join(w if literal else _KEYS.get(w, w) for w in words)
            found.scripts.append(" ".join(text.split(" ")))
        elif sub == "run-shell" and any(f == "-C" for f, _ in flags):
            continue
        elif words:
            found.scripts.append(words[0] if sub in ("if-shell",) else " ".join(words))
    return found


def _screen(name: str, args: Argv) -> Unwrapped:
    found = Unwrapped(name, keep=True)  # its own commands are judged too (-X quit)
    takes = frozenset(["-S", "-c", "-e", "-h", "-p", "-T", "-t", "-s"])
    i = 0
    while i < len(args):
        word = args[i]
        if word == "-X":
            command = args[i + 1 :]
            if command[:1] == ("stuff",) and len(command) > 1:
                found.scripts.append(_screen_text(command[1]))
            elif command[:1] in (("exec",), ("screen",)) and len(command) > 1:
                found.argvs.append(tuple(command[1:]))
            return found
        if not word.startswith("-"):
            found.argvs.append(tuple(args[i:]))
            return found
        i += 1
        for at, letter in enumerate(word[1:], start=2):
            if "-" + letter in takes:
                i += 0 if word[at:] else 1
                break
    return found


def _screen_text(text: str) -> str:
    text = re.sub(r"\^[Mm]|\\015|\\r|\\n", "\n", text)
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _vim(name: str, args: Argv) -> Unwrapped:
    entry = TABLE["vim"]
    found = carriers.carried((name, *[a for a in args if not _plus(a)])) or Unwrapped(name)
    for word in args:
        if _plus(word):
            add_code(found, "ex", word[1:], f"{name} +")
    ex = [code for lang, code in found.codes if lang == "ex"]
    if any(vim_writes(code) for code in ex):
        _, pos, _ = carriers.scan_words(entry, [a for a in args if not _plus(a)])
        found.argvs.append(("tee", *pos))  # `:wq` writes the files it edits
    return found


def _plus(word: str) -> bool:
    """`+CMD` runs an ex command; `+`, `+N` and `+/pattern` only move the cursor."""
    return word.startswith("+") and len(word) > 1 and not re.fullmatch(r"\+(\d+|/.*|\?.*)", word)


def vim_writes(code: str) -> bool:
    """Whether ex commands write the edited files (`:wq`, `:x`, `:update`, `:wall`)."""
    return bool(re.search(r"(?:^|\|)\s*:?\s*(?:sil(?:ent)?!?\s+)?(?:w|wq|wq?a(?:ll)?|x|xa(?:ll)?|"
                          r"xit|exi(?:t)?|up(?:date)?)!?\s*(?:$|\|)", code))  # fmt: skip


def _make(name: str, args: Argv) -> Unwrapped:
    found = carriers.carried(("make", *args)) or Unwrapped(name)
    for word in args:
        m = re.match(r"([A-Za-z_][\w.-]*)\s*[:+?]?=(.*)", word, re.S)
        if m and not word.startswith("-"):
            found.scripts.append(m.group(2))  # recipes run $(VAR) as shell code
    return found


SPECIAL: dict[str, Callable[[str, Argv], Unwrapped]] = {
    "ssh": _ssh, "autossh": _ssh, "scp": _scp, "sftp": _scp, "tmux": _tmux, "screen": _screen,
    "make": _make, "gmake": _make,
    **{v: _vim for v in ("vim", "vi", "nvim", "ex", "view", "vimdiff", "gvim", "rvim", "evim")},
}  # fmt: skip


def carried(argv: Argv) -> Unwrapped | None:
    """What `argv` runs when its program carries code in its arguments; None otherwise."""
    if not argv:
        return None
    name = PurePosixPath(argv[0]).name
    if name in SPECIAL:
        return SPECIAL[name](name, argv[1:])
    return carriers.carried(argv)


def stdin_language(argv: Argv) -> str | None:
    """The language of code the program reads on its standard input, if any."""
    name = PurePosixPath(argv[0]).name if argv else ""
    args = argv[1:]
    if name in ("ssh", "autossh"):
        _, pos = _words(args, _SSH_TAKES)
        remote = pos[1:]
        if not remote or (
            remote[0] in SHELLS and not any("c" in w[1:] for w in remote[1:3] if w.startswith("-"))
        ):
            return "sh" if pos else None
        return None
    if name == "sftp":
        return None if any(o == "-b" for o, _ in _words(args, _SFTP_TAKES)[0]) else "sftp"
    if name in ("vim", "vi", "nvim", "ex", "view", "gvim"):
        flags = "".join(a[1:] for a in args if re.fullmatch(r"-[a-zA-Z]+", a))
        silent_ex = ("e" in flags or "E" in flags or name == "ex") and "s" in flags
        return "ex" if silent_ex else None
    return carriers.stdin_language(argv)


__all__ = ["carried", "stdin_language", "vim_writes"]
