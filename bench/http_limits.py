"""What an unauthenticated client can make a real gateway hold (issue 12, item 8),
against `hermes gateway run` on loopback with the scripted model behind it.

    .venv/bin/python bench/http_limits.py [--mib 300] [--half 3000] [--hold 15]

Prints:
  * a MIB-sized JSON POST to the public /api/web/login, sent over a raw socket
    with Content-Length and again chunked (no length): the answer, how much of the
    body the gateway took before answering, the time, and the gateway's RSS and
    peak RSS (VmHWM) before and after (targets: 413 in under 1 s, peak RSS grows
    by under 50 MiB);
  * HALF connections that send part of a request head and then nothing, and as
    many that send a whole head and 10 bytes of a 1000-byte body: how many the
    gateway still holds after HOLD seconds and what they were answered (target:
    none held);
  * the RSS while they were open.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import sys
import tempfile
import time
from pathlib import Path

from gateway_process import GatewayProcess, write_home

from hermes.testing import ScriptedModel

KEY = "hk_bench-http-limits"
CHUNK = 1 << 20


def status_kib(pid: int, field: str) -> float:
    """VmRSS or VmHWM of `pid`, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} in /proc/{pid}/status")


def head_line(data: bytes) -> str:
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return line or "(closed, no answer)"


def big_post(host: str, port: int, mib: int, chunked: bool) -> tuple[str, int, float]:
    """POST a MIB-sized JSON body to /api/web/login; stops sending once the gateway
    answers or closes. Returns (status line, body bytes sent, seconds)."""
    size = mib * CHUNK
    framing = "transfer-encoding: chunked" if chunked else f"content-length: {size}"
    head = (
        f"POST /api/web/login HTTP/1.1\r\nhost: {host}:{port}\r\n"
        f"content-type: application/json\r\n{framing}\r\n\r\n"
    ).encode()
    block = b'{"key": "' + b"a" * (CHUNK - 9)
    filler = b"a" * CHUNK
    started = time.perf_counter()
    sent = 0
    answer = b""
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(head)
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ)
        try:
            while sent < size:
                if sel.select(0):  # the gateway answered (or closed) before the end
                    break
                data = block if sent == 0 else filler
                if chunked:
                    data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
                sock.sendall(data)
                sent += CHUNK
            if chunked and sent >= size:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # reset while sending: read what it said, if anything
        try:
            while b"\r\n" not in answer:
                part = sock.recv(65536)
                if not part:
                    break
                answer += part
        except OSError as exc:
            answer = answer or f"({type(exc).__name__})".encode()
    return head_line(answer), sent, time.perf_counter() - started


def held(
    host: str, port: int, count: int, hold: float, slow_body: bool, pid: int
) -> tuple[int, dict[str, int], float]:
    """Open `count` connections that stall mid-head (or mid-body); after `hold`
    seconds, how many the gateway still holds, what the others were told, and the
    gateway's RSS once they were all open."""
    if slow_body:
        payload = (
            f"POST /api/web/login HTTP/1.1\r\nhost: {host}:{port}\r\n"
            "content-type: application/json\r\ncontent-length: 1000\r\n\r\n"
            '{"key": "a'
        ).encode()
    else:
        payload = f"POST /api/web/login HTTP/1.1\r\nhost: {host}:{port}\r\n".encode()
    socks: list[socket.socket] = []
    answers: dict[str, int] = {}
    sel = selectors.DefaultSelector()
    for _ in range(count):
        try:
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(payload)
        except OSError as exc:
            line = f"(not connected: {type(exc).__name__})"
            answers[line] = answers.get(line, 0) + 1
            continue
        sock.setblocking(False)
        socks.append(sock)
        sel.register(sock, selectors.EVENT_READ)
    rss = status_kib(pid, "VmRSS")
    open_ = set(socks)
    deadline = time.monotonic() + hold
    while open_ and time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            conn = key.fileobj
            assert isinstance(conn, socket.socket)
            try:
                data = conn.recv(65536)
            except OSError as exc:
                data, line = b"", f"({type(exc).__name__})"
            else:
                line = head_line(data)
            if not data or line.startswith("HTTP/"):
                answers[line] = answers.get(line, 0) + 1
                sel.unregister(conn)
                open_.discard(conn)
    still = len(open_)
    for sock in socks:
        sock.close()
    return still, answers, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=300, help="size of the big POST")
    parser.add_argument("--half", type=int, default=3000, help="stalled connections")
    parser.add_argument("--hold", type=float, default=15.0, help="seconds to watch them")
    args = parser.parse_args()
    missed = False
    with tempfile.TemporaryDirectory() as tmp, ScriptedModel() as model:
        home = Path(tmp) / "home"
        write_home(home, model, KEY)
        gw = GatewayProcess(home)
        try:
            host, _, port_text = gw.url.removeprefix("http://").rpartition(":")
            port = int(port_text)
            pid = gw.proc.pid
            for chunked in (False, True):
                rss0, hwm0 = status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")
                line, sent, seconds = big_post(host, port, args.mib, chunked)
                rss1, hwm1 = status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")
                how = "chunked" if chunked else "with content-length"
                print(
                    f"{args.mib} MiB POST /api/web/login {how}: {line!r} after "
                    f"{sent / CHUNK:.0f} MiB sent, {seconds:.2f} s; RSS {rss0:.0f} -> "
                    f"{rss1:.0f} MiB, peak {hwm0:.0f} -> {hwm1:.0f} MiB"
                )
                missed |= " 413 " not in line + " " or seconds > 1 or hwm1 - hwm0 > 50
            for slow_body in (False, True):
                what = "a whole head and 10 of 1000 body bytes" if slow_body else "half a head"
                rss0 = status_kib(pid, "VmRSS")
                still, answers, rss1 = held(host, port, args.half, args.hold, slow_body, pid)
                told = ", ".join(f"{n} {line!r}" for line, n in sorted(answers.items()))
                print(
                    f"{args.half} connections sending {what}: {still} still held after "
                    f"{args.hold:.0f} s; answered: {told or 'nothing'}; RSS {rss0:.0f} MiB, "
                    f"{rss1:.0f} MiB with them open"
                )
                missed |= still > 0
        finally:
            gw.stop()
    print("targets missed" if missed else "all targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
