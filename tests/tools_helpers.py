"""Helpers for the tool tests: a TurnContext on a tmp home, fakes, waiting."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from hermes.context import Profile, TurnContext
from hermes.messages import Message, Usage
from hermes.settings import Settings
from hermes.store.store import TodoItem
from hermes.tools.process import ProcessManager

if TYPE_CHECKING:
    from hermes.store import Store


class MemoryTodoStore:
    """The two Store methods the todo tool uses, in memory."""

    def __init__(self) -> None:
        self.todos: dict[str, list[TodoItem]] = {}

    async def get_todo(self, session_id: str) -> list[TodoItem]:
        return [
            TodoItem(i.id, i.text, i.status, dict(i.extra)) for i in self.todos.get(session_id, [])
        ]

    async def set_todo(self, session_id: str, items: list[TodoItem]) -> None:
        self.todos[session_id] = [TodoItem(i.id, i.text, i.status, dict(i.extra)) for i in items]

    async def update_todo(
        self, session_id: str, change: Callable[[list[TodoItem]], list[TodoItem]]
    ) -> list[TodoItem]:
        items = change(await self.get_todo(session_id))
        await self.set_todo(session_id, items)
        return items


class FakeUser:
    """Answers clarify questions from a script and records what was asked."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[tuple[str, list[str] | None]] = []

    async def ask(self, question: str, choices: list[str] | None = None) -> str:
        self.asked.append((question, choices))
        return self.answer


def make_ctx(
    home: Path,
    *,
    settings: Settings | None = None,
    env: dict[str, str] | None = None,
    store: Any = None,
    processes: ProcessManager | None = None,
    user: Any = None,
) -> TurnContext:
    base_env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    profile = Profile(
        name="default", home=home, settings=settings or Settings(), env={**base_env, **(env or {})}
    )
    ctx = TurnContext(
        profile=profile,
        session_id="s1",
        store=cast("Store", store if store is not None else MemoryTodoStore()),
        processes=processes or ProcessManager(),
    )
    if user is not None:
        ctx.user = user
    return ctx


async def wait_until(
    check: Callable[[], bool | Awaitable[bool]],
    seconds: float = 10.0,
    why: Callable[[], str] | None = None,
) -> None:
    """Poll `check` (plain or async) until it is true; fail the test after `seconds`
    (with `why()`, which may report what the last check saw)."""
    deadline = time.monotonic() + seconds
    while not await _holds(check):
        if time.monotonic() > deadline:
            detail = f"\n{why()}" if why is not None else ""
            raise AssertionError(f"condition not met within {seconds}s{detail}")
        await asyncio.sleep(0.02)


async def _holds(check: Callable[[], bool | Awaitable[bool]]) -> bool:
    result = check()
    return bool(await result if inspect.isawaitable(result) else result)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as dead)."""
    if Path("/proc/self").exists():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):  # gone, even while being read
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class ListHistory:
    """The agent loop's History as a plain list (no store): the turn's messages in
    `items`, the usage reports in `usages`."""

    def __init__(self, first: str) -> None:
        self.items = [Message("user", first)]
        self.usages: list[Usage] = []

    def context(self) -> list[Message]:
        return list(self.items)

    async def append(self, messages: list[Message]) -> None:
        self.items.extend(messages)

    async def before_model_call(self, provider: object, emit: object) -> None:
        pass

    def observe_usage(self, usage: Usage) -> None:
        self.usages.append(usage)
