"""`hermes logs [-f] [--level L] [--json] [--since T] [--file gateway|error|agent] [-n N]`.

Reads the profile's JSON-lines logs (see hermes.logs) across the rotated files
(NAME.log.3 … NAME.log.1, NAME.log: oldest to newest) and prints the last N
records that pass the filters, as readable lines (the traceback indented under
its record) or, with --json, as the JSON objects themselves. `-f` then keeps
printing new records, following the file through rotation, until Ctrl+C.

Lines that are not JSON (logs of an older Hermes, or a half-written line) are
shown as they are: a plain `2026-11-21 10:00:01,123 LEVEL name: msg` line gives
its time and level to the filters, and the traceback lines after it inherit
them. With --json such a line is printed as {"raw": LINE}, so the output stays
one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from hermes.errors import HermesError
from hermes.logs import BACKUPS

FILES = {"gateway": "gateway.log", "error": "gateway.error.log", "agent": "agent.log"}
LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "critical": 50}
_SPAN = re.compile(r"(\d+)\s*([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PLAIN = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ([A-Z]+) ")
POLL_SECONDS = 0.2  # how often -f looks for new lines


@dataclass(frozen=True)
class Entry:
    """One line of a log file: a JSON record (`data`), or a plain line."""

    line: str
    data: dict[str, object] | None
    when: datetime | None
    level: int | None


@dataclass(frozen=True)
class Filters:
    level: int | None = None
    since: datetime | None = None

    def keep(self, entry: Entry) -> bool:
        """Entries whose level or time is unknown are kept: better seen than hidden."""
        if self.level is not None and entry.level is not None and entry.level < self.level:
            return False
        return not (self.since is not None and entry.when is not None and entry.when < self.since)


def parse_level(text: str) -> int:
    level = LEVELS.get(text.strip().lower())
    if level is None:
        raise HermesError(
            f"unknown log level {text!r}: use debug, info, warning, error or critical"
        )
    return level


def parse_since(text: str, now: datetime) -> datetime:
    """`10m`, `2h`, `1d`, `30s`, `1w` before NOW, or an ISO time (local if no offset)."""
    span = _SPAN.fullmatch(text.strip().lower())
    if span is not None:
        return now - timedelta(seconds=int(span[1]) * _SECONDS[span[2]])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HermesError(
            f"--since {text!r} is not a time: use 10m, 2h, 1d or an ISO time like 2026-11-21T10:00"
        ) from None
    return when if when.tzinfo is not None else when.astimezone()


def _time(value: object) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.astimezone()


class LineParser:
    """Turns lines into entries; a plain line that is no record of its own (a
    traceback line of an old log) takes the time and level of the record above."""

    def __init__(self) -> None:
        self._when: datetime | None = None
        self._level: int | None = None

    def parse(self, line: str) -> Entry:
        data: object = None
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                data = None
        if isinstance(data, dict):
            self._when = _time(data.get("ts"))
            self._level = LEVELS.get(str(data.get("level", "")).lower())
            return Entry(line, data, self._when, self._level)
        plain = _PLAIN.match(line)
        if plain is not None:
            self._when = _time(f"{plain[1]}.{plain[2]}")
            self._level = LEVELS.get(plain[3].lower())
        return Entry(line, None, self._when, self._level)


def _stamp(value: object) -> str:
    when = _time(value)
    if when is None:
        return str(value)
    local = when.astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 1000:03d}"


def render(entry: Entry, as_json: bool) -> str:
    """The line(s) to print for ENTRY."""
    if as_json:
        return entry.line if entry.data is not None else json.dumps({"raw": entry.line})
    if entry.data is None:
        return entry.line
    data = entry.data
    msg = str(data.get("msg", ""))
    head = f"{_stamp(data.get('ts', ''))} {data.get('level', '?')} {data.get('logger', '?')}: "
    lines = (head + msg).splitlines() or [head]
    for extra in ("exc", "stack"):
        if data.get(extra):
            lines += str(data[extra]).splitlines()
    return "\n".join([lines[0], *("    " + line for line in lines[1:])])


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines()


def last_entries(
    older: list[Path], current: list[str], filters: Filters, count: int
) -> list[Entry]:
    """The last COUNT entries passing FILTERS: OLDER files (oldest first), then
    the CURRENT file's lines. Files are read newest first, only as far as needed."""
    found: list[Entry] = []
    for lines in _newest_first(older, current):
        parser = LineParser()
        kept = [e for e in map(parser.parse, lines) if filters.keep(e)]
        found = kept[max(0, len(kept) - (count - len(found))) :] + found
        if len(found) >= count:
            break
    return found


