"""Speech for tests: known sentences spoken by espeak-ng (Debian), as a platform's
app would send them (OGG/Opus voice notes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ENCODINGS = {
    "ogg": ["-c:a", "libopus", "-b:a", "24k", "-ar", "48000", "-ac", "1"],  # OGG/Opus
    "aac": ["-c:a", "aac", "-f", "adts"],  # ADTS AAC, as Signal's Android app records
}


def spoken(text: str, out: Path, *, fmt: str = "ogg", lang: str = "en") -> Path:
    """TEXT spoken into OUT: OGG/Opus by default, "aac" for ADTS AAC, "wav" for
    espeak-ng's own WAV (then next to OUT, with a .wav suffix)."""
    wav = out.with_suffix(".wav")
    subprocess.run(["espeak-ng", "-v", lang, "-s", "140", "-w", str(wav), text], check=True)
    if fmt == "wav":
        return wav
    encode = ["ffmpeg", "-y", "-loglevel", "error", "-i", str(wav), *ENCODINGS[fmt], str(out)]
    subprocess.run(encode, check=True)
    return out


def probe(path: Path) -> dict[str, object]:
    """ffprobe's view of the first stream of PATH (codec_name, sample_rate, channels...)."""
    import json

    shown = ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)]
    out = subprocess.run(shown, capture_output=True, check=True, text=True).stdout
    stream: dict[str, object] = json.loads(out)["streams"][0]
    return stream


def words_right(expected: str, heard: str) -> float:
    """The share of EXPECTED's words that HEARD has, in order (case and punctuation
    ignored): 1.0 is every word; a transcript within a small edit distance scores ~0.8+."""
    import re

    def words(text: str) -> list[str]:
        return re.findall(r"[a-z0-9']+", text.lower())

    want, got = words(expected), words(heard)
    # longest common subsequence of the two word lists
    row = [0] * (len(got) + 1)
    for w in want:
        prev = 0
        for j, g in enumerate(got, 1):
            prev, row[j] = row[j], prev + 1 if w == g else max(row[j], row[j - 1])
    return row[len(got)] / max(1, len(want))
