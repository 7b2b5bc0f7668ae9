"""Anthropic Messages-API wire format: our OpenAI-shaped history in, Completions out.

System messages become `system`, assistant tool calls become tool_use blocks,
role=tool messages become tool_result blocks in a user turn, and consecutive
same-role turns merge; every tool_use gets its tool_result, as the API requires.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hermes.messages import Message, ToolCall, ToolSpec, Usage
from hermes.providers.base import Completion
from hermes.providers.http import AttemptFailed, StreamGuard

STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "refusal": "content_filter",
}


def _safe_id(raw: str | None) -> str:
    """Tool ids as Anthropic accepts them ([A-Za-z0-9_-]+), mapped the same way each time."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", raw or "") or "toolu_missing"


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _input(call: ToolCall) -> dict[str, Any]:
    try:
        return call.parsed_arguments()
    except ValueError:
        return {}


def _repair(turns: list[dict[str, Any]]) -> None:
    """Pair every tool_use with a tool_result in the next turn, as the API requires."""
    for i, turn in enumerate(turns):
        if turn["role"] != "assistant":
            continue
        ids = [b["id"] for b in turn["content"] if b["type"] == "tool_use"]
        if not ids:
            continue
        if i + 1 == len(turns) or turns[i + 1]["role"] != "user":
            turns.insert(i + 1, {"role": "user", "content": []})
        nxt = turns[i + 1]["content"]
        have = {b.get("tool_use_id") for b in nxt if b["type"] == "tool_result"}
        missing = [
            {"type": "tool_result", "tool_use_id": t, "content": "(no result: interrupted)"}
            for t in ids
            if t not in have
        ]
        nxt[:0] = missing
    for i, turn in enumerate(turns):
        if turn["role"] != "user":
            continue
        prev = turns[i - 1]["content"] if i > 0 and turns[i - 1]["role"] == "assistant" else []
        allowed = {b["id"] for b in prev if b["type"] == "tool_use"}
        blocks = []
        for b in turn["content"]:
            if b["type"] == "tool_result" and b["tool_use_id"] not in allowed:
                b = _text(f"(tool result) {b['content']}")
            blocks.append(b)
        # tool_result blocks must come first in their turn
        blocks.sort(key=lambda b: 0 if b["type"] == "tool_result" else 1)
        turn["content"] = blocks or [_text("(empty message)")]


def to_anthropic(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """(system prompt, Messages-API turns) from our OpenAI-shaped history."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for m in messages:
        if m.role == "system":
            if m.content:
                system.append(m.content)
        elif m.role == "user":
            add("user", [_text(m.content or "(empty message)")])
        elif m.role == "assistant":
            blocks = [_text(m.content)] if m.content else []
            blocks += [
                {"type": "tool_use", "id": _safe_id(c.id), "name": c.name, "input": _input(c)}
                for c in m.tool_calls
            ]
            add("assistant", blocks or [_text("(no reply)")])
        else:
            result = {
                "type": "tool_result",
                "tool_use_id": _safe_id(m.tool_call_id),
                "content": m.content or "(no output)",
            }
            add("user", [result])
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [_text("(conversation continues)")]})
    _repair(turns)
    return "\n\n".join(system), turns


def tools_to_anthropic(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]


def parse_usage(data: Any, into: dict[str, int] | None = None) -> dict[str, int]:
    """Merge an Anthropic usage object into `into` (later values win)."""
    out = dict(into or {})
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, int):
                out[key] = value
    return out


def to_usage(raw: Mapping[str, int]) -> Usage:
    read = raw.get("cache_read_input_tokens", 0)
    written = raw.get("cache_creation_input_tokens", 0)
    return Usage(
        prompt_tokens=raw.get("input_tokens", 0) + read + written,
        completion_tokens=raw.get("output_tokens", 0),
        cached_tokens=read,
    )


def parse_message(data: Mapping[str, Any]) -> Completion:
    """A non-streamed Messages-API response as a Completion."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in data.get("content") or []:
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            args = json.dumps(block.get("input") or {})
            calls.append(ToolCall(str(block["id"]), str(block["name"]), args))
    reason = STOP_REASONS.get(str(data.get("stop_reason")), "stop")
    message = Message("assistant", "".join(texts), calls)
    return Completion(message, to_usage(parse_usage(data.get("usage"))), reason)


@dataclass
class _Block:
    kind: str
    id: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)
    initial_input: Any = None


class StreamAccumulator:
    """Builds a Completion from Messages-API stream events."""

    def __init__(self, emit: StreamGuard) -> None:
        self._emit = emit
        self._blocks: dict[int, _Block] = {}
        self._usage: dict[str, int] = {}
        self._stop: str | None = None
        self.done = False

    def feed(self, kind: str, data: Mapping[str, Any], label: str) -> None:
        if kind == "message_start":
            self._usage = parse_usage((data.get("message") or {}).get("usage"), self._usage)
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            self._blocks[int(data.get("index", 0))] = _Block(
                str(block.get("type")),
                str(block.get("id", "")),
                str(block.get("name", "")),
                initial_input=block.get("input"),
            )
            if block.get("type") == "text" and block.get("text"):
                self._add_text(int(data.get("index", 0)), str(block["text"]))
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            index = int(data.get("index", 0))
            if delta.get("type") == "text_delta":
                self._add_text(index, str(delta.get("text", "")))
            elif delta.get("type") == "input_json_delta":
                self._blocks.setdefault(index, _Block("tool_use")).parts.append(
                    str(delta.get("partial_json", ""))
                )
        elif kind == "message_delta":
            self._usage = parse_usage(data.get("usage"), self._usage)
            self._stop = (data.get("delta") or {}).get("stop_reason") or self._stop
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            err = data.get("error") or {}
            kind_name = str(err.get("type", "error"))
            retryable = kind_name in ("overloaded_error", "api_error", "rate_limit_error")
            raise AttemptFailed(
                f"{label} reported {kind_name}: {err.get('message', '')}".rstrip(": "),
                retryable=retryable,
            )

    def _add_text(self, index: int, text: str) -> None:
        self._blocks.setdefault(index, _Block("text")).parts.append(text)
        self._emit(text)

    def result(self) -> Completion:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for _, block in sorted(self._blocks.items()):
            if block.kind == "text":
                texts.append("".join(block.parts))
            elif block.kind == "tool_use":
                args = "".join(block.parts) or json.dumps(block.initial_input or {})
                calls.append(ToolCall(block.id, block.name, args))
        reason = STOP_REASONS.get(str(self._stop), "stop")
        return Completion(
            Message("assistant", "".join(texts), calls), to_usage(self._usage), reason
        )
