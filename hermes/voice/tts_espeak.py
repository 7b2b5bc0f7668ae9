"""`local` text to speech: espeak-ng (offline, Debian package), writing WAV."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hermes.voice.base import VoiceError

MISSING = "install espeak-ng: apt install espeak-ng (or run scripts/install)"


class Espeak:
    name = "local"
    offline = True

    def __init__(self, voice: str | None, speed: float, timeout: float) -> None:
        self.voice = voice or "en-us"
        self.wpm = max(80, min(500, round(175 * speed)))
        self.timeout = timeout

    @property
    def label(self) -> str:
        return f"local (espeak-ng, voice {self.voice})"

    def problem(self) -> str | None:
        return None if shutil.which("espeak-ng") else MISSING

    def synthesize(self, text: str, out: Path) -> Path:
        if shutil.which("espeak-ng") is None:
            raise VoiceError(MISSING)
        wav = out.with_name(f".{out.stem}.{os.getpid()}.espeak.wav")
        argv = ["espeak-ng", "-v", self.voice, "-s", str(self.wpm), "-w", str(wav), "--stdin"]
        try:
            done = subprocess.run(
                argv, input=text.encode(), capture_output=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            wav.unlink(missing_ok=True)
            raise VoiceError(f"espeak-ng took longer than {self.timeout:.0f}s") from None
        if done.returncode != 0 or not wav.is_file():
            wav.unlink(missing_ok=True)
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            hint = reason[-1] if reason else f"exit {done.returncode}"
            raise VoiceError(f"espeak-ng failed ({hint}): check voice.tts.voice ({self.voice})")
        return wav
