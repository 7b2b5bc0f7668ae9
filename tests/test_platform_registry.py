"""A platform is one module: a made-up platform (tests/fakes/tiny_platform.py) added
to `hermes.platforms.MODULES` and nowhere else gets its config.yaml section
validated, its credential claimed, its flat routes routed, its adapter built by
the gateway with a state.db cursor, its webhook route served, its target accepted
and its replies split by its own length unit."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from hermes import platforms
from hermes.app import build_adapters
from hermes.config import get_dotted, load_settings, settings_to_dict
from hermes.config_edit import set_value
from hermes.errors import ConfigError
from hermes.gateway.routing import Routes
from hermes.gateway.targets import TargetError, check_target, configured
from hermes.gateway.tokens import TokenConflict, claim_tokens, shared_tokens
from hermes.home import load_profile
from hermes.platforms.spec import section
from hermes.server.server import HttpServer, build_app
from hermes.store import Store, gateway_ops
from hermes.testing import ScriptedModel
from tests.fakes import tiny_platform
from tests.fakes.tiny_platform import PLATFORM, TinyAdapter, TinySettings
from tests.gateway_helpers import make_home, running_gateway
from tests.tools_helpers import wait_until


@pytest.fixture(autouse=True)
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one line a new platform adds to Hermes."""
    monkeypatch.setitem(platforms.MODULES, "tiny", tiny_platform.__name__)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value).replace(str(path), "FILE")


def test_its_section_is_validated_like_any_other(tmp_path: Path) -> None:
    path = write(tmp_path, "model:\n  model: m\ntiny:\n  greeting: yo\n  rooms: {'r1:t': career}\n")
    settings = load_settings(path)
    assert section(settings, PLATFORM) == TinySettings({"r1:t": "career"}, "yo", False)
    assert get_dotted(settings, "tiny.greeting") == "yo"
    assert settings_to_dict(settings)["tiny"]["rooms"] == {"r1:t": "career"}
    assert section(load_settings(write(tmp_path, "")), PLATFORM) == TinySettings()  # defaults

    assert error_of(write(tmp_path, "tiny:\n  gretting: yo\n")) == (
        "FILE line 2: unknown key 'tiny.gretting' (did you mean 'tiny.greeting'?)"
    )
    assert error_of(write(tmp_path, "tiny:\n  loud: [1]\n")) == (
        "FILE line 2: tiny.loud: expected true or false, got a list"
    )
    assert error_of(write(tmp_path, "tiny:\n  rooms:\n    r1: Bad Name\n")).startswith(
        "FILE line 3: tiny.rooms.r1: invalid profile name 'Bad Name'"
    )
    assert error_of(write(tmp_path, "tinny:\n  loud: true\n")) == (
        "FILE line 1: unknown key 'tinny' (did you mean 'tiny'?)"
    )
    # the web chat has no section: `web:` is the web tools' (web_search, web_extract);
    # `platforms` is not a key of the file
    assert "unknown key 'web.x' (valid keys under web: search," in error_of(
        write(tmp_path, "web:\n  x: 1\n")
    )
    assert "unknown key 'platforms'" in error_of(write(tmp_path, "platforms: {}\n"))

    path = write(tmp_path, "# mine\n")
    assert set_value(path, "tiny.loud", "true") is True
    assert path.read_text() == "# mine\n\ntiny:\n  loud: true\n"
    with pytest.raises(ConfigError, match=r"tiny\.lound"):
        set_value(path, "tiny.lound", "true")


def test_its_credential_takes_part_in_the_token_check(tmp_path: Path) -> None:
    env = {"TINY_TOKEN": "t-1"}
    with claim_tokens(tmp_path, "coder", env):
        refused = pytest.raises(TokenConflict, match=r"the Tiny token \(TINY_TOKEN\) .* \"coder\"")
        with refused, claim_tokens(tmp_path, "writer", env):
            pass
    make_home(tmp_path / "profiles" / "writer", env=env)
    found = shared_tokens(tmp_path, tmp_path, env)
    assert [(c.var, name) for c, name, _ in found] == [("TINY_TOKEN", "writer")]


def test_its_flat_routes_route(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny:\n  rooms:\n    'r1:t': career\n    r2: research\n")
    routes = Routes.from_settings(load_settings(path), "default")
    assert routes.profile_for("tiny", "r1", "t") == "career"
    assert routes.profile_for("tiny", "r1", None) is None
    assert routes.profile_for("tiny", "r2", "any") == "research"
    assert routes.profile_for("telegram", "r2", None) is None

    clash = "tiny:\n  rooms: {r2: research}\ngateway:\n  profile_routes: {tiny: {r2: career}}\n"
    with pytest.raises(Exception, match=r"tiny\.rooms\.r2 routes to 'research' but"):
        Routes.from_settings(load_settings(write(tmp_path, clash)), "default")


def test_its_target_is_known_and_says_how_to_configure_it() -> None:
    assert "tiny" not in configured({})
    with pytest.raises(TargetError, match="tiny is not configured: set TINY_TOKEN"):
        check_target("tiny:r1", configured({}))
    assert check_target("tiny:r1", configured({"TINY_TOKEN": "x"})).platform == "tiny"


async def test_the_gateway_builds_it_serves_its_route_and_splits_by_its_unit(
    tmp_path: Path, model: ScriptedModel
) -> None:
    home = make_home(tmp_path / "home", model, {"tiny": {"greeting": "yo"}}, {"TINY_TOKEN": "t1"})
    profile = load_profile(env={"HERMES_HOME": str(home), "HOME": str(tmp_path)})
    async with await Store.open(tmp_path / "built.db") as store:
        names = [a.name for a in build_adapters(profile, store)]
        assert names == [p.name for p in platforms.every() if p.configured(profile.env)]
        assert "tiny" in names and "web" in names
    adapter = next(a for a in build_adapters(profile) if isinstance(a, TinyAdapter))
    assert adapter.settings.greeting == "yo" and adapter.cursor is None  # no store: no cursor

    reply = "é" * 50  # 50 characters, 100 UTF-8 bytes: 3 messages of at most 40 bytes
    model.reply(reply)
    store = await Store.open(profile.db_path)
    adapters = build_adapters(profile, store)
    tiny = next(a for a in adapters if isinstance(a, TinyAdapter))
    async with running_gateway(home, adapters, env={"HOME": str(tmp_path)}) as gw:
        server = HttpServer(build_app(gw), "127.0.0.1", 0)
        port = await server.start()
        try:
            await wait_until(lambda: tiny.sink is not None)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                body = {"room": "r1", "user": "u1", "text": "hi", "id": "e-7"}
                answer = await client.post("/webhooks/tiny/hook", json=body)  # no key
                assert answer.json() == {"ok": True}
                refused = await client.post("/api/hermes/send", json={})
                assert refused.status_code == 401  # the rest still needs the key
            await wait_until(lambda: "".join(m.text for m in tiny.sent) == reply)
        finally:
            await server.stop()
    assert len(tiny.sent) == 3 and all(len(m.text.encode()) <= 40 for m in tiny.sent)
    assert await store.run(gateway_ops.kv_get, "tiny.place.t1") == "e-7"  # the cursor
    await store.close()
