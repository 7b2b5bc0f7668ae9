"""What the gateway's parts may use of the gateway: narrow Protocols, not `Gateway`.

`core.Gateway` builds the parts (approvals desk, task runner, scheduler, notifier,
walk-aways, turns, commands) and hands itself to them, but each part sees only the
Protocol it declares, built from these:

- `Outbox`: put a reply in the delivery ledger (`queue_reply`; `finish_inbound` marks
  the message it answers handled in the same transaction), or send it at once
  (`deliver_now`), and wake a platform's courier. hermes/gateway/delivery.py sends.
- `Services`: what nearly every part reads: the profile, state.db, the clock, the
  adapters, the process table and where each session last spoke (`targets`).
- `Waker`: something to nudge (the scheduler, the approvals desk).

So no part imports `core`, and `core` imports them all: the dependencies run one way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hermes.context import Profile
    from hermes.gateway.events import Inbound, Target
    from hermes.platforms.adapter import Adapter
    from hermes.store import Store
    from hermes.tools.process import ProcessManager


class Outbox(Protocol):
    async def queue_reply(
        self,
        key: str,
        target: Target,
        text: str,
        *,
        draft_id: str | None = None,
        reply_to: str | None = None,
        buttons: list[list[dict[str, str]]] | None = None,
    ) -> None:
        """Put a message in the ledger (once per KEY) and wake its courier."""

    async def finish_inbound(
        self,
        row_id: int,
        event: Inbound,
        text: str,
        *,
        status: str = "done",
        draft_id: str | None = None,
        error: str | None = None,
        spoken: bool = False,
    ) -> None:
        """Mark inbound ROW_ID handled and queue its reply, in one transaction
        (`spoken`: the agent's answer, spoken in a chat in /voice mode)."""

    async def deliver_now(self, key: str, target: Target, text: str) -> None:
        """Queue a message and make its first attempt now (still retried later)."""

    def wake(self, platform: str) -> None:
        """Tell PLATFORM's courier that the ledger has something for it."""


class Services(Outbox, Protocol):
    @property
    def profile(self) -> Profile: ...

    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Callable[[], float]: ...

    @property
    def adapters(self) -> dict[str, Adapter]: ...

    @property
    def processes(self) -> ProcessManager: ...

    @property
    def targets(self) -> dict[str, Target]:
        """session id -> where that session last spoke (process notices go there)."""


class Waker(Protocol):
    def wake(self) -> None: ...
