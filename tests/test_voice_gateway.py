"""Voice through the whole product: `hermes gateway run` as a real process, the real
python-telegram-bot against the fake Bot API, real speech (espeak-ng) in, the
packaged local Whisper model transcribing it, espeak-ng speaking the replies.
Also the terminal chat's push-to-talk on a machine with no microphone."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from pty_driver import Terminal

from hermes.testing import ScriptedModel
from tests import test_gateway_telegram as tg
from tests.fakes.telegram_api import FakeTelegram
from tests.gateway_helpers import GatewayProcess, make_home
from tests.tools_helpers import wait_until
from tests.voice_helpers import spoken

TOKEN, CHAT = tg.TOKEN, tg.CHAT
telegram = tg.telegram  # the fake Bot API


def voice_home(path: Path, model: ScriptedModel, telegram: FakeTelegram, **voice: Any) -> Path:
    config: dict[str, Any] = {"server": {"port": 0}, "telegram": {"base_url": telegram.base_url}}
    if voice:
        config["voice"] = voice
    return make_home(
        path,
        model,
        config,
        {"TELEGRAM_BOT_TOKEN": TOKEN, "HERMES_API_KEY": "k", "TELEGRAM_ALLOWED_USERS": str(CHAT)},
    )


def sent(telegram: FakeTelegram, kind: str) -> list[dict[str, Any]]:
    return [m for m in telegram.sent if m["kind"] == kind and m["chat_id"] == CHAT]


def texts(telegram: FakeTelegram) -> list[str]:
    return [str(m["text"]) for m in sent(telegram, "text")]


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


async def test_a_voice_note_reaches_the_agent_as_its_words_with_the_audio_kept(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    gw = await GatewayProcess(voice_home(tmp_path / "home", model, telegram)).ready()
    note = spoken("please remind me to water the plants tomorrow", tmp_path / "note.ogg")
    model.reply("I will remind you to water the plants.")
    telegram.voice_note(CHAT, CHAT, note.read_bytes(), 3)
    answer = ["I will remind you to water the plants."]
    await wait_until(lambda: list(telegram.messages_in(CHAT).values()) == answer, 90, gw.log)
    said = model.last_request.messages[-1]["content"]
    assert said.startswith("[voice note, transcribed; audio: ")
    assert {"remind", "water", "plants", "tomorrow"} <= words(said)
    kept = re.search(r"audio: ([^,\]]+)", said)
    assert kept is not None
    stored = await asyncio.to_thread(Path(kept.group(1)).read_bytes)
    assert stored == note.read_bytes()  # the audio, kept for the agent
    assert await gw.stop() == 0


async def test_a_voice_note_that_cannot_be_transcribed_gets_a_one_line_answer(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    # an OpenAI-compatible server that is not there: transcription fails
    home = voice_home(
        tmp_path / "home",
        model,
        telegram,
        stt={"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "timeout": 5},
    )
    gw = await GatewayProcess(home).ready()
    note = spoken("hello there", tmp_path / "note.ogg")
    telegram.voice_note(CHAT, CHAT, note.read_bytes(), 1)
    await wait_until(lambda: texts(telegram), 60, gw.log)
    [notice] = texts(telegram)
    assert notice.startswith("🎤 I could not transcribe your voice note: ")
    assert "\n" not in notice
    assert model.requests == []  # no turn on words nobody heard
    with sqlite3.connect(home / "state.db") as conn:
        [(status,)] = conn.execute("SELECT status FROM inbound").fetchall()
    assert status == "done"  # answered, not retried forever
    assert await gw.stop() == 0


async def test_voice_only_answers_with_a_voice_note_that_says_the_reply(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    from hermes.settings import VoiceSettings
    from hermes.voice.service import Voice

    home = voice_home(tmp_path / "home", model, telegram)
    gw = await GatewayProcess(home).ready()
    telegram.user_says(CHAT, "/voice only", user_id=CHAT)
    await wait_until(lambda: texts(telegram), 30, gw.log)
    assert texts(telegram)[0].startswith("🔊 Voice replies only")
    model.reply("The meeting is **at noon** in the [blue room](https://example.org/rooms).")
    telegram.user_says(CHAT, "when is the meeting", user_id=CHAT)
    await wait_until(lambda: sent(telegram, "voice"), 60, gw.log)
    [note] = sent(telegram, "voice")
    assert note["file"].startswith(b"OggS") and note["duration"] >= 1
    assert len(texts(telegram)) == 1  # no text for the answer, not even a draft
    with sqlite3.connect(home / "state.db") as conn:
        history = [
            r[0] for r in conn.execute("SELECT content FROM messages WHERE role = 'assistant'")
        ]
    assert history == [
        "The meeting is **at noon** in the [blue room](https://example.org/rooms)."
    ]  # the text stays in the history
    audio = tmp_path / "reply.ogg"
    audio.write_bytes(note["file"])
    heard = await Voice(VoiceSettings(), dict(os.environ), tmp_path).transcribe(audio)
    assert len({"meeting", "noon", "blue", "room"} & words(heard.text)) >= 3, heard.text
    assert "https" not in words(heard.text)  # the link is read as its text

    telegram.user_says(CHAT, "/voice on", user_id=CHAT)
    await wait_until(lambda: len(texts(telegram)) == 2, 30, gw.log)
    model.reply("Bring the slides.")
    telegram.user_says(CHAT, "anything else", user_id=CHAT)
    await wait_until(lambda: len(sent(telegram, "voice")) == 2, 60, gw.log)
    await wait_until(lambda: "Bring the slides." in telegram.messages_in(CHAT).values(), 30)
    assert await gw.stop() == 0
    assert len(sent(telegram, "voice")) == 2 and len(texts(telegram)) == 3  # once each


async def test_voice_mode_is_refused_where_the_platform_cannot_play_it(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    gw = await GatewayProcess(voice_home(tmp_path / "home", model, telegram)).ready()
    telegram.user_says(CHAT, "/voice loud", user_id=CHAT)
    await wait_until(lambda: texts(telegram), 30, gw.log)
    assert texts(telegram)[0].startswith("⚠️ Unknown /voice setting 'loud'.")
    telegram.user_says(CHAT, "/voice", user_id=CHAT)
    await wait_until(lambda: len(texts(telegram)) == 2, 30, gw.log)
    assert texts(telegram)[1].startswith("Voice replies are off here.")
    assert await gw.stop() == 0


def test_the_terminal_chat_says_when_there_is_no_microphone(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HERMES_HOME": str(home),
        "TERM": "xterm-256color",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "XDG_RUNTIME_DIR": str(tmp_path / "no-pulse"),
    }
    term = Terminal(["chat", "--voice"], env, tmp_path)
    try:
        term.expect("No microphone here")
        term.prompt()
        term.send("/voice\r")
        term.expect("No microphone here")
        term.prompt()
        term.send("/exit\r")
        assert term.wait() == 0
    finally:
        term.close()
    assert model.requests == []


async def test_an_audio_file_is_an_attachment_transcribed_only_when_asked(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    from hermes.testing.replies import Reply, call

    gw = await GatewayProcess(voice_home(tmp_path / "home", model, telegram)).ready()
    memo = spoken("book a table for two at the italian restaurant", tmp_path / "memo.ogg")

    def transcribe_it(request: Any) -> Reply:
        said = request.messages[-1]["content"]
        assert "transcribed" not in said  # a file, not a voice note
        found = re.search(r"\[audio: ([^,\]]+)", said)
        assert found is not None, said
        return Reply("", (call("transcribe_audio", {"path": found.group(1)}),))

    model.reply_with(transcribe_it)
    model.reply("It asks to book a table.")
    telegram.user_sends_file(
        CHAT, memo.read_bytes(), kind="audio", name="memo.ogg", mime="audio/ogg",
        caption="what does this say?", user_id=CHAT,
    )  # fmt: skip
    final = ["It asks to book a table."]
    await wait_until(lambda: list(telegram.messages_in(CHAT).values()) == final, 90, gw.log)
    result = model.last_request.messages[-1]
    assert result["role"] == "tool"
    assert {"table", "italian", "restaurant"} <= words(result["content"]), result["content"]
    assert await gw.stop() == 0


async def test_a_long_voice_note_does_not_hold_up_another_chat(
    tmp_path: Path, model: ScriptedModel, telegram: FakeTelegram
) -> None:
    other = 5151
    home = make_home(
        tmp_path / "home",
        model,
        {"server": {"port": 0}, "telegram": {"base_url": telegram.base_url}},
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "HERMES_API_KEY": "k",
            "TELEGRAM_ALLOWED_USERS": f"{CHAT},{other}",
        },
    )
    gw = await GatewayProcess(home).ready()
    story = (
        "Yesterday we took the early train to the coast. The station was almost empty and "
        "the coffee machine was broken again. When we arrived, the wind was strong, so we "
        "walked along the harbour and watched the fishing boats come in."
    )
    note = spoken(story, tmp_path / "long.ogg")  # about 15 seconds of speech
    model.reply_with(
        lambda r: "Heard the story." if "transcribed" in r.messages[-1]["content"] else "Quick.",
        times=2,
    )
    telegram.voice_note(CHAT, CHAT, note.read_bytes(), 30)
    inbox = home / "workspace" / "inbox"
    await wait_until(lambda: inbox.is_dir() and any(inbox.iterdir()), 30, gw.log)  # being heard
    telegram.user_says(other, "quick question", user_id=other)
    await wait_until(lambda: any(m["chat_id"] == other for m in telegram.sent), 30, gw.log)
    assert not sent(telegram, "text")  # the other chat was answered while the note was heard
    await wait_until(lambda: "Heard the story." in telegram.messages_in(CHAT).values(), 120)
    assert await gw.stop() == 0
