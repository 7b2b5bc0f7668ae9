"""Slack's incoming webhook (SLACK_WEBHOOK_URL): the `slack:webhook` target.

A notification-only target: approval prompts, cron and task results are posted
there as text (no buttons: a press needs the bot; the text says `/approve ID`),
nothing comes back, and a posted message cannot be edited. Slack answers "ok",
or a plain-text code: 429 `rate_limited` (Retry-After), 5xx, or for good 400
`invalid_payload`, 403 `action_prohibited`, 404 `no_service` (webhook removed),
410 `channel_is_archived`.
"""

from __future__ import annotations

import itertools
import time

from hermes.platforms.adapter import SendError, one_line

_IDS = itertools.count(1)


async def post_webhook(url: str, text: str) -> str:
    """Post TEXT; a made-up message id (webhooks return none). Raises SendError."""
    if not url:
        raise SendError("slack: slack:webhook needs SLACK_WEBHOOK_URL in .env", retryable=False)
    from slack_sdk.webhook.async_client import AsyncWebhookClient

    try:
        answer = await AsyncWebhookClient(url, timeout=30).send(text=text)
    except Exception as exc:  # no answer: the network
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise SendError(f"slack: the webhook failed: {what}", retryable=True) from exc
    status = answer.status_code
    if status == 200:
        return f"webhook-{int(time.time())}-{next(_IDS)}"
    headers = answer.headers or {}
    wait = str(headers.get("Retry-After") or headers.get("retry-after") or "")
    retryable = status == 429 or status >= 500
    fix = "" if retryable else "; check SLACK_WEBHOOK_URL"
    raise SendError(
        f"slack: the webhook answered HTTP {status} {one_line(answer.body or '')}".strip() + fix,
        retryable=retryable,
        retry_after=float(wait) if wait.isdigit() else None,
    )
