"""A model that hangs is reported in seconds (issue 12, item 9): the chat hears a
slow notice after model.slow_notice_seconds, one call (all its tries) ends at
model.max_call_seconds with one line naming the provider, and a read timeout
is retried once at most, not max_retries times."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.errors import ProviderError
from hermes.messages import Message
from hermes.platforms.spec import Capabilities
from hermes.providers.http import AttemptFailed, Backoff, CallBudget, with_retries
from hermes.testing import RecordedRequest, ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.provider_helpers import Sleeps, openai_providers
from tests.tools_helpers import wait_until

HELLO = [Message("system", "be brief"), Message("user", "hi")]


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make(sleeps: Sleeps) -> AsyncIterator[Any]:
    async with openai_providers(sleeps) as build:
        yield build


@pytest.fixture
def silent() -> Iterator[threading.Event]:
    """Set to let every request held by `hold_all` go (done at teardown)."""
    release = threading.Event()
    yield release
    release.set()


def hold_all(model: ScriptedModel, release: threading.Event) -> None:
    """Every request from now on gets no answer until `release` is set."""

    def held(request: RecordedRequest) -> str:
        release.wait(60)
        return "too late"

    model.reply_with(held, times=None)


# ----- the provider ------------------------------------------------------------------


async def test_a_hung_model_fails_at_max_call_seconds_naming_it(
    model: ScriptedModel, make: Any, silent: threading.Event
) -> None:
    hold_all(model, silent)
    provider = make(model.base_url, timeout=60, max_retries=4, max_call_seconds=1.0)
    began = time.monotonic()
    with pytest.raises(ProviderError) as info:
        await provider.complete(HELLO, [], on_text=lambda t: None)
    elapsed = time.monotonic() - began
    assert 0.9 <= elapsed < 2.5, elapsed
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"the model server at {model.base_url} (model test-model) sent no reply for 1s"
    )
    assert "model.max_call_seconds" in message and "/model" in message
    assert len(model.requests) == 1


async def test_a_read_timeout_is_retried_once_not_max_retries_times(
    model: ScriptedModel, make: Any, silent: threading.Event, sleeps: Sleeps
) -> None:
    hold_all(model, silent)
    provider = make(model.base_url, timeout=0.3, max_retries=4, max_call_seconds=60)
    with pytest.raises(ProviderError, match=r"did not answer within 0.3s; gave up after 2 tries$"):
        await provider.complete(HELLO, [])
    assert len(model.requests) == 2  # was 5 (max_retries 4) before
    assert len(sleeps.delays) == 1


async def test_server_errors_keep_their_retries_within_the_budget(
    model: ScriptedModel, make: Any, sleeps: Sleeps
) -> None:
    for _ in range(4):
        model.fail(503, "overloaded")
    model.reply("ok")
    done = await make(model.base_url, max_retries=4, max_call_seconds=60).complete(HELLO, [])
    assert done.message.content == "ok"
    assert len(sleeps.delays) == 4 and len(model.requests) == 5


async def test_a_wait_that_would_pass_the_budget_is_not_waited(
    model: ScriptedModel, make: Any, sleeps: Sleeps
) -> None:
    model.fail(429, "slow down", retry_after=50)
    with pytest.raises(ProviderError) as info:
        await make(model.base_url, max_retries=4, max_call_seconds=5).complete(HELLO, [])
    assert str(info.value).endswith(
        "gave up after 1 try: another try would pass model.max_call_seconds (5s)"
    )
    assert sleeps.delays == []


async def test_progress_restarts_the_count_and_silence_ends_the_call() -> None:
    """A reply that keeps streaming is never cut; one that goes quiet is."""
    budget = CallBudget(0.3, "the test API (model m)")

    async def streaming() -> str:
        for _ in range(12):  # 0.6 s in all, never 0.3 s without progress
            await asyncio.sleep(0.05)
            budget.progress()
        return "whole reply"

    assert await with_retries(streaming, max_retries=0, backoff=Backoff(), budget=budget) == (
        "whole reply"
    )

    budget = CallBudget(0.3, "the test API (model m)")

    async def goes_quiet() -> str:
        budget.progress()
        await asyncio.sleep(5)
        return "never"

    began = time.monotonic()
    with pytest.raises(ProviderError, match=r"^the test API \(model m\) sent no reply for 0.3s"):
        await with_retries(goes_quiet, max_retries=3, backoff=Backoff(), budget=budget)
    assert time.monotonic() - began < 1.5


async def test_the_budget_covers_the_tries_together() -> None:
    budget = CallBudget(0.5, "the test API (model m)")
    tries = 0

    async def fails_slowly() -> str:
        nonlocal tries
        tries += 1
        await asyncio.sleep(0.2)
        raise AttemptFailed("the test API failed with HTTP 502: bad gateway", retryable=True)

    began = time.monotonic()
    with pytest.raises(ProviderError) as info:
        await with_retries(
            fails_slowly, max_retries=10, backoff=Backoff(base=0.01, cap=0.01), budget=budget
        )
    assert time.monotonic() - began < 1.0
    assert tries == 3
    assert "(3 tries; last: the test API failed with HTTP 502: bad gateway)" in str(info.value)


# ----- what the chat sees --------------------------------------------------------------


def slow_home(path: Path, model: ScriptedModel, **model_config: Any) -> Path:
    settings = {"max_call_seconds": 2, "slow_notice_seconds": 0.5, "timeout": 30}
    settings.update(model_config, max_retries=4)
    return make_home(path, model, {"model": settings})


async def test_the_chat_hears_a_slow_model_in_seconds_then_one_clear_error(
    tmp_path: Path, model: ScriptedModel, silent: threading.Event
) -> None:
    hold_all(model, silent)
    chat = FakeChat()
    async with running_gateway(slow_home(tmp_path / "home", model), [chat]):
        began = time.monotonic()
        await chat.say("hello?")
        await wait_until(lambda: any("⏳" in t for t in chat.shown()), 5, lambda: str(chat.shown()))
        noticed = time.monotonic() - began
        assert chat.shown() == [
            "⏳ No reply from the model (custom · scripted-model at "
            f"{model.base_url}) for 0.5s; still waiting, up to 2s."
        ]
        await wait_until(lambda: chat.shown()[0].startswith("⚠️"), 5, lambda: str(chat.shown()))
        failed = time.monotonic() - began
    assert 0.4 <= noticed < 1.5, noticed
    assert 1.9 <= failed < 3.5, failed
    [shown] = chat.shown()  # the draft became the error: one message in all
    assert shown.startswith(f"⚠️ the model server at {model.base_url} (model scripted-model)")
    assert "sent no reply for 2s" in shown and "\n" not in shown
    assert len(model.requests) == 1


async def test_silence_after_some_text_is_reported_in_the_draft_too(
    tmp_path: Path, model: ScriptedModel
) -> None:
    gate = model.hang(partial="Thinking", then=" done at last")
    chat = FakeChat()
    async with running_gateway(slow_home(tmp_path / "home", model, max_call_seconds=30), [chat]):
        await chat.say("hello?")
        await wait_until(lambda: chat.shown() == ["Thinking"], 5, lambda: str(chat.shown()))
        await wait_until(lambda: "⏳" in chat.shown()[0], 5, lambda: str(chat.shown()))
        assert chat.shown()[0].startswith("Thinking\n\n⏳ No reply from the model")
        gate.release()
        await wait_until(
            lambda: chat.shown() == ["Thinking done at last"], 5, lambda: str(chat.shown())
        )


async def test_a_chat_without_drafts_gets_one_short_notice(
    tmp_path: Path, model: ScriptedModel, silent: threading.Event
) -> None:
    hold_all(model, silent)
    chat = FakeChat(capabilities=Capabilities(max_length=4096, can_edit=False))
    async with running_gateway(slow_home(tmp_path / "home", model), [chat]):
        await chat.say("hello?")
        await wait_until(lambda: len(chat.shown()) == 2, 6, lambda: str(chat.shown()))
    notice, error = chat.shown()
    assert notice.startswith("⏳ No reply from the model")
    assert error.startswith("⚠️ the model server at") and "max_call_seconds" in error
