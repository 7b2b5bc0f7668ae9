"""Matrix: what Hermes needs to know about the platform, and its adapter's builder.

A bot is an ordinary Matrix account on any homeserver: MATRIX_HOMESERVER (its URL),
MATRIX_USER_ID (@bot:example.org) and MATRIX_ACCESS_TOKEN, or MATRIX_PASSWORD (Hermes
logs in once and keeps the access token and device in state.db, so restarts reuse
the device). The adapter is hermes/platforms/matrix_adapter.py (matrix-nio, the
`matrix` extra), its transport matrix_link.py, its JSON helpers matrix_wire.py and
what it knows of its rooms matrix_rooms.py.

DMs and rooms, invites from allowed users (MATRIX_ALLOWED_USERS) accepted, threads
(m.thread) kept, replies streamed by edits (m.replace), approvals by reaction (✅/❌).
End-to-end encrypted rooms are not served: the bot never sends plaintext into one and
says which room it cannot serve in the log, `hermes gateway status` and doctor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hermes.platforms.spec import Build, Capabilities, Credential, Platform, section
from hermes.settings import bounded

if TYPE_CHECKING:
    from hermes.platforms.matrix_adapter import MatrixAdapter

# An event may be 65,536 bytes as JSON, and a message carries its text twice (the
# plain `body` and the HTML `formatted_body`): a part of at most 30,000 bytes of HTML
# leaves room for both, JSON escapes and the event's envelope (matrix_wire.fit).
MAX_BYTES = 30_000


@dataclass
class MatrixSettings:
    """The `matrix:` section of config.yaml."""

    require_mention: bool = False  # in rooms, answer only when mentioned or replied to
    sync_timeout: float = bounded(30.0, 0.1, 300)  # seconds one /sync long-poll waits
    stall_grace: float = bounded(20.0, 0.1, 300)  # /sync silent this much longer: rebuilt
    request_timeout: float = bounded(30.0, 0.5, 300)  # any other request
    history_limit: int = bounded(100, 1, 1000)  # events per room fetched after a gap


CAPABILITIES = Capabilities(
    max_length=MAX_BYTES,
    length_unit="bytes",
    markup="matrix_html",
    can_edit=True,
    edit_interval=1.0,  # Synapse's default message rate limit is about 0.2/s after a burst
    buttons=False,  # approvals are reactions: ✅ / ❌ on the request (or /approve ID)
    threads=True,
    voice_notes=True,
    audio_out=True,  # m.audio with the MSC3245 voice marker
)


class MatrixPlatform(Platform):
    """Configured by the homeserver, the user id and an access token or a password."""

    def configured(self, env: Mapping[str, str]) -> bool:
        secret = env.get("MATRIX_ACCESS_TOKEN", "").strip() or env.get("MATRIX_PASSWORD", "")
        return super().configured(env) and bool(secret.strip())


def allowed_users(env: Mapping[str, str]) -> frozenset[str] | None:
    """Whose invites are accepted: MATRIX_ALLOWED_USERS, or None for anyone
    (GATEWAY_ALLOW_ALL_USERS)."""
    if env.get("GATEWAY_ALLOW_ALL_USERS", "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    raw = env.get("MATRIX_ALLOWED_USERS", "")
    return frozenset(part for part in raw.replace(",", " ").split() if part)


def build(spec: Build) -> MatrixAdapter:
    """The profile's Matrix adapter (built when MATRIX_* configure it)."""
    from hermes.platforms.matrix_adapter import MatrixAdapter
    from hermes.platforms.matrix_link import Login

    env = spec.profile.env
    settings: MatrixSettings = section(spec.profile.settings, PLATFORM)
    login = Login(
        homeserver=env.get("MATRIX_HOMESERVER", "").strip(),
        user_id=env.get("MATRIX_USER_ID", "").strip(),
        access_token=env.get("MATRIX_ACCESS_TOKEN", "").strip(),
        password=env.get("MATRIX_PASSWORD", ""),
        request_timeout=settings.request_timeout,
    )
    return MatrixAdapter(
        login,
        allowed=lambda: allowed_users(spec.profile.env),
        require_mention=settings.require_mention,
        sync_timeout=settings.sync_timeout,
        stall_grace=settings.stall_grace,
        history_limit=settings.history_limit,
        downloads=spec.profile.workspace / "inbox",
        cursor=spec.cursor,
        dead_letters=spec.dead_letters,
    )


async def check(env: Mapping[str, str]) -> str | None:
    """`hermes gateway setup`: whoami (or a password login) against the homeserver;
    None when it works, else what is wrong."""
    from hermes.platforms.matrix_link import check_login

    return await check_login(env)


PLATFORM = MatrixPlatform(
    name="matrix",
    title="Matrix",
    required=("MATRIX_HOMESERVER", "MATRIX_USER_ID"),
    how="set MATRIX_HOMESERVER (https://matrix.example.org), MATRIX_USER_ID (@bot:example.org) "
    "and MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD (the bot account's)",
    build=build,
    capabilities=CAPABILITIES,
    credentials=(Credential("MATRIX_USER_ID", "the Matrix bot account"),),
    optional=("MATRIX_ACCESS_TOKEN", "MATRIX_PASSWORD", "MATRIX_ALLOWED_USERS"),
    settings=MatrixSettings,
    extra="matrix",
    check=check,
)
