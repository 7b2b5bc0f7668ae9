"""The one interface every model provider implements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from hermes.messages import Message, ToolSpec, Usage

TextCallback = Callable[[str], None]


@dataclass
class Completion:
    """One model reply: text and/or tool calls, plus the tokens it cost."""

    message: Message  # role="assistant"
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"


class Provider(Protocol):
    """A chat model. Implementations: openai_compat, anthropic, local."""

    name: str  # provider id as in config: openrouter, openai, anthropic, nous, custom, local
    model: str
    context_window: int  # tokens; used to decide when to compress

    async def complete(
        self,
        messages: list[Message],
        tools: list[ToolSpec],
        *,
        on_text: TextCallback | None = None,
    ) -> Completion:
        """Run one completion. Streams text deltas to on_text when given.

        Raises hermes.errors.ProviderError with a one-line message on failure
        (after retries for 429/5xx/timeouts).
        """
        ...

    async def aclose(self) -> None: ...
