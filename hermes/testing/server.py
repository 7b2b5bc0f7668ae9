"""The HTTP side of the scripted model: a threaded loopback server and its handler."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from hermes.testing.replies import Fail, Item, RecordedRequest, Reply, to_answer
from hermes.testing.wire import Wire, error_json, estimate_usage, sse

if TYPE_CHECKING:
    from hermes.testing.scripted import ScriptedModel

UNEXPECTED = "scripted model: unexpected request (nothing queued)"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # many clients connecting at once are queued, not reset

    def __init__(self, owner: ScriptedModel) -> None:
        self.owner = owner
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up is no error
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """End the kept-alive connections too: a stopped model answers nothing."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"  # keep-alive, as real providers serve
    # the head and the body (or each SSE chunk) go out in separate writes: without
    # TCP_NODELAY, Nagle holds the second until the client's delayed ACK (~40 ms)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def _send_json(self, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_fail(self, fail: Fail) -> None:
        headers = dict(fail.headers)
        if fail.retry_after is not None:
            headers["retry-after"] = f"{fail.retry_after:g}"
        self._send_json(fail.status, error_json(fail.status, fail.message), headers)

    def _refuse(self, status: int, message: str) -> None:
        """An error the test did not ask for: never worth retrying."""
        self._send_json(status, error_json(status, message), {"x-should-retry": "false"})

    def do_GET(self) -> None:
        owner = self.server.owner
        with contextlib.suppress(OSError):
            if self.path.rstrip("/").endswith("/models"):
                model = {"id": owner.model, "object": "model", "owned_by": "hermes-testing"}
                self._send_json(200, {"object": "list", "data": [model]})
            else:
                self._refuse(404, f"scripted model: no such path {self.path}")

    def do_POST(self) -> None:
        with contextlib.suppress(OSError):  # the client went away: nothing to answer
            self._post()

    def _post(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self.path.rstrip("/").endswith("/chat/completions"):
            owner._problem(f"request to unknown path {self.path}")
            self._refuse(404, f"scripted model: no such path {self.path}")
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            owner._problem("a request body that is not JSON")
            self._refuse(400, "scripted model: request body is not JSON")
            return
        request = RecordedRequest(
            body if isinstance(body, dict) else {"body": body},
            method="POST",
            path=self.path,
            headers=dict(self.headers.items()),
        )
        item = owner._take(request)
        if item is None:
            self._refuse(500, UNEXPECTED)
            return
        answer = item.answer
        if item.fn is not None:
            try:
                answer = to_answer(item.fn(request))
            except Exception as exc:
                owner._problem(f"reply_with callback failed: {exc!r}")
                self._refuse(500, f"scripted model: reply_with callback failed: {exc!r}")
                return
        assert answer is not None
        self._answer(request, answer, item)

    def _answer(self, request: RecordedRequest, answer: Reply | Fail, item: Item) -> None:
        owner = self.server.owner
        wire = Wire(request.get("model") or owner.model, f"chatcmpl-{len(owner.requests)}")
        if request.stream and item.partial:
            self._stream(request, answer, item, wire)  # streams the partial text, then waits
            return
        if item.gate is not None:
            item.gate._enter()
            item.gate._wait()
        if isinstance(answer, Fail):
            self._send_fail(answer)
        elif request.stream:
            self._stream(request, answer, item, wire)
        else:
            full = Reply(
                item.partial + answer.text, answer.calls, answer.usage, answer.finish, answer.cost
            )
            usage = estimate_usage(full, request)
            self._send_json(200, wire.completion(full, owner._call_ids(full), usage))

    def _stream(
        self, request: RecordedRequest, answer: Reply | Fail, item: Item, wire: Wire
    ) -> None:
        owner = self.server.owner
        options = request.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for chunk in wire.head(item.partial, include_usage=include_usage):
            self._chunk(sse(chunk))
        self.wfile.flush()
        if item.gate is not None and item.partial:
            item.gate._enter()
            item.gate._wait()
        if isinstance(answer, Fail):  # after partial text: an error event, as OpenRouter does
            self._chunk(sse(error_json(answer.status, answer.message)))
            self._chunk(b"")
            return
        full = Reply(
            item.partial + answer.text, answer.calls, answer.usage, answer.finish, answer.cost
        )
        usage = estimate_usage(full, request)
        for chunk in wire.tail(answer, owner._call_ids(answer), usage, include_usage=include_usage):
            self._chunk(sse(chunk))
            self.wfile.flush()
        self._chunk(sse("[DONE]"))
        self._chunk(b"")  # the end of the body
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        """One piece of a chunked body; empty data ends it."""
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
