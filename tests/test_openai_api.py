"""The OpenAI-compatible API, driven by the real `openai` client against the
gateway's app served on a loopback port, with a scripted model behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from gateway_helpers import make_home, running_gateway
from openai import AsyncOpenAI

from hermes.gateway.core import Gateway
from hermes.server.server import HttpServer, build_app
from hermes.testing import ScriptedModel

KEY = "test-key"


@dataclass
class Api:
    gw: Gateway
    model: ScriptedModel
    client: AsyncOpenAI
    url: str  # http://127.0.0.1:PORT
    server: HttpServer


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    model = ScriptedModel().start()
    home = make_home(tmp_path / "home", config={"model": {**model.config(), "max_retries": 0}})
    try:
        async with running_gateway(home, api_key=KEY) as gw:
            server = HttpServer(build_app(gw), "127.0.0.1", 0, grace=0.1)
            port = await server.start()
            url = f"http://127.0.0.1:{port}"
            client = AsyncOpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0, timeout=20)
            try:
                yield Api(gw, model, client, url, server)
            finally:
                await client.close()
                await server.stop()
    finally:
        model.stop()
    model.assert_done()


def contents(messages: list[dict[str, Any]], role: str) -> list[str]:
    return [str(m.get("content")) for m in messages if m.get("role") == role]


async def test_a_reply_comes_back_as_a_chat_completion(api: Api) -> None:
    api.model.reply("Hello from Hermes", usage=(12, 3))

    reply = await api.client.chat.completions.create(
        model="whatever-the-client-likes",
        messages=[
            {"role": "system", "content": "Answer in one line."},
            {"role": "user", "content": "hi"},
        ],
    )

    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-")
    assert reply.model == "scripted-model"  # the model that served, not an echo
    choice = reply.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", "Hello from Hermes")
    assert choice.finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (12, 3)
    sent = api.model.last_messages()
    assert "Answer in one line." in contents(sent, "system")
    assert contents(sent, "user") == ["hi"]


async def test_a_streamed_reply_arrives_in_pieces_that_add_up(api: Api) -> None:
    api.model.reply("one two three four")

    stream = await api.client.chat.completions.create(
        model="hermes", messages=[{"role": "user", "content": "count"}], stream=True
    )
    chunks = [chunk async for chunk in stream]

    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) > 1
    assert "".join(pieces) == "one two three four"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.id for c in chunks} == {chunks[0].id}
    assert {c.model for c in chunks} == {"scripted-model"}


async def test_without_a_session_the_request_messages_are_the_context(api: Api) -> None:
    api.model.reply("Your name is Ada.")

    reply = await api.client.chat.completions.create(
        model="hermes",
        messages=[
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Nice to meet you, Ada."},
            {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
        ],
    )

    assert reply.choices[0].message.content == "Your name is Ada."
    sent = api.model.last_messages()
    assert contents(sent, "user") == ["My name is Ada.", "What is my name?"]
    assert contents(sent, "assistant") == ["Nice to meet you, Ada."]


async def test_a_session_header_keeps_the_conversation_on_the_server(api: Api) -> None:
    api.model.reply("Noted: 7.").reply("You told me 7.")
    session = {"X-Hermes-Session-Id": "notes-1"}

    first = await api.client.chat.completions.with_raw_response.create(
        model="hermes",
        messages=[{"role": "user", "content": "Remember the number 7."}],
        extra_headers=session,
    )
    second = await api.client.chat.completions.create(
        model="hermes",
        messages=[{"role": "user", "content": "Which number did I give you?"}],
        extra_headers=session,
    )

    assert first.headers["x-hermes-session-id"] == "notes-1"
    assert first.parse().choices[0].message.content == "Noted: 7."
    assert second.choices[0].message.content == "You told me 7."
    sent = api.model.last_messages()
    assert contents(sent, "user") == ["Remember the number 7.", "Which number did I give you?"]
    assert contents(sent, "assistant") == ["Noted: 7."]


async def test_a_wrong_key_is_an_authentication_error(api: Api) -> None:
    stranger = AsyncOpenAI(base_url=f"{api.url}/v1", api_key="not-the-key", max_retries=0)
    try:
        with pytest.raises(openai.AuthenticationError) as caught:
            await stranger.chat.completions.create(
                model="hermes", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        await stranger.close()
    assert "Authorization: Bearer $HERMES_API_KEY" in caught.value.message


@pytest.mark.parametrize(
    ("messages", "hint"),
    [
        ([], "non-empty list"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "text"),
        ([{"role": "tool", "content": "42", "tool_call_id": "c1"}], "role 'tool'"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], "last"),
        ([{"role": "user", "content": 5}], "messages[0].content"),
    ],
)
async def test_a_bad_body_is_a_400_that_says_what_to_fix(
    api: Api, messages: list[Any], hint: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await api.client.chat.completions.create(model="hermes", messages=messages)
    assert hint in caught.value.message
    assert api.model.requests == []


async def test_a_body_that_is_not_json_is_a_400(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as http:
        response = await http.post(
            "/v1/chat/completions",
            content=b"{not json",
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in response.json()["error"]["message"]


async def test_models_lists_hermes(api: Api) -> None:
    models = await api.client.models.list()
    assert [m.id for m in models.data] == ["hermes"]
    assert models.data[0].owned_by == "hermes"


async def test_a_provider_failure_is_a_clear_error(api: Api) -> None:
    api.model.fail(500, "upstream exploded")

    with pytest.raises(openai.APIStatusError) as caught:
        await api.client.chat.completions.create(
            model="hermes", messages=[{"role": "user", "content": "hi"}]
        )

    assert caught.value.status_code == 502
    assert "exploded" in caught.value.message
    assert "\n" not in caught.value.message


async def test_a_provider_failure_mid_stream_ends_the_stream_with_an_error(api: Api) -> None:
    api.model.fail(500, "upstream exploded")

    stream = await api.client.chat.completions.create(
        model="hermes", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        async for _ in stream:
            pass

    assert "exploded" in caught.value.message


async def test_a_client_that_leaves_mid_stream_stops_the_turn(api: Api) -> None:
    gate = api.model.hang(partial="Thinking")
    cancelled = asyncio.Event()
    real_turn = api.gw.api_turn

    async def watched_turn(*args: Any, **kwargs: Any) -> str:
        try:
            return await real_turn(*args, **kwargs)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    api.gw.api_turn = watched_turn  # type: ignore[method-assign]
    body = {"model": "hermes", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with (
        httpx.AsyncClient(base_url=api.url) as http,
        http.stream(
            "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as response,
    ):
        async for line in response.aiter_lines():
            if "Thinking" in line:
                break  # the model is now held mid-answer; hang up
    await asyncio.wait_for(cancelled.wait(), 10)
    assert gate.entered
    gate.release()


async def test_a_stream_cut_by_the_gateway_stopping_ends_with_an_error(api: Api) -> None:
    gate = api.model.hang(partial="Thinking")
    stream = await api.client.chat.completions.create(
        model="hermes", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    seen: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")
            if "Thinking" in seen[-1]:
                await asyncio.wait_for(api.server.stop(), 10)
    gate.release()
    assert "stopping" in caught.value.message


async def test_legacy_client_functions_are_refused_with_a_400(api: Api) -> None:
    # client `tools` work (tests/test_homeassistant_conversation.py); the legacy
    # `functions` form is refused with what to send instead
    function = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    with pytest.raises(openai.BadRequestError) as caught:
        await api.client.chat.completions.create(
            model="hermes", messages=[{"role": "user", "content": "weather?"}], functions=[function]
        )
    assert caught.value.status_code == 400
    message = caught.value.message
    assert '"functions" (the legacy form) is not supported' in message
    assert '"tools"' in message
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error"
    assert api.model.requests == []


async def test_an_empty_tools_list_is_fine(api: Api) -> None:
    api.model.reply("no tools needed")
    reply = await api.client.chat.completions.create(
        model="hermes", messages=[{"role": "user", "content": "hi"}], tools=[]
    )
    assert reply.choices[0].message.content == "no tools needed"


async def test_a_streamed_answer_cut_at_the_limit_ends_with_the_marker(api: Api) -> None:
    api.model.reply("It goes on and on", finish_reason="length")
    stream = await api.client.chat.completions.create(
        model="hermes", messages=[{"role": "user", "content": "go"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "It goes on and on … [cut at the model's token limit]"


async def test_a_bad_session_header_is_a_400(api: Api) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await api.client.chat.completions.create(
            model="hermes",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Hermes-Session-Id": "a b:c"},
        )
    assert "X-Hermes-Session-Id" in caught.value.message
