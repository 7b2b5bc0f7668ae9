"""The `transcribe_audio` tool: the words of an audio file, when the user asks.

Voice notes are transcribed before the turn already (hermes/gateway/voice_in.py);
an audio *file* someone sends stays a file until they ask for its words."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.tools.base import Tool, schema
from hermes.voice.base import VoiceError
from hermes.voice.service import Voice

_voices: dict[Path, Voice] = {}  # one per profile home: a local model loads once per process


def _voice(ctx: TurnContext) -> Voice:
    profile = ctx.profile
    voice = _voices.get(profile.home)
    if voice is None:
        voice = _voices[profile.home] = Voice(profile.settings.voice, profile.env, profile.home)
    return voice


def _find(raw: str, workspace: Path) -> Path:
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else workspace / path
    if not path.is_file():
        raise ToolError(f"no such file: {path}")
    return path


async def transcribe_audio(args: dict[str, Any], ctx: TurnContext) -> str:
    raw = str(args.get("path") or "").strip()
    if not raw:
        raise ToolError("path is required: the audio file to transcribe")
    path = await asyncio.to_thread(_find, raw, ctx.profile.workspace)
    try:
        heard = await _voice(ctx).transcribe(path)
    except VoiceError as exc:
        raise ToolError(str(exc)) from exc
    length = f" ({heard.duration:.0f} s)" if heard.duration else ""
    return f"Transcript of {path}{length}:\n{heard.text or '(no speech heard)'}"


TOOLS = [
    Tool(
        "transcribe_audio",
        "Transcribe an audio file (speech to text) on this machine: an audio file the user "
        "sent, a recording in the workspace. Voice notes arrive transcribed already.",
        schema({"path": {"type": "string", "description": "the audio file"}}, ["path"]),
        transcribe_audio,
    )
]
