"""The local voice providers on this machine: word error rate of the packaged
Whisper base model (faster-whisper, int8, CPU) on 20 sentences spoken by espeak-ng,
the real-time factor of transcription (incl. a ~10 s note) and of synthesis, the
model's load time and the peak memory (RSS) of each provider.

    .venv/bin/python bench/voice.py

Each provider is measured in a fresh subprocess (resource.getrusage maxrss): the
speech-to-text child loads the model and transcribes every note as OGG/Opus voice
notes (espeak-ng -v en -s 140, like a phone's recording); the text-to-speech child
runs `Voice.speak`'s steps (espeak-ng, then ffmpeg to OGG/Opus). Targets: WER
<= 15 %, a 10-second note in < 3 s. WER normalises case, punctuation, number words
("three" = "3") and British/US spelling ("summarise" = "summarize").
"""

from __future__ import annotations

import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTENCES = [
    "Please remind me to call my mother tomorrow morning.",
    "What is the weather going to be like this weekend?",
    "Turn off the lights in the living room.",
    "Send the report to the team before Friday.",
    "Can you summarise the last three emails from my manager?",
    "Book a table for four people at seven tonight.",
    "The meeting has been moved to next Tuesday afternoon.",
    "Add milk, eggs and bread to the shopping list.",
    "How long will it take to drive to the airport?",
    "Set a timer for twenty minutes.",
    "Check whether the backup finished without errors.",
    "Play some quiet music in the kitchen.",
    "Translate this message into Spanish for me.",
    "What time does the train to London leave?",
    "Create a new note called project ideas.",
    "Restart the web server and tell me when it is done.",
    "How many unread messages do I have today?",
    "Move my dentist appointment to the following week.",
    "Write a short thank you note to my neighbour.",
    "Open the garage door when I get home.",
]
LONG = " ".join(SENTENCES[:3])  # about 10 seconds at 140 wpm

NUMBERS = {
    w: str(n)
    for n, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
NUMBERS |= {
    w: str(10 * n)
    for n, w in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], 2
    )
}
SPELLING = [(r"is(e|ed|es|ing)$", r"iz\1"), (r"our$", "or"), (r"ours$", "ors")]


def normal(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))
    out: list[str] = []
    for w in words:
        w = NUMBERS.get(w, w)
        for pattern, repl in SPELLING:
            if len(w) > 5:
                w = re.sub(pattern, repl, w)
        if w.isdigit() and out and out[-1].isdigit() and out[-1].endswith("0") and len(w) == 1:
            out[-1] = str(int(out[-1]) + int(w))  # "twenty five" -> 25
            continue
        out.append(w)
    return out


def distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[len(b)]


def maxrss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def child_stt(home: Path, notes: Path) -> None:
    from hermes.voice import audio
    from hermes.voice.stt_local import LocalWhisper

    stt = LocalWhisper(None, home / "cache" / "voice" / "whisper-base")
    started = time.perf_counter()
    stt.load()
    load = time.perf_counter() - started
    results = []
    paths = sorted(notes.glob("*.ogg"))
    for path in paths:
        times = []
        for _ in range(5 if path == paths[-1] else 1):  # the 10 s note: a median of 5
            started = time.perf_counter()
            text = stt.transcribe(path, None).text
            times.append(time.perf_counter() - started)
        results.append(
            {
                "name": path.stem,
                "text": text,
                "seconds": statistics.median(times),
                "duration": audio.duration(path),
            }
        )
    print(json.dumps({"load": load, "results": results, "maxrss": maxrss_mib()}))


def child_tts(out: Path) -> None:
    from hermes.voice import audio
    from hermes.voice.speakable import speakable
    from hermes.voice.tts_espeak import Espeak

    tts = Espeak(None, 1.0, 60)
    rows = []
    for n, sentence in enumerate([*SENTENCES, LONG]):
        target = out / f"say{n:02d}.ogg"
        started = time.perf_counter()
        made = tts.synthesize(speakable(sentence), target)
        espeak_rss = maxrss_mib(resource.RUSAGE_CHILDREN)
        audio.to_ogg_opus(made, target)
        made.unlink()
        rows.append({"seconds": time.perf_counter() - started, "duration": audio.duration(target)})
    print(json.dumps({"rows": rows, "espeak_rss": espeak_rss, "self_rss": maxrss_mib()}))


def run_child(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    data: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def main() -> int:
    from hermes.voice import audio
    from hermes.voice.stt_local import packaged_model

    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        root = Path(tmp)
        home, notes, said = root / "home", root / "notes", root / "said"
        for d in (home, notes, said):
            d.mkdir()
        for n, sentence in enumerate([*SENTENCES, LONG]):
            wav = notes / f"s{n:02d}.wav"
            subprocess.run(
                ["espeak-ng", "-v", "en", "-s", "140", "-w", str(wav), sentence], check=True
            )
            audio.to_ogg_opus(wav, notes / f"s{n:02d}.ogg")
            wav.unlink()
        started = time.perf_counter()
        packaged_model(home / "cache" / "voice" / "whisper-base")
        joined = time.perf_counter() - started
        stt = run_child("--stt", str(home), str(notes))
        tts = run_child("--tts", str(said))

    results = stt["results"]
    assert isinstance(results, list)
    errors = words = 0
    print("speech to text: local (faster-whisper, Whisper base int8, beam 5, 2 threads)")
    for row, sentence in zip(results[:20], SENTENCES, strict=True):
        ref, hyp = normal(sentence), normal(row["text"])
        errors += distance(ref, hyp)
        words += len(ref)
        mark = "  " if ref == hyp else "x "
        print(f"  {mark}{row['seconds']:5.2f}s / {row['duration']:4.1f}s  {row['text']}")
    long = results[20]
    rtf = [r["seconds"] / r["duration"] for r in results[:20]]
    print(
        f"WER on 20 sentences: {100 * errors / words:.1f} % ({errors} errors / {words} words)"
        "  target <= 15 %"
    )
    print(
        f"transcription RTF: median {statistics.median(rtf):.2f}, "
        f"{long['duration']:.1f} s note in {long['seconds']:.2f} s (median of 5) "
        f"(RTF {long['seconds'] / long['duration']:.2f})  target < 3 s"
    )
    print(f"  long note heard: {long['text']}")
    print(
        f"model: first join + sha256 check {joined:.2f} s; load {stt['load']:.2f} s; "
        f"peak RSS {stt['maxrss']:.0f} MiB"
    )
    rows = tts["rows"]
    assert isinstance(rows, list)
    srtf = [r["seconds"] / r["duration"] for r in rows]
    print(
        f"synthesis (espeak-ng + ffmpeg to OGG/Opus): median RTF {statistics.median(srtf):.3f}, "
        f"{rows[-1]['duration']:.1f} s of speech in {rows[-1]['seconds']:.2f} s; "
        f"peak RSS espeak-ng {tts['espeak_rss']:.0f} MiB (Python side {tts['self_rss']:.0f} MiB)"
    )
    return 0 if 100 * errors / words <= 15 and long["seconds"] < 3 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if len(sys.argv) > 1 and sys.argv[1] == "--stt":
        child_stt(Path(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--tts":
        child_tts(Path(sys.argv[2]))
    else:
        sys.exit(main())
