"""Tools an API client defines (OpenAI `tools`): offered to the model beside Hermes'
own, but run by the client. A call to one is not run here: the hook defers it, so
the turn stops with the model's reply, and the API hands the calls back to the
client (`finish_reason: "tool_calls"`); the client runs them and sends the results
in its next request, whose messages are the whole context.

This is how Home Assistant's OpenAI-compatible conversation integrations work: the
system prompt lists the exposed entities and the functions are Home Assistant's
intents or service calls, which Home Assistant runs itself.
"""

from __future__ import annotations

from typing import Any

from hermes.agent.loop import Defer
from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.messages import ToolCall, ToolSpec
from hermes.tools.base import Tool

CLIENT_RUNS = "run by the API client"


async def _not_here(args: dict[str, Any], ctx: TurnContext) -> str:
    raise ToolError("this tool is run by the API client, not by Hermes")  # never: deferred


class ClientTools:
    """The client's tools for one request, and the hook that hands their calls back.
    `called`: the calls the model made to them, in order (what goes back)."""

    def __init__(self, specs: list[ToolSpec]) -> None:
        self.specs = specs
        self.called: list[ToolCall] = []

    @property
    def tools(self) -> dict[str, Tool]:
        return {s.name: Tool(s.name, s.description, s.parameters, _not_here) for s in self.specs}

    def owns(self, name: str) -> bool:
        return any(s.name == name for s in self.specs)

    async def before(
        self, call: ToolCall, args: dict[str, Any], ctx: TurnContext
    ) -> str | Defer | None:
        if not self.owns(call.name):
            return None
        self.called.append(call)
        return Defer(CLIENT_RUNS)

    async def after(self, call: ToolCall, result: str, is_error: bool, ctx: TurnContext) -> None:
        return None
