"""Telegram's credential check for `hermes gateway setup`: one getMe call."""

from __future__ import annotations

import re
from collections.abc import Mapping

TELEGRAM_API = "https://api.telegram.org"


async def check(env: Mapping[str, str]) -> str | None:
    """None when TELEGRAM_BOT_TOKEN works (getMe at TELEGRAM_API_BASE_URL, else
    Telegram's), else what is wrong, in one line (`hermes gateway setup`)."""
    import httpx

    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    base = (env.get("TELEGRAM_API_BASE_URL", "").strip() or TELEGRAM_API).rstrip("/")
    if not re.fullmatch(r"\d+:[\w-]+", token):
        return "TELEGRAM_BOT_TOKEN is not a bot token (digits:letters): copy it from @BotFather"
    try:
        async with httpx.AsyncClient(timeout=20) as client:
            response = await client.get(f"{base}/bot{token}/getMe")
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return (
            f"could not reach Telegram at {base} ({exc or type(exc).__name__}): check the network"
        )
    if response.status_code in (401, 404):
        return "the bot token is unknown to Telegram: copy TELEGRAM_BOT_TOKEN again from @BotFather"
    if not isinstance(data, dict) or not data.get("ok"):
        what = data.get("description") if isinstance(data, dict) else None
        return f"Telegram answered {response.status_code}: {what or response.reason_phrase}"
    return None
