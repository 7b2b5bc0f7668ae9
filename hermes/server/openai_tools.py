"""Client-defined tools on the OpenAI-compatible API: reading `tools`, the assistant
`tool_calls` and `tool` results a client sends back, and shaping the calls that go
to it (hermes/agent/client_tools.py runs the turn side).

A request with `tools` (and no `X-Hermes-Session-Id`: the client keeps the history)
offers them to the model beside Hermes' own; when the model calls one, the answer is
the assistant message with `tool_calls` and `finish_reason: "tool_calls"`. The
client runs them and asks again with the results as `tool` messages. The legacy
`functions` field is refused with a 400 that says to send `tools`.
"""

from __future__ import annotations

from typing import Any

from hermes.agent.client_tools import ClientTools
from hermes.messages import Message, ToolCall, ToolSpec
from hermes.server.httpio import BadRequest, clip

NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


def client_tools(body: dict[str, Any], session: str | None) -> ClientTools | None:
    """The request's `tools` (None when it has none); BadRequest says what is wrong."""
    if body.get("functions"):
        raise BadRequest(
            '"functions" (the legacy form) is not supported: send the same definitions as '
            '"tools": [{"type": "function", "function": {...}}]'
        )
    tools = body.get("tools")
    if not tools:
        return None
    if session is not None:
        raise BadRequest(
            '"tools" work only without X-Hermes-Session-Id: the client runs them and sends '
            "the whole conversation, results included, with each request"
        )
    if not isinstance(tools, list):
        raise BadRequest('"tools" must be a list of {"type": "function", "function": {...}}')
    specs: list[ToolSpec] = []
    for i, item in enumerate(tools):
        where = f"tools[{i}]"
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(item, dict) or item.get("type") != "function" or not function:
            raise BadRequest(f'{where} must be {{"type": "function", "function": {{...}}}}')
        if not isinstance(function, dict):
            raise BadRequest(f"{where}.function must be an object")
        name = function.get("name")
        if not isinstance(name, str) or not name or set(name) - set(NAME_CHARS):
            raise BadRequest(f"{where}.function.name must be letters, digits, _ or -")
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise BadRequest(f"{where}.function.parameters must be a JSON schema object")
        description = function.get("description")
        specs.append(
            ToolSpec(name, description if isinstance(description, str) else "", parameters)
        )
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise BadRequest('"tools" names a function twice')
    return ClientTools(specs)


def tool_message(item: dict[str, Any], where: str) -> Message:
    """A `tool` message (a client tool's result)."""
    call_id = item.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise BadRequest(f"{where}.tool_call_id must name the call this is the result of")
    content = item.get("content")
    if isinstance(content, list):  # text parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        raise BadRequest(f"{where}.content must be the tool's result as text")
    name = item.get("name")
    return Message(
        "tool", content, tool_call_id=call_id, name=name if isinstance(name, str) else None
    )


def assistant_calls(item: dict[str, Any], where: str) -> list[ToolCall]:
    """The `tool_calls` of an assistant message the client sends back."""
    calls = item.get("tool_calls")
    if not isinstance(calls, list):
        raise BadRequest(f"{where}.tool_calls must be a list")
    found: list[ToolCall] = []
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or not isinstance(function, dict):
            raise BadRequest(f'{where}.tool_calls[{j}] must be {{"id", "function": {{...}}}}')
        arguments = function.get("arguments")
        if not isinstance(call.get("id"), str) or not isinstance(function.get("name"), str):
            raise BadRequest(f"{where}.tool_calls[{j}] needs an id and function.name")
        found.append(
            ToolCall(
                call["id"], function["name"], arguments if isinstance(arguments, str) else "{}"
            )
        )
    return found


def calls_json(calls: list[ToolCall], indexed: bool = False) -> list[dict[str, Any]]:
    """Calls as OpenAI's `tool_calls` (with `index` in a stream's delta)."""
    out = []
    for i, call in enumerate(calls):
        entry: dict[str, Any] = {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        out.append({"index": i, **entry} if indexed else entry)
    return out


def unsupported_role(role: Any, where: str) -> BadRequest:
    return BadRequest(
        f"{where}.role {clip(role)} is not supported: use system, user, assistant, or tool "
        "(the results of tools the request defines)"
    )
