"""A real PostgreSQL server for the tests: the server binaries from Debian's
`postgresql` package (installed by `scripts/install test`; or any `initdb`,
`pg_ctl` and `postgres` on PATH), initialised into a temporary directory and
started on a free loopback port with fsync off. One server per test process;
each test gets a database of its own (`PgServer.database()`)."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sshd_helpers import free_port

USER = "hermes"
START = ["-w", "-t", "30", "start"]  # wait until it serves


def pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    if versions:
        return versions[-1]
    raise AssertionError(f"PostgreSQL's {name} is missing: run scripts/install test")


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def _as_server_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as `nobody` then."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


class PgServer:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hermes-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, "nobody", "nogroup")
        self.port = 0
        self._names = itertools.count(1)
        self._run(
            [
                pg_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(
            _as_server_user() + argv, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            raise AssertionError(f"{argv[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        for _ in range(5):  # a free port can be taken before the server binds it
            self.port = free_port()
            options = (
                f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
            )
            try:
                self._run(
                    [
                        pg_bin("pg_ctl"),
                        "-D",
                        str(self.data),
                        "-o",
                        options,
                        "-l",
                        str(self.log),
                        *START,
                    ]
                )
                return
            except AssertionError:
                if "could not bind" not in self.log.read_text(errors="replace"):
                    raise
        raise AssertionError(f"PostgreSQL did not start: {self.log.read_text()[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run([pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
