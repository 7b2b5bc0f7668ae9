"""ffmpeg helpers (synchronous subprocesses; the service runs them in a worker
thread): convert to the voice-note format, measure a duration, draw a waveform."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hermes.voice.base import VoiceError

MISSING = "ffmpeg is not installed: run scripts/install (or apt install ffmpeg)"
TIMEOUT = 600.0  # seconds for one conversion (a long note is a few seconds of work)


def _run(argv: list[str], what: str, timeout: float = TIMEOUT) -> bytes:
    if shutil.which(argv[0]) is None:
        raise VoiceError(MISSING)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise VoiceError(f"{what} took longer than {timeout:.0f}s") from None
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()
        reason = tail[-1] if tail else f"exit {done.returncode}"
        raise VoiceError(f"{what} failed: {reason}")
    return done.stdout


def convert(src: Path, out: Path, codec_args: list[str]) -> Path:
    """SRC converted into OUT (written under a temporary name, then renamed)."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp{out.suffix}")
    argv = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(src)]
    try:
        _run([*argv, *codec_args, str(tmp)], f"converting {src.name}")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def to_ogg_opus(src: Path, out: Path) -> Path:
    """SRC as an OGG/Opus voice note (48 kHz mono) at OUT."""
    opus = ["-vn", "-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-ac", "1", "-f", "ogg"]
    return convert(src, out, opus)


def to_format(src: Path, out: Path) -> Path:
    """SRC converted into the format OUT's suffix names (.ogg/.opus, .wav, .mp3, ...)."""
    suffix = out.suffix.lower()
    if suffix in (".ogg", ".opus", ".oga", ""):
        return to_ogg_opus(src, out)
    if suffix == ".wav":
        return convert(src, out, ["-vn", "-c:a", "pcm_s16le"])
    return convert(src, out, ["-vn"])


def duration(path: Path) -> float:
    """Seconds of audio in PATH (ffprobe)."""
    if shutil.which("ffprobe") is None:
        raise VoiceError(MISSING)
    out = _run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=noprint_wrappers=1:nokey=1",
            str(path),
        ],
        f"reading {path.name}",
        timeout=60,
    )
    try:
        return float(out.decode().strip())
    except ValueError:
        raise VoiceError(f"{path.name} has no readable duration: is it audio?") from None


def pcm16k(path: Path, rate: int = 16000) -> bytes:
    """PATH decoded to raw mono signed 16-bit little-endian samples at RATE (16 kHz)."""
    argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path)]
    return _run([*argv, "-vn", "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"], "decoding audio")


def waveform(path: Path, points: int = 256) -> bytes:
    """POINTS amplitudes (0-255, the peak of each slice) of PATH: the picture a
    Discord voice message shows."""
    pcm = pcm16k(path, rate=4000)  # plenty for a picture; a long note stays quick
    samples = memoryview(pcm).cast("h") if len(pcm) >= 2 else memoryview(b"\0\0").cast("h")
    n = len(samples)
    peaks = []
    for i in range(points):
        lo, hi = i * n // points, max((i + 1) * n // points, i * n // points + 1)
        chunk = samples[lo : min(hi, n)]
        peaks.append(max((abs(s) for s in chunk), default=0))
    top = max(peaks) or 1
    return bytes(min(255, p * 255 // top) for p in peaks)
