"""Git runs commands its configuration names: aliases, pagers, editors, ssh, hooks.

`git -c alias.x='!rm -rf ~' x`, `git -c core.sshCommand=CMD fetch` and
`git config alias.p 'push --force' && git p` hide what runs behind git's own
configuration. A table of the configuration keys whose value is a command
(and the subcommand options that take one) says what each runs; an alias in
use is judged as what it stands for. Setting one of these keys for later
(`git config ...`) changes what future git commands do: at least medium.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from hermes.risk.carriers import fed
from hermes.risk.model import Assessment
from hermes.risk.options import scan
from hermes.risk.wrappers import Argv, Unwrapped

GLOBAL_TAKES = frozenset(
    {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env",
     "--exec-path", "--list-cmds"}
)  # fmt: skip
# configuration keys (lower case; * is one name part) whose value is run: "sh" (a shell
# command), "fed" (a command fed git's data: a pager, a filter), "bang" (a shell command
# only after "!"), "hidden" (names code the gate cannot see)
_KEYS: dict[str, str] = {
    "core.sshcommand": "sh", "core.pager": "fed", "core.editor": "sh", "sequence.editor": "sh",
    "core.fsmonitor": "sh", "core.gitproxy": "sh", "core.askpass": "sh", "core.hookspath": "hidden",
    "diff.external": "sh", "diff.*.textconv": "sh", "diff.*.command": "sh", "merge.*.driver": "sh",
    "mergetool.*.cmd": "sh", "difftool.*.cmd": "sh", "filter.*.clean": "fed",
    "filter.*.smudge": "fed", "filter.*.process": "fed", "credential.helper": "bang",
    "credential.*.helper": "bang", "gpg.program": "sh", "gpg.*.program": "sh",
    "uploadpack.packobjectshook": "sh", "remote.*.uploadpack": "sh", "remote.*.receivepack": "sh",
    "submodule.*.update": "bang", "man.*.cmd": "sh", "browser.*.cmd": "sh", "web.browser": "sh",
    "trailer.*.command": "sh", "trailer.*.cmd": "sh", "pager.*": "fed", "include.path": "hidden",
    "includeif.*.path": "hidden", "init.templatedir": "hidden", "core.worktree": "",
    "protocol.ext.allow": "hidden", "alias.*": "alias",
}  # fmt: skip
_BOOL = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0", "none", ""})
# subcommand options whose value is a command: (subcommand, option) -> "sh"/"argv"
_SUB_CODE: dict[str, Mapping[str, str]] = {
    "rebase": {"-x": "sh", "--exec": "sh"},
    "clone": {"-u": "sh", "--upload-pack": "sh", "--template": "hidden"},
    "fetch": {"--upload-pack": "sh"},
    "pull": {"--upload-pack": "sh"},
    "ls-remote": {"--upload-pack": "sh"},
    "push": {"--receive-pack": "sh", "--exec": "sh"},
    "difftool": {"-x": "sh", "--extcmd": "sh"},
    "mergetool": {},
    "send-email": {"--to-cmd": "sh", "--cc-cmd": "sh", "--sendmail-cmd": "sh"},
    "filter-branch": {f"--{k}-filter": "sh" for k in
                      ("env", "tree", "index", "parent", "msg", "commit", "tag-name")},
    "init": {"--template": "hidden"},
}  # fmt: skip


_PATTERNS = [
    (re.compile(re.escape(k).replace(r"\*", ".+") + "$"), kind) for k, kind in _KEYS.items()
]


def key_kind(key: str) -> str | None:
    """What a configuration key's value is: "sh", "bang", "hidden", "alias", or None."""
    key = key.lower()
    return next((kind or None for pattern, kind in _PATTERNS if pattern.match(key)), None)


def _value_code(found: Unwrapped, key: str, value: str, what: str) -> None:
    kind = key_kind(key)
    if kind == "sh" and value.lower() not in _BOOL:
        found.scripts.append(value)
    elif kind == "fed" and value.lower() not in _BOOL:
        found.scripts.append(fed(value))
    elif kind == "bang" and value.startswith("!"):
        found.scripts.append(value[1:])
    elif kind == "hidden" and value.lower() not in ("", "never", "false"):
        found.findings.append(
            Assessment("medium", f"makes git run code the gate cannot see ({what})")
        )


def _settings(args: Sequence[str]) -> list[tuple[str, str]]:
    """The `-c key=value` and `--config-env=key=VAR` settings among git's global options."""
    out = []
    o = scan(args, GLOBAL_TAKES, stop=True)
    for name, value in o.flags:
        if name == "-c" and value is not None:
            key, _, val = value.partition("=")
            out.append((key, val))
        elif name == "--config-env" and value is not None:
            key, _, var = value.partition("=")
            out.append((key, "$" + var))
    return out


