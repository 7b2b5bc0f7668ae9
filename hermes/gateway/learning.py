"""Learning in the gateway, off the chats' critical path: after a turn, the skills
review and the memory nudge (hermes/skills/review.py) may stage proposals; the
chat is told in one message per turn, with how to apply them. Once a day the
curator archives agent-made skills nobody used (hermes/skills/curator.py).

One review runs at a time per gateway (they are extra model calls, never urgent);
the tasks are the gateway's own (cancelled when it closes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from hermes.gateway.ports import Services

if TYPE_CHECKING:
    from hermes.agent.conversation import Conversation
    from hermes.gateway.events import Target

log = logging.getLogger("hermes.gateway")

CURATOR_EVERY = 24 * 3600.0  # seconds between the curator's rounds
REVIEWS_AT_ONCE = 1


class LearningHost(Services, Protocol):
    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]: ...


class Learning:
    def __init__(self, gw: LearningHost) -> None:
        self.gw = gw
        self._reviews = asyncio.Semaphore(REVIEWS_AT_ONCE)

    def after_turn(self, conv: Conversation, target: Target, key: str) -> None:
        """Start the review of the turn CONV just finished if one is due (cheap when
        none is: the check is plain code). Proposals are announced under KEY."""
        from hermes.skills.review import review_due

        found = review_due(self.gw.profile, conv.messages())
        if found is not None:
            turn, number = found
            self.gw.spawn(self._review(conv, turn, number, target, key), "skills review")

    async def _review(
        self, conv: Conversation, turn: list[Any], number: int, target: Target, key: str
    ) -> None:
        from hermes.skills.review import after_turn, announcement

        async with self._reviews:
            lines = await after_turn(self.gw.profile, self.gw.store, conv.provider, turn, number)
        if lines:
            await self.gw.queue_reply(f"review:{key}", target, announcement(lines))

    async def curate(self) -> None:
        """The curator, now and then every CURATOR_EVERY seconds (a gateway task)."""
        from hermes.skills.curator import archive_unused

        while True:
            try:
                archived = await archive_unused(self.gw.store, self.gw.profile)
                if archived:
                    log.info("curator archived unused skills: %s", ", ".join(archived))
            except Exception:
                log.exception("the skills curator failed; it tries again tomorrow")
            await asyncio.sleep(CURATOR_EVERY)
