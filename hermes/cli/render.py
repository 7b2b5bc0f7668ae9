"""How a running turn looks in the terminal: streamed text, tool lines, a spinner.

Everything the chat prints during a turn goes through one Renderer, so the
spinner is always cleared before anything else is written. In a non-tty the
spinner and colours are left out and the rest is plain lines.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TextIO

from hermes.agent.events import AgentEvent, Notice, TextDelta, ToolFinished, ToolStarted, TurnDone
from hermes.agent.loop import tool_call_summary

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
TICK = 0.1  # seconds between spinner frames
_DIM = "\x1b[2m"
_RED = "\x1b[31m"
_RESET = "\x1b[0m"
_CLEAR_LINE = "\r\x1b[K"


def first_line(text: str, limit: int = 100) -> str:
    line = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Renderer:
    """Turns agent events into terminal output. Call within the event loop."""

    def __init__(self, out: TextIO, *, tty: bool, color: bool, streaming: bool = True) -> None:
        self.out = out
        self.tty = tty
        self.color = color and tty
        self.streaming = streaming
        self._at_line_start = True
        self._shown_text = False  # model text shown since the last tool call
        self._spinner: asyncio.Task[None] | None = None
        self._spinner_label = ""
        self._tools_running = 0

    # ----- plain output -----------------------------------------------------

    def _write(self, text: str) -> None:
        if not text:
            return
        self.out.write(text)
        self.out.flush()
        self._at_line_start = text.endswith("\n")

    def _style(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def newline_if_needed(self) -> None:
        if not self._at_line_start:
            self._write("\n")

    def line(self, text: str, *, dim: bool = False, error: bool = False) -> None:
        """Write TEXT as whole line(s), after stopping the spinner."""
        self.stop_spinner()
        self.newline_if_needed()
        if error:
            text = self._style(text, _RED)
        elif dim:
            text = self._style(text, _DIM)
        self._write(text + "\n")

    # ----- the spinner --------------------------------------------------------

    def start_spinner(self, label: str) -> None:
        """Show `⠋ LABEL` until the next output (tty only)."""
        if not self.tty:
            return
        self.stop_spinner()
        self.newline_if_needed()
        self._spinner_label = label
        self._spinner = asyncio.get_running_loop().create_task(self._spin())

    def stop_spinner(self) -> None:
        task, self._spinner = self._spinner, None
        if task is None:
            return
        task.cancel()
        self.out.write(_CLEAR_LINE)
        self.out.flush()
        self._at_line_start = True

    async def _spin(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            n = 0
            while True:
                frame = FRAMES[n % len(FRAMES)]
                self.out.write(_CLEAR_LINE + self._style(f"{frame} {self._spinner_label}", _DIM))
                self.out.flush()
                n += 1
                await asyncio.sleep(TICK)

    # ----- a turn -------------------------------------------------------------

    def start_turn(self) -> None:
        self._shown_text = False
        self._tools_running = 0
        self.start_spinner("thinking…")

    def handle(self, event: AgentEvent) -> None:
        """The EventSink given to Conversation.send."""
        if isinstance(event, TextDelta):
            if self.streaming and event.text:
                self.stop_spinner()
                self._write(event.text)
                self._shown_text = True
        elif isinstance(event, ToolStarted):
            self._shown_text = False
            self._tools_running += 1
            self.line(f"⚙ {tool_call_summary(event.call)}", dim=True)
            self.start_spinner("working…")
        elif isinstance(event, ToolFinished):
            self._tools_running = max(0, self._tools_running - 1)
            took = f"{event.seconds:.1f}s"
            if event.is_error:
                detail = first_line(event.result)
                self.line(f"  ✗ {event.call.name} failed ({took}): {detail}", error=True)
            else:
                self.line(f"  ✓ {event.call.name} ({took})", dim=True)
            self.start_spinner("working…" if self._tools_running else "thinking…")
        elif isinstance(event, Notice):
            self.line(event.text, dim=True)
        elif isinstance(event, TurnDone):
            self.stop_spinner()
            if not self._shown_text and event.text:
                self._write(event.text)
            self.newline_if_needed()

    def end_turn(self) -> None:
        """After the turn's task ended, however it ended."""
        self.stop_spinner()
        self.newline_if_needed()

    def interrupted(self) -> None:
        self.line("(interrupted)", dim=True)
