"""`hermes gateway setup`'s live check of Slack credentials (PLATFORM.check).

The bot token is asked with `auth.test`, the app-level token with
`apps.connections.open` (it only hands out a Socket Mode URL; nothing connects).
A webhook URL is only checked for its form: a test post would show in the channel.
"""

from __future__ import annotations

from collections.abc import Mapping

from hermes.platforms import slack_wire as wire
from hermes.platforms.adapter import require


async def check(env: Mapping[str, str]) -> str | None:
    """None when the Slack variables in ENV work, else what is wrong (one line)."""
    require("slack_sdk", "slack")
    from slack_sdk.web.async_client import AsyncWebClient

    bot, app = env.get("SLACK_BOT_TOKEN", "").strip(), env.get("SLACK_APP_TOKEN", "").strip()
    hook = env.get("SLACK_WEBHOOK_URL", "").strip()
    base = wire.api_root(env.get("SLACK_API_BASE_URL") or wire.DEFAULT_BASE_URL)
    if hook and not hook.startswith(("https://", "http://")):
        return "SLACK_WEBHOOK_URL must be the https://hooks.slack.com/services/... URL"
    if not (bot or app):
        return None if hook else "set SLACK_BOT_TOKEN and SLACK_APP_TOKEN, or SLACK_WEBHOOK_URL"
    if not (bot and app):
        return "set both SLACK_BOT_TOKEN (xoxb-...) and SLACK_APP_TOKEN (xapp-...)"
    try:
        await AsyncWebClient(token=bot, base_url=base, timeout=10).auth_test()
    except Exception as exc:
        return _refused("SLACK_BOT_TOKEN", exc)
    try:
        await AsyncWebClient(base_url=base, timeout=10).apps_connections_open(app_token=app)
    except Exception as exc:
        return _refused("SLACK_APP_TOKEN", exc)
    return None


def _refused(var: str, exc: BaseException) -> str:
    code, status, _ = wire.api_error(exc)
    if code is None and status is None:
        return f"could not reach Slack ({type(exc).__name__}); check the network"
    return f"Slack refused {var} ({code or f'HTTP {status}'}); {wire.FIX[var]}"
