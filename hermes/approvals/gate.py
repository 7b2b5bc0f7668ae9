"""The approval gate: a ToolHook that classifies every risky tool call and
lets it run, refuses it, or hands it to an Asker.

Pure policy: what counts as risky comes from hermes.risk; who decides is the
Asker the front end supplies — the gateway stores a request and suspends the
turn (Defer), the terminal asks inline, one-shot runs have nobody to ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hermes.agent.loop import Defer
from hermes.context import TurnContext
from hermes.messages import ToolCall
from hermes.risk import Assessment, Where, classify_command, classify_write
from hermes.settings import ApprovalSettings


@dataclass(frozen=True)
class Request:
    """One gated call: the exact action shown to whoever decides."""

    call: ToolCall
    action: str  # "git push --force origin main", "write_file /etc/hosts"
    assessment: Assessment

    @property
    def risk(self) -> str:
        return self.assessment.risk

    @property
    def reason(self) -> str:
        return self.assessment.reason


class Asker(Protocol):
    async def ask(self, request: Request, ctx: TurnContext) -> str | Defer | None:
        """None: approved, run it. A string: not run, the model's result. Defer:
        suspend the turn until a decision is stored."""
        ...


def where(ctx: TurnContext) -> Where:
    home = ctx.profile.env.get("HOME")
    return Where(cwd=ctx.cwd, home=Path(home) if home else Path.home())


def assess(call: ToolCall, args: dict[str, Any], ctx: TurnContext) -> Request | None:
    """The risk of a call, for the tools that can do damage; None for the rest."""
    if call.name == "terminal":
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            return None  # the tool itself rejects it
        return Request(call, command, classify_command(command, where(ctx)))
    if call.name in ("write_file", "patch"):
        path = args.get("path")
        if not isinstance(path, str) or not path.strip():
            return None
        return Request(call, f"{call.name} {path}", classify_write(path, where(ctx)))
    return None


def refusal(request: Request) -> str:
    return (
        f"Refused: {request.reason}. This is never run, not even with the user's "
        "approval. Tell the user, and find a safer way if there is one."
    )


def denied(request: Request, by: str) -> str:
    return (
        f"Not run: the user ({by}) denied this {request.risk}-risk action "
        f"({request.reason}). Do not retry it; say what you would have done instead."
    )


class NobodyToAsk:
    """Where no one can approve (`hermes -z`, API requests without a session)."""

    async def ask(self, request: Request, ctx: TurnContext) -> str | Defer | None:
        return (
            f"Not run: this {request.risk}-risk action needs the user's approval "
            f"({request.reason}) and nobody can approve it here. Tell the user the exact "
            "command so they can run it themselves, or ask them to chat with you in the "
            "terminal or a messaging app."
        )


class ApprovalGate:
    """The ToolHook. `approvals.mode: off` skips asking; hard is always refused."""

    def __init__(self, settings: ApprovalSettings, asker: Asker) -> None:
        self.settings = settings
        self.asker = asker

    async def before(
        self, call: ToolCall, args: dict[str, Any], ctx: TurnContext
    ) -> str | Defer | None:
        request = assess(call, args, ctx)
        if request is None or request.risk == "none":
            return None
        if request.risk == "hard":
            return refusal(request)
        if self.settings.mode == "off":
            return None
        return await self.asker.ask(request, ctx)

    async def after(self, call: ToolCall, result: str, is_error: bool, ctx: TurnContext) -> None:
        return None
