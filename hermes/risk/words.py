"""How bash turns the text of a word into the word a program receives.

Only the parts that decide what runs: backslashes outside and inside double
quotes, `$'...'` escapes and brace expansion. Variables and substitutions are
left as written (their value is unknown before the command runs).
"""

from __future__ import annotations

import codecs
import re


def text(data: bytes | None) -> str:
    """Source bytes as text, never failing on invalid UTF-8."""
    return (data or b"").decode("utf-8", "surrogateescape")


def unquoted(word: str) -> str:
    """An unquoted word: `\\x` is `x`, a backslash-newline disappears."""
    return re.sub(r"\\(\n|.)", lambda m: m.group(1).strip("\n"), word, flags=re.S)


def double_quoted(part: str) -> str:
    """Text inside double quotes: only `$`, backquote, `"`, backslash and newline are escapable."""
    return re.sub(r'\\([$`"\\\n])', lambda m: m.group(1).strip("\n"), part)


def ansi_c(body: str) -> str:
    """The value of `$'...'` (C escapes: \\x72, \\162, \\n, \\e, ...)."""
    body = body.replace("\\e", "\x1b").replace("\\E", "\x1b")
    try:
        return codecs.decode(body.encode("utf-8", "backslashreplace"), "unicode_escape")
    except UnicodeDecodeError:
        return body


def braces(word: str, limit: int = 64) -> list[str]:
    """Brace expansion: `/{etc,usr}` is `/etc /usr` (capped at `limit` words)."""
    m = re.search(r"(?<!\$)\{([^{}]*,[^{}]*)\}", word)
    if m is None:
        return [word]
    out: list[str] = []
    for alt in m.group(1).split(","):
        out.extend(braces(word[: m.start()] + alt + word[m.end() :], limit))
        if len(out) >= limit:
            break
    return out[:limit]
