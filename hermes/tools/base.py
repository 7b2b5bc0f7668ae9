"""A tool: a name, a description, a JSON schema and an async handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hermes.context import TurnContext
from hermes.messages import ToolSpec

Handler = Callable[[dict[str, Any], TurnContext], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    handler: Handler
    # environment variables the tool needs (e.g. HASS_URL): without them all set in
    # the profile's environment the model is not offered the tool
    needs: tuple[str, ...] = ()
    # where else it is offered: e.g. only when a backend for it is configured
    when: Callable[[TurnContext], bool] | None = None

    def available(self, env: Mapping[str, str]) -> bool:
        return all(env.get(var, "").strip() for var in self.needs)

    def offered(self, ctx: TurnContext) -> bool:
        """Whether the model is offered this tool in CTX's turn."""
        return self.available(ctx.profile.env) and (self.when is None or self.when(ctx))

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    async def run(self, args: dict[str, Any], ctx: TurnContext) -> str:
        """Run the tool. Raise hermes.errors.ToolError for a user-facing failure."""
        return await self.handler(args, ctx)


def schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A JSON schema for an arguments object."""
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }
