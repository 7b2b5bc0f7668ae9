"""Who may use the HTTP server: `Authorization: Bearer HERMES_API_KEY`, or the
web chat's login cookie (set by POST /api/web/login after the key was typed
into the page; the key itself never travels in a URL)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

COOKIE = "hermes_web"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def new_api_key() -> str:
    return "hk_" + secrets.token_urlsafe(32)


def web_token(api_key: str) -> str:
    """The login cookie's value: derived from the key, so it survives restarts
    and stops working when the key changes."""
    return hmac.new(api_key.encode(), b"hermes web chat login", hashlib.sha256).hexdigest()


def authorized(api_key: str, authorization: str | None, cookie: str | None) -> bool:
    """Constant-time check of a bearer header or the login cookie."""
    if not api_key:
        return False
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), api_key):
            return True
    return bool(cookie) and hmac.compare_digest(str(cookie), web_token(api_key))


def same_origin(origin: str | None, host: str | None) -> bool:
    """True unless a browser says the request comes from another origin (its Origin
    header names another host:port than the request's Host)."""
    if not origin:
        return True  # not a browser's cross-site request (curl, scripts)
    return urlsplit(origin).netloc.lower() == (host or "").lower()
