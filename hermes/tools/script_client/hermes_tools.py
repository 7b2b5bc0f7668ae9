"""Call Hermes' tools from a script run by the execute_code tool.

    from hermes_tools import terminal, read_file, write_file, patch, search_files

Each function returns the tool's result text; a tool error raises ToolFailed with
its message. Calls may be made from several threads at once. Every call passes
Hermes' approval gate: a risky command is refused (one line), not asked about.

This module is copied next to the script at run time (stdlib only). Started as
`python hermes_tools.py SCRIPT`, it reads the per-script token from stdin, puts
a guard on the script (no processes, no file writes, no ctypes: do those through
the tools, so the gate sees them) and runs SCRIPT as __main__.

Its calls go over the unix socket named by HERMES_RPC_SOCKET, or, where Hermes
set HERMES_RPC_DIR instead (sandboxes no socket reaches), as files in that
directory: each request written as req-ID.json (a dot-name renamed), its
response awaited as resp-ID.json, polling.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import sys
import threading
import time
from typing import Any

__all__ = [
    "ToolFailed",
    "call",
    "patch",
    "read_file",
    "search_files",
    "terminal",
    "web_extract",
    "web_search",
    "write_file",
]

SOCKET_VAR = "HERMES_RPC_SOCKET"
RPC_DIR_VAR = "HERMES_RPC_DIR"


class ToolFailed(Exception):
    """A tool returned an error (refused by the gate, bad arguments, a failure)."""


class _Client:
    """One connection to the RPC server, shared by all threads: requests carry ids,
    a reader thread hands each response to the thread that waits for it."""

    def __init__(self, path: str, token: str) -> None:
        self.token = token
        self.sock = _connect(path)
        self.ids = itertools.count(1)
        self.send_lock = threading.Lock()
        self.lock = threading.Lock()
        self.waiting: dict[int, list[Any]] = {}  # id -> [event, response]
        self.closed: str | None = None
        threading.Thread(target=self._read, name="hermes-rpc", daemon=True).start()

    def call(self, tool: str, args: dict[str, Any]) -> str:
        rid = next(self.ids)
        slot: list[Any] = [threading.Event(), None]
        with self.lock:
            if self.closed:
                raise ToolFailed(self.closed)
            self.waiting[rid] = slot
        line = json.dumps({"id": rid, "token": self.token, "tool": tool, "args": args}) + "\n"
        with self.send_lock:
            self.sock.sendall(line.encode("utf-8"))
        slot[0].wait()
        reply = slot[1]
        if reply is None:
            raise ToolFailed(self.closed or "the connection to Hermes was closed")
        if not reply.get("ok"):
            raise ToolFailed(str(reply.get("error", "unknown error")))
        return str(reply.get("result", ""))

    def _read(self) -> None:
        stream = self.sock.makefile("r", encoding="utf-8")
        try:
            for line in stream:
                reply = json.loads(line)
                with self.lock:
                    slot = self.waiting.pop(reply.get("id"), None)
                if slot is None:  # a reply to no request: the server refused the connection
                    self.closed = str(reply.get("error", "the server closed the connection"))
                    break
                slot[1] = reply
                slot[0].set()
        except (OSError, ValueError):
            pass
        with self.lock:
            self.closed = self.closed or "the connection to Hermes was closed"
            for slot in self.waiting.values():
                slot[0].set()
            self.waiting.clear()


class _FileClient:
    """Requests as files in FOLDER; any number of threads, each waits for its own id."""

    def __init__(self, folder: str, token: str) -> None:
        self.folder = folder
        self.token = token
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def call(self, tool: str, args: dict[str, Any]) -> str:
        with self.lock:
            rid = str(next(self.ids))
        request = os.path.join(self.folder, f"req-{rid}.json")
        temp = os.path.join(self.folder, f".req-{rid}.json")
        data = json.dumps({"id": rid, "token": self.token, "tool": tool, "args": args})
        with open(temp, "w", encoding="utf-8") as f:
            f.write(data)
        os.rename(temp, request)
        response = os.path.join(self.folder, f"resp-{rid}.json")
        pause = 0.01
        while True:
            try:
                with open(response, encoding="utf-8") as f:
                    reply = json.loads(f.read())
                break
            except FileNotFoundError:
                time.sleep(pause)
                pause = min(pause * 1.5, 0.2)
        for done in (response, request):
            with contextlib.suppress(OSError):
                os.remove(done)
        if not reply.get("ok"):
            raise ToolFailed(str(reply.get("error", "unknown error")))
        return str(reply.get("result", ""))


def _connect(path: str) -> socket.socket:
    """A unix socket connected to PATH (a long path through /proc/self/fd)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if len(path.encode()) < 100:
        sock.connect(path)
        return sock
    fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        sock.connect(f"/proc/self/fd/{fd}/{os.path.basename(path)}")
    finally:
        os.close(fd)
    return sock


