"""Tokens and cost: recorded per turn with the cost the provider reports
(OpenRouter's `usage.cost`), priced from `usage.prices` otherwise, shown by
`hermes usage` (real subprocess) and `/usage` in a chat (a gateway in-process)."""

from __future__ import annotations

import json
import sqlite3
from functools import partial
from pathlib import Path

import pytest

from hermes.testing import ScriptedModel
from tests.cli_helpers import run_hermes
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.tools_helpers import wait_until

hermes = partial(run_hermes, clean=True)


def usage_json(home: Path, *args: str) -> dict[str, object]:
    result = hermes(home, "usage", "--json", *args)
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_the_cost_the_provider_reports_is_recorded_and_summed(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, config={"cron": {"timezone": "Europe/Berlin"}})
    model.reply("one", usage=(1000, 200), cost=0.0021)
    model.reply("two", usage=(3000, 100), cost=0.0042)
    for prompt in ("first", "second"):
        assert hermes(home, "-z", prompt).returncode == 0
    with sqlite3.connect(home / "state.db") as conn:
        costs = [r[0] for r in conn.execute("SELECT cost FROM usage ORDER BY id")]
    assert costs == [0.0021, 0.0042]

    data = usage_json(home, "--by", "model")
    assert data["timezone"] == "Europe/Berlin"
    assert data["total"] == {
        "total": "total",
        "turns": 2,
        "prompt_tokens": 4000,
        "completion_tokens": 300,
        "cached_tokens": 0,
        "cost_usd": 0.0063,
        "turns_not_priced": 0,
    }
    table = hermes(home, "usage", "--by", "model").stdout.splitlines()
    assert table[0].split() == ["MODEL", "TURNS", "IN", "CACHED", "OUT", "COST"]
    assert table[1].split() == ["scripted-model", "2", "4,000", "0", "300", "$0.0063"]


def test_prices_in_config_price_what_the_provider_does_not(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model)
    model.reply("one", usage=(1_000_000, 100_000))
    assert hermes(home, "-z", "hello").returncode == 0

    # no price: not known, and the command says how to set one
    out = hermes(home, "usage").stdout
    assert "not known" in out
    assert (
        "Note: cost not known for 1 turn(s) of scripted-model: set "
        "usage.prices.MODEL.input/output (USD per 1M tokens) in config.yaml"
    ) in out

    config = (home / "config.yaml").read_text()
    prices = "usage:\n  prices:\n    scripted-model: {input: 3, output: 15}\n"
    (home / "config.yaml").write_text(config + prices)
    data = usage_json(home, "--by", "day")
    assert data["total"]["cost_usd"] == 4.5  # type: ignore[index]  # 1M x $3 + 0.1M x $15


def test_a_negative_price_is_refused_in_one_line(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "home", model)
    config = (home / "config.yaml").read_text()
    (home / "config.yaml").write_text(config + "usage:\n  prices:\n    m1: {input: -1}\n")
    result = hermes(home, "usage")
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1
    assert "usage.prices.m1.input: must be at least 0" in result.stderr


def test_since_leaves_older_turns_out(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "home", model)
    model.reply("one", usage=(10, 5))
    assert hermes(home, "-z", "hello").returncode == 0
    with sqlite3.connect(home / "state.db") as conn:
        conn.execute("UPDATE usage SET created_at = created_at - 3 * 86400")
    assert usage_json(home, "--since", "2d")["lines"] == []
    assert hermes(home, "usage", "--since", "2d").stdout == "No model turns recorded since 2d.\n"
    assert len(usage_json(home, "--since", "7d")["lines"]) == 1  # type: ignore[arg-type]
    bad = hermes(home, "usage", "--since", "soon")
    assert bad.returncode != 0 and "--since 'soon' is not a time" in bad.stderr


@pytest.mark.asyncio
async def test_usage_in_a_chat_shows_the_cost(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "home", model, config={"cron": {"timezone": "Europe/Berlin"}})
    chat = FakeChat()
    model.reply("hi there", usage=(1200, 30), cost=0.0125)
    async with running_gateway(home, [chat]):
        await chat.say("hello")
        await wait_until(lambda: "hi there" in chat.shown())
        # the turn's usage is recorded just after its reply goes out
        await wait_until(lambda: _recorded(home) == 1)
        await chat.say("/usage")
        await wait_until(lambda: any("This session" in s for s in chat.shown()))
    [report] = [s for s in chat.shown() if "This session" in s]
    assert "not tracked" not in report
    assert "This session: 1,200 in (0 cached), 30 out, cost $0.0125" in report
    assert "Today (Europe/Berlin): 1,200 in (0 cached), 30 out, cost $0.0125" in report


def _recorded(home: Path) -> int:
    """How many model turns state.db has recorded usage for."""
    with sqlite3.connect(home / "state.db") as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM usage").fetchone()
    return int(count)
