"""Push-to-talk for the terminal chat (`hermes chat --voice`, `/voice`): record
from the microphone with ffmpeg until Enter, then transcribe (hermes/voice).

A microphone is a PulseAudio/PipeWire server (ffmpeg `-f pulse`) or an ALSA
capture device (`-f alsa`). Without one the chat says so in one line and goes on
as text."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

NO_MIC = (
    "🎤 No microphone here: no PulseAudio/PipeWire server and no ALSA capture device "
    "(/proc/asound/pcm). Type your message instead."
)


def _alsa_capture() -> bool:
    try:
        return "capture" in Path("/proc/asound/pcm").read_text()
    except OSError:
        return False


def _pulse_running(env: dict[str, str]) -> bool:
    if env.get("PULSE_SERVER"):
        return True
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return Path(runtime, "pulse", "native").exists()


def microphone(env: dict[str, str] | None = None) -> tuple[str, str] | None:
    """ffmpeg's input format and device for the microphone, or None (no device)."""
    env = dict(os.environ) if env is None else env
    if shutil.which("ffmpeg") is None:
        return None
    if _pulse_running(env):
        return ("pulse", "default")
    if _alsa_capture():
        return ("alsa", "default")
    return None


def problem(env: dict[str, str] | None = None) -> str | None:
    """Why the terminal cannot record (one line), or None when it can."""
    if shutil.which("ffmpeg") is None:
        return "🎤 Recording needs ffmpeg: run scripts/install (or apt install ffmpeg)."
    return None if microphone(env) else NO_MIC


async def record(folder: Path, stop: asyncio.Future[None]) -> Path:
    """Record until STOP is done; the WAV file (16 kHz mono) in FOLDER."""
    device = microphone()
    if device is None:
        raise OSError(NO_MIC)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    out = folder / f"voice-{time.strftime('%Y%m%d-%H%M%S')}.wav"
    fmt, name = device
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-loglevel", "error", "-y", "-f", fmt, "-i", name,
        "-ac", "1", "-ar", "16000", str(out),
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        await stop
    finally:
        if proc.returncode is None and proc.stdin is not None:
            proc.stdin.write(b"q")  # ffmpeg ends the file cleanly on "q"
            await proc.stdin.drain()
            proc.stdin.close()
        _, err = await proc.communicate()
    if proc.returncode != 0 or not out.exists():
        raise OSError(f"recording failed: {err.decode(errors='replace').strip()[:200]}")
    return out
