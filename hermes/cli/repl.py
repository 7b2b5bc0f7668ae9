"""The interactive terminal chat (`hermes`, `hermes chat [--resume ID]`).

A prompt with history (prompt_toolkit, imported only here), turns streamed
through a Renderer, slash commands from hermes.commands, and Ctrl-C that
interrupts the running turn instead of leaving. With stdin not a terminal
the same loop reads plain lines, so `printf 'hi\\n' | hermes chat` works.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol, TextIO, TypeVar

from hermes.cli.learning import Learner
from hermes.cli.render import Renderer
from hermes.errors import HermesError

if TYPE_CHECKING:
    from hermes.agent.conversation import Conversation
    from hermes.context import Profile

T = TypeVar("T")
PROMPT = "› "
ANSWER_PROMPT = "answer › "
EXIT_COMMANDS = ("/exit", "/quit")
HISTORY_FILE = ".chat_history"  # in the profile's home, mode 0600


class LineReader(Protocol):
    """Where typed lines come from. Both raise EOFError at the end of input
    and KeyboardInterrupt when the user presses Ctrl-C at the prompt."""

    async def read(self, prompt: str) -> str: ...

    async def answer(self, prompt: str) -> str: ...

    def quiet(self) -> contextlib.AbstractContextManager[None]:
        """While a turn runs: keep typed-ahead keys from echoing into the output."""
        ...


class PipeReader:
    """Lines from a non-terminal stdin (echoed, so the transcript reads well)."""

    def __init__(self, stream: TextIO, echo: TextIO) -> None:
        self._stream = stream
        self._echo = echo

    async def read(self, prompt: str) -> str:
        line = self._stream.readline()
        if not line:
            raise EOFError
        line = line.rstrip("\r\n")
        self._echo.write(f"{prompt}{line}\n")
        self._echo.flush()
        return line

    async def answer(self, prompt: str) -> str:
        return await self.read(prompt)

    def quiet(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class TtyReader:
    """prompt_toolkit prompts: history, /command completion, Esc-Enter for a newline."""

    def __init__(self, history_path: Path, commands: list[str]) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import Completer, Completion
        from prompt_toolkit.document import Document
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

        class SlashCompleter(Completer):
            def get_completions(self, document: Document, complete_event: object) -> Any:
                text = document.text_before_cursor
                if not text.startswith("/") or " " in text:
                    return
                for name in commands:
                    if name.startswith(text):
                        yield Completion(name, start_position=-len(text))

        keys = KeyBindings()

        @keys.add("escape", "enter")
        def _newline(event: KeyPressEvent) -> None:
            event.current_buffer.insert_text("\n")

        _private_file(history_path)
        self._main: PromptSession[str] = PromptSession(
            history=FileHistory(str(history_path)),
            completer=SlashCompleter(),
            complete_while_typing=True,
            key_bindings=keys,
        )
        self._answers: PromptSession[str] = PromptSession()

    async def read(self, prompt: str) -> str:
        return await self._main.prompt_async(prompt)

    async def answer(self, prompt: str) -> str:
        return await self._answers.prompt_async(prompt)

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        import termios

        fd = sys.stdin.fileno()
        try:
            saved = termios.tcgetattr(fd)
            muted = termios.tcgetattr(fd)
            muted[3] &= ~termios.ECHO  # lflag; ISIG stays on, so Ctrl-C still interrupts
            termios.tcsetattr(fd, termios.TCSANOW, muted)
        except (termios.error, OSError):
            yield
            return
        try:
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSANOW, saved)


def _private_file(path: Path) -> None:
    """Create PATH with mode 0600 unless it exists (prompts may hold secrets)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # history is a convenience; the chat works without it
    os.close(fd)


