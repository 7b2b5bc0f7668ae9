"""Any OpenAI-compatible chat-completions endpoint: OpenRouter, OpenAI, Nous, local servers.

Plain HTTP (no SDK; hermes/providers/transport.py). With `on_text` the reply is
streamed (SSE) and text deltas are forwarded as they arrive; without it one JSON
reply is fetched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hermes.messages import Message, ToolCall, ToolSpec, Usage
from hermes.providers.base import Completion
from hermes.providers.http import (
    AttemptFailed,
    Backoff,
    StreamGuard,
    error_text,
    iter_sse,
)
from hermes.providers.http_provider import HTTPProvider

if TYPE_CHECKING:
    from hermes.providers.transport import Client


def parse_usage(data: Any) -> Usage:
    """Usage from an OpenAI `usage` object (cached tokens where the server reports them)."""
    if not isinstance(data, dict):
        return Usage()
    details = data.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if cached is None:
        cached = data.get("prompt_cache_hit_tokens")  # DeepSeek's spelling
    cost = data.get("cost")  # OpenRouter: USD (credits) for this call
    return Usage(
        prompt_tokens=int(data.get("prompt_tokens") or 0),
        completion_tokens=int(data.get("completion_tokens") or 0),
        cached_tokens=int(cached or 0),
        cost=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
    )


def _text_of(content: Any) -> str:
    """Message content as text (a string, or a list of text parts some servers send)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def _arguments_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)


def _finish(reason: Any, calls: list[ToolCall]) -> str:
    if isinstance(reason, str) and reason:
        return reason
    return "tool_calls" if calls else "stop"


def parse_completion(data: Mapping[str, Any]) -> Completion:
    """A non-streamed chat.completion object as a Completion."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ValueError("the reply has no choices")
    choice = choices[0]
    msg = choice.get("message") or {}
    calls = [
        ToolCall(
            id=str(c.get("id") or f"call_{i}"),
            name=str((c.get("function") or {}).get("name", "")),
            arguments=_arguments_text((c.get("function") or {}).get("arguments")),
        )
        for i, c in enumerate(msg.get("tool_calls") or [])
    ]
    message = Message(role="assistant", content=_text_of(msg.get("content")), tool_calls=calls)
    return Completion(
        message=message,
        usage=parse_usage(data.get("usage")),
        finish_reason=_finish(choice.get("finish_reason"), calls),
    )


# delta fields that show a model at work without text for the user
_LIFE = ("tool_calls", "reasoning", "reasoning_content", "refusal")


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class StreamAccumulator:
    """Builds a Completion from chat.completion.chunk objects."""

    def __init__(self, emit: StreamGuard) -> None:
        self._emit = emit
        self._text: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self._last_index = -1
        self.usage = Usage()
        self.finish_reason: str | None = None
        self.done = False

    def feed(self, chunk: Mapping[str, Any]) -> None:
        if chunk.get("usage"):
            self.usage = parse_usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = _text_of(delta.get("content"))
            if text:
                self._text.append(text)
                self._emit(text)
            elif any(delta.get(k) for k in _LIFE):  # not text, but the model is working
                self._emit.progress()
            for call in delta.get("tool_calls") or []:
                self._feed_call(call)
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])

    def _feed_call(self, call: Mapping[str, Any]) -> None:
        index = call.get("index")
        if not isinstance(index, int):
            # Some servers omit the index: a new id starts a new call.
            new_id = call.get("id")
            last = self._calls.get(self._last_index)
            starts_new = last is None or (new_id and new_id != last.id)
            index = self._last_index + 1 if starts_new else self._last_index
        partial = self._calls.setdefault(index, _PartialCall())
        self._last_index = index
        if call.get("id"):
            partial.id = str(call["id"])
        function = call.get("function") or {}
        if function.get("name") and not partial.name:
            partial.name = str(function["name"])
        if function.get("arguments") is not None:
            partial.arguments.append(_arguments_text(function["arguments"]))

    def result(self) -> Completion:
        calls = [
            ToolCall(id=p.id or f"call_{i}", name=p.name, arguments="".join(p.arguments))
            for i, p in sorted(self._calls.items())
        ]
        message = Message(role="assistant", content="".join(self._text), tool_calls=calls)
        return Completion(message, self.usage, _finish(self.finish_reason, calls))


class OpenAICompatProvider(HTTPProvider):
    """Chat completions over HTTP. Build it with hermes.providers.resolve.resolve_provider."""

    def __init__(
        self,
        *,
        name: str,
        model: str,
        base_url: str,
        api_key: str | None = None,
        key_env: str | None = None,
        missing_key: str | None = None,
        context_window: int = 128_000,
        timeout: float = 120.0,
        max_retries: int = 4,
        max_call_seconds: float | None = 300.0,
        backoff: Backoff | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        root = base_url.rstrip("/")
        super().__init__(
            name=name,
            model=model,
            base_url=root,
            api_key=api_key,
            key_env=key_env,
            missing_key=missing_key,
            context_window=context_window,
            timeout=timeout,
            max_retries=max_retries,
            max_call_seconds=max_call_seconds,
            backoff=backoff,
            label=f"the model server at {root}" if name == "custom" else f"the {name} API",
        )
        self._extra_headers = dict(headers or {})

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _headers(self) -> dict[str, str]:
        headers = dict(self._extra_headers)
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        return headers

    def request_body(
        self, messages: list[Message], tools: list[ToolSpec], *, stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_openai() for m in messages],
        }
        if tools:
            body["tools"] = [t.to_openai() for t in tools]
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _body_error(self, data: Mapping[str, Any]) -> AttemptFailed:
        """An error object sent with status 200 (OpenRouter does this)."""
        err = data.get("error")
        code = err.get("code") if isinstance(err, dict) else None
        status = code if isinstance(code, int) else None
        text = error_text(json.dumps(data), fallback="unknown error")
        retryable = status is None or status == 429 or status >= 500
        return AttemptFailed(f"{self._label} reported: {text}", status=status, retryable=retryable)

    async def _post(self, client: Client, body: dict[str, Any]) -> Completion:
        response = await client.post(self.url, body, self._headers())
        if response.status >= 400:
            raise self._failure(response)
        try:
            data = response.json()
            if isinstance(data, dict) and data.get("error") and not data.get("choices"):
                raise self._body_error(data)
            return parse_completion(data)
        except (ValueError, AttributeError, TypeError) as exc:
            raise AttemptFailed(
                f"{self._label} sent a reply that is not a chat completion ({exc})",
                retryable=True,
            ) from exc

    async def _stream(self, client: Client, body: dict[str, Any], guard: StreamGuard) -> Completion:
        acc = StreamAccumulator(guard)
        async with client.stream(self.url, body, self._headers()) as resp:
            if resp.status >= 400:
                raise self._failure(await resp.read())
            async for event in iter_sse(resp.lines()):
                if event.data.strip() == "[DONE]":
                    acc.done = True
                    break
                try:
                    chunk = json.loads(event.data)
                except ValueError as exc:
                    raise AttemptFailed(
                        f"{self._label} sent a malformed stream chunk", retryable=True
                    ) from exc
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("error"):
                    raise self._body_error(chunk)
                acc.feed(chunk)
        if not acc.done and acc.finish_reason is None:
            raise AttemptFailed(
                f"{self._label} ended the stream before the reply was complete", retryable=True
            )
        return acc.result()
