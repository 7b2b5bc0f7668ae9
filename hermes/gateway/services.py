"""The gateway's services for tools (hermes/context.py ToolServices): what a tool
may ask of the gateway it runs in, through the turn's context. No tool imports
the gateway; outside one the context has no services and those tools say so.

- send: a message to `origin` (the chat the turn answers; for a routed profile
  the routed chat and thread), `home` (the chat /sethome chose) or
  PLATFORM:CHAT[:THREAD], through the delivery ledger under a key made from the
  tool call's id, so a rerun of the same call never sends it twice.
- delegate: child agents (hermes/gateway/delegation.py).
- notify: a line to the turn's chat at once (progress; not a reply).
- wake_scheduler: cron jobs changed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from hermes.errors import ToolError
from hermes.gateway.events import Target
from hermes.gateway.ports import Services, Waker
from hermes.gateway.targets import TargetError, check_target
from hermes.store import cron_ops

if TYPE_CHECKING:
    from hermes.context import TurnContext
    from hermes.gateway.delegation import Delegation

MAX_SEND_CHARS = 20_000


class ServiceHost(Services, Protocol):
    @property
    def scheduler(self) -> Waker: ...

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]: ...


class GatewayTools:
    """ToolServices for the turns of one gateway (one profile)."""

    def __init__(self, gw: ServiceHost, delegation: Delegation) -> None:
        self.gw = gw
        self.delegation = delegation

    async def send(self, ctx: TurnContext, target: str, text: str) -> str:
        if not text.strip():
            raise ToolError("send_message needs a non-empty message")
        if len(text) > MAX_SEND_CHARS:
            raise ToolError(f"the message is {len(text)} characters; at most {MAX_SEND_CHARS}")
        where = await self._target(ctx, target.strip())
        key = f"tool:{ctx.session_id}:{ctx.call_id or uuid.uuid4().hex}"
        await self.gw.deliver_now(key, where, text)
        return f"Sent to {where} (delivery ledger; retried if the platform is down)."

    async def _target(self, ctx: TurnContext, target: str) -> Target:
        if target in ("", "origin"):
            if not ctx.origin:
                raise ToolError(
                    "this session answers no chat (the API or a terminal): name a target "
                    "such as telegram:123456789 or 'home'"
                )
            return Target.parse(ctx.origin)
        if target == "home":
            home = await self.gw.store.run(cron_ops.home_channel)
            if home is None:
                raise ToolError("no home channel yet: send /sethome in the chat that should be it")
            return Target.parse(home)
        try:
            return check_target(target, set(self.gw.adapters))
        except TargetError as exc:
            raise ToolError(str(exc)) from None

    async def delegate(self, ctx: TurnContext, tasks: object, wait: bool) -> str:
        return await self.delegation.delegate(ctx, tasks, wait)

    def notify(self, ctx: TurnContext, text: str) -> None:
        if not ctx.origin:
            return
        target = Target.parse(ctx.origin)
        key = f"notify:{ctx.session_id}:{uuid.uuid4().hex}"
        self.gw.spawn(self.gw.queue_reply(key, target, text), "notify")

    def wake_scheduler(self) -> None:
        self.gw.scheduler.wake()
