"""Suite-wide safety: nothing a test runs may touch the real ~/.hermes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.testing import ScriptedModel


@pytest.fixture(autouse=True, scope="session")
def _isolated_default_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("default-hermes-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HERMES_HOME", str(home))
        for key in ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "NOUS_API_KEY"):
            mp.delenv(key, raising=False)
        # the packaged speech model is joined once per machine (hermes/voice/service.py
        # model_cache), also for tests that give a gateway a HOME of its own
        mp.setenv("XDG_CACHE_HOME", str(Path.home() / ".cache"))
        yield


@pytest.fixture
def model() -> Iterator[ScriptedModel]:
    """A scripted model on loopback (tests queue its answers), stopped after the test."""
    with ScriptedModel() as m:
        yield m


@pytest.fixture(autouse=True)
def _no_leftover_gateways() -> Iterator[None]:
    yield
    import sys

    helpers = sys.modules.get("tests.gateway_helpers")
    if helpers is not None:  # only where gateway processes may have been started
        helpers.kill_leftover_gateways()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real Synapse homeserver for the Matrix tests (tests/synapse_helpers.py)."""
    from tests.synapse_helpers import Synapse

    with Synapse(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A real PostgreSQL server (tests/pg_helpers.py), one per test process."""
    from pg_helpers import PgServer

    server = PgServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: Any) -> str:
    """The URL of a fresh database on the test PostgreSQL server."""
    return str(pg_server.database())


@pytest.fixture(scope="session")
def voice_ogg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real voice note (OGG/Opus, espeak-ng + ffmpeg) for the spoken-reply tests."""
    from tests.voice_helpers import spoken

    return spoken("This is a spoken reply.", tmp_path_factory.mktemp("voice") / "reply.ogg")


@pytest.fixture(scope="session")
def voice_bytes(voice_ogg: Path) -> bytes:
    """The bytes of `voice_ogg` (to compare with what a platform received)."""
    return voice_ogg.read_bytes()


@pytest.fixture(scope="session")
def container_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(CLI, image) for the docker backend's tests: a real engine (podman from
    `scripts/install test`, or docker) and an image made from this machine's own
    programs (tests/container_helpers.py). Skips, with the reason, where no engine
    answers."""
    from tests.container_helpers import engine_env, ensure_image, no_engine_reason, real_engine

    cli = real_engine()
    if cli is None:
        pytest.skip(no_engine_reason())
    cache = tmp_path_factory.mktemp("engine")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in engine_env(cli, cache).items():
            mp.setenv(key, value)  # the CLI's own environment, as the gateway's would be
        yield cli, ensure_image(cli, cache)
