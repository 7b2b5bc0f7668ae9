"""Suite-wide safety: nothing a test runs may touch the real ~/.hermes."""

from __future__ import annotations

from collections.abc import Iterator
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
