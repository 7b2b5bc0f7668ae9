"""What bash does to values it knows: parameter expansion, word splitting, printf.

The shell parser (hermes/risk/shell_words.py) hands these helpers the values
of variables the same command line set to literals (`IFS=,`, `cmd='rm,-rf,/'`),
the output of substitutions that only print literals, and positional
parameters bound by a function call, so that `$cmd`, `${IFS}`, `${X:-/}` and
`$(printf %s rm)` are judged as the words bash would really run.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence

DEFAULT_IFS = " \t\n"
MAX_FIELDS = 64
MAX_VALUE = 4096  # longer values are not edited by pattern (the matching is quadratic)

# A piece of a word: (text, how). "lit": unquoted literal text; "quoted": text in
# quotes; "value": the value of an expansion inside quotes (never split);
# "split": the value of an unquoted expansion (split into fields at IFS
# characters); "break": the end of a field inside quotes ("$@" gives one field
# per parameter).
Seg = tuple[str, str]


def fields(segs: Sequence[Seg], ifs: str = DEFAULT_IFS) -> list[str]:
    """The fields a word expands to, after word splitting (bash "Word Splitting")."""
    out: list[str] = []
    current, real = "", False  # `real`: the current field exists even when empty ("")
    for text, how in segs:
        if how == "break":
            out.append(current)
            current, real = "", False
        elif how != "split":
            current += text
            real = real or how in ("quoted", "value") or bool(text)
        else:
            for ch in text:
                if ch not in ifs:
                    current, real = current + ch, True
                elif not ch.isspace() or real:  # a non-blank IFS character always ends a field
                    out.append(current)
                    current, real = "", False
        if len(out) >= MAX_FIELDS:
            break
    if real:
        out.append(current)
    return out[:MAX_FIELDS]


def joined(segs: Sequence[Seg]) -> str:
    """The value of a word where bash does not split (an assignment's value)."""
    return "".join(" " if how == "break" else text for text, how in segs)


def _glob_regex(pattern: str) -> str:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return "".join(out)


def operate(value: str | None, op: str, arg: str) -> list[str] | None:
    """The possible results of `${VAR<op><arg>}` when VAR holds `value` (None:
    unknown). None when the result is unknown; several values when it depends
    on whether an unknown VAR is set (its default is a possible value)."""
    if op in (":-", "-", ":=", "="):
        if value is None:
            return [arg]  # the caller keeps the unknown value as the other possibility
        return [arg if (op.startswith(":") and not value) else value]
    if op in (":+", "+"):
        if value is None:
            return [arg, ""]
        return [arg if (value or not op.startswith(":")) else ""]
    if value is None or len(value) > MAX_VALUE:
        return None
    if op in ("#", "##", "%", "%%"):
        return [_trim(value, op, arg)]
    if op in ("/", "//", "/#", "/%"):
        pattern, _, new = arg.partition("/")
        return [_replace(value, op, pattern, new)]
    if op in ("^^", ",,", "^", ","):
        upper = op.startswith("^")
        changed = value.upper() if upper else value.lower()
        return [changed if len(op) == 2 else changed[:1] + value[1:]]
    if op == ":":
        return _substring(value, arg)
    if op in (":?", "?"):
        return [value]
    return None


def _trim(value: str, op: str, pattern: str) -> str:
    regex = re.compile(_glob_regex(pattern), re.S)
    cuts = range(len(value) + 1)
    if op.startswith("#"):
        order = reversed(cuts) if op == "##" else cuts
        return next((value[i:] for i in order if regex.fullmatch(value[:i])), value)
    order = cuts if op == "%%" else reversed(cuts)
    return next((value[:i] for i in order if regex.fullmatch(value[i:])), value)


def _replace(value: str, op: str, pattern: str, new: str) -> str:
    regex = _glob_regex(pattern)
    if not pattern:
        return value
    if op == "/#":
        return re.sub("^" + regex, new, value, count=1, flags=re.S)
    if op == "/%":
        return re.sub(regex + "$", new, value, count=1, flags=re.S)
    return re.sub(regex, lambda _m: new, value, count=0 if op == "//" else 1, flags=re.S)


def _substring(value: str, arg: str) -> list[str] | None:
    m = re.fullmatch(r"\s*(-?\d+)\s*(?::\s*(-?\d+)\s*)?", arg)
    if m is None:
        return None
    start = int(m.group(1))
    start = max(len(value) + start, 0) if start < 0 else start
    if m.group(2) is None:
        return [value[start:]]
    length = int(m.group(2))
    end = len(value) + length if length < 0 else start + length
    return [value[start:end]]


def escapes(text: str) -> str:
    """C-style backslash escapes (`\\x72`, `\\n`, `\\0162`) as `echo -e`/`printf %b` read them."""
    text = re.sub(r"\\0([0-7]{1,3})", lambda m: chr(int(m.group(1), 8)), text)
    try:
        return codecs.decode(text.encode("latin-1", "backslashreplace"), "unicode_escape")
    except (UnicodeDecodeError, ValueError):
        return text


_SPEC = re.compile(r"%(?:%|[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z]))")


def printf(args: Sequence[str]) -> str | None:
    """What `printf FORMAT ARGS...` prints (the format is reused while arguments
    remain); None for formats this does not model."""
    if not args:
        return None
    fmt = escapes(args[0]) if "\\" in args[0] else args[0]
    rest = list(args[1:])
    out: list[str] = []
    for _ in range(16):
        used, last = 0, 0
        for m in _SPEC.finditer(fmt):
            out.append(fmt[last : m.start()])
            last = m.end()
            if m.group(0) == "%%":
                out.append("%")
                continue
            arg = rest[used] if used < len(rest) else ""
            used += 1
            out.append(_conversion(m.group(3), arg))
        out.append(fmt[last:])
        rest = rest[used:]
        if not rest or not used:
            break
    return "".join(out)


def _conversion(conv: str, arg: str) -> str:
    if conv == "b":
        return escapes(arg)
    if conv == "c":
        return arg[:1]
    if conv in "diouxXeEfgG":
        return arg or "0"
    return arg


def echo(args: Sequence[str]) -> str:
    """What `echo ARGS` prints (`-n`, `-e`, `-E` honoured)."""
    words, interpret, newline = list(args), False, True
    while words and re.fullmatch(r"-[neE]+", words[0]):
        flags = words.pop(0)
        newline = newline and "n" not in flags
        interpret = ("e" in flags) if ("e" in flags or "E" in flags) else interpret
    text = " ".join(words)
    return (escapes(text) if interpret else text) + ("\n" if newline else "")
