"""What a scripted model answers (replies, failures, gates) and what it records."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True)
class Call:
    """One tool call in a scripted reply. `id` None: the model numbers it call_1, call_2..."""

    name: str
    arguments: str = "{}"  # JSON text, sent verbatim (so a test can send broken JSON)
    id: str | None = None


def call(
    name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None
) -> Call:
    """A tool call; `arguments` is a dict (encoded as JSON) or raw JSON text."""
    if arguments is None:
        text = "{}"
    elif isinstance(arguments, str):
        text = arguments
    else:
        text = json.dumps(dict(arguments))
    return Call(name, text, id)


@dataclass(frozen=True)
class Reply:
    """A successful answer: text and/or tool calls.

    usage: (prompt, completion) or (prompt, completion, cached) tokens; None: a
    rough estimate from the request's size (about 4 characters per token).
    finish_reason: None: "tool_calls" when there are calls, else "stop".
    cost: USD in the usage object, as OpenRouter reports it (None: not sent).
    """

    text: str = ""
    calls: tuple[Call, ...] = ()
    usage: tuple[int, ...] | None = None
    finish_reason: str | None = None
    cost: float | None = None

    @property
    def finish(self) -> str:
        return self.finish_reason or ("tool_calls" if self.calls else "stop")


@dataclass(frozen=True)
class Fail:
    """An HTTP error answer, e.g. Fail(429, "slow down", retry_after=1)."""

    status: int = 500
    message: str = "scripted failure"
    retry_after: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


CallLike: TypeAlias = Call | tuple[str, Mapping[str, Any] | str]
Answer: TypeAlias = str | Reply | Fail | Call | tuple[str, Mapping[str, Any] | str] | list[Any]
"""What `reply_with` callbacks and `hang(then=...)` may give: text, a Reply, a
Fail, one tool call as (name, args) or Call, or a list of such tool calls."""


def to_call(item: CallLike) -> Call:
    if isinstance(item, Call):
        return item
    name, arguments = item
    return call(name, arguments)


def to_answer(answer: object) -> Reply | Fail:
    """Normalise anything a test may give into a Reply or a Fail."""
    if isinstance(answer, Reply | Fail):
        return answer
    if isinstance(answer, str):
        return Reply(text=answer)
    if isinstance(answer, Call):
        return Reply(calls=(answer,))
    if isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], str):
        return Reply(calls=(to_call(answer),))
    if isinstance(answer, list):
        return Reply(calls=tuple(to_call(c) for c in answer))
    raise TypeError(f"scripted model: cannot answer with {answer!r}")


class Gate:
    """Holds one request open until released (see ScriptedModel.hang)."""

    def __init__(self) -> None:
        self._entered = threading.Event()
        self._released = threading.Event()

    @property
    def entered(self) -> bool:
        """True once the held request has arrived."""
        return self._entered.is_set()

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def release(self) -> None:
        """Let the held request finish (with the gate's `then` answer)."""
        self._released.set()

    def wait_entered(self, timeout: float = 10.0) -> None:
        """Block until the request arrived; AssertionError after `timeout` seconds."""
        if not self._entered.wait(timeout):
            raise AssertionError(f"scripted model: no request reached the gate in {timeout}s")

    async def wait_entered_async(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """The same for async tests (does not block the event loop)."""
        await asyncio.to_thread(self.wait_entered, timeout)

    def _enter(self) -> None:
        self._entered.set()

    def _wait(self) -> None:
        self._released.wait()


class RecordedRequest(dict[str, Any]):
    """A request the model received: the parsed JSON body (it *is* that dict)
    plus `method`, `path` and `headers` (lower-case names)."""

    def __init__(
        self, body: Mapping[str, Any], *, method: str, path: str, headers: Mapping[str, str]
    ) -> None:
        super().__init__(body)
        self.method = method
        self.path = path
        self.headers = {k.lower(): v for k, v in headers.items()}

    @property
    def authorization(self) -> str | None:
        """The Authorization header as sent, or None."""
        return self.headers.get("authorization")

    @property
    def api_key(self) -> str | None:
        """The bearer token from Authorization, or None."""
        auth = self.authorization
        if auth and auth.lower().startswith("bearer "):
            return auth[7:]
        return None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return [str(t.get("function", {}).get("name")) for t in self.tools]

    @property
    def stream(self) -> bool:
        return self.get("stream") is True


Responder = Callable[[RecordedRequest], object]


@dataclass
class Item:
    """One queued entry: a fixed answer, a callback, or a gate."""

    answer: Reply | Fail | None = None
    fn: Responder | None = None
    times: int | None = 1  # callbacks: how many requests it answers (None: all)
    gate: Gate | None = None
    partial: str = ""  # gates: text streamed before waiting

    def describe(self) -> str:
        if self.gate is not None:
            return "hang()"
        if self.fn is not None:
            return f"reply_with({getattr(self.fn, '__name__', 'fn')})"
        if isinstance(self.answer, Fail):
            return f"fail({self.answer.status}, {self.answer.message!r})"
        assert self.answer is not None
        names = [c.name for c in self.answer.calls]
        return (
            f"reply({self.answer.text[:40]!r}, calls={names})"
            if names
            else (f"reply({self.answer.text[:40]!r})")
        )


def as_calls(calls: Sequence[CallLike]) -> tuple[Call, ...]:
    return tuple(to_call(c) for c in calls)