def _newest_first(older: list[Path], current: list[str]) -> Iterator[list[str]]:
    yield current
    for path in reversed(older):
        yield _read(path)


def _read(path: Path) -> list[str]:
    try:
        return _lines(path.read_bytes())
    except OSError:
        return []  # rotated away while we read: its records are in the next file


def follow(handle: BinaryIO, path: Path, pending: bytes) -> Iterator[str]:
    """Lines appended to the file at PATH, open as HANDLE (read to its end; PENDING
    is a partial last line). When the file is renamed away and recreated (rotation)
    or truncated, carries on with the new content. Runs until interrupted."""
    try:
        while True:
            chunk = handle.read()
            if chunk:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    yield raw.decode("utf-8", errors="replace")
                continue
            try:
                now = os.stat(path)
            except FileNotFoundError:  # between the rename and the new file
                time.sleep(POLL_SECONDS)
                continue
            if now.st_ino != os.fstat(handle.fileno()).st_ino:
                pending += handle.read()  # written to the old file just before the rename
                handle.close()
                handle = path.open("rb")
            elif now.st_size < handle.tell():  # truncated in place
                handle.seek(0)
                pending = b""
            else:
                time.sleep(POLL_SECONDS)
    finally:
        handle.close()


def nothing_found(args: argparse.Namespace, file_name: str) -> str:
    """The note for no record: which filters left nothing (on stderr; exit 0)."""
    wanted = []
    if args.level:
        wanted.append(f"at level {args.level.strip().lower()} or above")
    if args.since:
        wanted.append(f"since {args.since}")
    found = f"no log lines {' '.join(wanted)}" if wanted else "no log lines yet"
    waiting = "; waiting for new ones (Ctrl+C ends)" if args.follow else ""
    return f"{found} in {file_name}{waiting}"


def _missing(name: str, which: str, path: Path) -> HermesError:
    flag = "" if name == "default" else f"-p {name} "
    if which == "agent":
        return HermesError(
            f"profile {name} has no agent log yet ({path} does not exist); "
            f"it is written when you chat: hermes {flag}chat"
        )
    return HermesError(
        f"the gateway of profile {name} has not logged yet ({path} does not exist); "
        f"start it: hermes {flag}gateway run"
    )


def cmd_logs(args: argparse.Namespace) -> int:
    from hermes.home import resolve_home

    name, home = resolve_home(getattr(args, "profile", None), dict(os.environ))
    filters = Filters(
        level=parse_level(args.level) if args.level else None,
        since=parse_since(args.since, datetime.now().astimezone()) if args.since else None,
    )
    if args.lines < 0:
        raise HermesError(f"-n {args.lines}: give a number of records, 0 or more")
    path = home / "logs" / FILES[args.file]
    older = [p for i in range(BACKUPS, 0, -1) if (p := path.with_name(f"{path.name}.{i}")).exists()]
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        if not older or args.follow:
            raise _missing(name, args.file, path) from None
        handle = None
    try:
        data = handle.read() if handle is not None else b""
        whole, _, pending = data.rpartition(b"\n")
        if not args.follow:
            whole, pending = data, b""
        entries = last_entries(older, _lines(whole), filters, args.lines)
        for entry in entries:
            print(render(entry, args.json))
        if not entries and args.lines > 0:  # say so: an empty output looks like a failure
            print(nothing_found(args, path.name), file=sys.stderr)
        if handle is None or not args.follow:
            return 0
        sys.stdout.flush()
        parser = LineParser()
        for line in follow(handle, path, pending):
            entry = parser.parse(line)
            if filters.keep(entry):
                print(render(entry, args.json), flush=True)
    except KeyboardInterrupt:  # Ctrl+C is how -f ends
        return 0
    finally:
        if handle is not None:
            handle.close()
    return 0
