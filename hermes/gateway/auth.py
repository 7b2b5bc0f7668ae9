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
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from hermes.store import Store

log = logging.getLogger("hermes.gateway.http")

COOKIE = "hermes_web"  # + "_PORT"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
SESSION_DAYS = 30
MAX_SESSIONS = 64
KV_KEY = "web.sessions"


def new_api_key() -> str:
    return "hk_" + secrets.token_urlsafe(32)


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
