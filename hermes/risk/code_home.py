"""The home directory as interpreter code spells it.

`$ENV{HOME}`, `Dir.home`, `os.path.expanduser("~")`, `Path.home()`,
`os.homedir()`, `getenv("HOME")` are the home directory as surely as `~` is
in shell. `home_literal()` rewrites each well-known spelling (and its
interpolation into a string: `"$ENV{HOME}/x"`, `f"{Path.home()}/x"`,
`` `${os.homedir()}/x` ``) into the string literal "~", then folds what is
simple to fold: joining literals (`os.path.join`, `File.join`, `path.join`,
`Path(...) / "x"`), concatenating them (`+`, `.`, `..`) and calls that only
expand `~` (`expanduser`, `File.expand_path`, `glob`). The call patterns of
hermes/risk/interpreters.py then see a literal path that starts with `~`,
which becomes an unquoted shell word, so the shell parser expands it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

_LIT = r"""(?:[rbu]*"(?:[^"\\\n]|\\.)*"|[rbu]*'(?:[^'\\\n]|\\.)*')"""
_LITS = rf"{_LIT}(?:\s*,\s*{_LIT})*"
_Q = r"""['"]HOME['"]"""  # no groups: the patterns are joined into one
_TOKEN = re.compile(r"""[rbuf]*"(?:[^"\\\n]|\\.)*"|[rbuf]*'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`""")
_HINT = re.compile(r"HOME|home|~|getpwuid")
HOME = '"~"'

# Expressions whose value is the home directory, per language.
_EXPRS: dict[str, list[str]] = {
    "python": [
        rf"os\s*\.\s*environ\s*\[\s*{_Q}\s*\]",
        rf"os\s*\.\s*(?:environ\s*\.\s*get|getenv)\(\s*{_Q}\s*(?:,[^()]*)?\)",
        r"(?:pathlib\s*\.\s*)?Path\s*\.\s*home\(\s*\)",
    ],
    "perl": [
        r"""\$ENV\{\s*['"]?HOME['"]?\s*\}""",
        r"File::HomeDir\s*->\s*my_home(?:\(\s*\))?",
        r"\(\s*getpwuid\(\s*\$<\s*\)\s*\)\s*\[\s*7\s*\]",
    ],
    "ruby": [
        r"\bDir\s*\.\s*home\b(?!\s*\(\s*[^\s)])(?:\(\s*\))?",
        rf"\bENV\s*\[\s*{_Q}\s*\]",
        rf"\bENV\s*\.\s*fetch\(\s*{_Q}\s*(?:,[^()]*)?\)",
    ],
    "node": [
        r"""(?:(?:require\(\s*['"](?:node:)?os['"]\s*\)|\b\w+)\s*\.\s*)?\bhomedir\(\s*\)""",
        r"\b(?:process|Bun)\s*\.\s*env\s*\.\s*HOME\b",
        rf"\bDeno\s*\.\s*env\s*\.\s*get\(\s*{_Q}\s*\)",
    ],
    "php": [
        rf"\bgetenv\(\s*{_Q}\s*\)",
        r"""\$_(?:SERVER|ENV)\s*\[\s*['"]?HOME['"]?\s*\]""",
        r"""\bposix_getpwuid\(\s*posix_getuid\(\s*\)\s*\)\s*\[\s*['"]dir['"]\s*\]""",
    ],
    "lua": [rf"\bos\s*\.\s*getenv\(\s*{_Q}\s*\)"],
    "r": [rf"\bSys\s*\.\s*getenv\(\s*{_Q}\s*\)"],
}
# How a home expression is interpolated into a string: (interpolation with braces, which
# only means that inside a string and may hold quotes of its own; literals that
# interpolate bare or braced expressions, and their shape there).
_INTERPOLATED: dict[str, tuple[str | None, Callable[[str], bool], str]] = {
    "python": (None, lambda lit: "f" in lit[:2].lower(), r"\{\s*(?:EXPR)\s*\}"),
    "perl": (None, lambda lit: lit[:1] in ('"', "`"), r"(?:EXPR)"),
    "ruby": (r"#\{\s*(?:EXPR)\s*\}", lambda lit: False, ""),
    "node": (r"\$\{\s*(?:EXPR)\s*\}", lambda lit: lit[:1] == "`", r"(?!)"),
    "php": (r"\{\s*(?:EXPR)\s*\}", lambda lit: lit[:1] in ('"', "`"), r"(?:EXPR)"),
}
# Calls and operators that only join, concatenate or expand literals: (pattern, how).
_FOLDS: dict[str, list[tuple[str, str]]] = {
    "python": [
        (rf"(?:os\s*\.\s*path|posixpath)\s*\.\s*join\(\s*({_LITS})\s*\)", "join"),
        (rf"(?:os\s*\.\s*path|posixpath)\s*\.\s*expanduser\(\s*({_LIT})\s*\)", "join"),
        (rf"(?<![\w.])(?:pathlib\s*\.\s*)?(?:Pure)?(?:Posix)?Path\(\s*({_LITS})\s*\)", "join"),
        (rf"({_LIT})\s*\.\s*(?:expanduser|resolve|absolute)\(\s*\)", "join"),
        (rf"({_LIT}\s*\.\s*joinpath\(\s*{_LITS})\s*\)", "joinpath"),
        (rf"\bstr\(\s*({_LIT})\s*\)", "join"),
        (rf"({_LIT}\s*/\s*{_LIT})", "slash"),
        (rf"({_LIT}\s*\+\s*{_LIT})", "concat"),
    ],
    "perl": [
        (rf"\bglob\(\s*({_LIT})\s*\)", "join"),
        (rf"(?:File::Spec\s*->\s*)?\bcat(?:file|dir)\(\s*({_LITS})\s*\)", "glue"),
        (rf"({_LIT}\s*\.\s*{_LIT})", "concat"),
    ],
    "ruby": [
        (rf"\bFile\s*\.\s*join\(\s*({_LITS})\s*\)", "glue"),
        (rf"\bFile\s*\.\s*expand_path\(\s*({_LITS})\s*\)", "expand_path"),
        (rf"\bPathname(?:\s*\.\s*new)?\(\s*({_LIT})\s*\)", "join"),
        (rf"({_LIT}\s*\+\s*{_LIT})", "concat"),
    ],
    "node": [
        (rf"\bpath\s*\.\s*join\(\s*({_LITS})\s*\)", "glue"),
        (rf"\bpath\s*\.\s*resolve\(\s*({_LITS})\s*\)", "join"),
        (rf"({_LIT}\s*\+\s*{_LIT})", "concat"),
    ],
    "php": [(rf"({_LIT}\s*\.\s*{_LIT})", "concat")],
    "lua": [(rf"({_LIT}\s*\.\.\s*{_LIT})", "concat")],
    "r": [
        (rf"\bpath\.expand\(\s*({_LIT})\s*\)", "join"),
        (rf"\bfile\.path\(\s*({_LITS})\s*\)", "glue"),
        (rf"\bpaste0\(\s*({_LITS})\s*\)", "concat"),
    ],
}
MAX_FOLDS = 6


