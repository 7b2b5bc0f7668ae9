"""ScriptedModel: an OpenAI-compatible model server on loopback that answers from a queue.

See the package docstring (hermes.testing) for a guide.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from hermes.testing.replies import (
    Answer,
    CallLike,
    Fail,
    Gate,
    Item,
    RecordedRequest,
    Reply,
    Responder,
    as_calls,
    call,
    to_answer,
)
from hermes.testing.server import UNEXPECTED, Server

if TYPE_CHECKING:
    from hermes.settings import ModelSettings

__all__ = ["UNEXPECTED", "ScriptedModel"]


class ScriptedModel:
    """A fake chat model: queue answers, point a provider at `base_url`, inspect `requests`."""

    def __init__(self, *, model: str = "scripted-model") -> None:
        self.model = model
        self.requests: list[RecordedRequest] = []  # chat requests, in arrival order
        self.problems: list[str] = []  # unexpected requests and broken callbacks
        self._queue: deque[Item] = deque()
        self._gates: list[Gate] = []
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> ScriptedModel:
        if self._server is None:
            self._server = Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.02},  # quick stop()
                name="scripted-model",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; held requests are released. Safe to call twice."""
        with self._cond:
            gates = list(self._gates)
        for gate in gates:
            gate.release()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> ScriptedModel:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if exc_type is None:
            self.assert_done()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("scripted model is not running: use `with ScriptedModel() as m`")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def model_settings(self, **overrides: Any) -> ModelSettings:
        """ModelSettings for this server (provider custom, no retries unless overridden)."""
        from hermes.settings import ModelSettings

        values: dict[str, Any] = {
            "provider": "custom",
            "base_url": self.base_url,
            "model": self.model,
            "max_retries": 0,
            "timeout": 30.0,
        }
        values.update(overrides)
        return ModelSettings(**values)

    def config(self) -> dict[str, Any]:
        """The `model:` section of a config.yaml that points at this server."""
        return {"provider": "custom", "base_url": self.base_url, "model": self.model}

    # -- queueing answers (each returns self, so calls chain) ------------------------

    def _push(self, item: Item) -> ScriptedModel:
        with self._cond:
            self._queue.append(item)
        return self

    def reply(
        self,
        text: str = "",
        *,
        usage: tuple[int, ...] | None = None,
        finish_reason: str | None = None,
        cost: float | None = None,
    ) -> ScriptedModel:
        """Queue a text answer. usage=(prompt, completion[, cached]); cost: USD in the
        usage object (as OpenRouter sends it)."""
        return self._push(Item(Reply(text, (), usage, finish_reason, cost)))

    def tool_call(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        text: str = "",
        id: str | None = None,
        usage: tuple[int, ...] | None = None,
    ) -> ScriptedModel:
        """Queue an answer that calls one tool (arguments: dict, or raw JSON text)."""
        return self._push(Item(Reply(text, (call(name, arguments, id=id),), usage)))

    def tool_calls(
        self,
        calls: Iterable[CallLike],
        *,
        text: str = "",
        usage: tuple[int, ...] | None = None,
    ) -> ScriptedModel:
        """Queue one answer with several (parallel) tool calls: [(name, args), ...]."""
        return self._push(Item(Reply(text, as_calls(list(calls)), usage)))

    def fail(
        self,
        status: int = 500,
        message: str = "scripted failure",
        *,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ScriptedModel:
        """Queue an HTTP error answer (consumed like a reply)."""
        return self._push(Item(Fail(status, message, retry_after, dict(headers or {}))))

    def reply_with(self, fn: Responder, *, times: int | None = 1) -> ScriptedModel:
        """Queue a callback fn(request) -> Answer for `times` requests (None: all that come)."""
        return self._push(Item(fn=fn, times=times))

    def hang(self, *, partial: str = "", then: Answer = "") -> Gate:
        """Queue a held answer: the request waits until `gate.release()` (or stop()).

        A streamed request first gets `partial` as text, then waits; after the
        release it gets `then` (a Fail after partial text becomes an error event).
        """
        gate = Gate()
        with self._cond:
            self._gates.append(gate)
        self._push(Item(answer=to_answer(then), gate=gate, partial=partial))
        return gate

    # -- inspection ---------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Queued answers not yet consumed (an endless reply_with counts as one)."""
        with self._cond:
            return len(self._queue)

    @property
    def last_request(self) -> RecordedRequest:
        with self._cond:
            if not self.requests:
                raise AssertionError("scripted model: no request was made")
            return self.requests[-1]

    def last_messages(self) -> list[dict[str, Any]]:
        """The `messages` of the last request."""
        return self.last_request.messages

    def last_user_text(self) -> str:
        """The content of the last user message in the last request."""
        for message in reversed(self.last_messages()):
            if message.get("role") == "user":
                return str(message.get("content") or "")
        return ""

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        """Block until `count` chat requests arrived; AssertionError after `timeout`."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(
                    f"scripted model: expected {count} request(s) within {timeout}s, "
                    f"got {len(self.requests)}"
                )

    def assert_done(self) -> None:
        """Fail unless every queued answer was used and nothing unexpected happened."""
        with self._cond:
            problems = list(self.problems)
            left = [i.describe() for i in self._queue if not (i.fn and i.times is None)]
        if left:
            problems.append(f"{len(left)} queued answer(s) never requested: {', '.join(left)}")
        if problems:
            raise AssertionError("scripted model: " + "; ".join(problems))

    # -- serving (called from handler threads) -------------------------------------

    def _take(self, request: RecordedRequest) -> Item | None:
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()
            if not self._queue:
                last = request.messages[-1] if request.messages else {}
                self.problems.append(
                    f"unexpected request #{len(self.requests)} (nothing queued; last message "
                    f"{last.get('role')}: {str(last.get('content'))[:80]!r})"
                )
                return None
            item = self._queue[0]
            if item.fn is not None and item.times is not None and item.times > 1:
                item.times -= 1
            elif not (item.fn is not None and item.times is None):
                self._queue.popleft()
            return item

    def _call_ids(self, reply: Reply) -> list[str]:
        """The calls' own ids, else the next call_N numbers."""
        with self._cond:
            return [c.id or f"call_{next(self._ids)}" for c in reply.calls]

    def _problem(self, text: str) -> None:
        with self._cond:
            self.problems.append(text)
