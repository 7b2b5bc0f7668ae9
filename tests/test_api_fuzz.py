"""The HTTP API fuzzed from its OpenAPI document (schemathesis, bounded: 10
cases per operation with a fixed seed) against a real `hermes gateway run`
with the scripted model: no answer may be a server error. The full run is
`bench/api_fuzz.py` (more cases, or a time budget)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "api_fuzz.py"


def test_fuzzing_the_api_gives_no_server_error() -> None:
    pytest.importorskip("schemathesis")
    run = subprocess.run(
        [sys.executable, str(BENCH), "--examples", "10", "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCH.parent,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "5xx answers: 0; errors logged by the HTTP layer: 0" in run.stdout
