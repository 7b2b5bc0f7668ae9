"""Signal: what Hermes needs to know about the platform, and its adapter's builder.

Signal has no bot API: Hermes talks to a signal-cli daemon running next to it
(`signal-cli -a +NUMBER daemon --http 127.0.0.1:8080`) over HTTP: SIGNAL_HTTP_URL
(the daemon), SIGNAL_ACCOUNT (the bot's number, registered or linked in signal-cli),
SIGNAL_ALLOWED_USERS (numbers or UUIDs). No SDK: httpx, a core dependency.

The adapter is hermes/platforms/signal_adapter.py (its HTTP link signal_link.py, its
JSON signal_wire.py). DMs and groups, a typing indicator while a turn runs,
approvals by reaction (👍 / 👎 on the request) or /approve ID, voice notes
recognised by their bytes. No edits: a reply is sent once, split by UTF-8 bytes
(Signal clients drop bodies over about 2 KiB).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hermes.platforms.spec import Build, Capabilities, Credential, Platform, section
from hermes.settings import bounded

if TYPE_CHECKING:
    from hermes.platforms.signal_adapter import SignalAdapter

ACCOUNT_FIX = (
    "register SIGNAL_ACCOUNT in signal-cli (signal-cli -a +NUMBER register) or link it "
    "(signal-cli link -n hermes), and start the daemon for it (README: Signal)"
)
_NUMBER = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass
class SignalSettings:
    """The `signal:` section of config.yaml."""

    require_mention: bool = False  # in groups, answer only when mentioned or replied to
    probe_interval: float = bounded(60.0, 0.1, 3600)  # no event this long: probe, renew
    request_timeout: float = bounded(30.0, 0.5, 300)  # one JSON-RPC call


CAPABILITIES = Capabilities(
    max_length=2000,  # clients drop message bodies over about 2 KiB of UTF-8
    length_unit="bytes",
    markup="plain",
    can_edit=False,  # no streaming drafts: the final answer is sent once
    buttons=False,  # approvals are reactions: 👍 / 👎 on the request (or /approve ID)
    voice_notes=True,
    audio_out=True,  # spoken replies: an OGG/Opus attachment without a file name
)


def allowed_users(env: Mapping[str, str]) -> frozenset[str] | None:
    """SIGNAL_ALLOWED_USERS (numbers or UUIDs), or None for anyone."""
    if env.get("GATEWAY_ALLOW_ALL_USERS", "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    raw = env.get("SIGNAL_ALLOWED_USERS", "")
    return frozenset(part for part in re.split(r"[\s,]+", raw) if part)


def build(spec: Build) -> SignalAdapter:
    """The profile's Signal adapter (built when SIGNAL_HTTP_URL and SIGNAL_ACCOUNT are set)."""
    from hermes.platforms.signal_adapter import SignalAdapter

    env = spec.profile.env
    settings: SignalSettings = section(spec.profile.settings, PLATFORM)
    return SignalAdapter(
        env.get("SIGNAL_HTTP_URL", "").strip(),
        env.get("SIGNAL_ACCOUNT", "").strip(),
        allowed=lambda: allowed_users(spec.profile.env),
        require_mention=settings.require_mention,
        probe_interval=settings.probe_interval,
        request_timeout=settings.request_timeout,
        downloads=spec.profile.workspace / "inbox",
        cursor=spec.cursor,
        dead_letters=spec.dead_letters,
    )


async def check(env: Mapping[str, str]) -> str | None:
    """`hermes gateway setup`: the daemon answers GET /api/v1/check, knows the account
    (listAccounts in multi-account mode) and Signal's servers accept it (listDevices);
    None when it works, else what is wrong."""
    import httpx

    from hermes.platforms.signal_link import DaemonError, SignalLink, host_fix
    from hermes.platforms.signal_wire import METHOD_NOT_FOUND, RpcError

    url = env.get("SIGNAL_HTTP_URL", "").strip()
    account = env.get("SIGNAL_ACCOUNT", "").strip()
    if not url.startswith(("http://", "https://")):
        return "SIGNAL_HTTP_URL must be the daemon's URL, e.g. http://127.0.0.1:8080"
    if not _NUMBER.fullmatch(account):
        return "SIGNAL_ACCOUNT must be the bot's number in international form, e.g. +4915112345678"
    link = SignalLink(url, account, timeout=20)
    try:
        await link.health()
        try:
            accounts = await link.call("listAccounts")
        except RpcError as exc:
            if exc.code != METHOD_NOT_FOUND:  # single-account mode has no listAccounts
                raise
        else:
            numbers = [a.get("number") for a in accounts or [] if isinstance(a, dict)]
            if account not in numbers:
                return f"signal-cli has no account {account}: {ACCOUNT_FIX}"
        await link.call("listDevices")
    except DaemonError as exc:
        return host_fix(url) if exc.status == 421 else f"{exc}: is it signal-cli's daemon --http?"
    except RpcError as exc:
        if exc.account_missing:
            return f"signal-cli has no account {account}: {ACCOUNT_FIX}"
        return f"signal-cli cannot use {account} ({exc}): {ACCOUNT_FIX}"
    except httpx.HTTPError as exc:
        return (
            f"could not reach signal-cli at {url} ({exc or type(exc).__name__}): start it with "
            f"`signal-cli -a {account} daemon --http 127.0.0.1:8080 --receive-mode=on-connection`"
        )
    finally:
        await link.close()
    return None


PLATFORM = Platform(
    name="signal",
    title="Signal",
    required=("SIGNAL_HTTP_URL", "SIGNAL_ACCOUNT"),
    how="run signal-cli's daemon (signal-cli -a +NUMBER daemon --http 127.0.0.1:8080) and set "
    "SIGNAL_HTTP_URL (http://127.0.0.1:8080) and SIGNAL_ACCOUNT (+NUMBER, the bot's number)",
    build=build,
    capabilities=CAPABILITIES,
    credentials=(Credential("SIGNAL_ACCOUNT", "the Signal account"),),
    optional=("SIGNAL_ALLOWED_USERS",),
    settings=SignalSettings,
    check=check,
)
