"""Approvals in the gateway: requests stored in state.db, pushed to the chat
(with buttons where the platform has them), decided from anywhere, and the
suspended work resumed by the decision.

Nothing waits in memory for a decision. A gated call stores a request and
defers (the turn suspends, its chat or task is marked waiting); a decision —
a button, `/approve ID`, `hermes approvals approve ID`, the API, or the
low-risk timer — is written to the row, and `resume_decided()` hands every
owner whose requests are all decided back to the gateway, which runs the turn
on from the stored history. A restart in between changes nothing: the rows
are the state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hermes.agent.loop import Defer
from hermes.aio import wait_event
from hermes.approvals.gate import Request, denied
from hermes.context import TurnContext
from hermes.gateway.access import allowed_ids
from hermes.gateway.events import Target
from hermes.messages import ToolCall
from hermes.store import Store
from hermes.store import approval_ops as ops
from hermes.store.approval_ops import ApprovalRow, NewApproval

if TYPE_CHECKING:
    from hermes.gateway.ports import Services

log = logging.getLogger("hermes.gateway")

# Resumes the work of an owner ("inbound:ID" | "task:ID"); False if that work is
# not suspended (yet): it is offered again at the next wake-up.
Resumer = Callable[[str], Awaitable[bool]]
RISK_ICON = {"high": "🛑", "medium": "⚠️", "low": "🔸"}


def prompt_text(row: ApprovalRow, what: str) -> str:
    """The request as the user sees it: the exact action, the risk, the reason."""
    action = row.action if len(row.action) <= 1500 else row.action[:1500] + " …"
    lines = [
        f"{RISK_ICON.get(row.risk, '⚠️')} Approval needed ({row.risk} risk) — {row.id}",
        f"{row.reason}.",
        f"For: {what}",
        f"```\n{action}\n```",
    ]
    if row.auto_approve_at is not None:
        minutes = max(0.0, row.auto_approve_at - row.created_at) / 60
        lines.append(f"Low risk: runs by itself in {minutes:g} min unless you deny it.")
    lines.append(f"/approve {row.id} or /deny {row.id}")
    return "\n".join(lines)


async def rerun_rule(store: Store, owner: str, decided: bool) -> Callable[[ToolCall], bool]:
    """Which unanswered calls of a resumed turn run now. After its approvals
    were decided (the turn was suspended), none of them ever started: the ones
    that asked and the siblings held with them all run now, each through the
    gate again. After a crash, only those that went to an approval are known
    not to have started; the others get a result saying the gateway restarted."""
    if decided:
        return lambda call: True
    asked = {a.tool_call_id for a in await store.run(ops.of_owner, owner)}
    return lambda call: call.id in asked


def buttons(approval_id: str) -> list[list[dict[str, str]]]:
    return [
        [
            {"label": "✅ Approve", "data": f"approve:{approval_id}"},
            {"label": "❌ Deny", "data": f"deny:{approval_id}"},
        ]
    ]


class Desk:
    """The gateway's approvals: asking, deciding, the low-risk timer, resuming."""

    def __init__(self, gw: Services) -> None:
        self.gw = gw
        self.resumers: dict[str, Resumer] = {}  # owner kind ("inbound", "task") -> resume
        self.listeners: list[Callable[[ApprovalRow], None]] = []  # told each decision made here
        self._wake = asyncio.Event()

    # ----- asking (called by the gate inside a turn) -----------------------------

    async def ask(
        self,
        request: Request,
        ctx: TurnContext,
        owner: str,
        origin: Target | None,
        what: str,
        requester: str | None = None,
    ) -> str | Defer | None:
        gw = self.gw
        settings = gw.profile.settings.approvals
        now = gw.clock()
        auto_at = None
        if request.risk == "low":
            if settings.low_risk_auto_approve_seconds == 0:
                return None
            auto_at = now + settings.low_risk_auto_approve_seconds
        exact = request.exact
        new = NewApproval(
            request.risk,
            request.reason,
            request.call.name,
            request.action,
            request.call.id,
            ctx.session_id,
            owner,
            str(origin) if origin else None,
            auto_at,
            action_hash=exact.digest,
            args=exact.args,
            cwd=exact.cwd,
            backend=exact.backend,
            requester=requester,
        )
        try:
            row, created = await gw.store.run(ops.request, new, now)
        except LookupError as exc:
            log.warning("approval refused: %s", exc)
            return (
                "Not run: this call's id was already used for a different action, so no "
                "earlier decision applies to it. Call the tool again."
            )
        if not created:  # asked before (the turn was resumed): its decision stands
            return self._verdict(row, request)
        log.info("approval %s requested (%s): %s", row.id, row.risk, row.action[:200])
        for target in self._channels(origin):
            await gw.queue_reply(
                f"approval:{row.id}:{target}",
                target,
                prompt_text(row, what),
                buttons=buttons(row.id),
            )
        self._wake.set()
        return Defer(f"waiting for approval {row.id}")

    def _verdict(self, row: ApprovalRow, request: Request) -> str | Defer | None:
        if row.action_hash != request.digest:  # never: the lookup checks it; belt and braces
            return "Not run: the approval on record is for a different action."
        if row.status == "approved":
            return None
        if row.status == "pending":
            return Defer(f"waiting for approval {row.id}")
        if row.status == "denied":
            return denied(request, row.decided_by or "someone")
        return f"Not run: the request {row.id} was cancelled ({row.decided_by or 'stopped'})."

    def _channels(self, origin: Target | None) -> list[Target]:
        found: list[Target] = []
        for channel in self.gw.profile.settings.approvals.channels:
            if channel == "origin":
                target = origin
            else:
                try:
                    target = Target.parse(channel)
                except ValueError:
                    log.warning("approvals.channels: %r is not origin or PLATFORM:CHAT", channel)
                    continue
            if target is not None and target.platform in self.gw.adapters and target not in found:
                found.append(target)
        return found

    # ----- deciding ---------------------------------------------------------------

    def may_decide(self, row: ApprovalRow, decider: Decider | None) -> bool:
        """Whether `decider` may decide `row`. None is the operator (the CLI, the
        API and dashboard with the key, a trusted front end such as the web chat).
        In a chat: whoever started the work, anyone in `approvals.deciders`, and
        for work nobody in a chat started (cron, the API) the users the platform's
        allowlist names; never a paired stranger deciding someone else's request."""
        if decider is None or decider.trusted:
            return True
        who = f"{decider.platform}:{decider.user}"
        if who in self.gw.profile.settings.approvals.deciders or who == row.requester:
            return True
        return row.requester is None and decider.user in allowed_ids(
            self.gw.profile.env, decider.platform
        )

    async def decide(
        self, approval_id: str, approve: bool, by: str, decider: Decider | None = None
    ) -> str:
        """Record a decision and resume the work; returns a line for the decider.
        `decider`: who decides from a chat (None: the operator, see may_decide)."""
        gw = self.gw
        if decider is not None:
            found = await gw.store.run(ops.get, approval_id)
            if found is not None and not self.may_decide(found, decider):
                log.warning("approval %s: %s may not decide it", found.id, by)
                asked = f" ({found.requester})" if found.requester else ""
                return (
                    f"You may not decide {found.id}: only whoever asked for this work{asked} "
                    "or a user listed in approvals.deciders can."
                )
        row, changed = await gw.store.run(ops.decide, approval_id, approve, by, gw.clock())
        if row is None:
            shown = approval_id if len(approval_id) <= 20 else approval_id[:20] + "…"
            return f"No approval {shown!r}; /approve without an id lists the pending ones."
        if not changed:
            when = f" by {row.decided_by}" if row.decided_by else ""
            return f"Approval {row.id} was already {row.status}{when}."
        log.info("approval %s %s by %s", row.id, row.status, by)
        self._tell(row)
        self._wake.set()
        verb = "Approved" if approve else "Denied"
        action = row.action if len(row.action) <= 200 else row.action[:200] + " …"
        return f"{verb} {row.id}: {action}" + ("" if approve else " (it will not run)")

    def _tell(self, row: ApprovalRow) -> None:
        """Tell the listeners (the web chat: its buttons show the decision)."""
        for listener in self.listeners:
            try:
                listener(row)
            except Exception:
                log.exception("telling about approval %s", row.id)

    def wake(self) -> None:
        """Decisions may have been written by another process (the CLI)."""
        self._wake.set()

    # ----- the loop: low-risk timer and resuming ---------------------------------

    async def run(self) -> None:
        """Approve due low-risk requests, resume decided work; sleep until the next
        auto-approval or a wake-up (no polling)."""
        while True:
            self._wake.clear()
            now = self.gw.clock()
            seconds = self.gw.profile.settings.approvals.low_risk_auto_approve_seconds
            for row in await self.gw.store.run(ops.due_auto, now):
                decided, changed = await self.gw.store.run(
                    ops.decide, row.id, True, f"auto (low risk, not denied within {seconds}s)", now
                )
                log.info("approval %s auto-approved", row.id)
                if decided is not None and changed:
                    self._tell(decided)
            await self.resume_decided()
            due = await self.gw.store.run(ops.next_auto)
            timeout = None if due is None else max(0.0, due - self.gw.clock())
            await wait_event(self._wake, timeout)

    async def resume_decided(self) -> None:
        for owner in await self.gw.store.run(ops.decided_owners):
            kind, _, owner_id = owner.partition(":")
            resumer = self.resumers.get(kind)
            if resumer is None:
                log.warning("approval owner %s: nothing resumes %r work", owner, kind)
                await self.gw.store.run(ops.mark_resumed, owner)
                continue
            try:
                if await resumer(owner_id):
                    await self.gw.store.run(ops.mark_resumed, owner)
            except Exception:
                log.exception("resuming %s after its approval", owner)


@dataclass(frozen=True)
class Decider:
    """Who decides from a chat: the sender of the button press or /approve."""

    platform: str
    user: str
    trusted: bool = False  # the front end proved it is the operator (the web chat's login)


class ChatAsker:
    """The Asker of one line of work (a chat's turns, a task): who owns the
    requests it makes, where they are shown, and who asked for the work."""

    def __init__(
        self,
        desk: Desk,
        owner: str = "",
        origin: Target | None = None,
        what: str = "",
        requester: str | None = None,
    ) -> None:
        self.desk = desk
        self.owner = owner  # set per turn for chats: "inbound:ID"
        self.origin = origin
        self.what = what  # "your message “deploy it”", "background task bg_…"
        self.requester = requester  # PLATFORM:USER; set per turn for chats

    async def ask(self, request: Request, ctx: TurnContext) -> str | Defer | None:
        if not self.owner:
            raise RuntimeError("ChatAsker used outside a turn")
        return await self.desk.ask(request, ctx, self.owner, self.origin, self.what, self.requester)
