"""What a running turn reports to its front end (terminal, gateway, API)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hermes.messages import ToolCall, Usage


@dataclass(frozen=True)
class TextDelta:
    """A piece of the model's reply as it streams."""

    text: str


@dataclass(frozen=True)
class ToolStarted:
    call: ToolCall


@dataclass(frozen=True)
class ToolFinished:
    call: ToolCall
    result: str
    is_error: bool
    seconds: float


@dataclass(frozen=True)
class ToolWaiting:
    """The call was not run: it waits for a decision (an approval); the turn
    suspends once the other calls of the reply are done."""

    call: ToolCall
    note: str


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not the model's text
    (context compressed, retrying the provider, ...)."""

    text: str


@dataclass(frozen=True)
class ModelCalled:
    """A request to the model starts (its text then streams as TextDelta)."""

    iteration: int
    model: str = ""  # the model that answers this call (e.g. "gpt-4.1-mini")


@dataclass(frozen=True)
class TurnDone:
    text: str
    usage: Usage
    iterations: int


AgentEvent = TextDelta | ToolStarted | ToolFinished | ToolWaiting | Notice | ModelCalled | TurnDone
EventSink = Callable[[AgentEvent], None]


def ignore(_: AgentEvent) -> None:
    """An EventSink that drops everything."""
