"""Where Home Assistant's APIs are, from HASS_URL (shared by the agent's tools and
the platform adapter)."""

from __future__ import annotations


def api_root(url: str) -> str:
    """HASS_URL as the REST root: http://homeassistant.local:8123 -> .../api."""
    base = url.strip().rstrip("/")
    if base.endswith("/api"):
        base = base[: -len("/api")]
    return f"{base}/api"


def websocket_url(url: str) -> str:
    """HASS_URL as its WebSocket endpoint (ws:// for http://, wss:// for https://)."""
    root = api_root(url)
    if root.startswith("https://"):
        root = "wss://" + root[len("https://") :]
    elif root.startswith("http://"):
        root = "ws://" + root[len("http://") :]
    return f"{root}/websocket"


def url_problem(url: str) -> str | None:
    """What is wrong with HASS_URL, or None."""
    if not url.strip().startswith(("http://", "https://")):
        return (
            f"HASS_URL must start with http:// or https:// (e.g. http://homeassistant.local:8123)"
            f", got {url[:80]!r}"
        )
    return None
