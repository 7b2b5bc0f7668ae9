"""The OpenAI-compatible API: `GET /v1/models` and `POST /v1/chat/completions`.

Any OpenAI client can talk to Hermes by pointing its base URL at
`http://HOST:PORT/v1` with `HERMES_API_KEY` as the key. A request runs one
agent turn (tools included) through `Gateway.api_turn`:

* without `X-Hermes-Session-Id` the request's messages are the whole context
  and nothing is stored (the usual stateless OpenAI contract);
* with it, the named server-side session keeps the history, so only the new
  user message matters (earlier messages in the body are ignored).

`/v1/models` lists one model, `hermes`. The `model` of a request chooses
nothing: which profile and provider answer is the gateway's configuration,
so listing per-profile ids would suggest a choice that does not exist. The
`model` of every response and stream chunk names the model that really
served the turn (e.g. `gpt-4.1-mini`), never an echo of the request.
Sampling parameters (temperature, max_tokens, ...) are ignored for the same
reason. Client-defined `tools` (without a session) are offered to the model
beside Hermes' own; a call to one comes back to the client as `tool_calls`
(`finish_reason: "tool_calls"`), and the client sends the results as `tool`
messages in its next request (hermes/server/openai_tools.py). This is how Home
Assistant's OpenAI-compatible conversation integrations use Hermes.

Errors use OpenAI's shape `{"error": {"message", "type", ...}}` so clients
raise their usual exceptions: bad input is a 400 naming what to fix, a
provider failure during the turn is a 502 (streaming: an error event, then
`[DONE]`). A client that disconnects cancels its turn.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from hermes.agent.events import (
    AgentEvent,
    EventSink,
    ModelCalled,
    TextDelta,
    ToolFinished,
    TurnDone,
)
from hermes.context import Profile
from hermes.errors import HermesError
from hermes.messages import Message, Role, ToolCall, Usage
from hermes.server.httpio import BadRequest, clip, error_response, read_json
from hermes.server.openai_tools import (
    assistant_calls,
    calls_json,
    client_tools,
    tool_message,
    unsupported_role,
)

if TYPE_CHECKING:
    from hermes.agent.client_tools import ClientTools

log = logging.getLogger("hermes.gateway.http")
T = TypeVar("T")

SESSION_HEADER = "X-Hermes-Session-Id"
MODEL_ID = "hermes"
STOPPING = "the Hermes gateway is stopping; try again once it is back"
INTERNAL = "internal error in the Hermes gateway (the traceback is in its log)"
_SESSION_RE = re.compile(r"[A-Za-z0-9._@-]{1,128}")  # no ":": it names a chat in a Target
_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


class ApiGateway(Protocol):
    """The part of hermes.gateway.core.Gateway this API uses."""

    profile: Profile
    started_at: float

    async def api_turn(
        self,
        messages: list[Message],
        *,
        session: str | None,
        emit: EventSink,
        client: ClientTools | None = None,
    ) -> str: ...


def routes(gw: ApiGateway) -> list[Route]:
    async def models(request: Request) -> Response:
        entry = {
            "id": MODEL_ID,
            "object": "model",
            "created": int(gw.started_at),
            "owned_by": "hermes",
        }
        return JSONResponse({"object": "list", "data": [entry]})

    async def chat_completions(request: Request) -> Response:
        try:
            body = await _json_body(request)
            session = parse_session(request.headers.get(SESSION_HEADER))
            client = client_tools(body, session)
            messages = parse_messages(body.get("messages"), tools=client is not None)
            stream, include_usage = _stream_flags(body)
        except BadRequest as exc:
            return error_response(400, str(exc), "invalid_request_error")
        headers = {SESSION_HEADER: session} if session else {}
        turn = _Turn(gw, messages, session, client)
        if stream:
            return _SseTurn(turn, include_usage, headers)
        try:
            text = await _until_disconnect(turn.run(lambda _: None), request.receive)
        except HermesError as exc:
            # The provider already retried; a client retry would rerun the whole turn.
            headers["x-should-retry"] = "false"
            return error_response(502, _one_line(exc), "api_error", headers)
        if text is None:  # the client left; nobody reads this
            return Response(status_code=499)
        return JSONResponse(turn.completion(text), headers=headers)

    return [
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    ]


# ----- request parsing ------------------------------------------------------------


async def _json_body(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest('the request body must be a JSON object like {"messages": [...]}')
    return body


def parse_messages(value: Any, *, tools: bool = False) -> list[Message]:
    """OpenAI chat messages -> Messages (text only; with `tools`, the client's tool
    calls and their results too); BadRequest says what is wrong."""
    if not isinstance(value, list) or not value:
        raise BadRequest('"messages" must be a non-empty list of {"role", "content"} objects')
    out: list[Message] = []
    for i, item in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise BadRequest(f'{where} must be an object with "role" and "content"')
        if tools and item.get("role") == "tool":
            out.append(tool_message(item, where))
            continue
        role = _ROLES.get(str(item.get("role")))
        if role is None:
            raise unsupported_role(item.get("role"), where)
        message = Message(role=role, content=_text(item.get("content"), where, role))
        if tools and role == "assistant" and item.get("tool_calls"):
            message.tool_calls = assistant_calls(item, where)
        out.append(message)
    if out[-1].role != "user" and not (tools and out[-1].role == "tool"):
        raise BadRequest(
            "the last message must have role user (or tool, with the results of the "
            "request's tools): it is what Hermes answers"
        )
    return out


def _text(content: Any, where: str, role: Role) -> str:
    if isinstance(content, str):
        return content
    if content is None and role == "assistant":
        return ""
    if isinstance(content, list):
        parts: list[str] = []
        for j, part in enumerate(content):
            if not (isinstance(part, dict) and part.get("type") == "text"):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise BadRequest(
                    f"{where}.content[{j}] has type {clip(kind)}: only text parts "
                    '({"type": "text", "text": "..."}) are supported'
                )
            if not isinstance(part.get("text"), str):
                raise BadRequest(f"{where}.content[{j}].text must be a string")
            parts.append(part["text"])
        return "".join(parts)
    raise BadRequest(f"{where}.content must be a string or a list of text parts")


def parse_session(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _SESSION_RE.fullmatch(value):
        raise BadRequest(
            f"{SESSION_HEADER} must be 1-128 characters of letters, digits and ._@- (e.g. a UUID)"
        )
    return value


def _stream_flags(body: dict[str, Any]) -> tuple[bool, bool]:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest('"stream" must be true or false')
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise BadRequest('"stream_options" must be an object')
    return stream, stream and options.get("include_usage") is True


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# ----- running a turn ---------------------------------------------------------------


class _Turn:
    """One request's turn and the OpenAI objects that describe it."""

    def __init__(
        self,
        gw: ApiGateway,
        messages: list[Message],
        session: str | None,
        client: ClientTools | None = None,
    ):
        from hermes.providers.resolve import configured_model

        self.gw, self.messages, self.session = gw, messages, session
        self.client = client
        # the configured model until the turn's model call names the one serving it
        self.model = configured_model(gw.profile.settings.model, gw.profile.env)
        self.id = "chatcmpl-" + uuid.uuid4().hex
        self.created = int(time.time())
        self.usage = Usage()

    async def run(self, on_event: EventSink) -> str:
        def emit(event: AgentEvent) -> None:
            if isinstance(event, TurnDone):
                self.usage = event.usage
            elif isinstance(event, ModelCalled) and event.model:
                self.model = event.model
            on_event(event)

        if self.client is None:
            return await self.gw.api_turn(self.messages, session=self.session, emit=emit)
        return await self.gw.api_turn(
            self.messages, session=self.session, emit=emit, client=self.client
        )

    @property
    def client_calls(self) -> list[ToolCall]:
        """The calls of the client's tools the model made (they end the turn)."""
        return self.client.called if self.client is not None else []

    def usage_json(self) -> dict[str, int]:
        u = self.usage
        return {
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens,
        }

    def completion(self, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        finish = "stop"
        if self.client_calls:
            message = {"role": "assistant", "content": text or None}
            message["tool_calls"] = calls_json(self.client_calls)
            finish = "tool_calls"
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": self.usage_json(),
        }

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _sse(self._chunk_base() | {"choices": [choice]})

    def usage_chunk(self) -> bytes:
        return _sse(self._chunk_base() | {"choices": [], "usage": self.usage_json()})

    def _chunk_base(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }


