"""`hermes config set`: change one dotted key in config.yaml, keeping the file's comments.

The edit is made on a ruamel.yaml round-trip tree (comments, key order and quoting
survive), the resulting text is validated with the same validator that loads the
file, and only then written atomically. ruamel.yaml is imported lazily: loading
a profile never needs it.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from hermes.config import SettingsError, get_dotted, parse_settings
from hermes.errors import ConfigError

_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_BOOLS["FALSE"] = False


def split_key(key: str) -> list[str]:
    parts = key.split(".")
    if not key or any(not part.strip() for part in parts):
        raise ConfigError(f"invalid key {key!r}: use a dotted name such as model.provider")
    return parts


def parse_raw(raw: str) -> Any:
    """Read a command-line value: null, true/false, numbers, [flow], {flow}, 'quoted'.

    Anything else is the plain string as typed (so `off` and `1:30` stay strings).
    """
    text = raw.strip()
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text[0] not in "[{\"'":
        return raw
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(
            f"cannot read the value {raw!r}: {problem}; quote it to set it as a string"
        ) from None
    return _round_trip_value(value, flow=True)


def _round_trip_value(value: Any, *, flow: bool) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        mapping = CommentedMap((k, _round_trip_value(v, flow=flow)) for k, v in value.items())
        if flow:
            mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, list):
        seq = CommentedSeq(_round_trip_value(v, flow=flow) for v in value)
        if flow:
            seq.fa.set_flow_style()
        return seq
    return value


def _detect_indent(text: str) -> tuple[int, int]:
    """(mapping indent, sequence dash offset) as the file already uses them."""
    mapping: int | None = None
    offset: int | None = None
    previous, opens = 0, False
    for line in text.splitlines():
        stripped = re.sub(r"\s+#.*$", "", line.strip())
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if opens and (stripped == "-" or stripped.startswith("- ")) and indent >= previous:
            offset = indent - previous if offset is None else offset
        elif opens and indent > previous and mapping is None:
            mapping = indent - previous
        previous, opens = indent, stripped.endswith(":")
    return mapping or 2, 2 if offset is None else offset


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    mapping, offset = _detect_indent(text)
    rt = YAML()  # round-trip mode
    rt.preserve_quotes = True
    rt.width = 4096  # never re-wrap long values
    rt.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return rt


def _split_start(text: str) -> tuple[str, str]:
    """Split off leading comments and a `---` line, which ruamel would not keep."""
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            if stripped == "---" or stripped.startswith("--- #"):
                return "".join(lines[: number + 1]), "".join(lines[number + 1 :])
            break
    return "", text


def _find_key(mapping: Any, part: str) -> Any:
    for existing in mapping:
        if str(existing) == part:
            return existing
    return None


def _tail_slot(container: Any, key: Any) -> tuple[list[Any], int]:
    """The comment slot printed after the entry KEY of CONTAINER (its deepest last line)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    value = container[key]
    nested = isinstance(value, (CommentedMap, CommentedSeq))
    if nested and len(value) and not value.fa.flow_style():
        last = list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1
        return _tail_slot(value, last)
    entry: list[Any] = container.ca.items.setdefault(key, [None, None, None, None])
    return entry, 2 if isinstance(container, CommentedMap) else 0


def _append(mapping: Any, key: str, value: Any) -> None:
    """Add KEY at the end of MAPPING; comment lines that followed the old last entry
    (e.g. the header of the next section) move below the new one."""
    from ruamel.yaml.tokens import CommentToken

    previous = list(mapping)[-1] if len(mapping) else None
    mapping[key] = value
    if previous is None:
        return
    entry, pos = _tail_slot(mapping, previous)
    token = entry[pos]
    if token is None or not isinstance(token.value, str):
        return
    head, _, tail = token.value.partition("\n")
    if not tail:
        return
    token.value = head + "\n"
    new_entry, new_pos = _tail_slot(mapping, key)
    new_entry[new_pos] = CommentToken("\n" + tail, token.start_mark, None)


def _assign(doc: Any, parts: list[str], value: Any) -> None:
    from ruamel.yaml.comments import CommentedMap

    node = doc
    for depth, part in enumerate(parts):
        existing = _find_key(node, part)
        if existing is None:  # build the missing branch whole, then attach it once
            for missing in reversed(parts[depth + 1 :]):
                branch = CommentedMap([(missing, value)])
                branch.fa.set_block_style()
                value = branch
            _append(node, part, value)
            return
        if depth == len(parts) - 1:
            node[existing] = value
            return
        if node[existing] is None:
            node[existing] = CommentedMap()
        elif not isinstance(node[existing], CommentedMap):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"cannot set {'.'.join(parts)}: {where} holds a value, not keys")
        node = node[existing]


def _edited_text(path: Path, text: str, parts: list[str], value: Any) -> str:
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    start, original = _split_start(text)
    rt = _yaml(original)
    try:
        doc = rt.load(original)
    except YAMLError as exc:
        parse_settings(text, str(path))  # raises the loader's one-line error
        raise ConfigError(f"{path}: cannot edit this YAML ({exc}); fix it by hand") from None
    out = io.StringIO()
    if doc is None:  # empty, or only comments (the template): append below them
        doc = CommentedMap()
        _assign(doc, parts, value)
        rt.dump(doc, out)
        prefix = start + original
        prefix += "\n" if prefix and not prefix.endswith("\n") else ""
        return prefix + ("\n" if original.strip() else "") + out.getvalue()
    if not isinstance(doc, CommentedMap):
        parse_settings(text, str(path))  # raises: the root must be a mapping
        raise ConfigError(f"{path}: expected sections like 'model:'; fix the file by hand")
    _assign(doc, parts, value)
    rt.dump(doc, out)
    return start + out.getvalue()


def _related(error_key: str, key: str) -> bool:
    return any(
        a == b or a.startswith(b + ".") or a.startswith(b + "[")
        for a, b in ((error_key, key), (key, error_key))
    )


def _write_atomically(path: Path, text: str) -> None:
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_value(path: Path, key: str, raw: str) -> Any:
    """Set dotted KEY to the value RAW in the config file at PATH; return the typed value.

    The whole resulting file is validated before anything is written; on error
    the file is left untouched and a one-line ConfigError says why.
    """
    parts = split_key(key)
    value = parse_raw(raw)
    try:
        original = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        original = ""
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read {path}: {reason}; fix the file or its permissions") from exc
    text = _edited_text(path, original, parts, value)
    try:
        settings = parse_settings(text, str(path))
    except SettingsError as exc:
        if _related(exc.key, key):
            raise ConfigError(f"{path}: cannot set {key}: {exc.detail}") from None
        parse_settings(original, str(path))  # an error already in the file: report its line
        raise
    _write_atomically(path, text)
    return get_dotted(settings, key)
