"""Who may talk to the bot: allowlists, pairing codes, expiry, the pending cap
and the brute-force lockout, on a real state.db with a pinned clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hermes.errors import HermesError
from hermes.gateway.access import ALPHABET, WELCOME, Access, Decision
from hermes.gateway.events import Inbound
from hermes.store import Store, gateway_ops

CODE = re.compile(r"hermes pairing approve (\w+) (\w+)")


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "state.db") as store:
        yield store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(store: Store, clock: Clock) -> Access:
    return Access(store, {}, clock=clock)


def msg(user: str = "42", platform: str = "telegram", **kw: object) -> Inbound:
    fields: dict[str, object] = {
        "platform": platform,
        "chat": f"chat{user}",
        "user": user,
        "text": "hello",
        "external_id": f"{user}-{id(kw)}",
        "user_name": f"User {user}",
    }
    fields.update(kw)
    return Inbound(**fields)  # type: ignore[arg-type]


def code_of(decision: Decision) -> str:
    assert not decision.allowed and decision.reply
    m = CODE.search(decision.reply)
    assert m, decision.reply
    return m.group(2)


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE", " Yes "])
async def test_allow_all_users_lets_anyone_in(store: Store, value: str) -> None:
    access = Access(store, {"GATEWAY_ALLOW_ALL_USERS": value})
    assert await access.check(msg("999")) == Decision(True)
    assert await access.check(msg("999", platform="discord")) == Decision(True)


@pytest.mark.parametrize("value", ["false", "0", "no", ""])
async def test_allow_all_users_off_refuses_strangers(store: Store, value: str) -> None:
    access = Access(store, {"GATEWAY_ALLOW_ALL_USERS": value})
    assert not (await access.check(msg("999"))).allowed


async def test_allowlist_matches_user_ids_of_its_platform(store: Store) -> None:
    env = {"TELEGRAM_ALLOWED_USERS": "111, 222 333,,@alice", "DISCORD_ALLOWED_USERS": "444"}
    access = Access(store, env)
    for user in ("111", "222", "333"):
        assert (await access.check(msg(user))).allowed
    assert (await access.check(msg("444", platform="discord"))).allowed
    assert not (await access.check(msg("444"))).allowed  # another platform's list
    assert not (await access.check(msg("111", platform="discord"))).allowed
    # usernames are not matched: only the id is reliable
    assert not (await access.check(msg("555", user_name="alice"))).allowed


async def test_unknown_sender_gets_a_code_to_pass_to_the_owner(access: Access) -> None:
    decision = await access.check(msg("42"))
    code = code_of(decision)
    assert decision.reply is not None
    assert f"hermes pairing approve telegram {code}" in decision.reply
    assert "expires in 60 minutes" in decision.reply
    assert len(code) == 8 and set(code) <= set(ALPHABET)
    assert not set(code) & set("0O1I")
    [pending] = await access.pending()
    assert (pending.platform, pending.code, pending.user, pending.user_name) == (
        "telegram",
        code,
        "42",
        "User 42",
    )


async def test_codes_use_the_unambiguous_alphabet(access: Access) -> None:
    assert not set(ALPHABET) & set("0O1I")
    seen = set()
    for i in range(3):
        seen |= set(code_of(await access.check(msg(str(i)))))
    assert seen <= set(ALPHABET)


async def test_asking_again_gives_the_same_code(access: Access, clock: Clock) -> None:
    first = code_of(await access.check(msg("42")))
    clock.advance(600)
    again = await access.check(msg("42", text="hello??"))
    assert code_of(again) == first
    assert again.reply and "expires in 50 minutes" in again.reply
    assert len(await access.pending()) == 1


async def test_codes_expire_after_an_hour(access: Access, clock: Clock) -> None:
    old = code_of(await access.check(msg("42")))
    clock.advance(3600)
    assert await access.pending() == []
    new = code_of(await access.check(msg("42")))
    assert new != old
    with pytest.raises(HermesError, match=f"pairing code {old} on telegram has expired"):
        await access.approve("telegram", old)
    assert (await access.approve("telegram", new)).user == "42"


async def test_at_most_three_codes_pending_per_platform(access: Access, clock: Clock) -> None:
    for user in ("1", "2", "3"):
        code_of(await access.check(msg(user)))
        clock.advance(60)
    busy = await access.check(msg("4"))
    assert not busy.allowed and busy.reply
    assert "pairing is busy" in busy.reply and "try again in about 57 minutes" in busy.reply
    assert not CODE.search(busy.reply)
    assert len(await access.pending()) == 3
    code_of(await access.check(msg("4", platform="discord")))  # other platforms are separate
    assert code_of(await access.check(msg("2")))  # holders still get their code
    clock.advance(3600 - 180)  # the first code expires
    assert code_of(await access.check(msg("4")))


async def test_approving_lets_the_sender_in_and_tells_them(
    access: Access, store: Store, clock: Clock
) -> None:
    code = code_of(await access.check(msg("42", chat="c42")))
    clock.advance(30)
    user = await access.approve("Telegram", f" {code.lower()} ")  # case and spaces don't matter
    assert (user.platform, user.user, user.user_name) == ("telegram", "42", "User 42")
    assert await access.check(msg("42")) == Decision(True)
    assert await access.pending() == []
    [approved] = await access.approved()
    assert approved.user == "42" and approved.approved_at == clock.now
    welcome = await store.run(
        gateway_ops.delivery_by_key, f"pairing-approved:telegram:42:{clock.now}"
    )
    assert welcome is not None and (welcome.chat, welcome.text) == ("c42", WELCOME)
    with pytest.raises(HermesError, match="no pending pairing code"):
        await access.approve("telegram", code)  # used up


async def test_a_code_only_pairs_on_its_platform(access: Access) -> None:
    code = code_of(await access.check(msg("42")))
    with pytest.raises(HermesError, match=f"no pending pairing code {code} on discord"):
        await access.approve("discord", code)
    assert not (await access.check(msg("42", platform="discord"))).allowed


async def test_five_wrong_codes_lock_approving_for_an_hour(access: Access, clock: Clock) -> None:
    clock.advance(100)
    for i in range(4):
        with pytest.raises(HermesError, match="no pending pairing code") as info:
            await access.approve("telegram", f"WRONG{i}AA")
        assert "locked" not in str(info.value)
        clock.advance(1)
    with pytest.raises(HermesError, match="locked until") as info:
        await access.approve("telegram", "WRONG5AA")
    assert "\n" not in str(info.value)
    locked_at = clock.now
    clock.advance(2900)
    code = code_of(await access.check(msg("42")))  # a real, valid code
    with pytest.raises(HermesError, match="approving on telegram is locked") as info:
        await access.approve("telegram", code)  # refused too while locked
    assert "try again after" in str(info.value)
    other = code_of(await access.check(msg("7", platform="discord")))
    assert (await access.approve("discord", other)).user == "7"  # per platform
    clock.now = locked_at + 3600
    assert (await access.approve("telegram", code)).user == "42"


async def test_failures_spread_over_more_than_an_hour_do_not_lock(
    access: Access, clock: Clock
) -> None:
    for _ in range(4):
        with pytest.raises(HermesError, match="no pending pairing code"):
            await access.approve("telegram", "NOPE2345")
    clock.advance(3601)
    with pytest.raises(HermesError, match="no pending pairing code") as info:
        await access.approve("telegram", "NOPE2345")
    assert "locked" not in str(info.value)
    code = code_of(await access.check(msg("42")))
    assert (await access.approve("telegram", code)).user == "42"


async def test_revoking_refuses_the_user_again(access: Access) -> None:
    await access.approve("telegram", code_of(await access.check(msg("42"))))
    assert await access.revoke("telegram", "41") is None
    assert await access.revoke("discord", "42") is None
    gone = await access.revoke("telegram", "42")
    assert gone is not None and gone.user == "42"
    assert await access.approved() == []
    assert code_of(await access.check(msg("42")))


async def test_revoke_by_a_unique_name(access: Access) -> None:
    await access.approve("telegram", code_of(await access.check(msg("42", user_name="alice"))))
    gone = await access.revoke("telegram", "@Alice")
    assert gone is not None and gone.user == "42"


async def test_button_presses_and_commands_from_strangers_are_refused(access: Access) -> None:
    code = code_of(await access.check(msg("42", text="/status")))
    press = await access.check(
        msg("42", text="Approve", callback_data="approve:1", callback_id="9")
    )
    assert code_of(press) == code
    await access.approve("telegram", code)
    assert (await access.check(msg("42", text="/status"))).allowed


async def test_group_strangers_are_answered_only_when_they_address_the_bot(
    access: Access,
) -> None:
    chatter = await access.check(msg("42", is_group=True))
    assert chatter == Decision(False, None)
    assert await access.pending() == []
    assert code_of(await access.check(msg("42", is_group=True, mentions_bot=True)))


async def test_trusted_adapters_and_approved_lists(access: Access, clock: Clock) -> None:
    assert (await access.check(msg("anyone", platform="web"), trusted=True)).allowed
    await access.approve("telegram", code_of(await access.check(msg("1"))))
    clock.advance(5)
    await access.approve("discord", code_of(await access.check(msg("2", platform="discord"))))
    assert [u.user for u in await access.approved()] == ["1", "2"]
    assert [u.user for u in await access.approved("discord")] == ["2"]
    code_of(await access.check(msg("3")))
    assert [c.user for c in await access.pending("telegram")] == ["3"]
    assert await access.pending("discord") == []
