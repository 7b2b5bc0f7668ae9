"""Who may use the HTTP server: `Authorization: Bearer HERMES_API_KEY`, or the
web chat's login cookie (set by POST /api/web/login after the key was typed
into the page; the key itself never travels in a URL).

The cookie holds a random session token, a new one per login (never the key
or anything derived from it). It is named after the gateway's port
(`hermes_web_8420`): browsers keep one cookie jar per host whatever the port,
so two gateways on one machine (two profiles, two ports) would otherwise
overwrite each other's login. The gateway keeps only each token's SHA-256 and
expiry (`SESSION_DAYS`), in memory and in state.db's kv table (`web.sessions`),
so a gateway restart keeps the page logged in. Logout revokes the token at
once; the sessions record a fingerprint of the key they were made under, so a
new HERMES_API_KEY ends them all; at most `MAX_SESSIONS` live at once (a new
login beyond that ends the oldest).

Where the key lives is said wherever a person needs it (the login page, the
gateway's start-up lines): the profile's own .env (`key_location`), shown
with `~` for the user's home, never the key itself.

A one-time login link (`issue_login_code`, printed by a gateway started in a
terminal) carries a random code, never the key, after `#` in the URL: browsers
do not send that part to any server, so no access log holds it. The page
trades it once for a login (POST /api/web/login {"code"}); it expires after
`CODE_MINUTES`, and a new HERMES_API_KEY voids it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from hermes.context import Profile
    from hermes.store import Store

log = logging.getLogger("hermes.gateway.http")

COOKIE = "hermes_web"  # + "_PORT"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
SESSION_DAYS = 30
MAX_SESSIONS = 64
KV_KEY = "web.sessions"
CODE_MINUTES = 10


def new_api_key() -> str:
    return "hk_" + secrets.token_urlsafe(32)


def shown_path(path: Path, env: Mapping[str, str]) -> str:
    """`path` with the user's home written as ~ (as a person types it)."""
    home = env.get("HOME")
    if home:
        try:
            return "~/" + str(path.relative_to(home))
        except ValueError:
            pass
    return str(path)


def key_location(profile: Profile) -> str:
    """Where the profile's HERMES_API_KEY is set: its home's .env (e.g.
    ~/.hermes/profiles/work/.env), or the gateway's environment."""
    from hermes.envfile import read_env_file
    from hermes.errors import HermesError

    env_file = profile.home / ".env"
    try:
        in_file = bool(read_env_file(env_file).get("HERMES_API_KEY", "").strip())
    except HermesError:  # unreadable now: it was read at the start, so point at it anyway
        in_file = True
    if in_file or not profile.env.get("HERMES_API_KEY"):
        return shown_path(env_file, profile.env)
    return "the environment the gateway was started with"


def cookie_name(scope: Any) -> str:
    """The login cookie's name on the gateway that received `scope`: one per port."""
    server = scope.get("server") if isinstance(scope, dict) else None
    port = server[1] if server and len(server) > 1 and server[1] else None
    return f"{COOKIE}_{port}" if port else COOKIE


def bearer_ok(api_key: str, authorization: str | None) -> bool:
    """Constant-time check of an `Authorization: Bearer KEY` header."""
    if not api_key or not authorization:
        return False
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), api_key.encode()
    )


def key_ok(api_key: str, typed: object) -> bool:
    """Is `typed` (what the login form sent) the API key? Constant time."""
    return (
        bool(api_key)
        and isinstance(typed, str)
        and hmac.compare_digest(typed.strip().encode(), api_key.encode())
    )


def same_origin(origin: str | None, host: str | None) -> bool:
    """True unless a browser says the request comes from another origin (its Origin
    header names another host:port than the request's Host)."""
    if not origin:
        return True  # not a browser's cross-site request (curl, scripts)
    return urlsplit(origin).netloc.lower() == (host or "").lower()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key_id(api_key: str, purpose: bytes) -> str:
    """Which key something was made under, without storing anything that reveals it."""
    return hmac.new(api_key.encode(), purpose, "sha256").hexdigest()


async def issue_login_code(store: Store, api_key: str, now: float | None = None) -> str:
    """A new one-time login code, good for CODE_MINUTES (for a link: URL#code=CODE)."""
    from hermes.store import web_ops

    code = secrets.token_urlsafe(24)
    now = time.time() if now is None else now
    key_id = _key_id(api_key, b"hermes login codes")
    expires = now + CODE_MINUTES * 60
    await store.run(web_ops.add_login_code, _digest(code), key_id, expires, now)
    return code


async def redeem_login_code(
    store: Store, api_key: str, code: object, now: float | None = None
) -> bool:
    """True once for a live code issued under `api_key`; it is used up."""
    from hermes.store import web_ops

    if not api_key or not isinstance(code, str) or not 16 <= len(code) <= 64:
        return False
    now = time.time() if now is None else now
    key_id = _key_id(api_key, b"hermes login codes")
    return await store.run(web_ops.take_login_code, _digest(code.strip()), key_id, now)


class WebSessions:
    """The web page's logins: tokens made by `login()`, checked by `valid()`,
    ended by `logout()`. Loaded from state.db on first use, saved on each change."""

    def __init__(
        self, api_key: str, store: Store | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.api_key, self.store, self.clock = api_key, store, clock
        self._expiry: dict[str, float] = {}  # SHA-256 of a token -> when it expires
        self._loaded = store is None
        self._lock = asyncio.Lock()
        # which key the sessions belong to, without storing anything that reveals it
        self._key_id = hmac.new(api_key.encode(), b"hermes web sessions", "sha256").hexdigest()

    async def login(self) -> str:
        """A new session; returns its token (the cookie's value)."""
        await self._load()
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self._drop_expired(now)
        while len(self._expiry) >= MAX_SESSIONS:
            del self._expiry[min(self._expiry, key=self._expiry.__getitem__)]
        self._expiry[_digest(token)] = now + SESSION_DAYS * 86400
        await self._save()
        return token

    async def valid(self, token: str | None) -> bool:
        if not token or not self.api_key:
            return False
        await self._load()
        expires = self._expiry.get(_digest(token))
        return expires is not None and expires > self.clock()

    async def logout(self, token: str | None) -> bool:
        """End the session of `token`; False if it was not one."""
        if not token:
            return False
        await self._load()
        if self._expiry.pop(_digest(token), None) is None:
            return False
        await self._save()
        return True

    def _drop_expired(self, now: float) -> None:
        for digest in [d for d, until in self._expiry.items() if until <= now]:
            del self._expiry[digest]

    async def _load(self) -> None:
        if self._loaded:
            return
        async with self._lock:
            if self._loaded or self.store is None:
                return
            from hermes.store import gateway_ops

            raw = await self.store.run(gateway_ops.kv_get, KV_KEY)
            try:
                data = json.loads(raw) if raw else {}
                if data.get("key") == self._key_id:  # else: made under another key
                    now = self.clock()
                    for digest, until in dict(data.get("sessions", {})).items():
                        if isinstance(until, int | float) and until > now:
                            self._expiry.setdefault(str(digest), float(until))
            except (ValueError, TypeError, AttributeError):
                log.warning("ignoring unreadable web sessions in state.db (kv %s)", KV_KEY)
            self._loaded = True

    async def _save(self) -> None:
        if self.store is None:
            return
        from hermes.store import gateway_ops

        # the snapshot is taken now, and the store runs writes in order: the last wins
        data = json.dumps({"key": self._key_id, "sessions": self._expiry})
        await self.store.run(gateway_ops.kv_set, KV_KEY, data)
