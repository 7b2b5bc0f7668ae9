"""The approval gate's Asker in the terminal chat: the user is right there, so
it asks inline — approve once, approve this exact action for the rest of the
session, or deny. A low-risk action runs by itself after
`approvals.low_risk_auto_approve_seconds` unless denied first."""

from __future__ import annotations

from hermes.agent.loop import Defer
from hermes.aio import within
from hermes.approvals.gate import Request, denied
from hermes.context import TurnContext, UserIO

CHOICES = ["approve once", "approve for this session", "deny"]
ONCE = {"1", "y", "yes", "o", "once", CHOICES[0]}
SESSION = {"2", "s", "session", "always", CHOICES[1]}


class TerminalAsker:
    def __init__(self, user: UserIO, low_risk_seconds: int) -> None:
        self.user = user
        self.low_risk_seconds = low_risk_seconds
        self.allowed: set[str] = set()  # digests of the exact actions approved for this session

    async def ask(self, request: Request, ctx: TurnContext) -> str | Defer | None:
        if request.digest in self.allowed:
            return None
        question = f"{request.risk} risk: {request.reason}.\n    {request.action}\n  Run it?"
        if request.risk == "low":
            if self.low_risk_seconds == 0:
                return None
            question += f" (it runs by itself in {self.low_risk_seconds}s unless you deny it)"
            try:
                answer = await within(self.user.ask(question, CHOICES), self.low_risk_seconds)
            except TimeoutError:
                return None
        else:
            answer = await self.user.ask(question, CHOICES)
        choice = answer.strip().lower()
        if choice in ONCE:
            return None
        if choice in SESSION:
            self.allowed.add(request.digest)
            return None
        return denied(request, "you, in the terminal")
