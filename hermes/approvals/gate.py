"""The approval gate: a ToolHook that classifies every risky tool call and
lets it run, refuses it, or hands it to an Asker.

Pure policy: what counts as risky comes from hermes.risk; who decides is the
Asker the front end supplies — the gateway stores a request and suspends the
turn (Defer), the terminal asks inline, one-shot runs have nobody to ask.

A request is bound to the exact action (SPEC §6, "an approval covers exactly
the action shown"): the tool, its arguments in canonical JSON, the working
directory and the terminal backend, hashed into `Request.digest`. A decision
applies to a call only when its action hashes the same; a tool-call id is
never identity (the loop gives every call an id of its own, see
hermes/agent/loop.own_ids).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from hermes.agent.loop import Defer
from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.messages import ToolCall
from hermes.risk import Assessment, Where, classify_command, classify_read, classify_write
from hermes.settings import ApprovalSettings

PREVIEW_CHARS = 1200  # of a file's new content, shown with the request


@dataclass(frozen=True)
class Action:
    """What exactly would run: the identity of an approval."""

    tool: str
    args: str  # canonical JSON of the call's arguments
    cwd: str
    backend: str

    @classmethod
    def of(cls, call: ToolCall, args: dict[str, Any], ctx: TurnContext) -> Action:
        canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return cls(call.name, canonical, str(ctx.cwd), ctx.profile.settings.terminal.backend)

    @property
    def digest(self) -> str:
        text = json.dumps([self.tool, self.args, self.cwd, self.backend], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Request:
    """One gated call: the exact action shown to whoever decides."""

    call: ToolCall
    action: str  # as shown: "git push --force origin main", "write_file /etc/hosts" + content
    assessment: Assessment
    exact: Action

    @property
    def risk(self) -> str:
        return self.assessment.risk

    @property
    def reason(self) -> str:
        return self.assessment.reason

    @property
    def digest(self) -> str:
        return self.exact.digest


class Asker(Protocol):
    async def ask(self, request: Request, ctx: TurnContext) -> str | Defer | None:
        """None: approved, run it. A string: not run, the model's result. Defer:
        suspend the turn until a decision is stored."""
        ...


def where(ctx: TurnContext) -> Where:
    """Where the turn's paths are judged: the backend's cwd and home, Hermes' own
    homes (the control plane) and the backend's disk as it is (symlinks, existing
    files): see TurnContext.where."""
    return ctx.where()


# the tools whose paths and commands live on the terminal backend
ON_BACKEND = frozenset({"terminal", "write_file", "patch", "read_file", "search_files"})


def _text(args: dict[str, Any], key: str) -> str | None:
    value = args.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _clipped(text: str, limit: int = PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit:,} more chars)"


def _shown(name: str, path: str, args: dict[str, Any]) -> str:
    """The action as the user sees it: the path and what would be written there."""
    if name == "write_file":
        content = args.get("content")
        content = content if isinstance(content, str) else ""
        return f"write_file {path} ({len(content.encode('utf-8', 'replace')):,} bytes):\n" + (
            _clipped(content)
        )
    if name == "patch":
        old, new = str(args.get("old", "")), str(args.get("new", ""))
        every = " (every occurrence)" if args.get("replace_all") else ""
        return f"patch {path}{every}:\n- {_clipped(old, 500)}\n+ {_clipped(new, 500)}"
    return f"{name} {path}"


def assess(call: ToolCall, args: dict[str, Any], ctx: TurnContext) -> Request | None:
    """The risk of a call, for the tools that can do damage or read secrets; None
    for the rest."""
    if call.name == "terminal":
        command = _text(args, "command")
        if command is None:
            return None  # the tool itself rejects it
        assessment = classify_command(command, where(ctx))
        return Request(call, command, assessment, Action.of(call, args, ctx))
    if call.name in ("write_file", "patch", "read_file", "search_files"):
        path = _text(args, "path") or ("." if call.name == "search_files" else None)
        if path is None:
            return None
        judge = classify_write if call.name in ("write_file", "patch") else classify_read
        assessment = judge(path, where(ctx))
        return Request(call, _shown(call.name, path, args), assessment, Action.of(call, args, ctx))
    if call.name == "ha_call_service":
        return _home_assistant(call, args, ctx)
    return None


_ASSESSING = threading.Lock()


def _assess_alone(call: ToolCall, args: dict[str, Any], ctx: TurnContext) -> Request | None:
    with _ASSESSING:
        return assess(call, args, ctx)


def _home_assistant(call: ToolCall, args: dict[str, Any], ctx: TurnContext) -> Request | None:
    """A Home Assistant service call, judged by hermes/risk/homeassistant.py."""
    from hermes.risk.homeassistant import classify_service, shown

    domain, service, data = _text(args, "domain"), _text(args, "service"), args.get("data")
    if domain is None or service is None or not isinstance(data or {}, dict):
        return None  # the tool itself rejects it
    posted = {**(data or {}), **({"entity_id": args["entity_id"]} if "entity_id" in args else {})}
    assessment = classify_service(domain, service, posted)
    return Request(
        call,
        f"ha_call_service {shown(domain, service, posted)}",
        assessment,
        Action.of(call, args, ctx),
    )


def refusal(request: Request) -> str:
    return (
        f"Refused: {request.reason}. This is never run, not even with the user's "
        "approval. Tell the user, and find a safer way if there is one."
    )


def unattended_refusal(request: Request) -> str:
    return (
        f"Not run: this {request.risk}-risk action needs the user's approval "
        f"({request.reason}), and code cannot wait for it. Run it with the terminal "
        "tool yourself, so the user is asked."
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
        if call.name in ON_BACKEND:
            try:  # the gate looks at the backend's disk: it must be reachable first
                await ctx.backend.open()
            except ToolError as exc:
                return f"Not run: {exc}"
        # in a worker thread: looking at a remote disk waits on the network (one at a
        # time: the shell parser is shared)
        request = await asyncio.to_thread(_assess_alone, call, args, ctx)
        if request is None or request.risk == "none":
            return None
        if request.risk == "hard":
            return refusal(request)
        if self.settings.mode == "off":
            return None
        if ctx.unattended:  # code or a child calling tools: nobody to ask in the middle
            return unattended_refusal(request)
        return await self.asker.ask(request, ctx)

    async def after(self, call: ToolCall, result: str, is_error: bool, ctx: TurnContext) -> None:
        return None
