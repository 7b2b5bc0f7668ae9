"""The ssh backend's connection: the OpenSSH client with one shared master
connection per destination (ControlMaster, its socket in a private directory
under the Hermes home), host keys pinned on first use in HOME/ssh/known_hosts
(a changed key is refused), the profile's key, and a new master when the old
one died (the next command finds its socket dead and connects again).

No extra dependency: only the `ssh` binary."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from hermes.aio import within
from hermes.backends.base import BackendError

PERSIST_SECONDS = 600  # an unused master connection ends after this long
# a unix socket path must fit in sun_path (108 bytes with its NUL on Linux), and ssh
# first binds the master at the path plus a 17-character random suffix
SOCKET_PATH_MAX = 90


class SshLink:
    """How to reach DESTINATION with ssh; `argv(remote)` runs a remote command
    over the shared master (started by `connect`)."""

    def __init__(
        self,
        host: str,
        *,
        user: str | None,
        port: int,
        key: Path | None,
        state_dir: Path,
        connect_timeout: int = 10,
    ) -> None:
        self.host, self.user, self.port, self.key = host, user, port, key
        self.state_dir = state_dir
        self.known_hosts = state_dir / "known_hosts"
        self.connect_timeout = connect_timeout
        tag = hashlib.sha256(f"{user}@{host}:{port}:{state_dir}".encode()).hexdigest()
        control = state_dir / f"cm-{tag[:10]}"
        if len(str(control)) > SOCKET_PATH_MAX:  # a deep home: a private dir in /tmp
            control = Path(tempfile.gettempdir()) / f"hermes-ssh-{os.getuid()}" / f"cm-{tag[:16]}"
        self.control = control
        self._lock = asyncio.Lock()

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def describe(self) -> str:
        return f"ssh {self.destination}:{self.port}"

    def options(self) -> list[str]:
        opts = {
            "BatchMode": "yes",  # never prompt: a missing key is an error, not a hang
            "StrictHostKeyChecking": "accept-new",  # pin on first use, refuse a change
            "UserKnownHostsFile": str(self.known_hosts),
            "GlobalKnownHostsFile": "/dev/null",
            "HashKnownHosts": "no",  # the pinned file says which server each key is
            "ControlPath": str(self.control),
            "ConnectTimeout": str(self.connect_timeout),
            "ServerAliveInterval": "15",  # a dead link ends the master within a minute
            "ServerAliveCountMax": "3",
            "LogLevel": "ERROR",
        }
        if self.key is not None:
            opts["IdentitiesOnly"] = "yes"
        out = ["-p", str(self.port)]
        if self.key is not None:
            out += ["-i", str(self.key)]
        for name, value in opts.items():
            out += ["-o", f"{name}={value}"]
        return out

    def argv(self, remote: str) -> list[str]:
        """The local command that runs REMOTE (a shell line) over the master."""
        return [_ssh(), *self.options(), "-o", "ControlMaster=no", "-T", self.destination, remote]

    def alive(self) -> bool:
        """Whether a master listens on the control socket (no process started)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(str(self.control))
            except OSError:
                return False
        return True

    async def connect(self) -> None:
        """Start the master connection unless one is alive (BackendError if it fails)."""
        if self.alive():
            return
        async with self._lock:
            if self.alive():
                return
            for folder in (self.state_dir, self.control.parent):
                folder.mkdir(parents=True, exist_ok=True)
                folder.chmod(0o700)
            with contextlib.suppress(FileNotFoundError):
                self.control.unlink()  # a dead master's socket
            if self.key is not None and not self.key.is_file():
                raise BackendError(
                    f"{self.describe()}: the key file {self.key} does not exist; set "
                    "terminal.ssh.key to your private key (`hermes config set "
                    "terminal.ssh.key ~/.ssh/id_ed25519`)"
                )
            log_path = self.state_dir / "master.log"
            with log_path.open("wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    _ssh(),
                    *self.options(),
                    "-o",
                    "ControlMaster=yes",
                    "-o",
                    f"ControlPersist={PERSIST_SECONDS}",
                    "-N",
                    "-f",  # to the background once authenticated: the exit says how it went
                    self.destination,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,  # the master keeps it open: never a pipe we read to the end
                )
                try:
                    code = await within(proc.wait(), self.connect_timeout + 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
                    code = -1
            if code != 0:
                raise self.error(log_path.read_text(errors="replace"))

    def error(self, stderr: str) -> BackendError:
        """A one-line error for what ssh printed when it could not connect."""
        text = " ".join(stderr.split())
        where = self.describe()
        if "IDENTIFICATION HAS CHANGED" in text or "verification failed" in text:
            return BackendError(
                f"{where}: the server's host key changed since it was first pinned in "
                f"{self.known_hosts}; if the server was reinstalled, remove the old key with "
                f"`ssh-keygen -R '[{self.host}]:{self.port}' -f {self.known_hosts}`, else "
                "someone may be intercepting the connection"
            )
        if "Permission denied" in text:
            key = f"the key {self.key}" if self.key else "your default keys"
            return BackendError(
                f"{where}: authentication failed with {key}; add its public key to "
                "~/.ssh/authorized_keys on the server or set terminal.ssh.key / "
                "terminal.ssh.user"
            )
        for sign in ("Connection refused", "timed out", "No route", "Could not resolve",
                     "unreachable", "Connection closed", "Connection reset"):  # fmt: skip
            if sign in text:
                return BackendError(
                    f"{where} is unreachable ({text[:200]}); check terminal.ssh.host and "
                    "terminal.ssh.port and that sshd runs there"
                )
        return BackendError(f"{where}: could not connect: {text[:300] or 'no reason given'}")

    def run_sync(self, remote: str, timeout: float = 15.0) -> subprocess.CompletedProcess[bytes]:
        """Run REMOTE and wait (for the approval gate's synchronous look at paths)."""
        return subprocess.run(
            self.argv(remote), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout
        )

    @contextlib.asynccontextmanager
    async def forward_socket(self, remote: str, local: Path) -> AsyncIterator[None]:
        """While the block runs, connections to the unix socket REMOTE on the server
        reach the unix socket LOCAL here (`-O forward -R REMOTE:LOCAL` over the
        master; cancelled after). sshd creates REMOTE: its directory must exist, and
        the path must be free unless sshd has `StreamLocalBindUnlink yes`."""
        spec = f"{remote}:{local}"
        await self._control("forward", spec)
        try:
            yield
        finally:
            with contextlib.suppress(BackendError, OSError):
                await self._control("cancel", spec)

    async def _control(self, command: str, spec: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            _ssh(),
            *self.options(),
            "-O",
            command,
            "-R",
            spec,
            self.destination,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _, err = await within(proc.communicate(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            err = b"no answer from the master connection in 15s"
        if proc.returncode != 0:
            text = " ".join(err.decode("utf-8", "replace").split())[:300]
            raise BackendError(
                f"{self.describe()}: could not {command} the socket {spec.split(':')[0]} "
                f"({text or 'no reason given'}); the server's sshd must allow unix-socket "
                "forwarding (AllowStreamLocalForwarding, on by default), and the path must be "
                "free (or sshd set to StreamLocalBindUnlink yes)"
            )

    async def close(self) -> None:
        """Ask the master to exit (the next command starts a new one)."""
        if not self.alive():
            return
        proc = await asyncio.create_subprocess_exec(
            _ssh(),
            *self.options(),
            "-O",
            "exit",
            self.destination,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with contextlib.suppress(TimeoutError):
            await within(proc.wait(), 10)


def _ssh() -> str:
    found = shutil.which("ssh")
    if found is None:
        raise BackendError(
            "the ssh backend needs the OpenSSH client (`ssh`); install it "
            "(e.g. apt install openssh-client)"
        )
    return found
