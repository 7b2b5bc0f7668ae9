"""File tools: read_file, write_file and patch (search/replace); search_files is
in search.py.

Every path lives on the turn's backend (ctx.backend: this machine, or the ssh
host...): relative paths start at its working directory (ctx.cwd), `~` is
its home. Reading and writing go through the backend; the text work runs in a
thread so the loop stays free.
"""

from __future__ import annotations

import asyncio
import difflib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from hermes.backends.base import Backend, FileStat
from hermes.backends.local import atomic_write
from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.tools.base import Tool, schema

__all__ = ["TOOLS", "atomic_write", "int_arg", "resolve", "split_lines"]

MAX_READ_CHARS = 50_000  # read_file output per call
MAX_LINE_CHARS = 2_000  # longer lines are cut in read_file
SNIFF_BYTES = 8192  # a NUL byte in these marks a file as binary
MAX_EDIT_BYTES = 20_000_000  # patch refuses bigger files
READ_CHUNK = 65_536  # read_file reads a long line in pieces of this many chars
HINT_LINE_CHARS = 300  # lines shown in a "closest lines" hint


def resolve(raw: object, ctx: TurnContext, key: str = "path") -> Path:
    """A tool's path argument as an absolute path on the backend (relative to
    ctx.cwd; `~` is the backend's home). Call it after `ctx.backend.open()`."""
    if not isinstance(raw, str) or not raw.strip():
        raise ToolError(f"{key} must be a non-empty path")
    if raw == "~" or raw.startswith("~/"):
        raw = str(ctx.backend.where().home) + raw[1:]
    path = Path(raw)
    return path if path.is_absolute() else ctx.cwd / path


async def opened(ctx: TurnContext) -> Backend:
    backend = ctx.backend
    await backend.open()
    return backend


