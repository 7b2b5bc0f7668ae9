"""Commands that run other commands: `sudo`, `env`, `xargs`, `find -exec`, `bash -c`, ...

The rules must judge the command that actually runs, so the parser peels these
off one layer at a time. `unwrap()` only reads words; running nested shell code
or interpreter code through the parser is the caller's job.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from hermes.risk.model import Assessment, Container

Argv = tuple[str, ...]

SHELLS = frozenset(["sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish"])
ITEM = "$ITEM"  # stands for input that xargs/parallel turn into arguments: unknown until run time
_PYTHON = re.compile(r"python(\d+(\.\d+)?)?$")
_CODE_FLAGS = {"python": ("-c",), "perl": ("-e", "-E"), "ruby": ("-e",), "node": ("-e", "--eval",
               "-p", "--print"), "php": ("-r",)}  # fmt: skip
_RESERVED = frozenset({"then", "do", "else", "elif", "if", "while", "until", "!", "{", "}"})


@dataclass
class Unwrapped:
    """What a wrapper runs: plain commands, shell code, or code in another language."""

    via: str
    argvs: list[Argv] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    codes: list[tuple[str, str]] = field(default_factory=list)  # (language, source)
    # code read from a file: (language, path); the parser reads `<(...)` it knows
    files: list[tuple[str, str]] = field(default_factory=list)
    env: list[tuple[str, str]] = field(default_factory=list)  # NAME=VALUE given to the command
    findings: list[Assessment] = field(default_factory=list)  # code that cannot be seen
    keep: bool = False  # rules see the wrapper too (find -delete, an interpreter's own I/O)
    piped_in: bool = False
    params: list[str] | None = None  # $1.. of its scripts (`sh -c CODE $0 $1...`)
    records: bool = False  # reads its input as whole lines or records (xargs -0, -d, -I, -L)
    container: Container | None = None  # its commands run in this container (docker run)


def language(name: str) -> str | None:
    """The interpreter family of a program name (`python3.11` -> python)."""
    if _PYTHON.match(name):
        return "python"
    if name == "nodejs":
        return "node"
    return name if name in _CODE_FLAGS else None


def first_arg(args: Sequence[str], takes: Collection[str] = ()) -> int:
    """Index of the first non-option word; options in `takes` consume the next word."""
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return i + 1
        if not word.startswith("-") or word == "-":
            return i
        i += 2 if word in takes else 1
    return i


def _run(via: str, args: Sequence[str], takes: Collection[str] = ()) -> Unwrapped:
    rest = tuple(args[first_arg(args, takes) :])
    return Unwrapped(via, [rest] if rest else [])


def _after_first(via: str, args: Sequence[str], takes: Collection[str] = ()) -> Unwrapped:
    """Wrappers whose first positional is theirs (a lock file, a CPU mask)."""
    rest = tuple(args[first_arg(args, takes) + 1 :])
    return Unwrapped(via, [rest] if rest else [])


def _sudo(args: Argv) -> Unwrapped:
    takes = {"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-T", "-U", "--user", "--group"}
    rest = args[first_arg(args, takes) :]
    env = []
    while rest and re.match(r"\w+=", rest[0]):
        env.append(_assignment(rest[0]))
        rest = rest[1:]
    if "-e" in args[: len(args) - len(rest)] or "--edit" in args:
        return Unwrapped("sudo", [("sudoedit", *rest)] if rest else [], env=env)
    return Unwrapped("sudo", [rest] if rest else [], env=env)


def _assignment(word: str) -> tuple[str, str]:
    name, _, value = word.partition("=")
    return name, value


def _env(args: Argv) -> Unwrapped:
    i, out, env = 0, list(args), []
    while i < len(out):
        word = out[i]
        if word in ("-S", "--split-string") and i + 1 < len(out):
            out[i : i + 2] = _split(out[i + 1])
            continue
        if word.startswith("--split-string="):
            out[i : i + 1] = _split(word.partition("=")[2])
            continue
        if word in ("-u", "--unset", "-C", "--chdir", "-P"):
            i += 2
        elif word.startswith("-"):
            i += 1
        elif re.match(r"\w+=", word):
            env.append(_assignment(word))
            i += 1
        else:
            break
    rest = tuple(out[i:])
    return Unwrapped("env", [rest] if rest else [], env=env)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _timeout(args: Argv) -> Unwrapped:
    i = first_arg(args, {"-s", "--signal", "-k", "--kill-after"})
    rest = args[i + 1 :]
    return Unwrapped("timeout", [rest] if rest else [])


def _command(args: Argv) -> Unwrapped:
    if any(a in ("-v", "-V") for a in args[: first_arg(args)]):
        return Unwrapped("command")  # only looks the name up
    return _run("command", args)


def _xargs(args: Argv) -> Unwrapped:
    takes = {"-I", "-L", "-n", "-P", "-s", "-d", "-E", "-a", "--max-args", "--max-procs",
             "--delimiter", "--arg-file", "--replace", "--max-lines", "--eof"}  # fmt: skip
    i = first_arg(args, takes)
    rest = args[i:] or ("echo",)
    opts = args[:i]
    marks = [opts[k + 1] for k, o in enumerate(opts[:-1]) if o in ("-I", "--replace")]
    marks += [o[2:] or "{}" for o in opts if o.startswith("-i")]
    marks += [o[2:] for o in opts if o.startswith("-I") and len(o) > 2]
    marks += [o[len("--replace=") :] for o in opts if o.startswith("--replace=")]
    if marks:
        rest = tuple(ITEM if a in marks else a.replace(marks[0], ITEM) for a in rest)
    records = bool(marks) or any(re.match(r"-[0dL]|--(null|delimiter|max-lines)", o) for o in opts)
    found = Unwrapped("xargs", [rest], piped_in=True, records=records)
    found.files += [("items", opts[k + 1]) for k, o in enumerate(opts[:-1]) if o == "-a"]
    found.files += [("items", o.partition("=")[2]) for o in opts if o.startswith("--arg-file=")]
    return found


# find's tests and options that match everything they could (every file of a type,
# on one file system, below a depth): they do not narrow what an action reaches
_FIND_ALL = frozenset({"-delete", "-depth", "-xdev", "-mount", "-print", "-print0", "-follow",
                       "-noleaf", "-type", "-xtype", "-mindepth", "-maxdepth", "-daystart",
                       "-ignore_readdir_race", "-noignore_readdir_race", "-nowarn", "-warn",
                       "-true", "-readable", "-writable", "-regextype", "-fstype", "-a", "-and",
                       "-ls", "-prune"})  # fmt: skip
_FIND_TAKES = frozenset({"-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename",
                         "-regex", "-iregex", "-lname", "-ilname", "-type", "-xtype", "-user",
                         "-group", "-uid", "-gid", "-perm", "-size", "-mtime", "-mmin", "-atime",
                         "-amin", "-ctime", "-cmin", "-newer", "-anewer", "-cnewer", "-samefile",
                         "-inum", "-links", "-used", "-fstype", "-context", "-maxdepth",
                         "-mindepth", "-printf", "-fprint", "-fprint0", "-fls", "-regextype",
                         "-files0-from"})  # fmt: skip
_MATCH_ALL = frozenset({"*", "**", "*.*"})


def find_parts(args: Sequence[str]) -> tuple[list[str], str, list[list[str]]]:
    """`find`'s start points (default "."), what it matches below them ("" when no
    test narrows it — `-type f` or `-xdev` alone match every file —, "…/NAME" when
    the only narrowing is one `-name NAME`, else "…": some things), and the commands
    of its -exec/-execdir/-ok/-okdir actions ({} as written)."""
    i = 0
    while i < len(args) and (args[i] in ("-H", "-L", "-P", "-D") or args[i].startswith("-O")):
        i += 2 if args[i] == "-D" else 1
    roots: list[str] = []
    while i < len(args) and not args[i].startswith(("-", "(", "!")):
        roots.append(args[i])
        i += 1
    execs: list[list[str]] = []
    filtered = False
    names: list[str] = []
    while i < len(args):
        word = args[i]
        if word in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i + 1
            while end < len(args) and args[end] not in (";", "+"):
                end += 1
            execs.append(list(args[i + 1 : end]))
            i = end + 1
            continue
        value = args[i + 1] if word in _FIND_TAKES and i + 1 < len(args) else None
        everything = word in ("-name", "-iname", "-path", "-ipath") and value in _MATCH_ALL
        narrows = word not in _FIND_ALL and not everything and word not in ("(", ")")
        filtered |= narrows
        if narrows:
            names.append(value if word in ("-name", "-iname") and value else "")
        i += 2 if value is not None else 1
    match = ("…/" + names[0] if len(names) == 1 and names[0] else "…") if filtered else ""
    return roots or ["."], match, execs


def matched(root: str, match: str) -> str:
    """What `{}` stands for in find's actions: some things under the root (`ROOT/…`,
    `ROOT/…/*.pyc`), or, when no test narrows the match, every file below it (`ROOT/**`)."""
    return root.rstrip("/") + "/" + (match or "**")


def _find(args: Argv) -> Unwrapped:
    roots, match, execs = find_parts(args)
    item = matched(roots[0], match)
    argvs = [tuple(item if w == "{}" else w.replace("{}", item) for w in e) for e in execs if e]
    return Unwrapped("find", argvs, keep=True)


def _shell(name: str, args: Argv) -> Unwrapped | None:
    i = 0
    while i < len(args) and args[i].startswith(("-", "+")) and args[i] not in ("-", "--"):
        word = args[i]
        if word in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            i += 1
        elif not word.startswith("--") and "c" in word[1:]:
            script = args[i + 1] if i + 1 < len(args) else ITEM  # xargs may add it
            return Unwrapped(name, scripts=[script], params=list(args[i + 3 :]))
        i += 1
    return None


def _su(via: str, args: Argv) -> Unwrapped:
    for k, word in enumerate(args):
        glued = re.fullmatch(r"-[a-zA-Z]*c", word) and word != "--"
        if (word in ("-c", "--command", "--session-command") or glued) and k + 1 < len(args):
            return Unwrapped(via, scripts=[args[k + 1]])
        if word.startswith("--command="):
            return Unwrapped(via, scripts=[word.partition("=")[2]])
    if "--" in args and via == "runuser":
        return Unwrapped(via, [args[args.index("--") + 1 :]])
    return Unwrapped(via)


def _watch(args: Argv) -> Unwrapped:
    i = first_arg(args, {"-n", "--interval", "-q", "--equexit"})
    rest = args[i:]
    if any(a in ("-x", "--exec") for a in args[:i]):
        return Unwrapped("watch", [rest] if rest else [])
    return Unwrapped("watch", scripts=[" ".join(rest)] if rest else [])


def _parallel(args: Argv) -> Unwrapped:
    takes = {"-j", "--jobs", "-S", "--sshlogin", "--joblog", "-N", "-L", "-n", "-a", "--delay",
             "--timeout", "--results", "--arg-file", "-I", "--colsep"}  # fmt: skip
    i = first_arg(args, takes)
    rest = list(args[i:])
    split = rest.index(":::") if ":::" in rest else len(rest)
    template, items = " ".join(rest[:split]), rest[split + 1 :] or [ITEM]
    if not template:
        return Unwrapped("parallel", scripts=[x for x in items if x != ITEM], piped_in=True)
    scripts = [template.replace("{}", x) if "{}" in template else f"{template} {x}" for x in items]
    return Unwrapped("parallel", scripts=scripts[:16], piped_in=ITEM in items)


def _interpreter(lang: str, name: str, args: Argv) -> Unwrapped | None:
    k = 0
    while k < len(args) and args[k].startswith("-") and args[k] not in ("-", "--"):
        word = args[k]
        for flag in _CODE_FLAGS[lang]:
            glued = len(flag) == 2 and re.fullmatch(r"-[a-zA-Z]*" + flag[1], word)
            if (word == flag or glued) and k + 1 < len(args):
                found = Unwrapped(name, codes=[(lang, args[k + 1])], keep=True)
                if lang in ("perl", "ruby") and any(re.match(r"-\w*i", w) for w in args[: k + 1]):
                    files = tuple(a for a in args[k + 2 :] if not a.startswith("-"))
                    found.argvs.append(("tee", *files))  # rewrites these files in place
                return found
            if word.startswith(flag + "=") and flag.startswith("--"):
                return Unwrapped(name, codes=[(lang, word.partition("=")[2])], keep=True)
        k += 2 if word in ("-W", "-X", "-I", "-r", "--require", "-m") else 1
    return None  # runs a script file (or a module): what it does is not visible here


_SYSTEMD_RUN_TAKES = frozenset({"-p", "--property", "-u", "--unit", "-E", "--setenv", "--uid",
                                "--gid", "-M", "--machine", "--slice", "-H", "--host"})  # fmt: skip

_SIMPLE: dict[str, Callable[[Argv], Unwrapped]] = {
    "sudo": _sudo,
    "doas": lambda a: _run("doas", a, {"-u", "-C"}),
    "pkexec": lambda a: _run("pkexec", a, {"--user"}),
    "env": _env,
    "nohup": lambda a: _run("nohup", a),
    "setsid": lambda a: _run("setsid", a),
    "nice": lambda a: _run("nice", a, {"-n", "--adjustment"}),
    "ionice": lambda a: _run("ionice", a, {"-c", "-n", "--class", "--classdata"}),
    "time": lambda a: _run("time", a, {"-f", "--format", "-o", "--output"}),
    "timeout": _timeout,
    "stdbuf": lambda a: _run("stdbuf", a, {"-i", "-o", "-e"}),
    "command": _command,
    "builtin": lambda a: _run("builtin", a),
    "exec": lambda a: _run("exec", a, {"-a"}),
    "xargs": _xargs,
    "find": _find,
    "watch": _watch,
    "parallel": _parallel,
    "eval": lambda a: Unwrapped("eval", scripts=[" ".join(a)]),
    "trap": lambda a: Unwrapped("trap", scripts=[a[0]] if a and not a[0].startswith("-") else []),
    "su": lambda a: _su("su", a),
    "runuser": lambda a: _su("runuser", a),
    "busybox": lambda a: _run("busybox", a),
    "unbuffer": lambda a: _run("unbuffer", a),
    "chroot": lambda a: Unwrapped("chroot", [a[first_arg(a) + 1 :]] if len(a) > 1 else []),
    "flock": lambda a: _su("flock", a) if "-c" in a else _after_first("flock", a, {"-w", "-E"}),
    "strace": lambda a: _run("strace", a, {"-o", "-e", "-s", "-u", "-E", "-a", "-P", "-I"}),
    "taskset": lambda a: _after_first("taskset", a) if "-p" not in a else Unwrapped("taskset"),
    "systemd-run": lambda a: _run("systemd-run", a, _SYSTEMD_RUN_TAKES),
    "run0": lambda a: _run("run0", a, _SYSTEMD_RUN_TAKES | {"-g", "--group", "-D", "--chdir"}),
}


def unwrap(argv: Argv) -> Unwrapped | None:
    """The commands run by a wrapper command, or None when `argv` is not one."""
    name = PurePosixPath(argv[0]).name
    if argv[0] in _RESERVED:  # parser error recovery: a keyword left in command position
        return Unwrapped("", [argv[1:]] if len(argv) > 1 else [])
    if name in _SIMPLE:
        if name == "trap" and len(argv) < 2:
            return None
        return _SIMPLE[name](argv[1:])
    if name in SHELLS:
        return _shell(name, argv[1:])
    lang = language(name)
    return _interpreter(lang, name, argv[1:]) if lang else None
