"""`/usage` in a chat: tokens and cost of the last turn, this session and today
(the day in `cron.timezone`, the zone Hermes shows times in)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from hermes.usage import Line, dollars, group, price, unpriced_hint

if TYPE_CHECKING:
    from hermes.agent.conversation import Conversation


async def usage_report(conv: Conversation) -> str:
    from hermes.cron.schedule import zone
    from hermes.store import ops

    settings = conv.profile.settings
    tz = zone(settings.cron.timezone)
    prices = settings.usage.prices
    midnight = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    today_rows = await conv.store.run(ops.usage_rows, midnight.timestamp())
    session_rows = await conv.store.run(ops.usage_rows, None, conv.session_id)
    _, session = group(session_rows, "session", tz, prices)
    _, today = group(today_rows, "day", tz, prices)
    last = conv.last_usage
    model = conv.provider.model
    cost = last.cost
    if cost is None:
        cost = price(prices, model, last.prompt_tokens, last.completion_tokens)
    last_cost = "" if cost is None else f", {dollars(cost)}"
    lines = [
        f"Last turn: {last.prompt_tokens:,} in ({last.cached_tokens:,} cached), "
        f"{last.completion_tokens:,} out{last_cost}",
        _line("This session", session),
        _line(f"Today ({tz.key})", today),
    ]
    hint = unpriced_hint(session) or unpriced_hint(today)
    if hint:
        lines.append(hint[:1].upper() + hint[1:])
    lines.append("More: hermes usage --by day|model|session")
    return "\n".join(lines)


def _line(label: str, line: Line) -> str:
    return (
        f"{label}: {line.prompt:,} in ({line.cached:,} cached), {line.completion:,} out, "
        f"cost {line.cost_text()}"
    )
