"""The gateway core with an in-memory chat platform and the scripted model:
per-chat order, concurrency, commands, streaming, the delivery ledger,
access, and resuming after a crash."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hermes.gateway.core import Gateway
from hermes.gateway.events import Outbound
from hermes.platforms.adapter import SendError
from hermes.platforms.spec import Capabilities
from hermes.store import gateway_ops as ops
from hermes.testing import ScriptedModel
from tests.gateway_helpers import FakeChat, make_home, running_gateway
from tests.tools_helpers import wait_until


@pytest.fixture
def home(tmp_path: Path, model: ScriptedModel) -> Path:
    return make_home(tmp_path / "home", model)


async def test_a_message_gets_its_reply_streamed_into_one_message(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    model.reply("Hello from Hermes")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("hi")
        await wait_until(lambda: chat.shown() == ["Hello from Hermes"])
        await wait_until(lambda: gw.chats.running() == 0)
        sid = await gw.current_session(chat_target())
        assert sid is not None
        stored = [m.message.content for m in await gw.store.load_messages(sid)]
        assert stored == ["hi", "Hello from Hermes"]
    assert len(chat.sent) == 1  # the draft became the reply: one message, not two
    model.assert_done()


class FlakyOnce(FakeChat):
    """The platform fails the first send with a transient error."""

    attempts = 0

    async def send(self, message: Outbound) -> str:
        self.attempts += 1
        if self.attempts == 1:
            raise SendError("502 Bad Gateway", retryable=True)
        return await super().send(message)


async def test_the_draft_survives_a_transient_send_failure(
    home: Path, model: ScriptedModel
) -> None:
    chat = FlakyOnce()
    gate = model.hang(partial="Working on it", then=" and done.")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("hi")
        await gate.wait_entered_async()
        # no more text arrives while the model waits: the preview retries on its own
        await wait_until(lambda: chat.shown() == ["Working on it"])
        gate.release()
        await wait_until(lambda: chat.shown() == ["Working on it and done."])
        await wait_until(lambda: gw.chats.running() == 0)
    assert chat.attempts == 2


class SlowFirstSend(FakeChat):
    """The platform takes its time with the first message."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, message: Outbound) -> str:
        if not self.sent:
            self.entered.set()
            await self.release.wait()
        return await super().send(message)


async def test_text_that_streams_in_during_a_slow_send_is_shown_too(
    home: Path, model: ScriptedModel
) -> None:
    chat = SlowFirstSend()
    gate = model.hang(partial="Let me think about it", then=" Done.")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("hi")
        await gate.wait_entered_async()  # all the partial text has streamed
        await asyncio.wait_for(chat.entered.wait(), 10)
        chat.release.set()
        # the model still waits: the rest must show without a further event
        await wait_until(lambda: chat.shown() == ["Let me think about it"])
        gate.release()
        await wait_until(lambda: chat.shown() == ["Let me think about it Done."])
        await wait_until(lambda: gw.chats.running() == 0)


def chat_target():  # type: ignore[no-untyped-def]
    from hermes.gateway.events import Target

    return Target("fakechat", "1")


