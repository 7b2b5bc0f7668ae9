"""Log files of a home: logs/agent.log (the CLI), logs/gateway.log and
logs/gateway.error.log (warnings and errors only) of the gateway.

One line per record: time, level, logger, message. Rotated at 5 MB, 3 kept.
Nothing is printed to the terminal; errors the user must see are printed by
the front end as one line.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_file_logging(home: Path, name: str = "agent", level: int = logging.INFO) -> Path:
    """Send the `hermes` loggers to HOME/logs/NAME.log; returns the file's path."""
    path = home / "logs" / f"{name}.log"
    logger = logging.getLogger("hermes")
    for handler in list(logger.handlers):
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path  # already set up
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return path  # logging is a help, never a reason to fail
    handler.setFormatter(logging.Formatter(FORMAT))
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
