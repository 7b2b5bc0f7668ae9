"""One tiny live check of a configured model server, for `hermes doctor` and `hermes setup`.

It asks the server for its model list (GET /models, with the key), which
costs no tokens, and turns the answer into one line with its fix: the key is
rejected (401/403), nothing answers at the URL (refused, timed out, 404), or
the server does not offer the configured model. OpenRouter lists its models
without a key, so there the key is checked on its own (GET /key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from hermes.errors import HermesError
from hermes.providers.http import error_text
from hermes.providers.http_provider import HTTPProvider
from hermes.settings import ModelSettings

Level = Literal["ok", "warn", "error"]
SET_URL = "`hermes config set model.base_url URL` (or run `hermes setup`)"


@dataclass(frozen=True)
class Probe:
    level: Level
    text: str
    fix: str = ""


def probe_settings(
    model: ModelSettings, env: Mapping[str, str], home: Path, *, timeout: float = 10.0
) -> Probe | None:
    """Probe the server MODEL selects (blocking; call outside an event loop).
    None for the offline model, a missing key, and settings that cannot build
    a provider: the caller reports those without a request."""
    import asyncio

    from hermes.providers.resolve import DEFAULTS, pick_provider, resolve_provider

    name = pick_provider(model, env)
    if name == "local":
        return None
    try:
        provider = resolve_provider(model, env, home=home)
    except HermesError:
        return None
    if not isinstance(provider, HTTPProvider) or provider.missing_key:
        return None
    default = model.base_url in (None, DEFAULTS[name].base_url)
    return asyncio.run(probe(provider, home / ".env", url_is_default=default, seconds=timeout))


async def probe(
    provider: HTTPProvider, env_file: Path, *, url_is_default: bool, seconds: float = 10.0
) -> Probe:
    """Ask PROVIDER's server once whether its key, URL and model work.

    `env_file` is where the key belongs (named in the fix); `url_is_default`:
    the URL is the provider's own (a failure is then the network's, not a typo).
    """
    if provider.missing_key:
        return Probe("error", provider.missing_key)
    headers = {"user-agent": "hermes-agent", **provider.request_headers()}
    async with httpx.AsyncClient(timeout=seconds, headers=headers) as client:
        try:
            response = await client.get(provider.models_url)
            if response.status_code < 400 and provider.name == "openrouter":
                key_check = await client.get(f"{provider.base_url}/key")
                if key_check.status_code in (401, 403):
                    response = key_check
        except httpx.HTTPError as exc:
            fix = (
                "check this machine's network and try again"
                if url_is_default
                else f"start the server, or set its URL: {SET_URL}"
            )
            return Probe("error", _unreachable(provider, exc, seconds), fix)
    return _judge(provider, response, env_file)


def _unreachable(provider: HTTPProvider, exc: httpx.HTTPError, timeout: float) -> str:
    detail = str(exc) or type(exc).__name__
    where = provider.label
    if provider.base_url not in where:
        where += f" at {provider.base_url}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect to {where} (no answer within {timeout:g}s)"
    if isinstance(exc, httpx.TimeoutException):
        return f"{provider.label} did not answer within {timeout:g}s"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {where} ({detail})"
    return f"cannot reach {where} ({detail})"


def _judge(provider: HTTPProvider, response: httpx.Response, env_file: Path) -> Probe:
    status = response.status_code
    message = error_text(response.content, fallback=response.reason_phrase)
    label = provider.label
    if status in (401, 403):
        variable = provider.key_env or "model.api_key_env"
        return Probe(
            "error",
            f"{label} rejected the key in {variable} ({status}: {message})",
            f"put the right key in {env_file} as {variable}=... or run `hermes setup`",
        )
    if status == 404:
        return Probe(
            "error",
            f"no model API at {provider.base_url} (GET {response.request.url.path}: 404)",
            f"an OpenAI-compatible URL usually ends in /v1: {SET_URL}",
        )
    if status >= 400:
        return Probe(
            "warn",
            f"{label} answered the model check with HTTP {status} ({message})",
            "try `hermes -z hello`; if that fails too, see logs/errors.log",
        )
    ids = model_ids(response)
    if ids is None or provider.model in ids:
        return Probe("ok", f"{label} answers; model {provider.model} is available")
    offered = ", ".join(sorted(ids)[:3]) + (", ..." if len(ids) > 3 else "")
    where = f" (it offers {offered})"
    return Probe(
        # a custom server (llama.cpp, vLLM, Ollama) may serve names it does not list
        "warn" if provider.name == "custom" else "error",
        f"{label} does not list model '{provider.model}'{where}",
        "choose one it offers: `hermes config set model.model NAME` (or run `hermes setup`)",
    )


def model_ids(response: httpx.Response) -> set[str] | None:
    """The model ids of a GET /models answer; None when it is not a readable list."""
    try:
        data: Any = response.json()
    except ValueError:
        return None
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return None
    ids = {str(item["id"]) for item in items if isinstance(item, dict) and "id" in item}
    return ids or None  # an empty list says nothing about the model
