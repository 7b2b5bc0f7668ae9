"""Log files of a home: logs/agent.log (the CLI), logs/gateway.log and
logs/gateway.error.log (warnings and errors only) of the gateway.

One JSON object per line (`hermes logs` reads them back, and so can jq):
`ts` (ISO 8601, milliseconds, with the UTC offset), `level`, `logger`, `msg`,
`profile`, and `exc` (the traceback text) when the record carries one. A
newline inside a message is escaped by JSON, so a line is always one record.
Rotated at 5 MB, 3 kept (NAME.log.1 is the newest backup). Nothing is printed
to the terminal; errors the user must see are printed by the front end as one
line.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path

MAX_BYTES = 5_000_000
BACKUPS = 3
# The plain one-line form, for a terminal or a client's stderr (`hermes mcp serve --stdio`).
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# The profile a routed gateway serves, set around its work (hermes.gateway.core);
# None: the process's own profile. Log handlers use it to pick their records.
SERVING: ContextVar[str | None] = ContextVar("hermes_serving_profile", default=None)


class _ServedBy(logging.Filter):
    """Keeps the records written while serving `profile` (`own`: also those of no
    routed profile, i.e. the process's own)."""

    def __init__(self, profile: str, own: bool) -> None:
        super().__init__()
        self.profile, self.own = profile, own

    def filter(self, record: logging.LogRecord) -> bool:
        serving = SERVING.get()
        return serving == self.profile or (self.own and serving is None)


def profile_of(home: Path) -> str:
    """The profile name of HOME as the layout gives it: `<root>/profiles/NAME`
    is NAME, any other home is the default profile."""
    return home.name if home.parent.name == "profiles" else "default"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line tagged with the profile that wrote it (and,
    for replicas sharing one home's logs, the replica)."""

    def __init__(self, profile: str, replica: str | None = None) -> None:
        super().__init__()
        self.profile = profile
        self.replica = replica

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).astimezone()
        data: dict[str, str] = {
            "ts": stamp.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "profile": self.profile,
        }
        if self.replica is not None:
            data["replica"] = self.replica
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False)


def setup_file_logging(
    home: Path,
    name: str = "agent",
    level: int = logging.INFO,
    profile: str | None = None,
    *,
    routed: bool = False,
    replica: str | None = None,
) -> Path:
    """Send the `hermes` loggers to HOME/logs/NAME.log; returns the file's path.

    PROFILE tags every record (default: the name HOME's place in the layout gives).
    routed: the file takes only what is logged while serving PROFILE for a
    gateway of another profile (see SERVING); else also the process's own records.
    replica: the cluster replica writing (HERMES_REPLICA), named in every line."""
    path = home / "logs" / f"{name}.log"
    logger = logging.getLogger("hermes")
    for handler in list(logger.handlers):
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path  # already set up
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError:
        return path  # logging is a help, never a reason to fail
    profile = profile or profile_of(home)
    handler.setFormatter(JsonFormatter(profile, replica))
    handler.addFilter(_ServedBy(profile, own=not routed))
    handler.setLevel(level)
    logger.addHandler(handler)
    current = logger.level
    logger.setLevel(level if current == logging.NOTSET else min(current, level))
    logger.propagate = False
    return path


class _Reroute(logging.Handler):
    """Re-logs a library's records as one of ours, its chatter (INFO and below) at DEBUG."""

    def __init__(self, into: logging.Logger) -> None:
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        level = logging.DEBUG if record.levelno <= logging.INFO else record.levelno
        self.into.log(level, "%s", record.getMessage(), exc_info=record.exc_info)


def reroute(library: str, into: logging.Logger) -> None:
    """Send the `library` logger's records to `into` (so they reach our log files,
    never the terminal). Idempotent."""
    source = logging.getLogger(library)
    if not any(isinstance(h, _Reroute) for h in source.handlers):
        source.addHandler(_Reroute(into))
    source.propagate = False
