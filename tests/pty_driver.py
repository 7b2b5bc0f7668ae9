"""Drive `hermes ...` in a pseudo-terminal, as a user at a keyboard would (stdlib only).

The child gets the pty as its controlling terminal, so Ctrl-C typed there is a
real SIGINT, and prompt_toolkit sees a real terminal.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

# Make the pty the controlling terminal of the (new session's) child, then run hermes.
TRAMPOLINE = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, '-m', 'hermes', *sys.argv[1:]])"
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\x1b\][^\x07]*\x07|\r")


class Terminal:
    """`hermes ARGS` on a pty; `expect` waits (with a deadline) for text on the screen."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", TRAMPOLINE, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        os.close(slave)
        self.fd = master
        self.raw = ""
        self.pos = 0

    @property
    def screen(self) -> str:
        """Everything written so far, without escape sequences."""
        return ANSI.sub("", self.raw)

    def _pump(self, timeout: float) -> bool:
        """Read what is there; False once the child closed the terminal."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return False
        self.raw += data.decode("utf-8", "replace")
        return bool(data)

    def expect(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait for PATTERN after the previous match."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            found = regex.search(self.screen, self.pos)
            if found:
                self.pos = found.end()
                return found
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(min(left, 0.5)):
                raise AssertionError(f"{pattern!r} never appeared; screen:\n{self.screen[-3000:]}")

    def prompt(self) -> None:
        self.expect("›")

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            if not self._pump(0.2):
                break
        try:
            return self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            screen = self.screen[-3000:]
            raise AssertionError(f"still running after {timeout} s; screen:\n{screen}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.fd)
