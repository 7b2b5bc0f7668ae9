"""The `clarify` tool: ask the user a question and wait for the answer."""

from __future__ import annotations

from typing import Any

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.tools.base import Tool, schema

MAX_CHOICES = 10


async def clarify(args: dict[str, Any], ctx: TurnContext) -> str:
    question = args.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ToolError("question must be non-empty text")
    raw = args.get("choices")
    choices: list[str] | None = None
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(c, str) and c.strip() for c in raw):
            raise ToolError("choices must be a list of non-empty strings")
        if len(raw) > MAX_CHOICES:
            raise ToolError(f"give at most {MAX_CHOICES} choices")
        choices = [c.strip() for c in raw] or None
    answer = await ctx.user.ask(question.strip(), choices)
    return f"User answered: {answer}"


TOOLS: list[Tool] = [
    Tool(
        name="clarify",
        description=(
            "Ask the user a question and wait for the reply. Use it only when you cannot "
            "reasonably proceed: the request is ambiguous in a way that changes the result, "
            "or a decision (a preference, a risky or costly step) belongs to the user. Ask "
            f"one specific question; offer up to {MAX_CHOICES} short `choices` when the "
            "answer is one of a few options (the user may still answer freely). When nobody "
            "can answer, the reply says so: then proceed with your best judgement."
        ),
        parameters=schema(
            {
                "question": {"type": "string", "description": "One clear question."},
                "choices": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Optional answer options.",
                },
            },
            ["question"],
        ),
        handler=clarify,
    )
]
