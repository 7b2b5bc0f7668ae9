"""A real OpenSSH server for the ssh backend's tests: Debian's sshd (installed
by `scripts/install test`), started on a free loopback port with a throwaway
host key and one authorized throwaway client key, logging to a file."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def keygen(path: Path) -> Path:
    path.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hermes-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            return False
        try:  # sshd says hello first: the listener is sshd, and it is ready
            return sock.recv(4).startswith(b"SSH-")
        except OSError:
            return False


class Sshd:
    """`sshd -D -e` on 127.0.0.1:PORT for the current user (root here: the config
    allows key logins only). `restart(new_host_key=True)` changes its identity."""

    def __init__(self, root: Path) -> None:
        if not os.access(SSHD, os.X_OK) or shutil.which("ssh") is None:
            raise AssertionError(f"{SSHD} is missing: run scripts/install test")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(root / "host_key")
        self.client_key = keygen(root / "client_key")
        (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
        self.port = free_port()
        self.user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        self.log = root / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> Path:
        config = self.root / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "PidFile none",
                    "MaxSessions 50",
                    "MaxStartups 50",
                    "",
                ]
            )
        )
        return config

    def start(self) -> None:
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [SSHD, "-f", str(self._config()), "-D", "-e"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"sshd did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def restart(self, new_host_key: bool = False) -> None:
        self.stop()
        if new_host_key:
            keygen(self.host_key)
        self.start()

    def config_lines(self, workspace: Path, key: Path | None = None) -> list[str]:
        """config.yaml lines for a home whose terminal is this server."""
        return [
            "terminal:",
            "  backend: ssh",
            f"  cwd: {workspace}",
            "  ssh:",
            "    host: 127.0.0.1",
            f"    port: {self.port}",
            f"    user: {self.user}",
            f"    key: {key or self.client_key}",
        ]