def _values(text: str) -> list[str]:
    out = []
    for m in re.finditer(_LIT, text):
        lit = m.group(0).lstrip("rbuRBU")
        body = lit[1:-1]
        out.append(body if lit[0] == "'" or "\\" not in body else _unescape(body))
    return out


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _join(parts: list[str], glue: bool = False) -> str:
    """Path parts joined: an absolute part starts over (os.path.join, path.resolve),
    or, with `glue`, is appended (File.join, path.join, catfile)."""
    path = ""
    for part in parts:
        restart = part.startswith("/") and not glue
        path = part if restart or not path else path.rstrip("/") + "/" + part.lstrip("/")
    return path


def _folded(how: str, m: re.Match[str]) -> str:
    """The literal a fold makes of the literals it matched (group 1)."""
    values = _values(m.group(1))
    if how == "concat":
        value = "".join(values)
    elif how == "expand_path":  # File.expand_path(NAME, DIR)
        value = _join(values[::-1]) if len(values) > 1 else values[0]
    else:  # join, glue, joinpath, slash
        value = _join(values, glue=how == "glue")
    return repr(value)


@dataclass(frozen=True)
class _Reader:
    """One language's patterns, compiled once."""

    exprs: re.Pattern[str]  # any spelling of the home
    braced: re.Pattern[str] | None  # its interpolation with braces, anywhere
    interpolates: Callable[[str], bool]  # whether a string literal interpolates
    inner: re.Pattern[str]  # its interpolation inside such a literal
    folds: tuple[tuple[re.Pattern[str], str], ...]


def _reader(language: str) -> _Reader:
    joined = "|".join(f"(?:{e})" for e in _EXPRS[language])
    braced, interpolates, shape = _INTERPOLATED.get(language, (None, lambda lit: False, "(?!)"))
    return _Reader(
        re.compile(joined),
        re.compile(braced.replace("EXPR", joined)) if braced else None,
        interpolates,
        re.compile(shape.replace("EXPR", joined)),
        tuple((re.compile(p), how) for p, how in _FOLDS.get(language, [])),
    )


_READERS = {language: _reader(language) for language in _EXPRS}


def _interpolate(language: str, r: _Reader, code: str) -> str:
    """Home expressions interpolated into string literals become `~`."""
    if r.braced is not None:
        code = r.braced.sub("~", code)

    def literal(m: re.Match[str]) -> str:
        lit = m.group(0)
        if not r.interpolates(lit):
            return lit
        lit = r.inner.sub("~", lit)
        if language == "node" and "${" not in lit:  # a template with nothing left to fill
            return repr(_unescape(lit[1:-1]))
        return lit

    return _TOKEN.sub(literal, code)


def _outside(pattern: re.Pattern[str], code: str) -> str:
    """`pattern` replaced by the literal "~" where it does not start inside a string."""
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(code)]
    starts = [start for start, _ in spans]
    parts, last = [], 0
    for m in pattern.finditer(code):
        i = bisect_left(starts, m.start()) - 1  # the last literal that starts before it
        if i >= 0 and m.start() < spans[i][1]:
            continue
        parts += [code[last : m.start()], HOME]
        last = m.end()
    return "".join([*parts, code[last:]])


def home_literal(language: str, code: str) -> str:
    """`code` with the home directory's spellings as the literal "~", folded into
    the literals they are joined with."""
    r = _READERS.get(language)
    if r is None or not _HINT.search(code):
        return code
    code = _outside(r.exprs, _interpolate(language, r, code))
    for _ in range(MAX_FOLDS):
        before = code
        for pattern, how in r.folds:
            code = pattern.sub(partial(_folded, how), code)
        if code == before:
            break
    return code
