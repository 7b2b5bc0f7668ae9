"""Which reader reads code in which language.

The parser hands every piece of non-shell code it finds (an interpreter's
`-e` code, an awk program, ex commands, a makefile, a crontab...) to `read`,
which returns the shell commands the code amounts to and findings. A
language no reader understands is code the gate cannot see: at least medium.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from hermes.risk import awk_sed, interpreters, script_langs
from hermes.risk.model import Assessment

Reader = Callable[[str], tuple[list[str], list[Assessment]]]

_INTERPRETED = ("python", "perl", "ruby", "node", "php", "lua", "r", "julia", "applescript")
READERS: dict[str, Reader] = {
    **{lang: partial(interpreters.shell_outs, lang) for lang in _INTERPRETED},
    "awk": awk_sed.awk,
    "sed": awk_sed.sed,
    "ex": script_langs.ex,
    "make": script_langs.make,
    "gdb": script_langs.gdb,
    "sqlclient": script_langs.sqlclient,
    "crontab": script_langs.crontab,
    "sftp": script_langs.sftp,
    "tcl": script_langs.tcl,
}
UNREADABLE = {"powershell": "PowerShell"}
MAX_SNIPPETS = 64  # commands taken from one piece of code


def read(language: str, code: str) -> tuple[list[str], list[Assessment]]:
    """The shell code `code` (in `language`) runs, and findings that are not commands."""
    reader = READERS.get(language)
    if reader is None:
        name = UNREADABLE.get(language, language)
        return [], [Assessment("medium", f"runs {name} code the gate cannot read")]
    snippets, found = reader(code)
    if len(snippets) > MAX_SNIPPETS:
        found = [*found, Assessment("medium", f"runs more {language} commands than the gate reads")]
    return snippets[:MAX_SNIPPETS], found
