"""Where an execute_code script runs, and how its RPC socket reaches it.

- local: a fresh temp directory holds the script, its client and the socket.
- docker: WORKSPACE/.hermes-code/ID — the workspace is mounted at the same path
  in the container, so the socket there reaches the script as it is.
- ssh: a private directory under the remote /tmp (`mktemp -d`, mode 700) holds
  the script; the RPC server listens on a socket in a temp directory here, and
  OpenSSH forwards the remote `rpc.sock` in that directory to it over the
  master connection for as long as the script runs.
- singularity, modal, daytona: no socket here reaches them, so the same private
  /tmp directory (made in the sandbox) gets an `rpc` directory instead, and the
  requests and responses are files there (script_files.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from hermes.backends.base import Backend, BackendError
from hermes.backends.ssh import SshBackend
from hermes.context import TurnContext

SOCKETS = ("local", "docker", "ssh")  # where the script's socket can reach us
BACKENDS = (*SOCKETS, "singularity", "modal", "daytona")  # the others: files
SOCKET = "rpc.sock"


@dataclass(frozen=True)
class Place:
    run_dir: Path  # on the backend: script.py and hermes_tools.py
    listen: Path | None  # on this machine: where the RPC server listens (None: files)
    socket: Path | None  # on the backend: what the script connects to (None: files)

    @property
    def rpc_dir(self) -> Path:
        """On the backend: where the requests and responses are files (no socket)."""
        return self.run_dir / "rpc"


@contextlib.asynccontextmanager
async def place(ctx: TurnContext) -> AsyncIterator[Place]:
    """A fresh place for one script on CTX's backend (opened); removed after."""
    backend = ctx.backend
    if isinstance(backend, SshBackend):
        async with _over_ssh(backend) as found:
            yield found
        return
    if backend.name not in SOCKETS:
        remote = await _private_tmp(backend)
        try:
            yield Place(remote, None, None)
        finally:
            with contextlib.suppress(Exception):
                await backend.run(["rm", "-rf", str(remote)], timeout=30)
        return
    if backend.name == "docker":
        base = ctx.profile.workspace / ".hermes-code"
        await asyncio.to_thread(base.mkdir, parents=True, exist_ok=True)
        run_dir = base / secrets.token_hex(6)
        await asyncio.to_thread(run_dir.mkdir, mode=0o700)
    else:
        run_dir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="hermes-code-"))
    try:
        yield Place(run_dir, run_dir / SOCKET, run_dir / SOCKET)
    finally:
        if backend.name == "docker":  # files the container wrote may not be ours
            with contextlib.suppress(Exception):
                await backend.run(["rm", "-rf", str(run_dir)], timeout=30)
        await asyncio.to_thread(shutil.rmtree, run_dir, True)


@contextlib.asynccontextmanager
async def _over_ssh(backend: SshBackend) -> AsyncIterator[Place]:
    remote = await _private_tmp(backend)
    local = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="hermes-rpc-"))
    try:
        async with backend.link.forward_socket(str(remote / SOCKET), local / SOCKET):
            yield Place(remote, local / SOCKET, remote / SOCKET)
    finally:
        await asyncio.to_thread(shutil.rmtree, local, True)
        with contextlib.suppress(Exception):
            await backend.run(["rm", "-rf", str(remote)], timeout=30)


async def _private_tmp(backend: Backend) -> Path:
    """A fresh directory under the backend's /tmp that only its user may enter."""
    made = await backend.run(
        ["sh", "-c", "umask 077 && mktemp -d /tmp/hermes-code.XXXXXXXXXX"], timeout=30
    )
    remote = made.stdout.decode("utf-8", "replace").strip()
    if made.returncode != 0 or not remote.startswith("/tmp/"):
        why = " ".join(made.stderr.decode("utf-8", "replace").split())[:200]
        raise BackendError(
            f"{backend.where().description}: could not make a directory under /tmp for the "
            f"script ({why or 'no reason given'}); check that /tmp is writable there"
        )
    return Path(remote)
