"""The one interface every platform adapter implements.

An adapter connects to its platform, turns each update into an `Inbound`
and hands it to the gateway's sink, and sends or edits messages. It never
decides anything: access, sessions, retries and splitting are the
gateway's. The SDK of a platform is imported lazily inside its adapter, so
a missing extra is a clear error only when that platform is configured.

Acknowledging: `sink(event)` returns once the event is committed to
state.db (or refused). An adapter must not acknowledge an update to its
platform (e.g. advance Telegram's getUpdates offset) before that.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from hermes.errors import HermesError
from hermes.gateway.events import Capabilities, Inbound, Outbound, Target

Sink = Callable[[Inbound], Awaitable[None]]


class SendError(HermesError):
    """Sending failed. `retryable`: the platform is down, slow or rate-limiting
    (try again later, after `retry_after` seconds if given); otherwise the
    message can never be sent as it is (chat gone, bot blocked, bad request)."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Adapter(ABC):
    name: str  # "telegram", "web", ...
    capabilities: Capabilities = Capabilities()

    @abstractmethod
    async def run(self, sink: Sink) -> None:
        """Connect and deliver inbound events to `sink` until cancelled.
        Reconnects by itself after outages (with backoff); sets `state`."""

    @abstractmethod
    async def send(self, message: Outbound) -> str:
        """Send one message (already within max_length); return the platform's
        message id. Raises SendError."""

    async def edit(self, target: Target, message_id: str, text: str) -> None:
        """Replace the text of a message sent before. Raises SendError."""
        raise SendError(f"{self.name} cannot edit messages", retryable=False)

    async def fetch(self, event: Inbound) -> Inbound:
        """The event with its attachments downloaded (`Attachment.path` set). Called
        only for accepted messages, just before the turn; never raises."""
        return event

    async def acknowledge(self, event: Inbound, text: str | None = None) -> None:  # noqa: B027
        """Acknowledge a button press (callback_id) on the platform, if it needs that."""

    async def close(self) -> None:  # noqa: B027
        """Release connections. Called once, after run() was cancelled."""

    # True when whoever reaches the adapter already proved to be the owner (the web
    # chat logs in with HERMES_API_KEY): no allowlist or pairing applies.
    trusted: bool = False
    state: str = "starting"  # starting | connected | reconnecting | failed: REASON | stopped


class AdapterUnavailable(HermesError):
    """The adapter's SDK is not installed or its configuration is missing."""


def require(module: str, extra: str) -> None:
    """Fail with a one-line fix if an adapter's SDK is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise AdapterUnavailable(
            f"the {extra} adapter needs the {module!r} package: "
            f"pip install 'hermes[{extra}]' (or scripts/install)"
        )