def int_arg(args: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = args.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolError(f"{key} must be a whole number from {low} to {high}, got {value!r}")
    return value


async def _check_file(backend: Backend, path: Path) -> FileStat:
    st = await backend.stat(path)
    if st is None:
        raise ToolError(f"no such file: {path}")
    if st.kind == "dir":
        raise ToolError(f"{path} is a directory; list it with the terminal or use search_files")
    if st.kind != "file":  # a pipe or device could block the read forever
        raise ToolError(
            f"{path} is not a regular file (a pipe, socket or device); use the terminal"
        )
    return st


def split_lines(text: str) -> list[str]:
    """Lines as read_file numbers them: split at \n, \r\n and \r only."""
    return [line.rstrip("\n") for line in io.StringIO(text, newline=None)]


async def _read_text(backend: Backend, path: Path) -> str:
    st = await _check_file(backend, path)
    if st.size > MAX_EDIT_BYTES:
        raise ToolError(
            f"{path} is {st.size:,} bytes, too big to patch (limit {MAX_EDIT_BYTES:,}); "
            "edit it with the terminal (e.g. sed)"
        )
    data = await backend.read_bytes(path)
    if b"\0" in data[:SNIFF_BYTES]:
        raise ToolError(f"{path} is a binary file; only text files can be edited")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(f"{path} is not UTF-8 text ({exc.reason}); edit it another way") from exc


# --- read_file ---------------------------------------------------------------


def _bounded_lines(f: IO[str]) -> Iterator[tuple[str, int]]:
    """(line without its newline, cut past MAX_LINE_CHARS; its full length): a huge
    one-line file is read piece by piece, never held whole."""
    while piece := f.readline(READ_CHUNK):
        head, length = piece, len(piece)
        while not piece.endswith("\n"):
            piece = f.readline(READ_CHUNK)
            if not piece:
                break
            length += len(piece)
            if len(head) <= MAX_LINE_CHARS:
                head += piece
        if piece.endswith("\n"):
            length -= 1
        yield head.removesuffix("\n")[: MAX_LINE_CHARS + 1], length


def _read(path: Path, offset: int, limit: int) -> str:
    """read_file's window of a file on this machine (streamed)."""
    with path.open("rb") as f:
        return _window(f, path, path.stat().st_size, offset, limit)


def _window(raw: IO[bytes], path: Path, size: int, offset: int, limit: int) -> str:
    """read_file's answer from the file's bytes (read piece by piece)."""
    if b"\0" in raw.read(SNIFF_BYTES):
        raise ToolError(
            f"{path} is a binary file ({size:,} bytes); read_file shows text only - "
            "inspect it with the terminal (e.g. `file`, `xxd | head`)"
        )
    raw.seek(0)
    shown: list[str] = []
    chars, total, capped_at = 0, 0, 0
    with io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as f:
        for n, (text, length) in enumerate(_bounded_lines(f), 1):
            total = n
            if n < offset or n >= offset + limit or capped_at:
                continue
            if length > MAX_LINE_CHARS:
                text = f"{text[:MAX_LINE_CHARS]} ... [line cut: {length:,} chars]"
            entry = f"{n:>6}\t{text}"
            if shown and chars + len(entry) > MAX_READ_CHARS:
                capped_at = n
                continue
            shown.append(entry)
            chars += len(entry) + 1
    if total == 0:
        return f"({path} is empty)"
    if offset > total:
        raise ToolError(f"offset {offset} is past the end of {path} ({total:,} lines)")
    last = offset + len(shown) - 1
    if capped_at:
        shown.append(
            f"[stopped after line {last}: read_file shows at most {MAX_READ_CHARS:,} chars "
            f"per call; {total:,} lines in all; continue with offset={last + 1}]"
        )
    elif last < total:
        shown.append(f"[lines {offset}-{last} of {total:,}; continue with offset={last + 1}]")
    return "\n".join(shown)


async def read_file(args: dict[str, Any], ctx: TurnContext) -> str:
    backend = await opened(ctx)
    path = resolve(args.get("path"), ctx)
    offset = int_arg(args, "offset", 1, 1, 10**9)
    limit = int_arg(args, "limit", 500, 1, 5000)
    st = await _check_file(backend, path)
    raw = await backend.open_read(path)
    try:
        return await asyncio.to_thread(_window, raw, path, st.size, offset, limit)
    finally:
        raw.close()


# --- write_file --------------------------------------------------------------


async def write_file(args: dict[str, Any], ctx: TurnContext) -> str:
    backend = await opened(ctx)
    path = resolve(args.get("path"), ctx)
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolError("content must be a string (the whole new file)")
    st = await backend.stat(path)
    if st is not None and st.kind == "dir":
        raise ToolError(f"{path} is a directory; give a file path")
    data = content.encode("utf-8")
    async with backend.edit_lock:
        await backend.write_bytes(path, data)
    lines = content.count("\n") + (1 if content and not content.endswith("\n") else 0)
    verb = "Replaced" if st is not None else "Created"
    return f"{verb} {path}: {len(data):,} bytes, {lines:,} lines"


# --- patch -------------------------------------------------------------------


def _closest_lines(text: str, old: str, count: int = 3) -> list[str]:
    needle = next((s.strip() for s in old.splitlines() if s.strip()), "")
    scored: list[tuple[float, int, str]] = []
    for n, line in enumerate(split_lines(text)[:20_000], 1):
        matcher = difflib.SequenceMatcher(None, needle, line.strip(), autojunk=False)
        if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:
            continue
        ratio = matcher.ratio()
        if ratio >= 0.6:
            scored.append((ratio, n, line))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [f"{n:>6}\t{line[:HINT_LINE_CHARS]}" for _, n, line in scored[:count]]


def _not_found(path: Path, text: str, old: str) -> ToolError:
    squash = re.compile(r"\s+")
    message = f"old text not found in {path}."
    if squash.sub(" ", old).strip() in squash.sub(" ", text):
        message += " It matches only if whitespace is ignored: copy the exact indentation."
    close = _closest_lines(text, old)
    if close:
        message += " Closest lines:\n" + "\n".join(close) + "\n"
    return ToolError(message + " Copy the exact current text from read_file and try again.")


async def _patch(backend: Backend, path: Path, old: str, new: str, replace_all: bool) -> str:
    async with backend.edit_lock:  # no other edit of this backend's files in between
        text = await _read_text(backend, path)
        changed, message = await asyncio.to_thread(_replace, path, text, old, new, replace_all)
        await backend.write_bytes(path, changed.encode("utf-8"))
    return message


def _replace(path: Path, text: str, old: str, new: str, replace_all: bool) -> tuple[str, str]:
    if "\r\n" in text and "\r\n" not in old and old.replace("\n", "\r\n") in text:
        old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
    count = text.count(old)
    if count == 0:
        raise _not_found(path, text, old)
    starts: list[int] = []
    at = text.find(old)
    while at != -1:
        starts.append(text.count("\n", 0, at) + 1)
        at = text.find(old, at + len(old))
    where = ", ".join(map(str, starts[:10])) + (", ..." if len(starts) > 10 else "")
    if count > 1 and not replace_all:
        raise ToolError(
            f"old text occurs {count} times in {path} (lines {where}); include more "
            "surrounding lines to make it unique, or set replace_all=true to change them all"
        )
    noun = "occurrence" if count == 1 else "occurrences"
    changed = text.replace(old, new, -1 if replace_all else 1)
    return changed, f"Patched {path}: replaced {count} {noun} (line {where})"


async def patch(args: dict[str, Any], ctx: TurnContext) -> str:
    backend = await opened(ctx)
    path = resolve(args.get("path"), ctx)
    old, new = args.get("old"), args.get("new")
    if not isinstance(old, str) or not old:
        raise ToolError("old must be the exact, non-empty text to replace")
    if not isinstance(new, str):
        raise ToolError("new must be a string (use an empty string to delete)")
    if old == new:
        raise ToolError("old and new are identical; nothing to change")
    return await _patch(backend, path, old, new, bool(args.get("replace_all")))


_PATH = {"type": "string", "description": "File path; relative paths start at the workspace."}

TOOLS: list[Tool] = [
    Tool(
        name="read_file",
        description=(
            "Read a text file with line numbers (`   12<TAB>text`; the number and tab are not "
            "part of the file). Reads `limit` lines (default 500) from line `offset` "
            f"(default 1); at most {MAX_READ_CHARS:,} chars per call, and the result says "
            "how to continue. Binary files are refused. Use it before patching a file."
        ),
        parameters=schema(
            {
                "path": _PATH,
                "offset": {"type": "integer", "description": "First line to show (from 1)."},
                "limit": {"type": "integer", "description": "How many lines (max 5000)."},
            },
            ["path"],
        ),
        handler=read_file,
    ),
    Tool(
        name="write_file",
        description=(
            "Create or overwrite a text file with `content` (the whole file), creating "
            "missing directories; the write is atomic. For a small change to an existing "
            "file use patch instead."
        ),
        parameters=schema(
            {"path": _PATH, "content": {"type": "string", "description": "The whole file."}},
            ["path", "content"],
        ),
        handler=write_file,
    ),
    Tool(
        name="patch",
        description=(
            "Edit a file by replacing the exact text `old` with `new`. `old` must match the "
            "file exactly (whitespace and indentation too; copy it from read_file without "
            "the line numbers) and be unique unless replace_all=true; include a few "
            "surrounding lines to make it unique. If it is not found, the error shows the "
            "closest lines. Use an empty `new` to delete."
        ),
        parameters=schema(
            {
                "path": _PATH,
                "old": {"type": "string", "description": "Exact text to replace."},
                "new": {"type": "string", "description": "Replacement text."},
                "replace_all": {
                    "type": "boolean",
                    "description": "Replace every occurrence (default false).",
                },
            },
            ["path", "old", "new"],
        ),
        handler=patch,
    ),
]
