"""The Anthropic provider against a small fake Messages API on loopback.

The fake returns what the public API documents: a `message` object, or for
`stream: true` the events message_start, content_block_start/delta/stop,
message_delta and message_stop; errors as {"type": "error", "error": {...}}.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hermes.errors import ProviderError
from hermes.messages import Message, ToolCall, ToolSpec
from hermes.providers.anthropic import AnthropicProvider, to_anthropic
from hermes.providers.http import Backoff
from tests.provider_helpers import Sleeps

Event = tuple[str, dict[str, Any]]


class FakeAnthropic:
    """Answers POST /v1/messages from a queue; records headers and bodies."""

    def __init__(self) -> None:
        self.queue: list[tuple[int, Any]] = []  # (status, message dict | list of events)
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                owner.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if self.path != "/v1/messages" or not owner.queue:
                    self.send_error(418)
                    return
                status, answer = owner.queue.pop(0)
                self.send_response(status)
                if isinstance(answer, list):
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    for name, data in answer:
                        self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                    return
                raw = json.dumps(answer).encode()
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def message(content: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, **usage},
    }


def error(kind: str, text: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": text}}


def stream(text_parts: list[str], tool: tuple[str, str, list[str]] | None = None) -> list[Event]:
    start = message([], stop="")
    start["stop_reason"] = None
    start["usage"] = {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 100}
    events: list[Event] = [("message_start", {"type": "message_start", "message": start})]
    events.append(
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
    )
    events.append(("ping", {"type": "ping"}))
    for part in text_parts:
        delta = {"type": "text_delta", "text": part}
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    stop = "end_turn"
    if tool:
        tool_id, name, fragments = tool
        block = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": 1, "content_block": block},
            )
        )
        for fragment in fragments:
            delta = {"type": "input_json_delta", "partial_json": fragment}
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta})
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 1}))
        stop = "tool_use"
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 42},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    yield server
    server.close()


@pytest.fixture
async def provider(fake: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:
    p = AnthropicProvider(
        model="claude-test",
        base_url=fake.base_url,
        api_key="sk-ant-test",
        max_retries=2,
        backoff=Backoff(sleep=Sleeps()),
    )
    yield p
    await p.aclose()


SEARCH = ToolSpec(
    "search", "find things", {"type": "object", "properties": {"q": {"type": "string"}}}
)


def test_history_conversion() -> None:
    history = [
        Message("system", "You are Hermes."),
        Message("user", "look up two things"),
        Message(
            "assistant",
            "On it.",
            [
                ToolCall("call_1", "search", '{"q": "a"}'),
                ToolCall("functions.search:2", "search", ""),
            ],
        ),
        Message("tool", "result a", tool_call_id="call_1", name="search"),
        Message("tool", "", tool_call_id="functions.search:2", name="search"),
        Message("user", "thanks"),
        Message("user", "and?"),
    ]
    system, turns = to_anthropic(history)
    assert system == "You are Hermes."
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [
        {"type": "text", "text": "On it."},
        {"type": "tool_use", "id": "call_1", "name": "search", "input": {"q": "a"}},
        {"type": "tool_use", "id": "functions_search_2", "name": "search", "input": {}},
    ]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "result a"},
        {"type": "tool_result", "tool_use_id": "functions_search_2", "content": "(no output)"},
        {"type": "text", "text": "thanks"},
        {"type": "text", "text": "and?"},
    ]


def test_interrupted_tool_calls_get_a_result() -> None:
    history = [
        Message("user", "go"),
        Message("assistant", "", [ToolCall("c1", "search", "{}")]),
        Message("user", "stop that"),
    ]
    _, turns = to_anthropic(history)
    assert turns[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "c1",
        "content": "(no result: interrupted)",
    }
    assert turns[2]["content"][1] == {"type": "text", "text": "stop that"}


async def test_non_stream_request_and_reply(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.queue.append(
        (
            200,
            message(
                [
                    {"type": "text", "text": "Searching."},
                    {"type": "tool_use", "id": "toolu_01", "name": "search", "input": {"q": "x"}},
                ],
                stop="tool_use",
                cache_read_input_tokens=30,
                cache_creation_input_tokens=5,
            ),
        )
    )
    done = await provider.complete([Message("system", "sys"), Message("user", "hi")], [SEARCH])
    headers, body = fake.requests[0]
    assert headers["x-api-key"] == "sk-ant-test"
    assert headers["anthropic-version"] == "2023-06-01"
    assert body["model"] == "claude-test"
    assert body["max_tokens"] > 0
    assert body["system"][0]["text"] == "sys"
    assert body["messages"][0]["role"] == "user"
    assert body["messages"][0]["content"][0]["text"] == "hi"
    assert body["tools"] == [
        {"name": "search", "description": "find things", "input_schema": SEARCH.parameters}
    ]
    assert "stream" not in body
    assert done.message.content == "Searching."
    assert [(c.id, c.name, c.parsed_arguments()) for c in done.message.tool_calls] == [
        ("toolu_01", "search", {"q": "x"})
    ]
    assert done.finish_reason == "tool_calls"
    assert done.usage.prompt_tokens == 10 + 30 + 5
    assert done.usage.cached_tokens == 30
    assert done.usage.completion_tokens == 5


async def test_streaming_text_and_tool_use(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.queue.append(
        (200, stream(["Let me ", "check."], ("toolu_9", "search", ['{"q": ', '"weather"}'])))
    )
    deltas: list[str] = []
    done = await provider.complete([Message("user", "weather?")], [SEARCH], on_text=deltas.append)
    assert deltas == ["Let me ", "check."]
    assert done.message.content == "Let me check."
    assert done.message.tool_calls == [ToolCall("toolu_9", "search", '{"q": "weather"}')]
    assert done.finish_reason == "tool_calls"
    assert done.usage.prompt_tokens == 125
    assert done.usage.cached_tokens == 100
    assert done.usage.completion_tokens == 42
    assert fake.requests[0][1]["stream"] is True


async def test_overloaded_529_is_retried(fake: FakeAnthropic, provider: AnthropicProvider) -> None:
    fake.queue.append((529, error("overloaded_error", "Overloaded")))
    fake.queue.append((200, message([{"type": "text", "text": "fine"}])))
    done = await provider.complete([Message("user", "hi")], [])
    assert done.message.content == "fine"
    assert len(fake.requests) == 2


async def test_error_event_before_text_is_retried(
    fake: FakeAnthropic, provider: AnthropicProvider
) -> None:
    fake.queue.append((200, [("error", error("overloaded_error", "Overloaded"))]))
    fake.queue.append((200, stream(["ok"])))
    deltas: list[str] = []
    done = await provider.complete([Message("user", "hi")], [], on_text=deltas.append)
    assert done.message.content == "ok" == "".join(deltas)
    assert len(fake.requests) == 2


async def test_bad_key_is_one_clear_line(fake: FakeAnthropic, provider: AnthropicProvider) -> None:
    fake.queue.append((401, error("authentication_error", "invalid x-api-key")))
    with pytest.raises(ProviderError) as info:
        await provider.complete([Message("user", "hi")], [])
    assert str(info.value) == (
        "the anthropic API rejected the key in ANTHROPIC_API_KEY (401): invalid x-api-key"
    )
    assert len(fake.requests) == 1


async def test_gives_up_after_retries(fake: FakeAnthropic, provider: AnthropicProvider) -> None:
    for _ in range(3):
        fake.queue.append((500, error("api_error", "Internal server error")))
    with pytest.raises(ProviderError, match=r"HTTP 500: Internal server error; gave up after 3"):
        await provider.complete([Message("user", "hi")], [])


async def test_missing_key_is_reported_before_any_request(fake: FakeAnthropic) -> None:
    p = AnthropicProvider(
        model="claude-test", base_url=fake.base_url, missing_key="no API key for anthropic: ..."
    )
    with pytest.raises(ProviderError, match="no API key for anthropic"):
        await p.complete([Message("user", "hi")], [])
    assert fake.requests == []


def test_base_url_with_v1_is_not_doubled() -> None:
    p = AnthropicProvider(model="m", base_url="https://example.test/v1/")
    assert p.url == "https://example.test/v1/messages"
