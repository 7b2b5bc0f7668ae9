"""Shared helpers for provider tests: a backoff sleep that records instead of
waiting, and OpenAI-compatible providers closed when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from hermes.providers.http import Backoff
from hermes.providers.openai_compat import OpenAICompatProvider


class Sleeps:
    """A backoff sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@asynccontextmanager
async def openai_providers(
    sleeps: Sleeps, **defaults: Any
) -> AsyncIterator[Callable[..., OpenAICompatProvider]]:
    """`build(base_url, **kw)` makes a provider (name "custom", model "test-model",
    then `defaults`, then `kw`) whose retries sleep through `sleeps`."""
    made: list[OpenAICompatProvider] = []

    def build(base_url: str, **kw: Any) -> OpenAICompatProvider:
        kw = {"name": "custom", "model": "test-model", **defaults, **kw}
        provider = OpenAICompatProvider(base_url=base_url, backoff=Backoff(sleep=sleeps), **kw)
        made.append(provider)
        return provider

    try:
        yield build
    finally:
        for provider in made:
            await provider.aclose()
