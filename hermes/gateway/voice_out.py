"""Spoken replies: what the courier sends for a delivery of a chat in /voice mode.

A delivery's parts are planned from its row alone, so a retry or a restart sends
the same parts and the ledger's count of parts sent stays true (never twice):
- voice None: the text, rendered and split as always;
- "on": those parts, then the voice note;
- "only": the voice note alone; the text stays in the history. If speech cannot be
  made, the text is sent after a one-line notice saying why (never silence).
The note is made once per delivery and kept (VOICE_DIR/reply-ID.ogg): a retried
send uploads the same file instead of speaking again."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Final, Protocol

from hermes.store.gateway_ops import Delivery
from hermes.voice.base import Spoken, VoiceError

log = logging.getLogger("hermes.gateway.voice")

VOICE: Final = None  # a part of the plan that is the voice note, not text


class Speaker(Protocol):
    async def speak(self, text: str, out: Path) -> Spoken: ...


def _seconds(path: Path) -> float:
    from hermes.voice.audio import duration

    return duration(path)


class SpokenReplies:
    def __init__(self, speaker: Speaker, folder: Path) -> None:
        self.speaker = speaker
        self.folder = folder

    def path(self, delivery_id: int) -> Path:
        return self.folder / f"reply-{delivery_id}.ogg"

    async def make(self, d: Delivery) -> Spoken | str:
        """The delivery's voice note (made once, then kept), or a one-line notice
        saying why there is none."""
        out = self.path(d.id)
        try:
            if out.exists():
                return Spoken(out, await asyncio.to_thread(_seconds, out))
            out.parent.mkdir(parents=True, exist_ok=True)
            return await self.speaker.speak(d.text, out)
        except VoiceError as exc:
            return f"🔇 I could not speak this reply: {exc}"
        except Exception as exc:  # a provider bug must not cost the reply
            log.exception("speaking delivery %s failed", d.key)
            return (
                f"🔇 I could not speak this reply ({type(exc).__name__}); "
                "details are in logs/gateway.log."
            )

    async def plan(self, d: Delivery, parts: list[str], render: _Render) -> _Plan:
        """The parts to send for D: text, or VOICE for the voice note (see above)."""
        if d.voice == "on":
            return [*parts, VOICE], None
        if d.voice != "only":
            return list(parts), None
        made = await self.make(d)
        if isinstance(made, Spoken):
            return [VOICE], made
        fallback: list[str | None] = list(render(f"{made}\n\n{d.text}"))
        return fallback, None


class _Render(Protocol):
    def __call__(self, text: str) -> list[str]: ...


_Plan = tuple[list[str | None], Spoken | None]
