"""`hermes voice transcribe FILE | say TEXT -o FILE | status`: the profile's voice
providers (`voice.*`) from the shell (hermes/voice/)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from hermes.voice.base import VoiceError

if TYPE_CHECKING:
    from hermes.voice.service import Voice


def cmd_voice(args: argparse.Namespace) -> int:
    from hermes.home import load_profile
    from hermes.voice.service import Voice

    profile = load_profile(getattr(args, "profile", None))
    voice = Voice(profile.settings.voice, profile.env, profile.home)
    try:
        if args.action == "transcribe":
            return transcribe(voice, Path(args.file).expanduser())
        if args.action == "say":
            return say(voice, args.text, Path(args.output).expanduser())
        return status(voice)
    except VoiceError as exc:
        print(f"hermes: {exc}", file=sys.stderr)
        return 1


def transcribe(voice: Voice, file: Path) -> int:
    if not file.is_file():
        raise VoiceError(f"no such file: {file}")
    transcript = asyncio.run(voice.transcribe(file))
    if not transcript.text:
        raise VoiceError(f"no speech found in {file}")
    print(transcript.text)
    return 0


def say(voice: Voice, text: str, out: Path) -> int:
    from hermes.voice import audio

    if not out.parent.is_dir():
        raise VoiceError(f"no such directory: {out.parent}")
    if out.suffix.lower() in (".ogg", ".opus", ".oga"):
        spoken = asyncio.run(voice.speak(text, out))
    else:  # speak to OGG/Opus, then convert to what the suffix names
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".hermes-voice-") as tmp:
            spoken = asyncio.run(voice.speak(text, Path(tmp) / "speech.ogg"))
            audio.to_format(spoken.path, out)
    print(f"{out} ({spoken.duration:.1f}s)")
    return 0


def status(voice: Voice) -> int:
    from hermes.cli.shared import table

    states = voice.status()
    rows = [["ROLE", "PROVIDER", "OFFLINE", "STATE"]]
    rows += [
        [s.role, s.name, "yes" if s.offline else "no", "ready" if s.ready else s.problem or ""]
        for s in states
    ]
    print("\n".join(table(rows)))
    return 0 if all(s.ready for s in states) else 1
