"""The search_files tool: a ripgrep-like regex search over text files.

The walk and the reads go through the turn's backend (ctx.backend), stop when
the call is cancelled, and are bounded (files looked at, files searched, file
size, matches) with the bound stated.
A walk over a directory skips files that hold keys (ssh keys, a Hermes
home's .env and state.db, another profile's home: whatever the approval
gate would ask about before reading it) and says how many it skipped; one
such file searched by name goes through the gate like read_file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hermes.backends.base import Backend, Entry
from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.risk import classify_read
from hermes.tools.base import Tool, schema
from hermes.tools.files import SNIFF_BYTES, int_arg, resolve, split_lines

SEARCH_MAX_FILE_BYTES = 5_000_000  # bigger files are skipped
SEARCH_MAX_FILES = 20_000  # files searched per call
SEARCH_MAX_SCANNED = 200_000  # file names looked at per call (glob or not)
SEARCH_LINE_CHARS = 300
BATCH = 200  # files read per backend call
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".mypy_cache", ".tox"}
)


def _glob_match(glob: str, rel: str, name: str) -> bool:
    bare = glob[3:] if glob.startswith("**/") else glob
    return any(fnmatch.fnmatch(s, p) for s in (name, rel) for p in (glob, bare))


def guarded(ctx: TurnContext) -> Callable[[str], bool]:
    """Whether a file (by its real path) holds secrets the gate would ask about
    before reading it."""
    # the paths given are already resolved: no need to look at the disk again
    where = dataclasses.replace(ctx.where(), probe=None)
    return lambda real: classify_read(real, where).risk != "none"


async def _real_paths(
    backend: Backend, real_base: str, entries: list[Entry], base: Path
) -> list[str]:
    """Where each walked file really is: under the resolved base (the walk does
    not enter linked directories), or where the link points."""
    return [
        await backend.realpath(base / e.path) if e.kind == "link" else f"{real_base}/{e.path}"
        for e in entries
    ]


def _matches(regex: re.Pattern[str], shown: str, data: bytes, hits: list[str], most: int) -> bool:
    """Add the file's matching lines to `hits`; False once `most` is passed."""
    if b"\0" in data[:SNIFF_BYTES]:
        return True
    for n, line in enumerate(split_lines(data.decode("utf-8", errors="replace")), 1):
        if regex.search(line):
            if len(hits) == most:
                hits.append(f"[stopped at {most} matches; narrow the pattern, path or glob]")
                return False
            hits.append(f"{shown}:{n}: {line.rstrip()[:SEARCH_LINE_CHARS]}")
    return True


async def _search(
    ctx: TurnContext, regex: re.Pattern[str], base: Path, glob: str | None, most: int
) -> str:
    backend, cwd = ctx.backend, ctx.cwd
    st = await backend.stat(base)
    if st is None:
        raise ToolError(f"no such file or directory: {base}")
    walked = st.kind == "dir"
    skipped = 0
    if walked:
        entries, complete = await backend.walk(base, SKIP_DIRS, SEARCH_MAX_SCANNED)
        if glob:
            entries = [e for e in entries if _glob_match(glob, e.path, e.path.rsplit("/", 1)[-1])]
        if len(entries) > SEARCH_MAX_FILES:
            entries, complete = entries[:SEARCH_MAX_FILES], False
        secret = guarded(ctx)
        real_base = (await backend.realpath(base)).rstrip("/")
        reals = await _real_paths(backend, real_base, entries, base)
        kept = [e for e, real in zip(entries, reals, strict=True) if not secret(real)]
        skipped = len(entries) - len(kept)
        files = [base / e.path for e in kept]
    else:
        files, complete = [base], True
    hits: list[str] = []
    for at in range(0, len(files), BATCH):
        batch = files[at : at + BATCH]
        contents = await backend.read_many(batch, SEARCH_MAX_FILE_BYTES)
        for path, data in zip(batch, contents, strict=True):
            if data is None:
                continue
            shown = path.relative_to(cwd) if path.is_relative_to(cwd) else path
            if not await asyncio.to_thread(_matches, regex, str(shown), data, hits, most):
                return "\n".join(hits)
    searched = len(files) + skipped
    cut = "" if complete else f"[searched only the first {searched:,} files; narrow the path]"
    if skipped:
        cut = (cut + "\n" if cut else "") + (
            f"[skipped {skipped:,} file(s) holding keys or Hermes' own state; read one by "
            "name if you need it: the user is asked first]"
        )
    if not hits:
        where = f"{base} (glob {glob})" if glob else str(base)
        found = f"No matches for {regex.pattern!r} in {where}; {searched:,} files searched."
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
    await ctx.backend.open()
    base = resolve(args.get("path") or ".", ctx)
    glob = args.get("glob")
    if glob is not None and not isinstance(glob, str):
        raise ToolError("glob must be a string such as '*.py'")
    most = int_arg(args, "max_results", 50, 1, 1000)
    return await _search(ctx, regex, base, glob or None, most)


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