_client: _Client | _FileClient | None = None
_token = ""
_rpc_dir = ""  # the file transport's directory (set before the guard: its writes pass)
_client_lock = threading.Lock()


def call(tool: str, **args: Any) -> str:
    """Call TOOL with ARGS (as the model would); its result text."""
    global _client
    with _client_lock:
        if _client is None:
            path = os.environ.get(SOCKET_VAR)
            if not (path or _rpc_dir) or not _token:
                raise ToolFailed("hermes_tools works only in a script run by execute_code")
            _client = _Client(path, _token) if path else _FileClient(_rpc_dir, _token)
    return _client.call(tool, {k: v for k, v in args.items() if v is not None})


def terminal(command: str, timeout: int | None = None, background: bool | None = None) -> str:
    return call("terminal", command=command, timeout=timeout, background=background)


def read_file(path: str, offset: int | None = None, limit: int | None = None) -> str:
    return call("read_file", path=path, offset=offset, limit=limit)


def write_file(path: str, content: str) -> str:
    return call("write_file", path=path, content=content)


def patch(path: str, old: str, new: str, replace_all: bool | None = None) -> str:
    return call("patch", path=path, old=old, new=new, replace_all=replace_all)


def search_files(
    pattern: str,
    path: str | None = None,
    glob: str | None = None,
    max_results: int | None = None,
    ignore_case: bool | None = None,
) -> str:
    return call(
        "search_files",
        pattern=pattern,
        path=path,
        glob=glob,
        max_results=max_results,
        ignore_case=ignore_case,
    )


def web_search(query: str, **more: Any) -> str:
    return call("web_search", query=query, **more)


def web_extract(url: str, **more: Any) -> str:
    return call("web_extract", url=url, **more)


# ----- the guard --------------------------------------------------------------

_REFUSED = {
    "subprocess.Popen": "start processes",
    "os.system": "start processes",
    "os.exec": "start processes",
    "os.posix_spawn": "start processes",
    "os.spawn": "start processes",
    "os.fork": "start processes",
    "os.forkpty": "start processes",
    "pty.spawn": "start processes",
    "os.kill": "send signals",
    "os.killpg": "send signals",
    "ctypes.dlopen": "load native libraries",
    "os.remove": "change files",
    "os.rename": "change files",
    "os.rmdir": "change files",
    "os.mkdir": "change files",
    "os.chmod": "change files",
    "os.chown": "change files",
    "os.symlink": "change files",
    "os.link": "change files",
    "os.truncate": "change files",
    "os.utime": "change files",
    "shutil.rmtree": "change files",
    "shutil.copyfile": "change files",
    "shutil.move": "change files",
}
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _ours(event: str, args: tuple[Any, ...]) -> bool:
    """Whether EVENT touches only the file transport's request files (the client's own)."""
    paths = args[:2] if event == "os.rename" else args[:1]
    return bool(_rpc_dir) and all(
        isinstance(p, str) and os.path.dirname(os.path.abspath(p)) == _rpc_dir for p in paths
    )


def _guard(event: str, args: tuple[Any, ...]) -> None:
    what = _REFUSED.get(event)
    if what is None and event == "open" and len(args) >= 3:
        path, mode, flags = args[0], args[1], args[2]
        writing = isinstance(flags, int) and flags & _WRITING
        writing = writing or (isinstance(mode, str) and any(c in mode for c in "wax+"))
        if writing and not isinstance(path, int) and str(path) != os.devnull:
            what = "write files"
    if what == "change files" or what == "write files":
        what = None if _ours(event, args) else what
    if what is not None:
        raise PermissionError(
            f"a script run by execute_code may not {what} itself ({event}); use the "
            "hermes_tools functions (terminal, write_file, patch), which pass the approval gate"
        )


def _main(script: str) -> None:
    global _token, _rpc_dir
    _token = sys.stdin.readline().strip()
    _rpc_dir = os.path.abspath(os.environ[RPC_DIR_VAR]) if os.environ.get(RPC_DIR_VAR) else ""
    sys.stdin = open(os.devnull)  # noqa: SIM115 - the script's stdin: empty
    sys.argv = [script]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    import runpy

    sys.addaudithook(_guard)  # from here on for good: the script cannot remove it
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    import importlib

    # the module the script imports, not this __main__ copy
    importlib.import_module("hermes_tools")._main(sys.argv[1])
