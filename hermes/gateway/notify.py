"""Background process notifications: the chat that started a process hears how it goes.

A process the agent starts with terminal(background=true) outlives the turn,
so nobody would learn that the build finished or the server crashed unless
the gateway says so. Which messages go out follows
display.background_process_notifications (HERMES_BACKGROUND_NOTIFICATIONS wins):

    all     running-output updates (at most one per interval) and the final message
    result  the final message only
    error   the final message only when the process failed or was killed
    off     nothing

Messages go through the delivery ledger under one key each
(proc:ID:update:N, proc:ID:exit), so a retry or a restart never sends one twice.
Processes of sessions that no chat answers in (the API, the terminal) are not followed.
Processes still running when the gateway stops are killed by the shutdown
without a message: the notifier detaches first, so a restart does not spam
every chat with "killed".
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hermes.aio import wait_event
from hermes.commands import clip
from hermes.config import apply_env_overrides
from hermes.errors import ConfigError
from hermes.gateway.events import Target
from hermes.settings import NotifyMode
from hermes.tools.process import ProcessEvent, ProcInfo

if TYPE_CHECKING:
    from hermes.gateway.ports import Services

log = logging.getLogger("hermes.gateway.notify")

SHOW_LINES = 20  # output lines shown in one message
SHOW_CHARS = 1500  # ... and at most this many characters of them
_KEEP = 4 * SHOW_CHARS  # raw output kept per message (escape codes take room too)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def notify_mode(gw: Services) -> NotifyMode:
    """The configured mode, with HERMES_BACKGROUND_NOTIFICATIONS from the profile's env
    winning; an invalid env value is ignored with a warning."""
    configured = gw.profile.settings.display.background_process_notifications
    try:
        settings = apply_env_overrides(gw.profile.settings, gw.profile.env)
    except ConfigError as exc:
        log.warning("%s; using %r from config.yaml meanwhile", exc, configured)
        return configured
    return settings.display.background_process_notifications


class _Output:
    """The tail of a stream of output and how much of it there was in all."""

    def __init__(self) -> None:
        self.tail = ""
        self.chars = 0
        self.newlines = 0

    def add(self, text: str) -> None:
        self.tail = (self.tail + text)[-_KEEP:]
        self.chars += len(text)
        self.newlines += text.count("\n")

    def lines(self) -> int:
        return self.newlines + (0 if not self.tail or self.tail.endswith("\n") else 1)

    def block(self, what: str) -> str:
        """The last lines as a code block, after a note saying how much is left out;
        "" when there is nothing to show."""
        shown = "\n".join(_clean(self.tail).splitlines()[-SHOW_LINES:]).strip("\n")
        shown = shown[-SHOW_CHARS:]
        if not shown.strip():
            return ""
        fence = "`" * max(3, _longest_run(shown, "`") + 1)
        count = shown.count("\n") + 1
        note = ""
        if self.lines() > count:
            note = f"({self.lines():,} lines of {what}; the last {count} shown)\n"
        elif self.chars > len(shown):
            note = f"({self.chars:,} characters of {what}; the last {len(shown):,} shown)\n"
        return f"\n{note}{fence}\n{shown}\n{fence}"


def _clean(text: str) -> str:
    """What a terminal would show: no color codes, a carriage return overwrites its line."""
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(r) for r in runs), default=0)


def _code(command: str) -> str:
    """The command as inline code on one line (double backticks if it holds one)."""
    short = clip(command, 80)
    return f"`` {short} ``" if "`" in short else f"`{short}`"


def _duration(seconds: float) -> str:
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m {total % 60}s"
    return f"{total // 3600}h {total % 3600 // 60}m"


def _failed(info: ProcInfo) -> bool:
    """Killed, or exited with a non-zero code."""
    return info.status == "killed" or info.exit_code != 0


def _final_text(info: ProcInfo, output: _Output) -> str:
    """The message for a process that ended."""
    code, took = info.exit_code, _duration(info.runtime)
    if not _failed(info):
        head = f"✅ Background process {info.id} finished (exit code 0, {took})"
    elif code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        head = f"❌ Background process {info.id} was killed by {name} ({took})"
    elif info.status == "killed":
        head = f"❌ Background process {info.id} was killed (exit code {code}, {took})"
    else:
        head = f"❌ Background process {info.id} failed (exit code {code}, {took})"
    return f"{head}: {_code(info.command)}{output.block('output')}"


@dataclass
class _Watch:
    """One followed process."""

    target: Target
    info: ProcInfo
    new: _Output = field(default_factory=_Output)  # since the last update
    everything: _Output = field(default_factory=_Output)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # output arrived, or the end
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class ProcessNotifier:
    """Follows the gateway's background processes and reports on them in their chat."""

    def __init__(self, gw: Services, interval: float = 30.0) -> None:
        self.gw = gw
        self.interval = interval  # seconds, at least, between two running-output updates
        self.mode: NotifyMode = "off"
        self._watches: dict[str, _Watch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self) -> None:
        """Read the mode and start following processes (nothing to follow when off)."""
        self.mode = notify_mode(self.gw)
        if self.mode != "off" and self._unsubscribe is None:
            self._unsubscribe = self.gw.processes.add_listener(self._on_event)

    async def close(self) -> None:
        """Stop following. Final messages already due are still queued; a process
        still running gets no message (the gateway is about to kill it)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for watch in self._watches.values():
            if watch.task is not None and not watch.ended.is_set():
                watch.task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def following(self) -> list[str]:
        """Ids of the processes being followed (their final message not queued yet)."""
        return list(self._watches)

    def _on_event(self, event: ProcessEvent) -> None:
        info = event.info
        watch = self._watches.get(info.id)
        if watch is None:
            target = self.gw.targets.get(info.session_id) if info.session_id else None
            if target is None:
                return
            watch = self._watches[info.id] = _Watch(target, info)
            watch.task = self._spawn(self._follow(watch), f"notify {info.id}")
        watch.info = info
        if event.kind == "output":
            watch.new.add(event.text)
            watch.everything.add(event.text)
        elif event.kind == "exited":
            watch.ended.set()
        watch.changed.set()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _follow(self, watch: _Watch) -> None:
        proc_id = watch.info.id
        try:
            if self.mode == "all":
                await self._updates(watch)
            await watch.ended.wait()
            if self.mode != "error" or _failed(watch.info):
                text = _final_text(watch.info, watch.everything)
                await self.gw.queue_reply(f"proc:{proc_id}:exit", watch.target, text)
        except Exception:
            log.exception("notifying %s about background process %s", watch.target, proc_id)
        finally:
            self._watches.pop(proc_id, None)

    async def _updates(self, watch: _Watch) -> None:
        """Send the new output at most once per interval until the process ends
        (the first update no sooner than one interval after the start)."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self.interval
        count = 0
        while True:
            await watch.changed.wait()
            if not watch.ended.is_set() and due > loop.time():
                await wait_event(watch.ended, due - loop.time())
            if watch.ended.is_set():
                return
            watch.changed.clear()
            block = watch.new.block("new output")
            watch.new = _Output()
            due = loop.time() + self.interval
            if block:
                count += 1
                info = watch.info
                text = (
                    f"⏳ Background process {info.id} still running "
                    f"({_duration(info.runtime)}): {_code(info.command)}{block}"
                )
                await self.gw.queue_reply(f"proc:{info.id}:update:{count}", watch.target, text)
