"""Tokens and cost, summed per day, model or session (`hermes usage`, `/usage`).

Pure: the caller reads the recorded turns (hermes/store/ops.py `usage_rows`).
A turn's cost is what its provider reported (OpenRouter reports it in every
answer); else it is priced from `usage.prices` in config.yaml (USD per million
prompt and completion tokens, per model); else it is unknown, and the total
says how many turns it leaves out and how to price them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from hermes.settings import ModelPrice

By = Literal["day", "model", "session"]
Row = tuple[str, str | None, float, int, int, int, float | None]  # see ops.usage_rows
PRICES_HINT = "set usage.prices.MODEL.input/output (USD per 1M tokens) in config.yaml"


@dataclass
class Line:
    key: str
    turns: int = 0
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    cost: float = 0.0  # the known part
    unpriced: int = 0  # turns with no reported cost and no configured price
    unpriced_models: set[str] = field(default_factory=set)

    def add(self, row: Row, prices: Mapping[str, ModelPrice]) -> None:
        _, model, _, prompt, completion, cached, reported = row
        self.turns += 1
        self.prompt += prompt
        self.completion += completion
        self.cached += cached
        cost = reported if reported is not None else price(prices, model, prompt, completion)
        if cost is None:
            if prompt or completion:
                self.unpriced += 1
                self.unpriced_models.add(model or "unknown model")
        else:
            self.cost += cost

    def cost_text(self) -> str:
        """'$0.0123', '$0.0123 + 2 turns not priced', or 'not known'."""
        if self.unpriced == 0:
            return dollars(self.cost)
        if self.unpriced == self.turns:
            return "not known"
        return f"{dollars(self.cost)} + {self.unpriced} turn(s) not priced"


def dollars(amount: float) -> str:
    return f"${amount:.4f}" if amount < 1 else f"${amount:,.2f}"


def price(
    prices: Mapping[str, ModelPrice], model: str | None, prompt: int, completion: int
) -> float | None:
    """The cost of a turn at the configured price of its model (None: no price)."""
    found = prices.get(model or "")
    if found is None and model and ":" in model:  # PROVIDER:MODEL in the config too
        found = prices.get(model.split(":", 1)[1])
    if found is None:
        return None
    return (prompt * found.input + completion * found.output) / 1_000_000


def key_of(row: Row, by: By, tz: ZoneInfo) -> str:
    if by == "session":
        return row[0]
    if by == "model":
        return row[1] or "unknown model"
    return datetime.fromtimestamp(row[2], tz).strftime("%Y-%m-%d")


def group(
    rows: Iterable[Row], by: By, tz: ZoneInfo, prices: Mapping[str, ModelPrice]
) -> tuple[list[Line], Line]:
    """The lines (days oldest first; models and sessions by tokens, most first) and
    the total."""
    lines: dict[str, Line] = {}
    total = Line("total")
    for row in rows:
        key = key_of(row, by, tz)
        lines.setdefault(key, Line(key)).add(row, prices)
        total.add(row, prices)
    ordered = list(lines.values())
    if by != "day":
        ordered.sort(key=lambda line: (-(line.prompt + line.completion), line.key))
    return ordered, total


def unpriced_hint(total: Line) -> str | None:
    """What to do about turns whose cost is not known (None if there are none)."""
    if not total.unpriced:
        return None
    models = ", ".join(sorted(total.unpriced_models)[:5])
    return f"cost not known for {total.unpriced} turn(s) of {models}: {PRICES_HINT}"
