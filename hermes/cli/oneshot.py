"""`hermes -z PROMPT`: run one turn and print only the final answer.

Stdout gets the answer and a newline, nothing else (no streaming, no tool
chatter), so scripts can capture it; the offline demo model's notice goes to
stderr. Failures raise HermesError, which the
command dispatcher prints as one line on stderr with a non-zero exit.

This path must start fast: it imports neither prompt_toolkit nor anything
the turn does not need (check with `python -X importtime -m hermes -z hi`).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING

from hermes.errors import HermesError

if TYPE_CHECKING:
    from hermes.agent.loop import TurnResult
    from hermes.context import Profile

SOURCE = "oneshot"


def read_prompt(value: str, stdin_text: str | None = None) -> str:
    """The prompt: VALUE itself, or stdin when VALUE is "-"."""
    prompt = value
    if value == "-":
        prompt = sys.stdin.read() if stdin_text is None else stdin_text
        prompt = prompt.strip()
    if not prompt.strip():
        raise HermesError("empty prompt: give -z some text, e.g. hermes -z 'what time is it?'")
    return prompt


def run_oneshot(args: argparse.Namespace) -> int:
    from hermes.home import load_profile
    from hermes.logs import setup_file_logging
    from hermes.providers.describe import offline_notice
    from hermes.providers.resolve import pick_provider

    prompt = read_prompt(str(args.oneshot))
    profile = load_profile(args.profile)
    setup_file_logging(profile.home)
    notice = offline_notice(pick_provider(profile.settings.model, profile.env))
    if notice:  # on stderr: stdout stays the answer alone
        print(f"hermes: note: {notice}", file=sys.stderr)
    try:
        result = asyncio.run(one_turn(profile, prompt))
    except asyncio.CancelledError:  # SIGTERM: the turn was stopped and cleaned up
        print("hermes: stopped by SIGTERM; the turn was interrupted", file=sys.stderr)
        return 143
    if result.hit_limit:  # no answer came; the text says why and what to do
        print(f"hermes: {result.text}", file=sys.stderr)
        return 1
    text = result.text if result.text.endswith("\n") else result.text + "\n"
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


async def one_turn(profile: Profile, prompt: str) -> TurnResult:
    """Open a fresh session (source "oneshot"), run one turn, close everything."""
    from hermes.approvals.gate import ApprovalGate, NobodyToAsk
    from hermes.context import NoUser
    from hermes.runtime import open_conversation

    gate = ApprovalGate(profile.settings.approvals, NobodyToAsk())
    async with open_conversation(profile, source=SOURCE, user=NoUser(), hooks=[gate]) as conv:
        task = asyncio.current_task()
        assert task is not None
        # SIGTERM cancels the turn, so its commands are killed, not orphaned
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await conv.send(prompt)
