"""FakePlatform: the shared base of loopback platform fakes (Discord, Slack, ...).

A fake is mostly a route table. A subclass registers its HTTP and WebSocket handlers
in `routes()` and keeps its state (what users said, what the bot `sent` and `edits`)
under the one condition `self.cond`. The base runs an aiohttp server on 127.0.0.1:0 in
a background thread with its own event loop, so in-process asyncio tests and a gateway
subprocess both reach it at `base_url`. It logs every call and injects failures:

    class FakeChat(FakePlatform):
        def routes(self) -> None:
            self.http("POST", "/api/{method}", self.api)  # a call's name: its {method}
            self.ws("/socket", self.socket)

        def api(self, call: Call) -> Any:  # sync or async; call.data: query+form/JSON
            return {"ok": True}             # JSON 200, or Reply(status, body, headers)

        async def socket(self, sock: FakeSocket, call: Call) -> None:
            async for data in sock:         # parsed JSON (or text); deaf sockets skip
                await sock.send(data)       # dropped while the socket is deaf

    with FakeChat() as fake:
        fake.fail("chat.postMessage", 429, times=1, retry_after=2)
        fake.silence_sockets()              # open, but delivers nothing, hears nothing
        fake.wait_for(lambda: len(fake.sockets) == 1, timeout=10)

Subclasses shape errors the platform's way by overriding `error_body` (and
`revoked_reply` for a revoked token); mutate state as `with self.cond: ...;
self.changed()` so `wait_for` wakes at once.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

JSON = dict[str, Any]


@dataclass
class Call:
    """One request as the fake saw it."""

    name: str  # the route's name, its {method} path parameter, or its pattern
    method: str
    path: str
    params: dict[str, str]  # path parameters
    data: JSON  # query string, then form fields or a JSON object body
    headers: dict[str, str]
    request: web.Request = field(repr=False)


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Failure:
    status: int | str  # an HTTP status, or "disconnect" (close the connection unanswered)
    times: int | None  # None: until recover()
    retry_after: float | None
    body: Any


class FakeSocket:
    """A server-side WebSocket. While `deaf`, nothing is sent and what arrives is ignored."""

    def __init__(self, owner: FakePlatform, ws: web.WebSocketResponse, name: str) -> None:
        self.owner, self.ws, self.name = owner, ws, name
        self.deaf = False
        self.pongs = True  # answer protocol pings (also while deaf, unless told otherwise)
        self.ignored = 0  # messages that arrived while deaf
        self.dropped = 0  # messages not sent because deaf

    async def send(self, data: Any) -> bool:
        """Send JSON (str as text); False when deaf or closed."""
        if self.deaf or self.ws.closed:
            self.dropped += self.deaf
            return False
        await self.ws.send_str(data if isinstance(data, str) else json.dumps(data))
        return True

    async def receive(self) -> Any:
        """The next message (parsed JSON, or text), None once closed."""
        while True:
            msg = await self.ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return None
            if msg.type == WSMsgType.PING:
                if self.pongs:
                    await self.ws.pong(msg.data)
                continue
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            if self.deaf:
                self.ignored += 1
                self.owner.changed()
                continue
            text = msg.data if isinstance(msg.data, str) else msg.data.decode()
            try:
                return json.loads(text)
            except ValueError:
                return text

    def __aiter__(self) -> FakeSocket:
        return self

    async def __anext__(self) -> Any:
        data = await self.receive()
        if data is None:
            raise StopAsyncIteration
        return data

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        await self.ws.close(code=code, message=message)


Handler = Callable[[Call], Any]
SocketHandler = Callable[[FakeSocket, Call], Awaitable[None]]


class FakePlatform:
    """Base of a loopback platform fake; see the module docstring."""

    REVOKED_CLOSE_CODE = 4004  # what open sockets are closed with by revoke_token()

    def __init__(self) -> None:
        self.cond = threading.Condition()  # guards all state, the subclass's too
        self.calls: list[Call] = []
        self.sent: list[JSON] = []  # what the bot sent (subclasses fill it)
        self.edits: list[JSON] = []  # what the bot edited (subclasses fill it)
        self.sockets: list[FakeSocket] = []  # open WebSockets
        self.revoked = False
        self._failures: dict[str, list[_Failure]] = {}
        self._duplicates = 0
        self._app = web.Application()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.routes()

    # -- for subclasses -----------------------------------------------------------------

    def routes(self) -> None:
        """Register handlers with `http` and `ws`."""

    def http(self, method: str, pattern: str, handler: Handler, name: str | None = None) -> None:
        """Serve `method` ("*": any) at an aiohttp path pattern ("/api/{method}")."""

        async def serve(request: web.Request) -> web.StreamResponse:
            call = await self._record(request, name, pattern)
            if (early := self._refusal(call)) is not None:
                return early
            result = handler(call)
            if inspect.isawaitable(result):
                result = await result
            return result if isinstance(result, web.StreamResponse) else _respond(result)

        self._app.router.add_route(method, pattern, serve)

    def ws(self, pattern: str, handler: SocketHandler, name: str | None = None) -> None:
        """Serve a WebSocket at `pattern`; `fail`/`revoke_token` refuse the handshake."""

        async def serve(request: web.Request) -> web.StreamResponse:
            call = await self._record(request, name, pattern)
            if (early := self._refusal(call)) is not None:
                return early
            ws = web.WebSocketResponse(autoping=False)
            await ws.prepare(request)
            sock = FakeSocket(self, ws, call.name)
            with self.cond:
                self.sockets.append(sock)
                self.changed()
            try:
                await handler(sock, call)
            finally:
                await ws.close()
                with self.cond:
                    self.sockets.remove(sock)
                    self.changed()
            return ws

        self._app.router.add_get(pattern, serve)

    def error_body(self, status: int, name: str, retry_after: float | None) -> Any:
        """The JSON body of an injected failure; override for the platform's shape."""
        body: JSON = {"ok": False, "error": f"status {status}"}
        if retry_after is not None:
            body["retry_after"] = retry_after
        return body

    def revoked_reply(self, call: Call) -> Reply:
        """What every call gets once the token is revoked."""
        return Reply(401, self.error_body(401, call.name, None))

    def changed(self) -> None:
        """Wake `wait_for` waiters (call with or without holding `cond`)."""
        with self.cond:
            self.cond.notify_all()

    def copies(self) -> int:
        """How many times to deliver the event being pushed: 2 while `duplicate_next` is armed."""
        with self.cond:
            if self._duplicates:
                self._duplicates -= 1
                return 2
            return 1

    def run(self, coro: Awaitable[Any], timeout: float = 10) -> Any:
        """Run a coroutine on the server's loop from another thread; its result.
        On the loop's own thread (inside a handler) it is only scheduled: None."""
        assert self._loop is not None, "start() first"
        if threading.current_thread() is self._thread:
            self._loop.create_task(_awaited(coro))
            return None
        future = asyncio.run_coroutine_threadsafe(_awaited(coro), self._loop)
        return future.result(timeout)

    def push(self, data: Any, sockets: list[FakeSocket] | None = None) -> int:
        """Send `data` to every open (or the given) socket from a test thread; how many got it."""
        with self.cond:
            targets = list(self.sockets) if sockets is None else sockets
        return sum(bool(self.run(s.send(data))) for s in targets)

    # -- for tests ----------------------------------------------------------------------

    def fail(
        self,
        route_or_method: str,
        status: int | str = 503,
        times: int | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        """Answer calls named `route_or_method` ("*": all) with `status` (or "disconnect"),
        `times` times (None: until `recover()`). A 429 carries a Retry-After header."""
        with self.cond:
            failure = _Failure(status, times, retry_after, body)
            self._failures.setdefault(route_or_method, []).append(failure)

    def recover(self) -> None:
        """End every injected failure and restore a revoked token."""
        with self.cond:
            self._failures.clear()
            self.revoked = False
            self.changed()

    def revoke_token(self) -> None:
        """Every call now gets `revoked_reply`; open sockets close with REVOKED_CLOSE_CODE."""
        with self.cond:
            self.revoked = True
        self.drop_sockets(self.REVOKED_CLOSE_CODE)

    def silence_sockets(self, pongs: bool = True) -> None:
        """Open sockets stay open but deliver nothing and ignore what they get (a deaf
        connection); with `pongs`, protocol pings are still answered. New sockets are fine."""
        with self.cond:
            for sock in self.sockets:
                sock.deaf, sock.pongs = True, pongs

    def drop_sockets(self, code: int = 1011) -> None:
        """Close every open socket with `code`."""
        with self.cond:
            targets = list(self.sockets)
        for sock in targets:
            self.run(sock.close(code))

    def duplicate_next(self, n: int = 1) -> None:
        """Deliver each of the next `n` pushed events twice (see `copies`)."""
        with self.cond:
            self._duplicates += n

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10, what: str = "") -> Any:
        """Wait until `predicate()` (called holding `cond`) is truthy; its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not (value := predicate()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {what or predicate}"
                    )
                self.cond.wait(min(left, 0.05))
            return value

    def calls_to(self, name: str) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if c.name == name]

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._port, "start() first"
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakePlatform:
        if self._thread is None:
            self._loop = asyncio.new_event_loop()
            name = f"fake-{type(self).__name__}"
            self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
            self._thread.start()
            self.run(self._serve())
        return self

    def close(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self.drop_sockets(1001)
        self.run(self._shutdown(), timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Any:  # Any: subclasses get their own type back
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------

    async def _shutdown(self) -> None:
        """Stop serving, then cancel what subclasses left running on the loop."""
        if self._runner is not None:
            await self._runner.cleanup()
        current = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not current]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    async def _serve(self) -> None:
        self._runner = web.AppRunner(
            self._app, handle_signals=False, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def _record(self, request: web.Request, name: str | None, pattern: str) -> Call:
        data: JSON = dict(request.query)
        if request.body_exists:
            if request.content_type == "application/json":
                body = await request.json()
                data.update(body if isinstance(body, dict) else {})
            elif request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                data.update(await request.post())
        params = dict(request.match_info)
        call = Call(
            name or params.get("method") or pattern,
            request.method,
            request.path,
            params,
            data,
            dict(request.headers),
            request,
        )
        with self.cond:
            self.calls.append(call)
            self.changed()
        return call

    def _refusal(self, call: Call) -> web.StreamResponse | None:
        with self.cond:
            if self.revoked:
                return _respond(self.revoked_reply(call))
            queue = self._failures.get(call.name) or self._failures.get("*")
            if not queue:
                return None
            failure = queue[0]
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    queue.pop(0)
        if failure.status == "disconnect":
            if call.request.transport is not None:
                call.request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        status = int(failure.status)
        retry_after = failure.retry_after
        if retry_after is None and status == 429:
            retry_after = 1.0
        body = (
            failure.body
            if failure.body is not None
            else self.error_body(status, call.name, retry_after)
        )
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        return _respond(Reply(status, body, headers))


def _respond(result: Any) -> web.Response:
    reply = result if isinstance(result, Reply) else Reply(200, result)
    if isinstance(reply.body, bytes):
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
    return web.json_response(reply.body, status=reply.status, headers=reply.headers)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
