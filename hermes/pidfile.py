"""The files by which a running gateway is found: gateway.pid and gateway.json.

`gateway.pid` is locked (flock) for as long as the gateway of a home runs, with its
pid in it: a second gateway refuses to start, and the CLI (`hermes send`, `cron`,
`doctor`, `service`, `profile delete`, ...) can tell whether one runs without
trusting a stale file. `gateway.json` says where it serves and what its platforms
are doing; the gateway rewrites it as that changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
from collections.abc import Iterator, Mapping
from pathlib import Path

from hermes.errors import HermesError

STATE_FILE = "gateway.json"
REPLICA_VARIABLE = "HERMES_REPLICA"
_REPLICA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def replica_name() -> str | None:
    """This process's replica name (HERMES_REPLICA), None outside a cluster."""
    name = os.environ.get(REPLICA_VARIABLE, "").strip()
    if not name:
        return None
    if not _REPLICA_NAME.fullmatch(name):
        raise HermesError(
            f"{REPLICA_VARIABLE}={name!r} is not a replica name: use letters, digits,"
            " '.', '-' or '_' (e.g. the pod's or container's name)"
        )
    return name


def runtime_dir(home: Path) -> Path:
    """Where this machine's gateway of `home` keeps gateway.pid and gateway.json:
    the home itself, or, for replicas of a cluster that share one home volume
    (docs/scale-out.md), HOME/replicas/NAME with NAME from HERMES_REPLICA."""
    name = replica_name()
    return home if name is None else home / "replicas" / name


@contextlib.contextmanager
def home_lock(home: Path) -> Iterator[None]:
    """Hold HOME/gateway.pid locked (flock) with our pid in it. The kernel drops
    the lock when the process dies, so a stale file never blocks a start. (A
    replica of a cluster locks its own file: see runtime_dir.)"""
    run = runtime_dir(home)
    run.mkdir(parents=True, exist_ok=True)
    path = run / "gateway.pid"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise HermesError(
                f"a gateway is already running for {home} (pid {pid}); "
                f"stop it first (kill {pid}) or use another profile with -p NAME"
                " (replicas of a cluster sharing this home: give each its own"
                f" {REPLICA_VARIABLE})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


def read_state(home: Path) -> dict[str, object] | None:
    """gateway.json of a running gateway (None if none runs for this home)."""
    try:
        data = json.loads((runtime_dir(home) / STATE_FILE).read_text())
        pid = int(data["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def running_pid(home: Path) -> int | None:
    """The pid of the gateway running for `home`, or None. Read from gateway.pid
    only while its lock is held, so a stale file (a crash, a SIGKILL) never
    names a process that is not our gateway."""
    try:
        fd = os.open(runtime_dir(home) / "gateway.pid", os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a gateway runs, and the pid in the file is its own
            pid = int(os.pread(fd, 32, 0).decode(errors="replace").strip() or 0)
            return pid if pid > 0 else None
        return None
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)  # also drops our shared lock, if we got it


def poke(home: Path) -> bool:
    """Tell the gateway of `home`, if one runs, that cron jobs or queued runs changed
    (SIGUSR1 wakes its scheduler). False if no gateway runs: it reads the jobs
    when it starts."""
    pid = running_pid(home)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGUSR1)
    except OSError:
        return False
    return True


def binds_everywhere(host: str) -> bool:
    """Whether server.host HOST means every address of the machine."""
    return host in ("0.0.0.0", "::", "")


def url_host(host: str) -> str:
    if binds_everywhere(host):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def write_state(path: Path, data: Mapping[str, object]) -> None:
    """Replace gateway.json atomically (0600) with DATA plus our pid."""
    data = {"pid": os.getpid(), **data}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.chmod(0o600)
    tmp.replace(path)
