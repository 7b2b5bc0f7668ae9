"""The search_files tool: a ripgrep-like regex search over text files.

The walk runs in a thread, stops when the call is cancelled, and is bounded
(files looked at, files searched, file size, matches) with the bound stated.
A walk over a directory skips files that hold keys (ssh keys, a Hermes
home's .env and state.db, another profile's home: whatever the approval
gate would ask about before reading it) and says how many it skipped; one
such file searched by name goes through the gate like read_file.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.risk import Where, classify_read
from hermes.tools.base import Tool, schema
from hermes.tools.files import SNIFF_BYTES, int_arg, resolve, split_lines

SEARCH_MAX_FILE_BYTES = 5_000_000  # bigger files are skipped
SEARCH_MAX_FILES = 20_000  # files searched per call
SEARCH_MAX_SCANNED = 200_000  # file names looked at per call (glob or not)
SEARCH_LINE_CHARS = 300
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".mypy_cache", ".tox"}
)


def _glob_match(glob: str, rel: str, name: str) -> bool:
    bare = glob[3:] if glob.startswith("**/") else glob
    return any(fnmatch.fnmatch(s, p) for s in (name, rel) for p in (glob, bare))


class _Stopped(Exception):
    """The awaiting tool call was cancelled: the search thread gives up."""


def _files(base: Path, glob: str | None, stop: threading.Event) -> tuple[list[Path], bool]:
    """The files to search, and whether that is all of them (False: a limit was hit)."""
    if base.is_file():
        return [base], True
    found: list[Path] = []
    scanned = 0
    for root, dirs, names in os.walk(base):
        if stop.is_set():
            raise _Stopped
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(names):
            scanned += 1
            if scanned > SEARCH_MAX_SCANNED:
                return found, False
            path = Path(root, name)
            if glob and not _glob_match(glob, path.relative_to(base).as_posix(), name):
                continue
            found.append(path)
            if len(found) >= SEARCH_MAX_FILES:
                return found, False
    return found, True


def guarded(ctx: TurnContext) -> Callable[[Path], bool]:
    """Whether a file holds secrets the gate would ask about before reading it."""
    home = ctx.profile.env.get("HOME")
    where = Where(
        cwd=ctx.cwd,
        home=Path(home) if home else Path.home(),
        hermes_root=ctx.profile.root,
        hermes_home=ctx.profile.home,
    )
    # the real path: a link in the workspace may point at a key
    return lambda path: classify_read(os.path.realpath(path), where).risk != "none"


def _search(
    regex: re.Pattern[str],
    base: Path,
    cwd: Path,
    glob: str | None,
    most: int,
    stop: threading.Event,
    secret: Callable[[Path], bool] = lambda path: False,
) -> str:
    if not base.exists():
        raise ToolError(f"no such file or directory: {base}")
    hits: list[str] = []
    files, complete = _files(base, glob, stop)
    walked = base.is_dir()
    skipped = 0
    for path in files:
        if stop.is_set():
            raise _Stopped
        if walked and secret(path):
            skipped += 1
            continue
        try:
            if not path.is_file():  # pipes and devices would block the read
                continue
            if path.stat().st_size > SEARCH_MAX_FILE_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:SNIFF_BYTES]:
            continue
        shown = path.relative_to(cwd) if path.is_relative_to(cwd) else path
        for n, line in enumerate(split_lines(data.decode("utf-8", errors="replace")), 1):
            if regex.search(line):
                if len(hits) == most:
                    hits.append(f"[stopped at {most} matches; narrow the pattern, path or glob]")
                    return "\n".join(hits)
                hits.append(f"{shown}:{n}: {line.rstrip()[:SEARCH_LINE_CHARS]}")
    cut = "" if complete else f"[searched only the first {len(files):,} files; narrow the path]"
    if skipped:
        cut = (cut + "\n" if cut else "") + (
            f"[skipped {skipped:,} file(s) holding keys or Hermes' own state; read one by "
            "name if you need it: the user is asked first]"
        )
    if not hits:
        where = f"{base} (glob {glob})" if glob else str(base)
        found = f"No matches for {regex.pattern!r} in {where}; {len(files):,} files searched."
        return f"{found}\n{cut}" if cut else found
    if cut:
        hits.append(cut)
    return "\n".join(hits)


async def search_files(args: dict[str, Any], ctx: TurnContext) -> str:
    pattern = args.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise ToolError("pattern must be a non-empty regular expression")
    flags = re.IGNORECASE if args.get("ignore_case") else 0
    try:
        regex = re.compile(pattern, flags)
    except re.error as exc:
        raise ToolError(
            f"invalid regex {pattern!r}: {exc.msg}; escape special characters such as "
            "( [ . * + ? with a backslash"
        ) from exc
    base = resolve(args.get("path") or ".", ctx)
    glob = args.get("glob")
    if glob is not None and not isinstance(glob, str):
        raise ToolError("glob must be a string such as '*.py'")
    most = int_arg(args, "max_results", 50, 1, 1000)
    stop = threading.Event()  # a cancelled call must not leave the walk running
    try:
        return await asyncio.to_thread(
            _search, regex, base, ctx.cwd, glob or None, most, stop, guarded(ctx)
        )
    finally:
        stop.set()


TOOLS: list[Tool] = [
    Tool(
        name="search_files",
        description=(
            "Search text files for a regular expression (Python syntax) and list matches as "
            "`path:line: text`. Searches `path` (a directory, recursively, or one file; "
            "default the workspace), skipping .git, node_modules, virtualenvs, caches and "
            "binary files. `glob` filters file names or relative paths, e.g. '*.py' or "
            "'src/*.ts'. Stops at max_results (default 50)."
        ),
        parameters=schema(
            {
                "pattern": {"type": "string", "description": "Regular expression."},
                "path": {"type": "string", "description": "Directory or file to search."},
                "glob": {"type": "string", "description": "Only files matching this glob."},
                "max_results": {"type": "integer", "description": "Most matches (max 1000)."},
                "ignore_case": {"type": "boolean", "description": "Case-insensitive match."},
            },
            ["pattern"],
        ),
        handler=search_files,
    ),
]