class TerminalUser:
    """UserIO for the clarify tool: asks in the terminal, choices as a numbered list."""

    def __init__(
        self, reader: LineReader, renderer: Renderer, interrupt: Callable[[], object]
    ) -> None:
        self._reader = reader
        self._renderer = renderer
        self._interrupt = interrupt
        self._lock = asyncio.Lock()  # one question at a time

    async def ask(self, question: str, choices: list[str] | None = None) -> str:
        async with self._lock:
            self._renderer.line(f"? {question}")
            for number, choice in enumerate(choices or [], start=1):
                self._renderer.line(f"  {number}. {choice}")
            try:
                raw = await self._reader.answer(ANSWER_PROMPT)
            except KeyboardInterrupt:
                self._interrupt()
                return "(the user interrupted the turn instead of answering)"
            except EOFError:
                return "(the user gave no answer)"
            return pick_answer(raw, choices)


def pick_answer(raw: str, choices: list[str] | None) -> str:
    """The user's answer: a choice by its number, else the text as typed."""
    text = raw.strip()
    if choices and text.isdigit() and 1 <= int(text) <= len(choices):
        return choices[int(text) - 1]
    return text or "(the user gave no answer)"


class Repl:
    def __init__(
        self,
        profile: Profile,
        reader: LineReader,
        renderer: Renderer,
        *,
        debug: bool = False,
        voice: bool = False,
    ) -> None:
        self.profile = profile
        self.voice = voice  # push-to-talk: Enter on an empty line records (--voice)
        self.reader = reader
        self.renderer = renderer
        self.debug = debug
        self.user = TerminalUser(reader, renderer, self.interrupt)
        self.learner = Learner(profile, renderer.line)  # the skills review after turns
        self._current: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ----- Ctrl-C ---------------------------------------------------------------

    def interrupt(self) -> bool:
        """Cancel the running turn or command; False when nothing runs."""
        task = self._current
        if task is None or task.done():
            return False
        task.cancel()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(lambda: None)  # wake the selector
        return True

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        # At the prompt the terminal is raw, so Ctrl-C arrives as a key there;
        # a SIGINT means a turn (or a command) is running, or we are between.
        if not self.interrupt():
            raise KeyboardInterrupt

    # ----- the loop -------------------------------------------------------------

    async def run(self, resume: str | None = None) -> int:
        from hermes.approvals.gate import ApprovalGate
        from hermes.approvals.terminal import TerminalAsker
        from hermes.runtime import open_conversation

        approvals = self.profile.settings.approvals
        gate = ApprovalGate(
            approvals, TerminalAsker(self.user, approvals.low_risk_auto_approve_seconds)
        )
        self._loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        if main is not None:  # SIGTERM: stop the turn, kill its commands, leave
            self._loop.add_signal_handler(signal.SIGTERM, main.cancel)
        previous = _set_sigint(self._on_sigint)
        try:
            async with open_conversation(
                self.profile, source="cli", session_id=resume, user=self.user, hooks=[gate]
            ) as conv:
                self._banner(conv, resumed=resume is not None)
                if self.voice:
                    from hermes.cli.push_to_talk import problem

                    why = problem()
                    self.renderer.line(why or "🎤 Voice: press Enter on an empty line to talk.")
                try:
                    await self._chat(conv)
                finally:
                    await self.learner.close()
        finally:
            if previous is not None:
                _set_sigint(previous)
        return 0

    def _banner(self, conv: Conversation, *, resumed: bool) -> None:
        from hermes.providers.describe import offline_notice
        from hermes.providers.resolve import describe

        what = "resumed session" if resumed else "session"
        self.renderer.line(
            f"Hermes · profile {self.profile.name} · {describe(conv.provider)} · "
            f"{what} {conv.session_id} · /help for commands"
        )
        notice = offline_notice(conv.provider.name)
        if notice:
            self.renderer.line(f"Note: {notice}")
        if resumed:
            self.renderer.line(f"({len(conv.messages())} messages in context)", dim=True)

    async def _chat(self, conv: Conversation) -> None:
        from hermes.commands import is_command, run_command

        while True:
            self.learner.announce()
            try:
                line = await self.reader.read(PROMPT)
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line
            except EOFError:
                return
            text = line.strip()
            if text.lower() == "/voice" or (self.voice and not text):
                await self.talk(conv)
                continue
            if not text:
                continue
            if text.lower() in EXIT_COMMANDS:
                return
            if not is_command(text):
                await self.turn(conv, text)
                continue
            with self.reader.quiet():
                outcome = await self.foreground(run_command(conv, text))
            if outcome is None:
                continue
            if outcome.text:
                self.renderer.line(outcome.text)
            if text.split()[0].lower() == "/help":
                self.renderer.line(_exit_help())
            if outcome.exit:
                return
            if outcome.resend:
                await self.turn(conv, outcome.resend)

    async def turn(self, conv: Conversation, text: str) -> None:
        self.renderer.start_turn()
        try:
            with self.reader.quiet():
                done = await self.foreground(conv.send(text, self.renderer.handle))
        finally:
            self.renderer.end_turn()
        if done is not None:
            self.learner.after(conv)

    async def talk(self, conv: Conversation) -> None:
        """Push-to-talk: record until Enter, transcribe, and send the words as a turn."""
        from hermes.cli import push_to_talk
        from hermes.voice.base import transcribed
        from hermes.voice.service import Voice

        why = push_to_talk.problem()
        if why is not None:
            self.renderer.line(why)
            return
        stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        folder = self.profile.home / "voice" / "recorded"
        recording = asyncio.ensure_future(push_to_talk.record(folder, stop))
        try:
            await self.reader.read("🎤 recording: press Enter to stop ")
        finally:
            stop.set_result(None)
        try:
            path = await recording
            voice = Voice(self.profile.settings.voice, self.profile.env, self.profile.home)
            heard = await self.foreground(voice.transcribe(path))
        except Exception as exc:
            self.renderer.line(f"🎤 {' '.join(str(exc).split())}")
            return
        if heard is None:
            return
        self.renderer.line(f"🎤 {heard.text or '(no speech heard)'}")
        await self.turn(conv, transcribed(str(path), heard.text))

    async def foreground(self, work: Coroutine[Any, Any, T]) -> T | None:
        """Run WORK as the task Ctrl-C cancels; report its failure as one line."""
        task = asyncio.ensure_future(work)
        self._current = task
        try:
            await asyncio.wait({task})
        finally:
            self._current = None
            if not task.done():
                task.cancel()
        if task.cancelled():
            self.renderer.interrupted()
            return None
        exc = task.exception()
        if exc is not None:
            self._report(exc)
            return None
        return task.result()

    def _report(self, exc: BaseException) -> None:
        if isinstance(exc, HermesError):
            self.renderer.line(f"error: {exc}", error=True)
            return
        if self.debug:
            self.renderer.stop_spinner()
            traceback.print_exception(exc)
        self.renderer.line(
            f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for details)",
            error=True,
        )


