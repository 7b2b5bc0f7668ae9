"""Walkaway tasks' extras: milestone pings from a `progress` tool, steering
from the chat the task came from, and a "still working" ping after a quiet
spell. The TaskRunner (tasks.py) runs the task itself; this keeps what only
walkaway tasks have.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.gateway.events import Target
from hermes.messages import Message
from hermes.store import task_ops
from hermes.store.task_ops import TaskRow
from hermes.tools.base import Tool, schema

if TYPE_CHECKING:
    from hermes.gateway.ports import Services

WALKAWAY_BRIEF = (
    "You are working on this task while the user is away from the keyboard; they follow "
    "along on their phone. Report each milestone with the `progress` tool (one short line). "
    "Messages the user sends meanwhile reach you as '[The user, while you work]: ...': follow "
    "them. Finish with a short summary of what you did and what is left.\n\nThe task: "
)
STEER_PREFIX = "[The user, while you work]: "


class Walkaways:
    def __init__(self, gw: Services, ping_after: float) -> None:
        self.gw = gw
        self.ping_after = ping_after  # seconds of silence before a "still working" ping
        self.by_origin: dict[str, str] = {}  # origin chat -> the walkaway task steered from it
        self._news: dict[str, float] = {}  # task -> when the user last heard of it

    def steered_task(self, origin: Target) -> str | None:
        """The walkaway task that messages in this chat steer, if one runs."""
        return self.by_origin.get(str(origin))

    async def steer(self, task_id: str, text: str) -> None:
        await self.gw.store.run(task_ops.add_event, task_id, "steer", text, self.gw.clock())

    def note(self, row: TaskRow) -> None:
        if row.kind == "walkaway" and row.origin:
            self.by_origin[row.origin] = row.id

    def forget(self, task_id: str) -> None:
        for origin, tid in list(self.by_origin.items()):
            if tid == task_id:
                del self.by_origin[origin]

    def progress_tool(self, row: TaskRow) -> Tool:
        async def progress(args: dict[str, Any], ctx: TurnContext) -> str:
            text = " ".join(str(args.get("message") or "").split())
            if not text:
                raise ToolError("progress needs a message: one short line on what you reached")
            gw = self.gw
            self._news[row.id] = gw.clock()
            event_id = await gw.store.run(task_ops.add_event, row.id, "progress", text, gw.clock())
            if row.origin:
                key = f"task:{row.id}:progress:{event_id}"
                await gw.queue_reply(key, Target.parse(row.origin), f"📍 {row.id}: {text}")
            return "Reported to the user."

        return Tool(
            name="progress",
            description=(
                "Tell the user (on their phone) that you reached a milestone of this task: "
                "one short line, e.g. 'tests pass on the new parser, starting the docs'."
            ),
            parameters=schema({"message": {"type": "string"}}, ["message"]),
            handler=progress,
        )

    async def steering(self, task_id: str) -> list[Message]:
        texts = await self.gw.store.run(task_ops.take_steering, task_id)
        return [Message("user", STEER_PREFIX + t) for t in texts]

    async def pings(self, row: TaskRow) -> None:
        """While a walkaway task runs: a ping after `ping_after` seconds without
        news from it (a progress report or an earlier ping), so it is never silent
        for long."""
        if not row.origin:
            return
        target = Target.parse(row.origin)
        self._news[row.id] = self.gw.clock()
        try:
            while True:
                wait = self._news[row.id] + self.ping_after - self.gw.clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                self._news[row.id] = self.gw.clock()
                events = await self.gw.store.run(task_ops.events, row.id, 200)
                steps = [e for e in events if e.kind == "tool"]
                now = f" Now: {steps[-1].text}." if steps else ""
                event_id = await self.gw.store.run(
                    task_ops.add_event, row.id, "note", "still working", self.gw.clock()
                )
                await self.gw.queue_reply(
                    f"task:{row.id}:ping:{event_id}",
                    target,
                    f"⏳ {row.id} is still working ({len(steps)} steps so far).{now}",
                )
        finally:
            self._news.pop(row.id, None)
