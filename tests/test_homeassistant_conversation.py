"""Home Assistant using Hermes as its conversation agent, the way its OpenAI-compatible
conversation integrations call it: the `openai` client against `hermes gateway run`'s
/v1/chat/completions with HERMES_API_KEY, a system prompt listing the exposed
entities and the integration's own functions as `tools`. The model's call of one comes
back to the client as a tool call; the follow-up with the result gets the answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from hermes.testing import ScriptedModel
from tests.gateway_helpers import GatewayProcess, make_home

KEY = "hermes-api-key-for-home-assistant"
# what an Assist-enabled integration sends: the exposed entities in the system prompt...
SYSTEM = """You are a voice assistant for Home Assistant.
Answer questions about the world truthfully. Answer in plain text. Keep it simple.
Static Context: An overview of the areas and the devices in this smart home:
- names: Kitchen Light
  domain: light
  state: 'off'
  areas: Kitchen
- names: Front Door Lock
  domain: lock
  state: locked
  areas: Hall
"""
# ... and its intents as functions (Home Assistant runs them itself)
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "HassTurnOn",
            "description": "Turns on/opens a device or entity",
            "parameters": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "area": {"type": "string"},
                    "domain": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "GetLiveContext",
            "description": "Provides real-time information about the devices",
            "parameters": {"type": "object", "properties": {}},
        },
    },
]
ASK = {"role": "user", "content": "turn on the kitchen light"}
CALL = {"name": "Kitchen Light", "domain": ["light"]}


@pytest.fixture
async def client(tmp_path: Path, model: ScriptedModel) -> AsyncIterator[AsyncOpenAI]:
    home = make_home(tmp_path / "home", model, {"server": {"port": 0}}, {"HERMES_API_KEY": KEY})
    gw = await GatewayProcess(home).ready()
    # Home Assistant's set-up: base URL http://HERMES:PORT/v1, the API key, any model name
    api = AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0, timeout=30)
    try:
        yield api
    finally:
        await api.close()
        assert await gw.stop() == 0


def follow_up(call_id: str, result: dict[str, Any]) -> list[Any]:
    """The second request: the history with the call and Home Assistant's result."""
    called = {
        "id": call_id,
        "type": "function",
        "function": {"name": "HassTurnOn", "arguments": json.dumps(CALL)},
    }
    return [
        {"role": "system", "content": SYSTEM},
        ASK,
        {"role": "assistant", "content": None, "tool_calls": [called]},
        {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)},
    ]


async def test_a_tool_call_goes_back_to_home_assistant_and_the_result_gets_the_answer(
    client: AsyncOpenAI, model: ScriptedModel
) -> None:
    model.tool_call("HassTurnOn", CALL)
    first = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "system", "content": SYSTEM}, ASK], tools=TOOLS
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "HassTurnOn"
    assert json.loads(call.function.arguments) == CALL
    asked = model.requests[0]
    assert {"HassTurnOn", "GetLiveContext"} <= set(asked.tool_names)
    assert any(
        "Kitchen Light" in str(m["content"]) for m in asked.messages if m["role"] == "system"
    )

    model.reply("The kitchen light is on.")
    result = {"response_type": "action_done", "data": {"success": [{"name": "Kitchen Light"}]}}
    second = await client.chat.completions.create(
        model="gpt-4o-mini", messages=follow_up(call.id, result), tools=TOOLS
    )
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "The kitchen light is on."
    sent = model.requests[1].messages
    (tool,) = [m for m in sent if m["role"] == "tool"]
    assert tool["tool_call_id"] == call.id and "action_done" in tool["content"]
    assert sent[-2]["tool_calls"][0]["function"]["name"] == "HassTurnOn"


async def test_a_streamed_request_gets_the_tool_call_in_its_chunks(
    client: AsyncOpenAI, model: ScriptedModel
) -> None:
    model.tool_call("HassTurnOn", CALL)
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": SYSTEM}, ASK],
        tools=TOOLS,
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    async for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += delta.id or ""
                entry["name"] += (delta.function.name if delta.function else None) or ""
                entry["arguments"] += (delta.function.arguments if delta.function else None) or ""
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert [c["name"] for c in calls.values()] == ["HassTurnOn"]
    assert json.loads(calls[0]["arguments"]) == CALL

    model.reply("Done: the kitchen light is on.")
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=follow_up(calls[0]["id"], {"response_type": "action_done"}),
        tools=TOOLS,
        stream=True,
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Done: the kitchen light is on."


async def test_tools_with_a_session_and_legacy_functions_are_400s_that_say_why(
    client: AsyncOpenAI, model: ScriptedModel
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="m", messages=[ASK], tools=TOOLS, extra_headers={"X-Hermes-Session-Id": "s1"}
        )
    assert "only without X-Hermes-Session-Id" in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="m", messages=[ASK], functions=[TOOLS[0]["function"]]
        )
    assert '"functions"' in caught.value.message and '"tools"' in caught.value.message
    assert model.requests == []