def config_sets(argv: Argv) -> list[tuple[str, str]]:
    """What `git config` writes: (key, value) pairs (`git config alias.p 'push -f'`,
    `git config set --global core.pager CMD`)."""
    if not argv or argv[0].rpartition("/")[2] != "git":
        return []
    top = scan(argv[1:], GLOBAL_TAKES, stop=True)
    if top.pos[:1] != ("config",):
        return []
    o = scan(top.pos[1:], {"-f", "--file", "--blob", "--type", "--default", "--comment", "--value"})
    pos = list(o.pos)
    if pos[:1] == ["set"]:
        pos = pos[1:]
    elif pos[:1] and pos[0] in ("get", "list", "unset", "remove-section", "rename-section", "edit"):
        return []
    reads = ("--get", "--get-all", "--get-regexp", "--list", "-l", "--unset", "--unset-all",
             "--remove-section", "--rename-section", "-e", "--edit", "--get-urlmatch")  # fmt: skip
    if o.has(*reads) or len(pos) < 2:
        return []
    return [(pos[0], pos[1])]


def unwrap_git(argv: Argv, aliases: Mapping[str, str]) -> Unwrapped | None:
    """What git runs besides itself: configured commands, aliases (those set with `-c`
    and those in `aliases`, set earlier on the command line), subcommand hooks."""
    args = argv[1:]
    settings = _settings(args)
    top = scan(args, GLOBAL_TAKES, stop=True)
    found = Unwrapped("git", keep=True)
    own = dict(aliases)
    for key, value in settings:
        if key_kind(key) == "alias":
            own[key.partition(".")[2].lower()] = value
        else:
            _value_code(found, key, value, f"git -c {key}")
    if top.has("--exec-path") and top.get("--exec-path"):
        found.findings.append(
            Assessment("medium", "makes git run code the gate cannot see (--exec-path)")
        )
    for key, value in config_sets(argv):
        kind = key_kind(key)
        if kind is not None:
            found.findings.append(
                Assessment("medium", f"sets git's {key} (it decides what later git commands run)")
            )
            if kind != "alias":
                _value_code(found, key, value, f"git config {key}")
            elif value.startswith("!"):  # judged as what it will run
                found.scripts.append(value[1:])
            else:
                found.argvs.append(("git", *_split(value)))
    if not top.pos:
        return found if _any(found) else None
    sub, rest = top.pos[0], top.pos[1:]
    alias = own.get(sub.lower())
    if alias is not None and sub not in _BUILTINS:
        if alias.startswith("!"):
            found.scripts.append(alias[1:] + "".join(" " + shlex.quote(a) for a in rest))
        else:
            globals_ = tuple(a for a in args[: len(args) - len(top.pos)])
            found.argvs.append(("git", *_without_alias(globals_), *_split(alias), *rest))
            found.keep = False
    for opt, value in _sub_options(sub, rest):
        lang = _SUB_CODE.get(sub, {}).get(opt)
        if lang == "hidden":
            found.findings.append(
                Assessment("medium", f"makes git run code the gate cannot see ({opt})")
            )
        elif lang:
            found.scripts.append(value)
    if sub == "submodule" and rest[:1] == ("foreach",):
        words = [w for w in rest[1:] if w not in ("--recursive", "-q", "--quiet")]
        found.scripts.append(" ".join(words))
    if sub == "bisect" and rest[:1] == ("run",) and len(rest) > 1:
        found.argvs.append(tuple(rest[1:]))
    for url in (a for a in rest if a.startswith("ext::")):
        found.scripts.append(_ext_command(url[5:]))
    return found if _any(found) else None


_BUILTINS = frozenset(
    {"push", "pull", "fetch", "commit", "status", "log", "diff", "add", "rm", "mv", "reset",
     "checkout", "switch", "restore", "branch", "tag", "merge", "rebase", "clone", "init",
     "config", "stash", "clean", "show", "remote", "gc", "prune", "reflog", "worktree"}
)  # fmt: skip


def _ext_command(spec: str) -> str:
    """The command of an `ext::` URL: words split at spaces, `% ` is a space, `%%` a %."""
    words = [re.sub(r"%(.)", r"\1", w) for w in re.split(r"(?<!%) ", spec) if w]
    return " ".join(shlex.quote(w) if not re.fullmatch(r"[\w@%+=:,./~-]+", w) else w for w in words)


def _any(found: Unwrapped) -> bool:
    return bool(found.scripts or found.argvs or found.findings)


def _without_alias(words: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for i, w in enumerate(words):
        if skip:
            skip = False
            continue
        if w == "-c" and i + 1 < len(words) and words[i + 1].lower().startswith("alias."):
            skip = True
            continue
        out.append(w)
    return out


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _sub_options(sub: str, rest: Sequence[str]) -> list[tuple[str, str]]:
    wanted = _SUB_CODE.get(sub, {})
    out: list[tuple[str, str]] = []
    for i, word in enumerate(rest):
        name, eq, value = word.partition("=")
        if name in wanted:
            if eq:
                out.append((name, value))
            elif i + 1 < len(rest):
                out.append((name, rest[i + 1]))
    return out


def aliases_set(argv: Argv) -> dict[str, str]:
    """The git aliases `argv` (a `git config alias.NAME VALUE`) defines for later commands."""
    return {k.partition(".")[2].lower(): v for k, v in config_sets(argv) if key_kind(k) == "alias"}