def _sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _until_disconnect(work: Awaitable[T], receive: Receive) -> T | None:
    """Run `work` unless the client disconnects first (then it is cancelled: None)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, watcher, return_exceptions=True)
    if task.cancelled():
        return None
    return task.result()


class _SseTurn(Response):
    """Streams one turn as chat.completion.chunk events; a disconnect cancels the turn."""

    media_type = "text/event-stream"

    def __init__(self, turn: _Turn, include_usage: bool, headers: dict[str, str]):
        # Not Response.__init__: that would add "content-length: 0" to a stream.
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", **headers})
        self.turn, self.include_usage = turn, include_usage
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent_text = False
        self.after_tool = False
        self.opened = False  # the first chunk (role) is out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        try:
            produced = await _until_disconnect(self._pump(send), receive)
        except asyncio.CancelledError:  # the server is stopping: say so, then end cleanly
            stopping = {"error": {"message": STOPPING, "type": "server_error"}}
            await self._send(send, _sse(stopping) + _sse("[DONE]"))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            raise
        if produced is not None:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send) -> bool:
        producer = asyncio.create_task(self._produce())
        try:
            while (data := await self.queue.get()) is not None:
                await self._send(send, data)
        finally:
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
        return True

    async def _produce(self) -> None:
        put = self.queue.put_nowait
        try:
            text = await self.turn.run(self._on_event)
            self._open()
            if not self.sent_text and text:
                put(self.turn.chunk({"content": text}))
            if self.turn.client_calls:
                put(self.turn.chunk({"tool_calls": calls_json(self.turn.client_calls, True)}))
                put(self.turn.chunk({}, "tool_calls"))
            else:
                put(self.turn.chunk({}, "stop"))
            if self.include_usage:
                put(self.turn.usage_chunk())
        except HermesError as exc:
            put(_sse({"error": {"message": _one_line(exc), "type": "api_error"}}))
        except Exception:
            log.exception("chat completion turn failed")
            put(_sse({"error": {"message": INTERNAL, "type": "server_error"}}))
        put(_sse("[DONE]"))
        put(None)

    def _open(self) -> None:
        """Send the first chunk (role) once the serving model is known: every
        chunk names the same model."""
        if not self.opened:
            self.opened = True
            self.queue.put_nowait(self.turn.chunk({"role": "assistant", "content": ""}))

    def _on_event(self, event: AgentEvent) -> None:
        if isinstance(event, ModelCalled):
            self._open()
        elif isinstance(event, ToolFinished):
            self.after_tool = True
        elif isinstance(event, TextDelta) and event.text:
            self._open()
            text = event.text
            if self.after_tool and self.sent_text:
                text = "\n\n" + text  # a new model reply after tools: keep it a paragraph apart
            self.after_tool = False
            self.sent_text = True
            self.queue.put_nowait(self.turn.chunk({"content": text}))

    @staticmethod
    async def _send(send: Send, data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})
