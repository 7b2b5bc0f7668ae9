"""Structured log files and `hermes logs`, as a user reads them: records written
by the logging setup in this process, read back by `hermes logs` as a real
command (text, --json, filters, rotated files, old plain-text lines, -f)."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from hermes.logs import JsonFormatter, setup_file_logging
from tests.cli_helpers import run_hermes
from tests.tools_helpers import wait_until

T0 = datetime(2026, 11, 21, 10, 0, 1, 123000, tzinfo=UTC).timestamp()


hermes = partial(run_hermes, clean=True, env={"TZ": "UTC"}, timeout=30)


@pytest.fixture
def logging_to() -> Iterator[Callable[..., Path]]:
    """setup_file_logging, undone after the test (the `hermes` logger is global)."""
    logger = logging.getLogger("hermes")
    before, level = list(logger.handlers), logger.level
    yield setup_file_logging
    for handler in [h for h in logger.handlers if h not in before]:
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(level)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "hermes"


def emit(level: int, msg: str, at: float, *, error: bool = False) -> None:
    """One record of the `hermes.gateway` logger created at AT (epoch seconds)."""
    exc_info = None
    if error:
        try:
            raise ConnectionError("network down")
        except ConnectionError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("hermes.gateway", level, __file__, 1, msg, None, exc_info)
    record.created = at
    logging.getLogger("hermes.gateway").handle(record)


def json_line(level: str, msg: str, at: float) -> str:
    record = logging.makeLogRecord({"name": "hermes.gateway", "levelname": level, "msg": msg})
    record.created = at
    return JsonFormatter("default").format(record)


def test_records_are_json_lines_with_the_profile(
    root: Path, logging_to: Callable[..., Path]
) -> None:
    home = root / "profiles" / "coder"
    log_path = logging_to(home, "gateway", profile="coder")
    error_path = logging_to(home, "gateway.error", logging.WARNING, profile="coder")
    emit(logging.INFO, "two\nlines", T0)
    emit(logging.ERROR, "poll failed", T0 + 1, error=True)
    lines = log_path.read_text().splitlines()
    assert len(lines) == 2  # a newline in a message never splits a record
    first, second = (json.loads(line) for line in lines)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", first["ts"])
    assert datetime.fromisoformat(first["ts"]).timestamp() == pytest.approx(T0, abs=0.001)
    assert first == first | {"level": "INFO", "logger": "hermes.gateway", "profile": "coder"}
    assert first["msg"] == "two\nlines" and "exc" not in first
    assert second["exc"].startswith("Traceback (most recent call last):")
    assert second["exc"].endswith("ConnectionError: network down")
    assert [json.loads(x)["msg"] for x in error_path.read_text().splitlines()] == ["poll failed"]


def test_the_profile_defaults_to_the_homes_place(
    root: Path, logging_to: Callable[..., Path]
) -> None:
    """Callers that pass only the home (the CLI) still tag their records right."""
    for home, name in ((root, "default"), (root / "profiles" / "writer", "writer")):
        path = logging_to(home, "agent")
        emit(logging.INFO, f"hello from {name}", T0)
        assert json.loads(path.read_text().splitlines()[-1])["profile"] == name


def test_logs_prints_readable_lines_and_json(root: Path, logging_to: Callable[..., Path]) -> None:
    path = logging_to(root, "gateway")
    emit(logging.INFO, "gateway up", T0)
    emit(logging.ERROR, "poll failed", T0 + 1.5, error=True)
    text = hermes(root, "logs")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "2026-11-21 10:00:01.123 INFO hermes.gateway: gateway up"
    assert lines[1] == "2026-11-21 10:00:02.623 ERROR hermes.gateway: poll failed"
    assert lines[2] == "    Traceback (most recent call last):"
    assert lines[-1] == "    ConnectionError: network down"
    as_json = hermes(root, "logs", "--json")
    objects = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert objects == [json.loads(line) for line in path.read_text().splitlines()]


def test_level_since_and_count_filter(root: Path, logging_to: Callable[..., Path]) -> None:
    logging_to(root, "gateway", logging.DEBUG)
    now = time.time()
    emit(logging.WARNING, "old warning", now - 3 * 3600)
    emit(logging.DEBUG, "chatter", now - 20 * 60)
    emit(logging.INFO, "recent info", now - 15 * 60)
    emit(logging.WARNING, "recent warning", now - 2 * 60)
    emit(logging.CRITICAL, "recent critical", now - 60)

    def shown(*args: str) -> list[str]:
        result = hermes(root, "logs", "--json", *args)
        assert result.returncode == 0, result.stderr
        return [json.loads(line)["msg"] for line in result.stdout.splitlines()]

    assert shown("--level", "WARNING") == ["old warning", "recent warning", "recent critical"]
    assert shown("--since", "1h") == ["chatter", "recent info", "recent warning", "recent critical"]
    assert shown("--since", "10m", "--level", "warning") == ["recent warning", "recent critical"]
    assert shown("--level", "info", "-n", "2") == ["recent warning", "recent critical"]
    iso = datetime.fromtimestamp(now - 16 * 60, UTC).isoformat()
    assert shown("--since", iso, "-n", "1") == ["recent critical"]
    assert shown("--since", iso)[0] == "recent info"


def test_filters_that_leave_nothing_say_so_on_stderr(
    root: Path, logging_to: Callable[..., Path]
) -> None:
    logging_to(root, "gateway")
    emit(logging.INFO, "gateway up", time.time() - 7200)
    result = hermes(root, "logs", "--level", "warning")
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "no log lines at level warning or above in gateway.log\n"
    result = hermes(root, "logs", "--json", "--since", "1h", "--level", "INFO")
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "no log lines at level info or above since 1h in gateway.log\n"
    assert hermes(root, "logs", "--level", "info").stderr == ""


def test_rotated_files_are_read_in_time_order(root: Path) -> None:
    logs = root / "logs"
    logs.mkdir(parents=True)
    files = (("gateway.log.2", (1, 2)), ("gateway.log.1", (3, 4)), ("gateway.log", (5,)))
    for name, numbers in files:
        lines = [json_line("INFO", f"record {n}", T0 + n) for n in numbers]
        (logs / name).write_text("\n".join(lines) + "\n")
    result = hermes(root, "logs")
    assert [line.split(": ")[-1] for line in result.stdout.splitlines()] == [
        f"record {n}" for n in range(1, 6)
    ]
    last_three = hermes(root, "logs", "-n", "3").stdout.splitlines()
    assert [line.split(": ")[-1] for line in last_three] == ["record 3", "record 4", "record 5"]


def test_plain_text_lines_are_shown_as_they_are(root: Path) -> None:
    """Logs of an older Hermes and torn lines: printed as is, filtered where they say
    their level, never a crash."""
    old = [
        "2026-11-20 09:00:00,001 INFO hermes.gateway: started",
        "2026-11-20 09:00:05,002 ERROR hermes.gateway: crashed",
        "Traceback (most recent call last):",
        "ValueError: bad",
    ]
    lines = [*old, json_line("WARNING", "new format", T0), '{"ts": "2026-11-21T10:0', "\x00junk"]
    (root / "logs").mkdir(parents=True)
    (root / "logs" / "gateway.log").write_bytes("\n".join(lines).encode() + b"\n\xff\xfe\n")
    result = hermes(root, "logs")
    assert result.returncode == 0, result.stderr
    shown = result.stdout.splitlines()
    assert shown[:4] == old
    assert shown[4] == "2026-11-21 10:00:01.123 WARNING hermes.gateway: new format"
    assert shown[5:7] == ['{"ts": "2026-11-21T10:0', "\x00junk"]
    errors = hermes(root, "logs", "--level", "error").stdout.splitlines()
    assert errors == old[1:]  # the old ERROR line and the traceback under it
    raw = [json.loads(x) for x in hermes(root, "logs", "--json", "-n", "8").stdout.splitlines()]
    assert raw[0] == {"raw": old[0]}
    assert raw[4]["msg"] == "new format"


def test_a_missing_log_says_where_it_would_be(root: Path) -> None:
    (root / "profiles" / "coder").mkdir(parents=True)
    result = hermes(root, "-p", "coder", "logs")
    assert result.returncode == 1
    path = root / "profiles" / "coder" / "logs" / "gateway.log"
    assert result.stderr == (
        f"hermes: the gateway of profile coder has not logged yet ({path} does not exist); "
        "start it: hermes -p coder gateway run\n"
    )
    assert result.stdout == ""
    agent = hermes(root, "logs", "--file", "agent")
    assert agent.returncode == 1
    assert str(root / "logs" / "agent.log") in agent.stderr


def test_bad_filters_are_one_line_errors(root: Path, logging_to: Callable[..., Path]) -> None:
    logging_to(root, "gateway")
    emit(logging.INFO, "up", T0)
    since = hermes(root, "logs", "--since", "yesterday")
    assert since.returncode == 1
    assert since.stderr.startswith("hermes: --since 'yesterday' is not a time: use 10m")
    level = hermes(root, "logs", "--level", "loud")
    assert level.returncode == 1
    assert level.stderr == (
        "hermes: unknown log level 'loud': use debug, info, warning, error or critical\n"
    )


class Follower:
    """`hermes logs -f` as a subprocess; a thread collects what it prints."""

    def __init__(self, root: Path, *args: str) -> None:
        env = {"PATH": os.environ.get("PATH", ""), "HERMES_HOME": str(root), "TZ": "UTC"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hermes", "logs", "-f", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


async def test_follow_prints_new_records_through_rotation(
    root: Path, logging_to: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hermes.logs.MAX_BYTES", 600)  # rotate every few records
    path = logging_to(root, "gateway")
    emit(logging.INFO, "before 1", T0)
    emit(logging.INFO, "before 2", T0)
    follower = Follower(root, "-n", "1", "--level", "info")
    try:
        await wait_until(lambda: len(follower.lines) == 1, 20, why=lambda: str(follower.lines))
        assert follower.lines == ["2026-11-21 10:00:01.123 INFO hermes.gateway: before 2"]
        expected = []
        for n in range(12):
            emit(logging.DEBUG if n % 4 == 0 else logging.INFO, f"after {n}", T0 + 60)
            if n % 4:
                expected.append(f"2026-11-21 10:01:01.123 INFO hermes.gateway: after {n}")
            if n == 5:  # the follower is mid-file when the rotations start
                await wait_until(lambda: len(follower.lines) == 5, 20)
        assert path.with_name("gateway.log.2").exists()  # rotated (at least) twice
        await wait_until(
            lambda: follower.lines[1:] == expected, 20, why=lambda: "\n".join(follower.lines)
        )
        assert follower.interrupt() == 0
        assert follower.proc.stderr is not None
        assert follower.proc.stderr.read() == ""
    finally:
        follower.kill()
