"""The OpenAI chat-completions wire format the scripted model speaks (JSON and SSE)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from hermes.testing.replies import Call, Reply


def split_text(text: str) -> list[str]:
    """Text in stream-sized pieces: one word (with its trailing space) per chunk."""
    return re.findall(r"\s*\S+\s*|\s+", text) if text else []


def split_arguments(arguments: str) -> list[str]:
    """Argument JSON in about three fragments, as real servers stream it."""
    if len(arguments) < 3:
        return [arguments] if arguments else []
    step = -(-len(arguments) // 3)
    return [arguments[i : i + step] for i in range(0, len(arguments), step)]


def estimate_usage(reply: Reply, body: dict[str, Any]) -> tuple[int, int, int]:
    """(prompt, completion, cached): the reply's own, else about 4 characters a token."""
    if reply.usage is not None:
        values = [*reply.usage, 0, 0, 0]
        return int(values[0]), int(values[1]), int(values[2])
    prompt_chars = len(json.dumps(body.get("messages") or []))
    out_chars = len(reply.text) + sum(len(c.name) + len(c.arguments) for c in reply.calls)
    return max(1, prompt_chars // 4), max(1, out_chars // 4), 0


def usage_json(usage: tuple[int, int, int], cost: float | None = None) -> dict[str, Any]:
    """An OpenAI `usage` object; with `cost`, OpenRouter's field of the call's price."""
    prompt, completion, cached = usage
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    if cost is not None:
        out["cost"] = cost
    return out


def error_json(status: int, message: str) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "code": status}}


def _call_json(c: Call, call_id: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": c.name, "arguments": c.arguments},
    }


class Wire:
    """Builds the JSON objects of one response (shared id, model name and timestamp)."""

    def __init__(self, model: str, response_id: str) -> None:
        self.model = model
        self.id = response_id
        self.created = int(time.time())

    def completion(
        self, reply: Reply, call_ids: list[str], usage: tuple[int, int, int]
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.calls:
            message["tool_calls"] = [
                _call_json(c, i) for c, i in zip(reply.calls, call_ids, strict=True)
            ]
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish}],
            "usage": usage_json(usage, reply.cost),
        }

    def chunk(
        self, delta: dict[str, Any], finish: str | None = None, *, with_usage_field: bool = False
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if with_usage_field:
            out["usage"] = None
        return out

    def head(self, partial: str, *, include_usage: bool) -> list[dict[str, Any]]:
        """The role chunk and any text streamed before a gate."""
        chunks = [self.chunk({"role": "assistant", "content": ""}, with_usage_field=include_usage)]
        chunks += self.text_chunks(partial, include_usage=include_usage)
        return chunks

    def text_chunks(self, text: str, *, include_usage: bool) -> list[dict[str, Any]]:
        return [
            self.chunk({"content": piece}, with_usage_field=include_usage)
            for piece in split_text(text)
        ]

    def tail(
        self,
        reply: Reply,
        call_ids: list[str],
        usage: tuple[int, int, int],
        *,
        include_usage: bool,
    ) -> list[dict[str, Any]]:
        """Text, tool-call deltas, the finish chunk and (if asked) the usage chunk."""
        chunks = self.text_chunks(reply.text, include_usage=include_usage)
        for index, (c, call_id) in enumerate(zip(reply.calls, call_ids, strict=True)):
            first = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": c.name, "arguments": ""},
            }
            chunks.append(self.chunk({"tool_calls": [first]}, with_usage_field=include_usage))
            for fragment in split_arguments(c.arguments):
                delta = {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
                chunks.append(self.chunk(delta, with_usage_field=include_usage))
        chunks.append(self.chunk({}, reply.finish, with_usage_field=include_usage))
        if include_usage:
            chunks.append(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage_json(usage, reply.cost),
                }
            )
        return chunks


def sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"data: {payload}\n\n".encode()
