"""`hermes pairing list | approve | revoke` as the owner sees it, on a tmp home."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from hermes.errors import HermesError
from hermes.gateway.access import Access
from hermes.gateway.events import Inbound
from hermes.store import Store


def _wired() -> bool:
    from hermes.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return "pairing" in action.choices
    return False


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    """The `hermes pairing` arguments, as hermes/cli/__init__.py declares them."""
    parser = argparse.ArgumentParser(prog="hermes pairing")
    parser.add_argument("-p", "--profile", default=None)
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list")
    approve = sub.add_parser("approve")
    approve.add_argument("platform")
    approve.add_argument("code")
    revoke = sub.add_parser("revoke")
    revoke.add_argument("platform")
    revoke.add_argument("user")
    return parser.parse_args(argv)


def hermes(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `hermes pairing ARGV`: the real command tree once it has `pairing`,
    else the same arguments and error handling. Returns (code, stdout, stderr)."""
    capsys.readouterr()
    if _wired():
        from hermes.cli import main

        code = main(["pairing", *argv])
    else:
        from hermes.cli.pairing_cmd import cmd_pairing

        try:
            code = cmd_pairing(_parse(argv))
        except HermesError as exc:
            print(f"hermes: {exc}", file=sys.stderr)
            code = 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HERMES_HOME", str(tmp_path))
    monkeypatch.delenv("GATEWAY_ALLOW_ALL_USERS", raising=False)
    for var in ("TELEGRAM_ALLOWED_USERS", "DISCORD_ALLOWED_USERS"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def ask(home: Path, user: str, name: str | None, platform: str = "telegram", ago: float = 0) -> str:
    """A stranger messages the bot `ago` seconds ago; returns the code they got."""

    async def go() -> str:
        async with await Store.open(home / "state.db") as store:
            access = Access(store, {}, clock=lambda: time.time() - ago)
            event = Inbound(platform, f"chat{user}", user, "hi", f"e{user}", user_name=name)
            decision = await access.check(event)
            assert decision.reply
            return decision.reply.split(f"approve {platform} ")[1].split()[0]

    return asyncio.run(go())


def test_list_on_a_fresh_home(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = hermes(capsys, "list")
    assert (code, err) == (0, "")
    assert out == "No pending pairing requests.\n\nNo approved users.\n"


def test_list_shows_pending_requests(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alice = ask(home, "111", "Alice", ago=300)
    bob = ask(home, "222", None, platform="discord")
    code, out, _ = hermes(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "Pending pairing requests (approve with: hermes pairing approve PLATFORM CODE):"
    )
    assert lines[1].split() == ["PLATFORM", "CODE", "USER", "ASKED", "EXPIRES"]
    assert " ".join(lines[2].split()) == f"telegram {alice} Alice (111) 5 min ago in 55 min"
    assert " ".join(lines[3].split()) == f"discord {bob} 222 just now in 60 min"
    assert lines[2].index(alice) == lines[3].index(bob)  # columns line up
    assert lines[5] == "No approved users."


def test_approve_then_list_then_revoke(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alice = ask(home, "111", "Alice")
    code, out, err = hermes(capsys, "approve", "TELEGRAM", alice.lower())
    assert (code, err) == (0, "")
    assert out == "Approved Alice (111) on telegram: they can talk to the bot now.\n"

    _, out, _ = hermes(capsys, "list")
    lines = out.splitlines()
    assert lines[0] == "No pending pairing requests."
    assert lines[2] == "Approved users (revoke with: hermes pairing revoke PLATFORM USER):"
    assert lines[3].split() == ["PLATFORM", "USER", "APPROVED"]
    assert lines[4].split()[:3] == ["telegram", "Alice", "(111)"]
    assert lines[4].split()[3] == time.strftime("%Y-%m-%d")

    code, out, err = hermes(capsys, "revoke", "telegram", "111")
    assert (code, out, err) == (0, "Revoked Alice (111) on telegram.\n", "")
    assert hermes(capsys, "list")[1].endswith("No approved users.\n")


def test_errors_are_one_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = hermes(capsys, "approve", "telegram", "ABCD2345")
    assert (code, out) == (1, "")
    assert err == (
        "hermes: no pending pairing code ABCD2345 on telegram (see `hermes pairing list`)\n"
    )
    code, out, err = hermes(capsys, "revoke", "telegram", "999")
    assert (code, out) == (1, "")
    assert err == "hermes: no approved telegram user '999' (see `hermes pairing list`)\n"


def test_wrong_codes_lock_approving(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = ask(home, "111", "Alice")
    for _ in range(5):
        code, _, err = hermes(capsys, "approve", "telegram", "WRONG234")
        assert code == 1
    assert "locked until" in err
    code, out, err = hermes(capsys, "approve", "telegram", real)
    assert (code, out) == (1, "")
    assert err.startswith("hermes: approving on telegram is locked after 5 wrong pairing codes")
    assert err.count("\n") == 1
    code, _, err = hermes(capsys, "approve", "discord", "WRONG234")
    assert code == 1
    assert "locked" not in err  # only telegram is locked


def test_list_mentions_the_allowlists(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (home / ".env").write_text("TELEGRAM_ALLOWED_USERS=111, 222\n")
    _, out, _ = hermes(capsys, "list")
    assert out.splitlines()[-1] == "Also allowed on telegram by TELEGRAM_ALLOWED_USERS: 111, 222"


def test_a_profile_has_its_own_pairings(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = home / "profiles" / "work"
    code = ask(work, "111", "Alice")
    assert "No pending" in hermes(capsys, "list")[1]
    assert code in hermes(capsys, "-p", "work", "list")[1]
