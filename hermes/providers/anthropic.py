"""Anthropic's Messages API (POST {base_url}/v1/messages, through
hermes/providers/transport.py).

The conversion of our history lives in anthropic_wire.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from hermes.messages import Message, ToolSpec
from hermes.providers.anthropic_wire import (
    StreamAccumulator,
    parse_message,
    to_anthropic,
    tools_to_anthropic,
)
from hermes.providers.base import Completion
from hermes.providers.http import (
    AttemptFailed,
    Backoff,
    StreamGuard,
    iter_sse,
)
from hermes.providers.http_provider import HTTPProvider

if TYPE_CHECKING:
    from hermes.providers.transport import Client

__all__ = ["AnthropicProvider", "to_anthropic"]

ANTHROPIC_VERSION = "2023-06-01"
EPHEMERAL = {"type": "ephemeral"}


class AnthropicProvider(HTTPProvider):
    """Claude over the Messages API. Build it with hermes.providers.resolve.resolve_provider."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str = "https://api.anthropic.com",
        api_key: str | None = None,
        key_env: str = "ANTHROPIC_API_KEY",
        missing_key: str | None = None,
        context_window: int = 200_000,
        max_tokens: int = 8192,
        timeout: float = 120.0,
        max_retries: int = 4,
        max_call_seconds: float | None = 300.0,
        backoff: Backoff | None = None,
    ) -> None:
        root = base_url.rstrip("/")
        super().__init__(
            name="anthropic",
            model=model,
            base_url=root[: -len("/v1")] if root.endswith("/v1") else root,
            api_key=api_key,
            key_env=key_env,
            missing_key=missing_key,
            context_window=context_window,
            timeout=timeout,
            max_retries=max_retries,
            max_call_seconds=max_call_seconds,
            backoff=backoff,
            label="the anthropic API",
        )
        self.max_tokens = max_tokens

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/messages"

    @property
    def models_url(self) -> str:
        return f"{self.base_url}/v1/models?limit=1000"

    def request_body(
        self, messages: list[Message], tools: list[ToolSpec], *, stream: bool
    ) -> dict[str, Any]:
        system, turns = to_anthropic(messages)
        turns[-1]["content"][-1]["cache_control"] = EPHEMERAL  # cache the prefix for next time
        body: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens}
        if system:
            body["system"] = [{"type": "text", "text": system, "cache_control": EPHEMERAL}]
        body["messages"] = turns
        if tools:
            body["tools"] = tools_to_anthropic(tools)
        if stream:
            body["stream"] = True
        return body

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key or "", "anthropic-version": ANTHROPIC_VERSION}

    async def _post(self, client: Client, body: dict[str, Any]) -> Completion:
        response = await client.post(self.url, body, self._headers())
        if response.status >= 400:
            raise self._failure(response)
        try:
            return parse_message(response.json())
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            raise AttemptFailed(
                f"{self._label} sent a reply that is not a message ({exc})", retryable=True
            ) from exc

    async def _stream(self, client: Client, body: dict[str, Any], guard: StreamGuard) -> Completion:
        acc = StreamAccumulator(guard)
        async with client.stream(self.url, body, self._headers()) as resp:
            if resp.status >= 400:
                raise self._failure(await resp.read())
            async for event in iter_sse(resp.lines()):
                try:
                    data = json.loads(event.data)
                except ValueError as exc:
                    raise AttemptFailed(
                        f"{self._label} sent a malformed stream event", retryable=True
                    ) from exc
                if isinstance(data, dict):
                    kind = str(data.get("type") or event.event)
                    if kind not in ("ping", "error"):  # pings only keep the connection up
                        guard.progress()
                    acc.feed(kind, data, self._label)
                if acc.done:
                    break
        if not acc.done:
            raise AttemptFailed(
                f"{self._label} ended the stream before the reply was complete", retryable=True
            )
        return acc.result()
