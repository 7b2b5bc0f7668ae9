"""The OpenAI-compatible provider over real HTTP, against the scripted model."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.errors import ProviderError
from hermes.messages import Message, ToolCall, ToolSpec
from hermes.providers.http import Backoff
from hermes.providers.openai_compat import OpenAICompatProvider
from hermes.providers.resolve import resolve_provider
from hermes.settings import ModelSettings
from hermes.testing import Fail, ScriptedModel
from tests.provider_helpers import Sleeps, openai_providers

HELLO = [Message("system", "be brief"), Message("user", "hi")]
TERMINAL = ToolSpec("terminal", "run a command", {"type": "object", "properties": {}})


@pytest.fixture
def m() -> Iterator[ScriptedModel]:
    with ScriptedModel() as model:
        yield model


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make(sleeps: Sleeps) -> AsyncIterator[Any]:
    async with openai_providers(sleeps, max_retries=3) as build:
        yield build


async def test_plain_text_without_streaming(m: ScriptedModel, make: Any) -> None:
    m.reply("Hello there", usage=(12, 3))
    done = await make(m.base_url).complete(HELLO, [])
    assert done.message.role == "assistant"
    assert done.message.content == "Hello there"
    assert done.message.tool_calls == []
    assert done.finish_reason == "stop"
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (12, 3)
    sent = m.last_request
    assert sent["model"] == "test-model"
    assert sent.messages == [m.to_openai() for m in HELLO]
    assert "stream" not in sent and "tools" not in sent
    assert sent.authorization is None  # custom without a key sends none


async def test_streaming_delivers_deltas_in_order(m: ScriptedModel, make: Any) -> None:
    m.reply("The quick brown fox jumps", usage=(20, 5, 8))
    deltas: list[str] = []
    done = await make(m.base_url).complete(HELLO, [TERMINAL], on_text=deltas.append)
    assert len(deltas) > 1
    assert "".join(deltas) == "The quick brown fox jumps" == done.message.content
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (20, 5)
    assert done.usage.cached_tokens == 8
    sent = m.last_request
    assert sent.stream and sent["stream_options"] == {"include_usage": True}
    assert sent.tools == [TERMINAL.to_openai()]


@pytest.mark.parametrize("stream", [False, True])
async def test_parallel_tool_calls(m: ScriptedModel, make: Any, stream: bool) -> None:
    m.tool_calls(
        [("read_file", {"path": "notes.txt"}), ("terminal", {"command": "ls -la /tmp"})],
        text="Checking both.",
        usage=(30, 9, 16),
    )
    deltas: list[str] = []
    done = await make(m.base_url).complete(
        HELLO, [TERMINAL], on_text=deltas.append if stream else None
    )
    assert done.finish_reason == "tool_calls"
    assert done.message.content == "Checking both."
    assert [(c.id, c.name) for c in done.message.tool_calls] == [
        ("call_1", "read_file"),
        ("call_2", "terminal"),
    ]
    assert done.message.tool_calls[0].parsed_arguments() == {"path": "notes.txt"}
    assert done.message.tool_calls[1].parsed_arguments() == {"command": "ls -la /tmp"}
    assert done.usage.cached_tokens == 16
    assert "".join(deltas) == ("Checking both." if stream else "")


async def test_history_with_tool_results_is_sent_as_openai_messages(
    m: ScriptedModel, make: Any
) -> None:
    m.reply("done")
    history = [
        Message("user", "list files"),
        Message("assistant", "", [ToolCall("call_9", "terminal", '{"command": "ls"}')]),
        Message("tool", "a.txt", tool_call_id="call_9", name="terminal"),
    ]
    await make(m.base_url).complete(history, [TERMINAL])
    sent = m.last_messages()
    assert sent[1]["content"] is None
    assert sent[1]["tool_calls"][0]["function"] == {
        "name": "terminal",
        "arguments": '{"command": "ls"}',
    }
    assert sent[2] == {
        "role": "tool",
        "content": "a.txt",
        "tool_call_id": "call_9",
        "name": "terminal",
    }


@pytest.mark.parametrize("stream", [False, True])
async def test_500_then_success_retries_once(
    m: ScriptedModel, make: Any, sleeps: Sleeps, stream: bool
) -> None:
    m.fail(500, "boom").reply("recovered")
    deltas: list[str] = []
    done = await make(m.base_url).complete(HELLO, [], on_text=deltas.append if stream else None)
    assert done.message.content == "recovered"
    assert len(m.requests) == 2
    assert len(sleeps.delays) == 1
    assert "".join(deltas) == ("recovered" if stream else "")


async def test_429_honours_retry_after(m: ScriptedModel, make: Any, sleeps: Sleeps) -> None:
    m.fail(429, "slow down", retry_after=2).fail(429, "slower", retry_after=500).reply("ok")
    done = await make(m.base_url).complete(HELLO, [])
    assert done.message.content == "ok"
    assert sleeps.delays == [2.0, 60.0]  # the second is capped


async def test_backoff_grows_exponentially(m: ScriptedModel, sleeps: Sleeps) -> None:
    for _ in range(3):
        m.fail(502, "bad gateway")
    m.reply("ok")
    backoff = Backoff(base=1.0, cap=30.0, sleep=sleeps, rng=lambda: 1.0)
    provider = OpenAICompatProvider(
        name="custom", model="x", base_url=m.base_url, backoff=backoff, max_retries=3
    )
    try:
        await provider.complete(HELLO, [])
    finally:
        await provider.aclose()
    assert sleeps.delays == [1.0, 2.0, 4.0]


async def test_gives_up_after_max_retries(m: ScriptedModel, make: Any) -> None:
    for _ in range(3):
        m.fail(503, "upstream overloaded")
    with pytest.raises(ProviderError) as info:
        await make(m.base_url, max_retries=2).complete(HELLO, [])
    message = str(info.value)
    assert "503" in message and "upstream overloaded" in message
    assert message.endswith("gave up after 3 tries")
    assert "\n" not in message
    assert info.value.status == 503
    assert len(m.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_not_retried(m: ScriptedModel, status: int) -> None:
    m.fail(status, "nope")
    provider = resolve_provider(
        ModelSettings(provider="openai", base_url=m.base_url, model="gpt-x", max_retries=3),
        {"OPENAI_API_KEY": "sk-bad"},
    )
    try:
        with pytest.raises(ProviderError) as info:
            await provider.complete(HELLO, [])
    finally:
        await provider.aclose()
    assert len(m.requests) == 1
    assert m.last_request.authorization == "Bearer sk-bad"
    assert info.value.status == status
    if status in (401, 403):
        assert str(info.value) == (
            f"the openai API rejected the key in OPENAI_API_KEY ({status}): nope"
        )
    if status == 404:
        assert str(info.value).startswith("model 'gpt-x' not found at the openai API (404): nope")


async def test_missing_key_fails_before_any_request(m: ScriptedModel, tmp_path: Path) -> None:
    provider = resolve_provider(
        ModelSettings(provider="openrouter", base_url=m.base_url), {}, home=tmp_path
    )
    with pytest.raises(ProviderError) as info:
        await provider.complete(HELLO, [])
    assert str(info.value) == (
        f"no API key for openrouter: set OPENROUTER_API_KEY in {tmp_path}/.env "
        "or run `hermes setup`"
    )
    assert m.requests == []


async def test_api_key_env_names_the_variable(m: ScriptedModel) -> None:
    m.reply("ok")
    settings = ModelSettings(provider="custom", base_url=m.base_url, api_key_env="MY_KEY")
    provider = resolve_provider(settings, {"MY_KEY": "secret-1"})
    try:
        await provider.complete(HELLO, [])
    finally:
        await provider.aclose()
    assert m.last_request.api_key == "secret-1"


async def test_timeouts_are_retried(m: ScriptedModel, make: Any) -> None:
    gate = m.hang()
    m.reply("second try")
    done = await make(m.base_url, timeout=0.3, max_retries=1).complete(HELLO, [])
    assert done.message.content == "second try"
    assert gate.entered
    assert len(m.requests) == 2
    gate.release()


async def test_timeouts_give_up_with_a_clear_error(m: ScriptedModel, make: Any) -> None:
    first, second = m.hang(), m.hang()
    with pytest.raises(ProviderError, match=r"did not answer within 0.2s; gave up after 2 tries"):
        await make(m.base_url, timeout=0.2, max_retries=1).complete(HELLO, [])
    first.release()
    second.release()


async def test_no_retry_once_text_was_streamed(m: ScriptedModel, make: Any) -> None:
    gate = m.hang(partial="Half an answer", then=Fail(500, "upstream died"))
    deltas: list[str] = []
    task = asyncio.create_task(make(m.base_url).complete(HELLO, [], on_text=deltas.append))
    await gate.wait_entered_async()
    gate.release()
    with pytest.raises(ProviderError, match=r"upstream died.*broke off mid-stream"):
        await task
    assert "".join(deltas) == "Half an answer"
    assert len(m.requests) == 1


async def test_cancelling_a_hung_request_stops_it(m: ScriptedModel, make: Any) -> None:
    gate = m.hang()
    task = asyncio.create_task(make(m.base_url).complete(HELLO, [], on_text=lambda t: None))
    await gate.wait_entered_async()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gate.release()


async def test_unexpected_request_is_not_retried_and_is_reported(make: Any) -> None:
    m = ScriptedModel().start()
    try:
        with pytest.raises(ProviderError, match=r"HTTP 500: scripted model: unexpected request"):
            await make(m.base_url, max_retries=3).complete(HELLO, [])
    finally:
        m.stop()
    assert len(m.requests) == 1
    with pytest.raises(AssertionError, match="unexpected request"):
        m.assert_done()


async def test_connection_refused_on_loopback_fails_at_once(make: Any, sleeps: Sleeps) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ProviderError) as info:
        await make(url, max_retries=3).complete(HELLO, [])
    assert f"could not connect to the model server at {url}" in str(info.value)
    assert str(info.value).endswith("is the server running, and is model.base_url right?")
    assert sleeps.delays == []  # no server on this machine: waiting would not start one


async def test_a_failed_connection_to_another_machine_is_retried() -> None:
    import aiohttp

    from hermes.providers.transport import transport_failure

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError) as info:
            await session.post(f"http://127.0.0.1:{port}/v1")
    refused = info.value
    remote = transport_failure(refused, label="the openai API", url="https://api.openai.com/v1")
    local = transport_failure(refused, label="the server", url="http://localhost:8000/v1")
    assert (remote.retryable, local.retryable) == (True, False)


async def test_openrouter_sends_key_and_title(m: ScriptedModel) -> None:
    m.reply("ok")
    settings = ModelSettings(provider="openrouter", base_url=m.base_url)
    provider = resolve_provider(settings, {"OPENROUTER_API_KEY": "or-key"})
    try:
        await provider.complete(HELLO, [])
    finally:
        await provider.aclose()
    assert m.last_request["model"] == "anthropic/claude-sonnet-4"
    assert m.last_request.api_key == "or-key"
    assert m.last_request.headers["x-title"] == "Hermes"


async def test_the_same_provider_serves_several_event_loops(m: ScriptedModel) -> None:
    m.reply("one").reply("two")
    provider = OpenAICompatProvider(name="custom", model="x", base_url=m.base_url)
    first = await provider.complete(HELLO, [])

    def other_loop() -> str:
        return asyncio.run(provider.complete(HELLO, [])).message.content

    second = await asyncio.to_thread(other_loop)
    await provider.aclose()
    assert (first.message.content, second) == ("one", "two")


def test_stream_chunks_without_index_and_with_error_objects() -> None:
    from hermes.providers.http import StreamGuard
    from hermes.providers.openai_compat import StreamAccumulator

    acc = StreamAccumulator(StreamGuard(None))
    for delta in (
        {"tool_calls": [{"id": "a", "function": {"name": "x", "arguments": '{"k"'}}]},
        {"tool_calls": [{"function": {"arguments": ": 1}"}}]},
        {"tool_calls": [{"id": "b", "function": {"name": "y", "arguments": "{}"}}]},
    ):
        acc.feed({"choices": [{"index": 0, "delta": delta}]})
    acc.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    calls = acc.result().message.tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("a", "x", '{"k": 1}'),
        ("b", "y", "{}"),
    ]
    assert json.loads(calls[0].arguments) == {"k": 1}


async def test_a_stream_in_odd_pieces_with_long_lines_arrives_whole(make: Any) -> None:
    """A server that writes CRLF lines in pieces that split lines and UTF-8
    characters, one line of 300 KB (a tool call's arguments in one chunk)."""
    long = "é" * 150_000
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "héllo "}}]},
        {"choices": [{"index": 0, "delta": {"content": long}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    events = "".join(f"data: {json.dumps(c, ensure_ascii=False)}\r\n\r\n" for c in chunks)
    body = (events + "data: [DONE]\r\n\r\n").encode()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"content-length: %d\r\n\r\n" % len(body)
        )
        for start in range(0, len(body), 7777):  # odd: splits lines and characters
            writer.write(body[start : start + 7777])
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        deltas: list[str] = []
        provider = make(f"http://127.0.0.1:{port}/v1")
        done = await provider.complete(HELLO, [], on_text=deltas.append)
    finally:
        server.close()
    assert done.message.content == "héllo " + long
    assert deltas == ["héllo ", long]


async def test_http_proxy_and_no_proxy_from_the_environment(
    m: ScriptedModel, make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY is read when the loop's session is made (the scripted model
    plays the proxy: it answers the absolute-form request); NO_PROXY bypasses it."""
    from hermes.providers.transport import close_sessions

    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{m.port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.3")
    m.reply("through the proxy")
    await close_sessions()  # a session made now reads the environment
    done = await make("http://127.0.0.2:9/v1").complete(HELLO, [])  # nothing listens there
    assert done.message.content == "through the proxy"
    assert m.last_request.path == "http://127.0.0.2:9/v1/chat/completions"
    with pytest.raises(ProviderError, match="could not connect"):
        await make("http://127.0.0.3:9/v1", max_retries=0).complete(HELLO, [])
    await close_sessions()
