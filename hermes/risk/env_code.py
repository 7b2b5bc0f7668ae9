"""Environment variables whose value is code that programs run.

`GIT_SSH_COMMAND='rm -rf ~' git fetch`, `PAGER=CMD man ls`, `BASH_ENV=evil.sh
bash -c true`, `LD_PRELOAD=./x.so ls`: the assignment decides what runs. A
value that is a shell command is read as shell code; a value that names a file
of code (a library to preload, a script every shell sources) is code the gate
cannot see: at least medium.
"""

from __future__ import annotations

import re

from hermes.risk.carriers import fed
from hermes.risk.model import Assessment

# variable -> "sh" (a shell command), "fed" (a command fed a program's output: a pager),
# "file" (a file of code, loaded or sourced)
CODE_VARS: dict[str, str] = {
    "GIT_SSH_COMMAND": "sh", "GIT_SSH": "sh", "GIT_PAGER": "fed", "PAGER": "fed", "MANPAGER": "fed",
    "SYSTEMD_PAGER": "fed", "EDITOR": "sh", "VISUAL": "sh", "GIT_EDITOR": "sh",
    "GIT_SEQUENCE_EDITOR": "sh", "SUDO_EDITOR": "sh", "GIT_EXTERNAL_DIFF": "sh",
    "GIT_ASKPASS": "sh", "SSH_ASKPASS": "sh", "SUDO_ASKPASS": "sh", "GIT_PROXY_COMMAND": "sh",
    "PROMPT_COMMAND": "sh", "RSYNC_RSH": "sh", "RSYNC_CONNECT_PROG": "sh", "CVS_RSH": "sh",
    "SVN_SSH": "sh", "BROWSER": "sh", "LESSOPEN": "sh", "LESSCLOSE": "sh",
    "FZF_DEFAULT_COMMAND": "sh",
    "BASH_ENV": "file", "ZDOTDIR": "file", "LD_PRELOAD": "file", "LD_AUDIT": "file",
    "DYLD_INSERT_LIBRARIES": "file", "GIT_EXEC_PATH": "file", "GIT_TEMPLATE_DIR": "file",
    "GIT_CONFIG_PARAMETERS": "file", "GIT_CONFIG_GLOBAL": "file", "GIT_CONFIG_SYSTEM": "file",
    "PERL5OPT": "file", "RUBYOPT": "file", "NODE_OPTIONS": "file",
    "PS4": "sh",
}  # fmt: skip
# variables of interpreter options: only these options load code
_OPTIONS = {
    "NODE_OPTIONS": re.compile(r"(^|\s)(-r|--require|--import|--loader|--experimental-loader)\b"),
    "PERL5OPT": re.compile(r"(^|\s)-[a-zA-Z]*[MmI]"),
    "RUBYOPT": re.compile(r"(^|\s)-[a-zA-Z]*[rI]"),
}
_HARMLESS = frozenset({"", "/dev/null", "cat", "less", "more", "vi", "vim", "nano"})


def env_code(name: str, value: str, dynamic: bool) -> tuple[str | None, Assessment | None]:
    """The shell code an assignment `NAME=value` makes programs run, or a finding when
    the code cannot be seen; (None, None) for ordinary variables."""
    kind = CODE_VARS.get(name)
    if name.startswith("GIT_CONFIG_VALUE_") or name.startswith("GIT_CONFIG_KEY_"):
        kind = "file"
    if not kind:
        return None, None
    if dynamic:
        return None, Assessment("medium", f"runs a command computed at run time ({name})")
    if kind == "fed":
        return fed(value), None
    if kind == "sh":
        if name == "LESSOPEN" or name == "LESSCLOSE":
            value = value.lstrip("|").replace("%s", "x")
        return value, None
    if value.strip() in _HARMLESS or (name in _OPTIONS and not _OPTIONS[name].search(value)):
        return None, None
    return None, Assessment("medium", f"loads code the gate cannot see ({name}={value})")