async def test_messages_of_one_chat_run_in_order_and_other_chats_meanwhile(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    gate = model.hang(then="first answer")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("first", chat="1")
        await gate.wait_entered_async()
        await chat.say("second", chat="1")
        model.reply("other chat answer")
        await chat.say("hello", chat="2")  # not held up by chat 1
        await wait_until(lambda: chat.shown("2") == ["other chat answer"])
        assert chat.shown("1") == []
        model.reply("second answer")
        gate.release()
        await wait_until(lambda: chat.shown("1") == ["first answer", "second answer"])
        users = [r.messages[-1]["content"] for r in model.requests]
        assert users == ["first", "hello", "second"]
        await wait_until(lambda: gw.chats.running() == 0)


async def test_interrupt_mode_stops_the_running_turn_for_the_new_message(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "h", model, {"gateway": {"busy_input_mode": "interrupt"}})
    chat = FakeChat()
    model.hang(partial="Working on it", then="never seen")
    async with running_gateway(home, [chat]):
        await chat.say("long task")
        await wait_until(lambda: chat.shown() == ["Working on it"])
        model.reply("new answer")
        await chat.say("actually, do this")
        # the new answer may show as a streamed draft first ("new"): wait for the whole
        await wait_until(lambda: chat.shown() == ["Working on it\n\n⏹ Stopped.", "new answer"])


async def test_stop_ends_the_turn_at_once(home: Path, model: ScriptedModel) -> None:
    chat = FakeChat()
    gate = model.hang(then="never seen")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("long task")
        await gate.wait_entered_async()
        await chat.say("/stop")
        await wait_until(lambda: "Stopped the current turn." in chat.shown())
        await wait_until(lambda: "⏹ Stopped." in chat.shown())
        await wait_until(lambda: gw.chats.running() == 0)


async def test_a_redelivered_update_is_handled_once(home: Path, model: ScriptedModel) -> None:
    chat = FakeChat()
    model.reply("once")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("hi", external_id="update-7")
        await chat.say("hi", external_id="update-7")
        await wait_until(lambda: chat.shown() == ["once"])
        await wait_until(lambda: gw.chats.running() == 0)
    assert len(model.requests) == 1


async def test_slash_commands_in_a_chat(home: Path, model: ScriptedModel) -> None:
    chat = FakeChat()
    model.reply("first answer")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("hello")
        await wait_until(lambda: chat.shown() == ["first answer"])
        old = await gw.current_session(chat_target())
        await chat.say("/status")
        await wait_until(lambda: len(chat.shown()) == 2)
        assert f"Session: {old}" in chat.shown()[1]
        await chat.say("/new")
        await wait_until(lambda: len(chat.shown()) == 3)
        new = await gw.current_session(chat_target())
        assert new != old and chat.shown()[2].startswith(f"New session {new}")
        await chat.say("/sethome")
        await wait_until(lambda: len(chat.shown()) == 4)
        assert await gw.store.run(ops.kv_get, "home_channel") == "fakechat:1"
        await chat.say("/help")
        await wait_until(lambda: len(chat.shown()) == 5)
        assert "/stop" in chat.shown()[4] and "/sethome" in chat.shown()[4]
        await chat.say("/frobnicate")
        await wait_until(lambda: len(chat.shown()) == 6)
        assert chat.shown()[5].startswith("Unknown command /frobnicate")


async def test_a_long_reply_is_split_to_the_platform_limit(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat(capabilities=Capabilities(max_length=100, can_edit=False))
    text = "\n\n".join(f"Paragraph {i}: " + "word " * 12 for i in range(6))
    model.reply(text)
    async with running_gateway(home, [chat]):
        await chat.say("write a lot")
        expected = " ".join(text.split())
        await wait_until(lambda: " ".join(" ".join(chat.shown()).split()) == expected)
    assert len(chat.shown()) > 1
    assert all(len(m) <= 100 for m in chat.shown())


async def test_a_failed_send_is_retried_and_delivered_once(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat(capabilities=Capabilities(can_edit=False))
    chat.failing = SendError("platform down (502)", retryable=True)
    model.reply("the answer")
    async with running_gateway(home, [chat], backoff_base=0.05) as gw:
        await chat.say("hi")
        await wait_until(lambda: _delivery_attempts(gw) >= 2)
        assert chat.shown() == []
        chat.failing = None
        await wait_until(lambda: chat.shown() == ["the answer"])
        await wait_until(lambda: gw.chats.running() == 0)
    assert chat.shown() == ["the answer"]


def _sql(gw: Gateway, sql: str) -> list[tuple[Any, ...]]:
    """Read state.db through a second connection: what the test sees from outside."""
    with sqlite3.connect(gw.profile.db_path) as conn:
        return conn.execute(sql).fetchall()


def _delivery_attempts(gw: Gateway) -> int:
    return int(_sql(gw, "SELECT MAX(attempts) FROM deliveries")[0][0] or 0)


async def test_a_reply_that_finally_fails_is_delivered_late_when_the_platform_is_back(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "h", model, {"gateway": {"delivery_max_attempts": 2}})
    chat = FakeChat(capabilities=Capabilities(can_edit=False))
    chat.failing = SendError("platform down (502)", retryable=True)
    model.reply("lost answer")
    async with running_gateway(home, [chat], backoff_base=0.01) as gw:
        await chat.say("hi")
        await wait_until(lambda: _failed(gw) == 1)
        chat.failing = None
        model.reply("next answer")
        await chat.say("are you there?")
        await wait_until(lambda: len(chat.shown()) == 2)
        late = chat.shown()[1]
        assert chat.shown()[0] == "next answer"
        assert late.startswith("⚠️ Delivered late") and late.endswith("lost answer")


def _failed(gw: Gateway) -> int:
    return int(_sql(gw, "SELECT COUNT(*) FROM deliveries WHERE status='failed'")[0][0])


async def test_unknown_senders_get_a_pairing_code_and_no_turn(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat(trusted=False)
    async with running_gateway(home, [chat]) as gw:
        await chat.say("let me in", user="999")
        await wait_until(lambda: len(chat.shown()) == 1)
        assert "hermes pairing approve fakechat" in chat.shown()[0]
        assert await gw.current_session(chat_target()) is None
    assert model.requests == []


async def test_allowlisted_senders_are_served(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "h", model, env={"FAKECHAT_ALLOWED_USERS": "42"})
    chat = FakeChat(trusted=False)
    model.reply("welcome")
    async with running_gateway(home, [chat]):
        await chat.say("hi", user="42")
        await wait_until(lambda: chat.shown() == ["welcome"])


async def test_a_turn_cut_by_a_crash_is_resumed_once_after_restart(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat(capabilities=Capabilities(can_edit=False))
    gate = model.hang(then="never delivered")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("important question")
        await gate.wait_entered_async()
        sid = await gw.current_session(chat_target())
        await gw.chats.close()  # the process dies mid-turn: nothing more is written
    gate.release()
    model.reply("the answer after restart")
    chat2 = FakeChat(capabilities=Capabilities(can_edit=False))
    async with running_gateway(home, [chat2]) as gw:
        await wait_until(lambda: len(chat2.shown()) == 2)
        assert chat2.shown()[0].startswith("↻ Hermes restarted while working on")
        assert chat2.shown()[1] == "the answer after restart"
        assert sid is not None
        stored = [m.message.content for m in await gw.store.load_messages(sid)]
        assert stored.count("important question") == 1
        assert stored[-1] == "the answer after restart"
    assert [r.messages[-1]["content"] for r in model.requests][-1] == "important question"


async def test_a_turn_cut_by_a_clean_stop_mid_answer_is_answered_again_after_restart(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat()
    gate = model.hang(partial="Half an ans", then="never delivered")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("question")
        await wait_until(lambda: chat.shown() == ["Half an ans"])
        sid = await gw.current_session(chat_target())
    gate.release()  # the gateway stopped (SIGTERM past drain_seconds): the turn is unfinished
    model.reply("The full answer.")
    chat2 = FakeChat()
    async with running_gateway(home, [chat2]) as gw:
        await wait_until(lambda: "The full answer." in chat2.shown())
        await wait_until(
            lambda: gw.chats.running() == 0
        )  # the draft shows text before it is stored
        assert sid is not None
        stored = [m.message.content for m in await gw.store.load_messages(sid)]
    assert stored == ["question", "The full answer."]  # the fragment is gone
    assert len(model.requests) == 2


async def test_a_second_stop_does_not_strand_the_first(home: Path, model: ScriptedModel) -> None:
    chat = FakeChat(capabilities=Capabilities(can_edit=False))
    gate = model.hang(then="never seen")
    async with running_gateway(home, [chat]) as gw:
        await chat.say("long task")
        await gate.wait_entered_async()
        await chat.say("/stop")
        await chat.say("/stop")
        await wait_until(lambda: "⏹ Stopped." in chat.shown())
        await wait_until(lambda: gw.chats.running() == 0)
        assert _statuses(gw) == {"done": 3}


def _statuses(gw: Gateway) -> dict[str, int]:
    return dict(_sql(gw, "SELECT status, COUNT(*) FROM inbound GROUP BY status"))


async def test_an_adapter_bug_does_not_stop_deliveries(home: Path, model: ScriptedModel) -> None:
    class Buggy(FakeChat):
        calls = 0

        async def send(self, message):  # type: ignore[no-untyped-def]
            Buggy.calls += 1
            if Buggy.calls == 1:
                raise RuntimeError("adapter bug")
            return await super().send(message)

    chat = Buggy(capabilities=Capabilities(can_edit=False))
    model.reply("delivered anyway")
    async with running_gateway(home, [chat], backoff_base=0.01):
        await chat.say("hi")
        await wait_until(lambda: chat.shown() == ["delivered anyway"])


async def test_replies_to_one_chat_keep_their_order_across_retries(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat(capabilities=Capabilities(can_edit=False))
    chat.failing = SendError("down", retryable=True)
    model.reply("first")
    async with running_gateway(home, [chat], backoff_base=0.3) as gw:
        await chat.say("one")
        await wait_until(lambda: _delivery_attempts(gw) >= 1)
        chat.failing = None
        model.reply("second")
        await chat.say("two")  # its reply is due at once; the first still backs off
        await wait_until(lambda: len(chat.shown()) == 2)
    assert chat.shown() == ["first", "second"]


async def test_a_stranger_is_answered_once_not_per_message(
    home: Path, model: ScriptedModel
) -> None:
    chat = FakeChat(trusted=False)
    async with running_gateway(home, [chat]) as gw:
        for i in range(5):
            await chat.say(f"spam {i}", user="999")
        await wait_until(lambda: len(chat.shown()) == 1)
        await chat.say("hello", user="998")
        await wait_until(lambda: len(chat.shown()) == 2)
        assert _sql(gw, "SELECT COUNT(*) FROM deliveries") == [(2,)]
