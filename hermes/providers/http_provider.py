"""What the HTTP providers share: the key check, retries, one client per loop.

Subclasses say how to build a request body and how to read a plain or a
streamed reply; `complete` does the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hermes.errors import ProviderError
from hermes.messages import Message, ToolSpec
from hermes.providers.base import Completion, TextCallback
from hermes.providers.http import (
    AttemptFailed,
    Backoff,
    CallBudget,
    ClientHolder,
    StreamGuard,
    status_failure,
    with_retries,
)

if TYPE_CHECKING:
    from hermes.providers.transport import Client, Reply


class HTTPProvider:
    def __init__(
        self,
        *,
        name: str,
        model: str,
        base_url: str,
        api_key: str | None,
        key_env: str | None,
        missing_key: str | None,
        context_window: int,
        timeout: float,
        max_retries: int,
        backoff: Backoff | None,
        label: str,
        max_call_seconds: float | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.context_window = context_window
        self.base_url = base_url
        self.max_retries = max_retries
        self.max_call_seconds = max_call_seconds  # see hermes.providers.http.CallBudget
        self._api_key = api_key
        self._key_env = key_env
        self._missing_key = missing_key  # raised on first use when a required key is absent
        self._backoff = backoff or Backoff()
        self._clients = ClientHolder(timeout)
        self._label = label

    @property
    def label(self) -> str:
        """How errors name the server, e.g. "the openai API"."""
        return self._label

    @property
    def key_env(self) -> str | None:
        return self._key_env

    @property
    def missing_key(self) -> str | None:
        """The one-line error a call would raise because the key is absent."""
        return self._missing_key

    @property
    def models_url(self) -> str:
        """Where the server lists its models (hermes.providers.probe asks it)."""
        return f"{self.base_url}/models"

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def request_headers(self) -> dict[str, str]:
        """The headers (with the key) every request to this server carries."""
        return self._headers()

    def request_body(
        self, messages: list[Message], tools: list[ToolSpec], *, stream: bool
    ) -> dict[str, Any]:
        raise NotImplementedError

    async def _post(self, client: Client, body: dict[str, Any]) -> Completion:
        raise NotImplementedError

    async def _stream(self, client: Client, body: dict[str, Any], guard: StreamGuard) -> Completion:
        raise NotImplementedError

    async def complete(
        self,
        messages: list[Message],
        tools: list[ToolSpec],
        *,
        on_text: TextCallback | None = None,
    ) -> Completion:
        if self._missing_key:
            raise ProviderError(self._missing_key)
        body = self.request_body(messages, tools, stream=on_text is not None)
        budget = CallBudget(self.max_call_seconds, f"{self._label} (model {self.model})")
        guard = StreamGuard(on_text, budget.progress)
        client = await self._clients.get()
        import aiohttp

        from hermes.providers.transport import transport_failure

        async def attempt() -> Completion:
            try:
                if on_text is None:
                    return await self._post(client, body)
                return await self._stream(client, body, guard)
            except aiohttp.ClientError as exc:
                raise transport_failure(
                    exc, label=self._label, url=self.base_url, timeout=self._clients.timeout
                ) from exc

        return await with_retries(
            attempt,
            max_retries=self.max_retries,
            backoff=self._backoff,
            guard=guard,
            budget=budget,
        )

    def _failure(self, reply: Reply) -> AttemptFailed:
        return status_failure(
            reply.status,
            reply.body,
            reply.headers,
            reason=reply.reason,
            label=self._label,
            key_env=self._key_env,
            model=self.model,
        )

    async def aclose(self) -> None:
        """Nothing to release: the client is shared (see http.close_shared_clients)."""
