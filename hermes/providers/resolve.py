"""Pick and build the model provider (SPEC §1, §4) and parse `/model` overrides.

Rules: model.provider if set; else `custom` if model.base_url is set; else the
first provider whose key is in the environment (OPENROUTER_API_KEY,
OPENAI_API_KEY, ANTHROPIC_API_KEY, NOUS_API_KEY); else the embedded `local`
model. Provider modules (aiohttp, llama.cpp) are imported only when one is built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast, get_args

from hermes.errors import HermesError
from hermes.settings import ModelSettings, ProviderName

if TYPE_CHECKING:
    from hermes.providers.base import Provider
    from hermes.providers.http import Backoff

PROVIDERS: tuple[str, ...] = get_args(ProviderName)


@dataclass(frozen=True)
class ProviderDefaults:
    base_url: str | None
    model: str
    key_env: str | None  # None: no key needed
    context_window: int


DEFAULTS: dict[str, ProviderDefaults] = {
    "openrouter": ProviderDefaults(
        "https://openrouter.ai/api/v1", "anthropic/claude-sonnet-4", "OPENROUTER_API_KEY", 128_000
    ),
    "openai": ProviderDefaults(
        "https://api.openai.com/v1", "gpt-4.1-mini", "OPENAI_API_KEY", 128_000
    ),
    "anthropic": ProviderDefaults(
        "https://api.anthropic.com", "claude-sonnet-4-20250514", "ANTHROPIC_API_KEY", 200_000
    ),
    "nous": ProviderDefaults(
        "https://inference-api.nousresearch.com/v1", "Hermes-4-70B", "NOUS_API_KEY", 128_000
    ),
    # any OpenAI-compatible server; local servers often have small windows
    "custom": ProviderDefaults(None, "default", None, 32_768),
    "local": ProviderDefaults(None, "SmolLM2-135M-Instruct", None, 2048),
}

KEY_ORDER: tuple[tuple[str, str], ...] = (
    ("OPENROUTER_API_KEY", "openrouter"),
    ("OPENAI_API_KEY", "openai"),
    ("ANTHROPIC_API_KEY", "anthropic"),
    ("NOUS_API_KEY", "nous"),
)


def pick_provider(model: ModelSettings, env: Mapping[str, str]) -> str:
    """Which provider the settings and environment select (SPEC §1)."""
    if model.provider:
        return model.provider
    if model.base_url:
        return "custom"
    for var, name in KEY_ORDER:
        if env.get(var, "").strip():
            return name
    return "local"


def _unknown_provider(prefix: str, text: str) -> HermesError:
    return HermesError(
        f"unknown provider '{prefix}' in '{text}': use one of {', '.join(PROVIDERS)} "
        "(e.g. /model openrouter:openai/gpt-5 or /model anthropic:claude-sonnet-4-20250514)"
    )


def parse_model_override(text: str, current: str) -> tuple[str, str | None]:
    """(provider, model or None for its default) from what the user typed after /model.

    `NAME` keeps the `current` provider; `PROVIDER:NAME` or `PROVIDER` switches.
    A colon is part of the model name when the prefix holds a slash
    (OpenRouter's `meta-llama/x:free`) or the current provider is custom
    (Ollama-style `llama3:8b`).
    """
    text = text.strip()
    if not text:
        raise HermesError("/model needs a name: /model NAME or /model PROVIDER:NAME")
    if text in PROVIDERS:
        return text, None
    prefix, colon, rest = text.partition(":")
    if colon:
        if prefix in PROVIDERS:
            return prefix, rest.strip() or None
        if "/" not in prefix and current != "custom":
            raise _unknown_provider(prefix, text)
    return current, text


def apply_override(
    model: ModelSettings, env: Mapping[str, str], text: str, *, current: str | None = None
) -> ModelSettings:
    """The model settings after `/model TEXT` (the settings object is not changed).

    `current`: the provider in use now, kept by a bare NAME (default: the one
    the settings pick).
    """
    configured = pick_provider(model, env)
    provider, name = parse_model_override(text, current or configured)
    if provider == "local" and name not in (None, DEFAULTS["local"].model):
        raise HermesError(
            f"the local provider has one model ({DEFAULTS['local'].model}): "
            f"to use '{name}' name a provider, e.g. /model openrouter:{name}"
        )
    if provider == configured:
        return dataclasses.replace(model, provider=cast(ProviderName, provider), model=name)
    return ModelSettings(
        provider=cast(ProviderName, provider),
        model=name,
        base_url=model.base_url if provider == "custom" else None,
        timeout=model.timeout,
        max_retries=model.max_retries,
        max_call_seconds=model.max_call_seconds,
        slow_notice_seconds=model.slow_notice_seconds,
    )


def missing_key(
    model: ModelSettings,
    env: Mapping[str, str],
    override: str,
    *,
    current: str | None = None,
    home: Path | None = None,
) -> str | None:
    """Why `/model OVERRIDE` could not answer (its provider's key is not set), in
    one line naming the variable; None when nothing is missing. Raises
    HermesError for an override that names no model."""
    settings = apply_override(model, env, override, current=current)
    name = pick_provider(settings, env)
    key_env = settings.api_key_env or DEFAULTS[name].key_env
    if key_env is None or env.get(key_env, "").strip():
        return None
    from hermes.providers.http import missing_key_message

    return missing_key_message(name, key_env, home)


def resolve_provider(
    model: ModelSettings,
    env: Mapping[str, str],
    *,
    override: str | None = None,
    current: str | None = None,
    home: Path | None = None,
    backoff: Backoff | None = None,
) -> Provider:
    """Build the provider the settings (and an optional `/model` override) select.

    `override` is what the user typed after /model (NAME or PROVIDER:NAME);
    `current` is the provider a session uses now, which a bare NAME keeps
    (default: the one the settings pick). `env` is the profile's environment
    (shell overlaid with the home's .env); `home` only makes error messages
    name the right .env file. A missing key is reported by the provider's
    first `complete()`, before any request.
    """
    settings = apply_override(model, env, override, current=current) if override else model
    name = pick_provider(settings, env)
    defaults = DEFAULTS[name]
    window = settings.context_window or defaults.context_window
    if name == "local":
        from hermes.providers.local import LocalProvider

        return LocalProvider(n_ctx=window)

    base_url = settings.base_url or defaults.base_url
    if base_url is None:
        raise HermesError(
            "model.provider is custom but model.base_url is not set: "
            "run `hermes config set model.base_url http://127.0.0.1:8000/v1` (your server's URL)"
        )
    key_env = settings.api_key_env or defaults.key_env
    api_key = (env.get(key_env, "").strip() or None) if key_env else None
    missing = None
    if key_env and api_key is None:
        from hermes.providers.http import missing_key_message

        missing = missing_key_message(name, key_env, home)
    model_name = settings.model or defaults.model
    if name == "anthropic":
        from hermes.providers.anthropic import AnthropicProvider

        return AnthropicProvider(
            model=model_name,
            base_url=base_url,
            api_key=api_key,
            key_env=key_env or "ANTHROPIC_API_KEY",
            missing_key=missing,
            context_window=window,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            max_call_seconds=settings.max_call_seconds,
            backoff=backoff,
        )

    from hermes.providers.openai_compat import OpenAICompatProvider

    return OpenAICompatProvider(
        name=name,
        model=model_name,
        base_url=base_url,
        api_key=api_key,
        key_env=key_env,
        missing_key=missing,
        context_window=window,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        max_call_seconds=settings.max_call_seconds,
        backoff=backoff,
        headers={"X-Title": "Hermes"} if name == "openrouter" else None,
    )


def describe(provider: Provider) -> str:
    """One line for /model and /status, e.g. "openrouter · anthropic/claude-sonnet-4"."""
    text = f"{provider.name} · {provider.model}"
    if provider.name == "custom":
        url = getattr(provider, "base_url", None)
        if url:
            text += f" at {url}"
    return text


def configured_model(model: ModelSettings, env: Mapping[str, str]) -> str:
    """The name of the model the settings select (without building a provider)."""
    name = pick_provider(model, env)
    return DEFAULTS[name].model if name == "local" else model.model or DEFAULTS[name].model


def configured_summary(model: ModelSettings, env: Mapping[str, str]) -> str:
    """The model the settings select, in one line without building it, with the
    offline notice when it is the bundled demo model (gateway start-up)."""
    from hermes.providers.describe import with_notice

    name = pick_provider(model, env)
    text = f"{name} · {configured_model(model, env)}"
    url = model.base_url or DEFAULTS[name].base_url
    if name == "custom" and url:
        text += f" at {url}"
    return with_notice(text, name)
