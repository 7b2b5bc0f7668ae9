"""The skills review in the terminal chat: after a turn worth learning from
(hermes/skills/review.py decides), the review runs in the background while you
go on; what it staged is shown before the next prompt, with how to apply it
(`/skills apply ID`). When you leave, a review still running gets a few seconds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from hermes.aio import within

if TYPE_CHECKING:
    from hermes.agent.conversation import Conversation
    from hermes.context import Profile

LEAVE_SECONDS = 10.0  # how long leaving waits for a review still running


class Learner:
    def __init__(self, profile: Profile, show: Callable[[str], None]) -> None:
        self.profile = profile
        self.show = show
        self._review: asyncio.Task[list[str]] | None = None  # one at a time

    def after(self, conv: Conversation) -> None:
        """Start the review of CONV's last turn when one is due (a plain check)."""
        from hermes.skills.review import after_turn, review_due

        if self._review is not None and not self._review.done():
            return
        found = review_due(self.profile, conv.messages())
        if found is not None:
            review = after_turn(self.profile, conv.store, conv.provider, *found)
            self._review = asyncio.ensure_future(review)

    def announce(self) -> None:
        """Show what a finished review staged (once)."""
        task = self._review
        if task is None or not task.done():
            return
        self._review = None
        lines = [] if task.cancelled() or task.exception() else task.result()
        if lines:
            from hermes.skills.review import announcement

            self.show(announcement(lines))

    async def close(self) -> None:
        task = self._review
        if task is None:
            return
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await within(asyncio.shield(task), LEAVE_SECONDS)
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.announce()
