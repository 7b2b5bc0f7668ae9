"""Who may talk to the bot on a platform (SPEC §5): unknown senders are refused.

A sender is allowed when

- ``GATEWAY_ALLOW_ALL_USERS`` is true/1/yes (anyone, every platform), or
- their user id is in ``{PLATFORM}_ALLOWED_USERS`` (e.g. ``TELEGRAM_ALLOWED_USERS=
  123456789,987654321``; commas and/or spaces between ids). Only ids are
  matched: a @username can be changed or taken over by someone else, so
  an entry like ``@alice`` matches nothing; or
- the owner approved them by pairing (``hermes pairing approve PLATFORM CODE``).

Anyone else is refused, and pairing starts: they get a short code to pass to
the owner. A sender asking again while their code is valid gets the same code;
codes expire after an hour; at most three are pending per platform (so a
crowd cannot fill the table); five wrong codes within an hour lock approving
on that platform for an hour (so codes cannot be guessed). Button presses and
slash commands go through the same check as messages.

In a group chat, a refused sender who did not address the bot (mention or
reply) is ignored silently: the bot would otherwise answer every stranger's
chatter with a code and fill the pending slots.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hermes.errors import HermesError
from hermes.gateway.events import Inbound
from hermes.store import Store
from hermes.store import pairing_ops as ops
from hermes.store.pairing_ops import PairedUser, PairingCode

# No 0/O or 1/I: a code is read off one screen and typed on another.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
CODE_TTL = 3600.0
MAX_PENDING = 3
MAX_FAILURES = 5
LOCK_WINDOW = 3600.0  # MAX_FAILURES wrong codes within it lock approving for as long

WELCOME = "✅ You're paired: my owner approved you. Send me a message to start."

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reply: str | None = None  # what to tell a refused sender (None: say nothing)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str:
    """What the owner typed -> the stored form (case and spacing do not matter)."""
    return re.sub(r"[\s-]", "", code).upper()


def allowlist_var(platform: str) -> str:
    """The variable listing a platform's allowed users: {PLATFORM}_ALLOWED_USERS."""
    return f"{platform.upper()}_ALLOWED_USERS"


def allowed_ids(env: Mapping[str, str], platform: str) -> set[str]:
    """The user ids in {PLATFORM}_ALLOWED_USERS (read the platform's way when it
    declares one: phone numbers may hold spaces)."""
    from hermes.platforms import find

    raw = env.get(allowlist_var(platform), "")
    declared = find(platform)
    if declared is not None and declared.allowlist is not None:
        return declared.allowlist(raw)
    return {part for part in re.split(r"[\s,]+", raw) if part}


def when(ts: float) -> str:
    """Local time as 2026-11-21 13:45."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def minutes(seconds: float) -> str:
    """A duration for people: '1 minute', '42 minutes'."""
    n = max(1, round(seconds / 60))
    return f"{n} minute" + ("" if n == 1 else "s")


class Access:
    """Decides for every inbound event; the pairing CLI manages codes through it."""

    def __init__(
        self,
        store: Store,
        env: Mapping[str, str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.env = env
        self.clock = clock

    def _allowed_by_env(self, platform: str, user: str) -> bool:
        if self.env.get("GATEWAY_ALLOW_ALL_USERS", "").strip().lower() in _TRUE:
            return True
        return user in allowed_ids(self.env, platform)

    async def check(self, event: Inbound, *, trusted: bool = False) -> Decision:
        """Allowed, or refused with the reply the sender gets (a pairing code,
        or why there is none). `trusted`: the adapter already proved the sender
        is the owner (the web chat), so nothing else is checked."""
        if trusted or self._allowed_by_env(event.platform, event.user):
            return Decision(True)
        if await self.store.run(ops.is_paired, event.platform, event.user):
            return Decision(True)
        if event.is_group and not event.mentions_bot and event.callback_data is None:
            return Decision(False)
        now = self.clock()
        request = await self.store.run(
            ops.request_code,
            event.platform,
            event.user,
            event.user_name,
            event.chat,
            new_code,
            now,
            CODE_TTL,
            MAX_PENDING,
        )
        if request.code is None:
            wait = minutes((request.retry_at or now + CODE_TTL) - now)
            return Decision(
                False,
                "I don't know you yet, and pairing is busy right now (too many pending "
                f"requests). Please try again in about {wait}.",
            )
        code = request.code
        return Decision(
            False,
            "I don't know you yet. To pair, ask my owner to run:\n\n"
            f"hermes pairing approve {code.platform} {code.code}\n\n"
            f"This code expires in {minutes(code.expires_at - now)}.",
        )

    async def pending(self, platform: str | None = None) -> list[PairingCode]:
        """Codes still valid, oldest first."""
        return await self.store.run(ops.pending_codes, _platform(platform), self.clock())

    async def approved(self, platform: str | None = None) -> list[PairedUser]:
        """Users the owner approved, longest approved first."""
        return await self.store.run(ops.paired_users, _platform(platform))

    async def approve(self, platform: str, code: str) -> PairedUser:
        """Pair whoever holds `code` on `platform`. Raises HermesError (one line)
        for an unknown or expired code or while approving is locked."""
        platform = _platform(platform) or ""
        typed = normalize_code(code)
        result = await self.store.run(
            ops.approve_code, platform, typed, self.clock(), MAX_FAILURES, LOCK_WINDOW
        )
        if result.user is not None:
            if result.chat:
                await self._welcome(result.user, result.chat)
            return result.user
        if result.status == "locked":
            raise _locked(platform, result.locked_until)
        if result.status == "expired":
            raise HermesError(
                f"pairing code {typed} on {platform} has expired; ask the sender to message "
                "the bot again for a new one"
            )
        if result.locked_until is not None:
            raise HermesError(
                f"no pending pairing code {typed} on {platform}; after {MAX_FAILURES} wrong "
                f"codes approving on {platform} is locked until {when(result.locked_until)}"
            )
        raise HermesError(
            f"no pending pairing code {typed} on {platform} (see `hermes pairing list`)"
        )

    async def _welcome(self, user: PairedUser, chat: str) -> None:
        """Tell the sender they were let in: queued in the delivery ledger, so the
        gateway sends it (now, or when it next runs)."""
        from hermes.store import gateway_ops

        note = gateway_ops.NewDelivery(
            key=f"pairing-approved:{user.platform}:{user.user}:{user.approved_at}",
            platform=user.platform,
            chat=chat,
            thread=None,
            text=WELCOME,
        )
        await self.store.run(gateway_ops.queue_delivery, note, user.approved_at)

    async def revoke(self, platform: str, user: str) -> PairedUser | None:
        """Withdraw an approval (user id, or a name only one approved user has);
        who it was, or None if nobody matched. Allowlisted ids stay allowed."""
        return await self.store.run(ops.revoke, _platform(platform) or "", user.strip())


def _platform(platform: str | None) -> str | None:
    return platform.strip().lower() if platform is not None else None


def _locked(platform: str, until: float | None) -> HermesError:
    return HermesError(
        f"approving on {platform} is locked after {MAX_FAILURES} wrong pairing codes within "
        f"an hour; try again after {when(until or 0)}"
    )
