"""`hermes voice transcribe | say | status` as a real subprocess on a profile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import run_hermes
from tests.fakes.openai_audio import FakeOpenAIAudio
from tests.voice_helpers import probe, spoken, words_right


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home for the module: the packaged model is joined into its cache once."""
    return tmp_path_factory.mktemp("voice-cli") / "home"


def codec(path: Path) -> str:
    return str(probe(path)["codec_name"])


def test_say_then_transcribe(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "hello.ogg"
    said = run_hermes(home, "voice", "say", "The meeting is moved to next week.", "-o", str(out))
    assert said.returncode == 0, said.stderr
    assert codec(out) == "opus" and str(out) in said.stdout
    heard = run_hermes(home, "voice", "transcribe", str(out))
    assert heard.returncode == 0, heard.stderr
    assert words_right("The meeting is moved to next week.", heard.stdout) >= 0.8, heard.stdout
    assert heard.stdout.count("\n") == 1


def test_say_writes_wav_and_mp3_by_suffix(home: Path, tmp_path: Path) -> None:
    for name, want in (("a.wav", "pcm_s16le"), ("a.mp3", "mp3")):
        done = run_hermes(home, "voice", "say", "Hello there.", "-o", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
        assert codec(tmp_path / name) == want
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp3", "a.wav"]


def test_transcribe_failures_exit_1_with_one_line(home: Path, tmp_path: Path) -> None:
    missing = run_hermes(home, "voice", "transcribe", str(tmp_path / "nope.ogg"))
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.strip().splitlines() == [f"hermes: no such file: {tmp_path}/nope.ogg"]
    nothing = run_hermes(home, "voice", "say", "🎉🎉", "-o", str(tmp_path / "x.ogg"))
    assert nothing.returncode == 1 and len(nothing.stderr.strip().splitlines()) == 1
    assert "nothing to say" in nothing.stderr


def test_status_names_the_providers(home: Path) -> None:
    done = run_hermes(home, "voice", "status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["ROLE", "PROVIDER", "OFFLINE", "STATE"]
    assert "local (faster-whisper, Whisper base, packaged)" in lines[1]
    assert lines[1].split()[-2:] == ["yes", "ready"]
    assert "local (espeak-ng" in lines[2] and lines[2].split()[-2:] == ["yes", "ready"]


@pytest.fixture
def fake() -> Iterator[FakeOpenAIAudio]:
    with FakeOpenAIAudio() as server:
        yield server


def test_openai_server_from_the_profile(fake: FakeOpenAIAudio, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(
        f"voice:\n  stt:\n    provider: openai\n    base_url: {fake.url}\n"
        "    api_key_env: MY_STT_KEY\n"
    )
    note = spoken("hello", tmp_path / "n.ogg")
    status = run_hermes(home, "voice", "status", clean=True)
    assert status.returncode == 1
    assert "openai (" in status.stdout and "MY_STT_KEY is not set" in status.stdout
    (home / ".env").write_text("MY_STT_KEY=sk-abc\n")
    fake.transcript = "words from the server"
    done = run_hermes(home, "voice", "transcribe", str(note), clean=True)
    assert (done.returncode, done.stdout) == (0, "words from the server\n"), done.stderr
    assert fake.calls_to("transcriptions")[0].headers["Authorization"] == "Bearer sk-abc"
    fake.fail("transcriptions", 500)
    failed = run_hermes(home, "voice", "transcribe", str(note), clean=True)
    assert failed.returncode == 1 and failed.stdout == ""
    [line] = failed.stderr.strip().splitlines()
    assert "answered 500" in line
