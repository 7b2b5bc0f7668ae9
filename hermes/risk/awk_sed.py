"""awk and sed programs: the commands they run and the files they write.

awk runs commands with `system(CMD)`, `print ... | CMD` (the printed text is the
command's input) and `CMD | getline`; GNU sed with the `e` command and the
`s///e` flag (the edited line is run), and writes files with `w FILE`. A command
given as a literal is returned as shell code for the parser to judge; one that
is computed from the input (`system($0)`, `s/$//e`) is code the gate cannot see.
"""

from __future__ import annotations

import re
import shlex

from hermes.risk.model import Assessment

_STR = r'"(?:[^"\\]|\\.)*"'
_HERE = "__HERMES_INPUT__"


def _unescape(text: str) -> str:
    table = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "/": "/", "a": "\a"}
    return re.sub(r"\\(.)", lambda m: table.get(m.group(1), "\\" + m.group(1)), text, flags=re.S)


def _awk_string(expr: str) -> str | None:
    """The value of an awk expression made only of string literals ("a" "b"), else None."""
    expr = expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        expr = expr[1:-1].strip()
    parts = re.findall(_STR + r"|\S", expr)
    if not parts or any(not p.startswith('"') for p in parts):
        return None
    return "".join(_unescape(p[1:-1]) for p in parts)


def _balanced(code: str, start: int) -> str:
    """The text from `start` to the parenthesis that closes the one before it."""
    depth, i, quote = 1, start, False
    while i < len(code):
        ch = code[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return code[start:i]
        i += 1
    return code[start:]


def _printed(args: str) -> str | None:
    """What `print ARGS` prints when every argument is a literal (joined by spaces)."""
    items = re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", args)
    values = [_awk_string(i) for i in items if i.strip()]
    if not values or any(v is None for v in values):
        return None
    return " ".join(v for v in values if v is not None)


def awk(code: str) -> tuple[list[str], list[Assessment]]:
    out: list[str] = []
    found: list[Assessment] = []
    for m in re.finditer(r"\bsystem\s*\(", code):
        value = _awk_string(_balanced(code, m.end()))
        if value is None:
            found.append(Assessment("medium", "runs a command computed at run time (awk system())"))
        else:
            out.append(value)
    for m in re.finditer(
        r"\bprintf?\b((?:[^;{}\n|>]|\|\|)*)\|&?\s*(" + _STR + r"|[^;{}\n]+)", code
    ):
        command = _awk_string(m.group(2))
        if command is None:
            found.append(Assessment("medium", "pipes into a command computed at run time (awk)"))
            continue
        text = _printed(m.group(1).strip())
        if text is None:
            out.append(f": | {command}")  # its input is whatever awk reads
        else:
            out.append(f"{command} <<'{_HERE}'\n{text}\n{_HERE}")
    for m in re.finditer(r"(" + _STR + r"|[\w$\])]+)\s*\|&?\s*getline", code):
        command = _awk_string(m.group(1))
        if command is None:
            found.append(Assessment("medium", "runs a command computed at run time (awk getline)"))
        else:
            out.append(command)
    for m in re.finditer(r"\bprintf?\b[^;{}\n|>]*(>>?)\s*(" + _STR + ")", code):
        target = _awk_string(m.group(2))
        if target is not None:
            out.append(f": {m.group(1)} {shlex.quote(target)}")
    return out, found


# --- sed ---

_ADDRESS = re.compile(
    r"\s*(?:\d+(?:~\d+)?|\$|/(?:[^/\\\n]|\\.)*/[IM]*|\\(.)(?:(?!\1).|\\.)*\1[IM]*)?"
    r"(?:\s*,\s*(?:[+~]?\d+|\$|/(?:[^/\\\n]|\\.)*/[IM]*))?\s*!?\s*"
)


def _part(script: str, i: int, delim: str) -> tuple[str, int]:
    """The text up to the next unescaped `delim`, and the index after it."""
    out = []
    while i < len(script) and script[i] != delim:
        if script[i] == "\\" and i + 1 < len(script):
            out.append(script[i : i + 2])
            i += 2
            continue
        out.append(script[i])
        i += 1
    return "".join(out), i + 1


def _line(script: str, i: int) -> tuple[str, int]:
    end = script.find("\n", i)
    end = len(script) if end < 0 else end
    return script[i:end].strip(), end + 1


def sed(script: str) -> tuple[list[str], list[Assessment]]:
    out: list[str] = []
    found: list[Assessment] = []
    i = 0
    while i < len(script):
        while i < len(script) and script[i] in " \t\n;{}":
            i += 1
        m = _ADDRESS.match(script, i)
        i = m.end() if m else i
        if i >= len(script):
            break
        c = script[i]
        i += 1
        if c in "#:":
            _, i = _line(script, i)
        elif c in "aic":  # text to its line's end, and on while lines end in a backslash
            text, i = _line(script, i)
            while text.endswith("\\") and i < len(script):
                text, i = _line(script, i)
        elif c in "rRwW":
            name, i = _line(script, i)
            out.append(f": {'<' if c in 'rR' else '>'} {shlex.quote(name)}")
        elif c == "e":
            command, i = _line(script, i)
            if command:
                out.append(command)
            else:
                found.append(Assessment("medium", "runs each line as a command (sed e)"))
        elif c in "sy" and i < len(script):
            delim = script[i]
            pattern, i = _part(script, i + 1, delim)
            replacement, i = _part(script, i, delim)
            flags = re.match(r"[gpiImMe\d]*", script[i:])
            letters = flags.group(0) if flags else ""
            i += len(letters)
            if c == "s" and "e" in letters:
                whole = pattern in (".*", "^.*$", "^.*", ".*$")
                if whole and not re.search(r"(?<!\\)(&|\\\d)", replacement):
                    out.append(_unescape(replacement))
                else:
                    found.append(Assessment("medium", "runs edited lines as commands (sed s///e)"))
            if c == "s" and script[i : i + 1] == "w":
                name, i = _line(script, i + 1)
                out.append(f": > {shlex.quote(name)}")
        elif c in "btTqQlL":
            while i < len(script) and script[i] not in ";\n}":
                i += 1
    return out, found
