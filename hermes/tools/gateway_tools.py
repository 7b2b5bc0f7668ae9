"""Tools that ask the gateway for something (hermes/context.py ToolServices):
`send_message` and `delegate`. Outside a gateway they say so in one line."""

from __future__ import annotations

from typing import Any

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.tools.base import Tool, schema


async def send_message(args: dict[str, Any], ctx: TurnContext) -> str:
    target, text = args.get("target", "origin"), args.get("message")
    if not isinstance(target, str) or not isinstance(text, str):
        raise ToolError("send_message needs a target and a message, both text")
    return await ctx.gateway("send_message").send(ctx, target, text)


async def delegate(args: dict[str, Any], ctx: TurnContext) -> str:
    wait = args.get("wait", True)
    if not isinstance(wait, bool):
        raise ToolError("wait must be true or false")
    return await ctx.gateway("delegate").delegate(ctx, args.get("tasks"), wait)


SEND_MESSAGE = Tool(
    "send_message",
    "Send a message to a chat now, through the delivery ledger (retried, never twice). "
    "target: 'origin' (this chat, the default), 'home' (the chat /sethome chose) or "
    "PLATFORM:CHAT[:THREAD], e.g. telegram:123456789.",
    schema(
        {
            "target": {"type": "string", "description": "origin, home or PLATFORM:CHAT[:THREAD]"},
            "message": {"type": "string"},
        },
        ["message"],
    ),
    send_message,
)

DELEGATE = Tool(
    "delegate",
    "Hand one or several self-contained subtasks to sub-agents that run in parallel, "
    "each in a fresh session with your tools (except delegate, memory, cron and clarify). "
    "Give each a clear goal and the context it needs: they see nothing of this "
    "conversation. wait=true (default): their results are this tool's result; "
    "wait=false: you go on, and each result comes to the chat as a new message.",
    schema(
        {
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"goal": {"type": "string"}, "context": {"type": "string"}},
                    "required": ["goal"],
                },
                "minItems": 1,
            },
            "wait": {"type": "boolean"},
        },
        ["tasks"],
    ),
    delegate,
)

TOOLS = [SEND_MESSAGE, DELEGATE]