def _set_sigint(handler: Any) -> Any:
    """Install a SIGINT handler; returns the old one (None off the main thread)."""
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:
        return None


def _exit_help() -> str:
    from hermes.commands import HELP

    width = max(len(k) for k in HELP)
    return (
        f"{'/voice'.ljust(width)}  talk: record from the microphone until Enter\n"
        f"{'/exit, /quit'.ljust(width)}  leave (or Ctrl-D); Ctrl-C stops a running turn"
    )


def make_reader(profile: Profile) -> LineReader:
    if sys.stdin.isatty():
        from hermes.commands import HELP

        names = sorted({k.split()[0] for k in HELP} | set(EXIT_COMMANDS) | {"/voice"})
        return TtyReader(profile.home / HISTORY_FILE, names)
    return PipeReader(sys.stdin, sys.stdout)


def run_repl(args: argparse.Namespace) -> int:
    from hermes.home import load_profile
    from hermes.logs import setup_file_logging

    profile = load_profile(args.profile)
    setup_file_logging(profile.home)
    tty = sys.stdout.isatty()
    renderer = Renderer(
        sys.stdout,
        tty=tty,
        color=tty and "NO_COLOR" not in profile.env,
        streaming=profile.settings.display.streaming,
    )
    voice = bool(getattr(args, "voice", False))
    repl = Repl(profile, make_reader(profile), renderer, debug=bool(args.debug), voice=voice)
    try:
        return asyncio.run(repl.run(getattr(args, "resume", None)))
    except asyncio.CancelledError:
        return 143  # SIGTERM
