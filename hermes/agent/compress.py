"""Context compression: when a session nears the model's window, the older
part of the conversation is summarized by the model and replaced by that
summary; recent messages stay verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence

from hermes.messages import SUMMARY_PREFIX, Message
from hermes.providers.base import Provider

_TOOL_RESULT_CHARS = 1500

SUMMARIZER_PROMPT = (
    "You compress conversations. Summarize the transcript you are given so the "
    "assistant can continue the conversation without it. Keep: the user's goals and "
    "preferences, decisions made, facts learned, file paths, commands and their "
    "outcomes, open questions and what was about to happen next. Drop pleasantries. "
    "Write compact bullet points, at most about 400 words."
)


def estimate_tokens(messages: Sequence[Message]) -> int:
    """A cheap token estimate (about 4 characters per token)."""
    chars = 0
    for m in messages:
        chars += len(m.content) + 16
        for c in m.tool_calls:
            chars += len(c.name) + len(c.arguments) + 16
    return chars // 4


def split_point(messages: Sequence[Message], keep_recent: int) -> int | None:
    """Index i such that messages[:i] are summarized and messages[i:] are kept.

    The kept part must start at a user message, or at an assistant message that
    begins a new round, so that tool results never lose their call. Returns
    None when there is nothing worth compressing.
    """
    last = len(messages) - max(keep_recent, 1)
    fallback: int | None = None
    for i in range(last, 0, -1):
        role = messages[i].role
        if role == "user":
            return i if i >= 2 else None
        if role == "assistant" and fallback is None and messages[i - 1].role != "assistant":
            fallback = i
    return fallback if fallback is not None and fallback >= 2 else None


def transcript(messages: Sequence[Message], max_chars: int) -> str:
    """The part to summarize as plain text, trimmed from the middle if too long."""
    lines: list[str] = []
    for m in messages:
        if m.role == "tool":
            body = m.content
            if len(body) > _TOOL_RESULT_CHARS:
                body = body[:_TOOL_RESULT_CHARS] + " …[cut]"
            lines.append(f"[tool result {m.name or ''}] {body}")
            continue
        if m.content:
            lines.append(f"[{m.role}] {m.content}")
        for c in m.tool_calls:
            lines.append(f"[assistant called {c.name}] {c.arguments[:500]}")
    text = "\n".join(lines)
    if len(text) > max_chars:
        half = max_chars // 2
        text = text[:half] + "\n…[middle of the conversation omitted]…\n" + text[-half:]
    return text


async def summarize(provider: Provider, messages: Sequence[Message]) -> str:
    """Ask the model for a summary of messages; returns the summary message text."""
    budget = max(2000, provider.context_window * 2)  # ~half the window, in characters
    request = [
        Message("system", SUMMARIZER_PROMPT),
        Message("user", transcript(messages, budget)),
    ]
    completion = await provider.complete(request, [])
    body = completion.message.content.strip() or "(nothing to summarize)"
    return f"{SUMMARY_PREFIX}\n{body}"
