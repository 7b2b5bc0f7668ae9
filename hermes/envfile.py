"""The home's `.env`: KEY=VALUE lines holding API keys and tokens (mode 0600).

Syntax: blank lines and `#` comments are ignored; a line may start with `export `;
values may be unquoted (an inline comment starts at ` #`), 'single-quoted'
(literal) or "double-quoted" (with \\n, \\t, \\r, \\" and \\\\ escapes). A later line
wins over an earlier one for the same key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hermes.errors import ConfigError

_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
_LINE_RE = re.compile(rf"\s*(?:export\s+)?(?P<key>{_KEY})\s*=(?P<rest>.*)")
_KEY_RE = re.compile(_KEY)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_./:@+,=%^~-]*")


class _LineError(Exception):
    """A malformed line; the message says what is wrong with it."""


def _double_quoted(rest: str) -> tuple[str, str]:
    """Parse a "..." value at the start of REST; return (value, text after it)."""
    out: list[str] = []
    i = 1
    while i < len(rest):
        char = rest[i]
        if char == "\\" and i + 1 < len(rest):
            nxt = rest[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        if char == '"':
            return "".join(out), rest[i + 1 :]
        out.append(char)
        i += 1
    raise _LineError("the double quote is never closed")


def _parse_value(raw: str) -> str:
    rest = raw.lstrip()
    if rest.startswith('"'):
        value, after = _double_quoted(rest)
    elif rest.startswith("'"):
        end = rest.find("'", 1)
        if end < 0:
            raise _LineError("the single quote is never closed")
        value, after = rest[1:end], rest[end + 1 :]
    else:
        cut = re.search(r"\s#", raw)
        return (raw[: cut.start()] if cut else raw).strip()
    after = after.strip()
    if after and not after.startswith("#"):
        raise _LineError(f"unexpected text after the closing quote: {after!r}")
    return value


def parse_env_text(text: str, source: str) -> dict[str, str]:
    """Parse .env TEXT; SOURCE names the file in errors."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE_RE.fullmatch(line)
        try:
            if match is None:
                raise _LineError("expected KEY=VALUE")
            values[match["key"]] = _parse_value(match["rest"])
        except _LineError as exc:
            raise ConfigError(
                f"{source} line {number}: {exc}; write it as KEY=VALUE "
                "(quote values with spaces or #) or start the line with # to ignore it"
            ) from None
    return values


def read_env_file(path: Path) -> dict[str, str]:
    """Read a .env file into a dict; a missing file is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read {path}: {reason}; fix or remove the file") from exc
    return parse_env_text(text, str(path))


def format_env_line(key: str, value: str) -> str:
    """One KEY=VALUE line that parses back to exactly VALUE."""
    if _PLAIN_SAFE.fullmatch(value):
        return f"{key}={value}"
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'{key}="{escaped}"'


def set_env_value(path: Path, key: str, value: str) -> None:
    """Set KEY in the .env at PATH (replacing its line, else appending); keeps mode 0600.

    Other lines, comments included, are kept as they are. The file is replaced
    atomically, so a crash never leaves half a file.
    """
    if not _KEY_RE.fullmatch(key):
        raise ConfigError(
            f"invalid variable name {key!r}: use letters, digits and _, not starting with a digit"
        )
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    new_line = format_env_line(key, value)
    kept: list[str] = []
    replaced = False
    for line in lines:
        match = _LINE_RE.fullmatch(line)
        if match is not None and match["key"] == key:
            if not replaced:
                kept.append(new_line)
                replaced = True
            continue
        kept.append(line)
    if not replaced:
        kept.append(new_line)
    _write_private(path, "\n".join(kept) + "\n")


def _write_private(path: Path, text: str) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".env.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
