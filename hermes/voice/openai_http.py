"""What the two OpenAI-compatible providers share: the URL, the key, the errors."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from hermes.voice.base import VoiceError

DEFAULT_URL = "https://api.openai.com/v1"


def endpoint(base_url: str | None, path: str) -> str:
    return f"{(base_url or DEFAULT_URL).rstrip('/')}/{path}"


def headers(
    base_url: str | None, key_env: str | None, env: Mapping[str, str], key: str
) -> dict[str, str]:
    """The Authorization header from the key in KEY_ENV (default OPENAI_API_KEY).
    A server at a base_url of its own (a local whisper server) may need none."""
    var = key_env or "OPENAI_API_KEY"
    value = env.get(var, "").strip()
    if value:
        return {"Authorization": f"Bearer {value}"}
    if base_url and not key_env:
        return {}
    raise VoiceError(
        f"{var} is not set: put it in the profile's .env (or set voice.{key}.api_key_env)"
    )


def key_problem(
    base_url: str | None, key_env: str | None, env: Mapping[str, str], key: str
) -> str | None:
    try:
        headers(base_url, key_env, env, key)
    except VoiceError as exc:
        return str(exc)
    return None


def post(url: str, what: str, timeout: float, **kw: object) -> httpx.Response:
    """POST to URL; any failure is a one-line VoiceError naming WHAT and the fix."""
    try:
        with httpx.Client(timeout=timeout) as client:
            reply = client.post(url, **kw)  # type: ignore[arg-type]
    except httpx.TimeoutException:
        raise VoiceError(
            f"{what} at {url} timed out after {timeout:.0f}s: try again later"
        ) from None
    except httpx.HTTPError as exc:
        raise VoiceError(f"cannot reach {what} at {url}: {exc or type(exc).__name__}") from None
    if reply.status_code in (401, 403):
        raise VoiceError(f"{what} at {url} refused the key ({reply.status_code}): check it")
    if reply.status_code >= 400:
        detail = " ".join(reply.text.split())[:160]
        raise VoiceError(
            f"{what} at {url} answered {reply.status_code}: {detail or reply.reason_phrase}"
            " (check voice settings, or try again later)"
        )
    return reply
