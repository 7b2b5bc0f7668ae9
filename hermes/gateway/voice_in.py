"""Voice notes in: each voice note of a message is transcribed before its turn.

The agent gets the transcript, marked as a transcribed voice note, with the path
of the stored audio (events.Attachment.transcript, Inbound.agent_text). Only notes
recorded in the app (`Attachment.voice`) are transcribed: an audio *file* stays an
attachment (the agent can transcribe it with a tool when the user asks).
When a note cannot be understood the chat is told in one line what to do."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hermes.gateway.events import Attachment, Inbound
from hermes.voice.base import Transcript, VoiceError

log = logging.getLogger("hermes.gateway.voice")


class Transcriber(Protocol):
    async def transcribe(self, audio: Path) -> Transcript: ...


@dataclass(frozen=True)
class Heard:
    event: Inbound  # with the transcripts in its attachments
    problem: str | None = None  # one line for the chat when a note was not understood

    @property
    def nothing_to_answer(self) -> bool:
        """No words at all: no text, and no note was understood."""
        heard = any(a.transcript for a in self.event.attachments)
        return self.problem is not None and not self.event.text.strip() and not heard


def has_voice(event: Inbound) -> bool:
    return any(a.voice for a in event.attachments)


async def transcribe_notes(voice: Transcriber, event: Inbound) -> Heard:
    """EVENT with each downloaded voice note's words; a failure becomes `problem`."""
    notes: list[Attachment] = []
    problem: str | None = None
    for a in event.attachments:
        if not a.voice or a.transcript is not None:
            notes.append(a)
            continue
        if a.path is None:
            problem = "🎤 I could not download your voice note; please send it again."
            notes.append(a)
            continue
        try:
            heard = await voice.transcribe(Path(a.path))
        except VoiceError as exc:
            problem = f"🎤 I could not transcribe your voice note: {exc}"
            notes.append(a)
            continue
        except Exception as exc:  # a provider bug must not cost the message
            log.exception("transcribing %s failed", a.path)
            problem = (
                f"🎤 I could not transcribe your voice note ({type(exc).__name__}); "
                "details are in logs/gateway.log."
            )
            notes.append(a)
            continue
        duration = a.duration or heard.duration
        notes.append(dataclasses.replace(a, transcript=heard.text.strip(), duration=duration))
    return Heard(dataclasses.replace(event, attachments=tuple(notes)), problem)


def transcript_text(event: Inbound) -> str:
    """What the user said, for showing (the web chat shows it as their message)."""
    said = [a.transcript for a in event.attachments if a.transcript]
    return "\n".join([*said, event.text] if event.text else said)
