"""Voice in a chat: `/voice on|off|only`, and hearing a message's voice notes
before its turn (voice_in.py transcribes; voice_out.py speaks the replies)."""

from __future__ import annotations

from typing import Protocol

from hermes.gateway.events import Inbound
from hermes.gateway.ports import Services
from hermes.gateway.voice_in import has_voice, transcribe_notes, transcript_text
from hermes.store import chat_ops
from hermes.voice.service import Voice

HELP = "/voice on|off|only — spoken replies here: with the text, off, or instead of it"
MODES = {
    "on": "🔊 Voice replies on: each answer comes as text and as a voice note.",
    "only": "🔊 Voice replies only: each answer comes as a voice note (the text stays in "
    "the history).",
    "off": "🔇 Voice replies off: answers come as text.",
}


class VoiceHost(Services, Protocol):
    @property
    def voice(self) -> Voice: ...


async def command(gw: VoiceHost, event: Inbound) -> str:
    """/voice [on|off|only]: set (or show) the chat's voice mode; the reply to send."""
    args = event.text.strip().split()[1:]
    key = (event.platform, event.chat)
    if not args:
        mode = await gw.store.run(chat_ops.voice_mode, *key)
        return f"Voice replies are {mode} here. {HELP}"
    mode = args[0].lower()
    if len(args) > 1 or mode not in MODES:
        return f"⚠️ Unknown /voice setting {' '.join(args)!r}. {HELP}"
    adapter = gw.adapters.get(event.platform)
    if mode != "off" and (adapter is None or not adapter.capabilities.audio_out):
        return f"⚠️ I cannot send voice notes on {event.platform}; answers stay text here."
    await gw.store.run(chat_ops.set_voice_mode, *key, mode, gw.clock())
    text = MODES[mode]
    if mode != "off":
        problems = [s.problem for s in gw.voice.status() if s.role == "text to speech"]
        if problems and problems[0]:
            text += f"\n⚠️ But speech cannot be made yet: {problems[0]}"
    return text


async def speaks_only(gw: VoiceHost, event: Inbound) -> bool:
    """The chat's answers are voice notes alone (then no draft shows the text). Asked
    only where a draft would stream: elsewhere the answer costs no store round trip."""
    adapter = gw.adapters.get(event.platform)
    caps = adapter.capabilities if adapter is not None else None
    if caps is None or not (caps.audio_out and caps.can_edit):
        return False
    if not gw.profile.settings.display.streaming:
        return False
    return await gw.store.run(chat_ops.voice_mode, event.platform, event.chat) == "only"


async def hear(gw: VoiceHost, row_id: int, event: Inbound) -> Inbound | None:
    """EVENT with its voice notes transcribed. None when there is nothing to answer
    (no text, no note understood): the chat was told why, the message is finished."""
    if not has_voice(event):
        return event
    heard = await transcribe_notes(gw.voice, event)
    adapter = gw.adapters.get(event.platform)
    said = transcript_text(heard.event)
    if adapter is not None and said:
        adapter.show_transcript(event.chat, event.message_id, said)
    if heard.nothing_to_answer:
        assert heard.problem is not None
        await gw.finish_inbound(row_id, heard.event, heard.problem, error=heard.problem)
        return None
    if heard.problem is not None:
        await gw.deliver_now(f"voice:{row_id}", event.target, heard.problem)
    return heard.event
