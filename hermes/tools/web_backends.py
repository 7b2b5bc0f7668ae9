"""The search backends behind web_search: one class per backend, chosen by
`web.search.backend` (hermes/settings.py WebSearchSettings).

- searxng: a SearXNG instance's JSON API, `GET URL/search?q=...&format=json`, answering
  `{"results": [{"title", "url", "content"}, ...]}` (self-hosted, no key; the instance's
  settings.yml must list `json` under `search.formats`, else it answers 403).
- brave: the Brave Search API, `GET URL/res/v1/web/search?q=...&count=N` with the key in
  the `X-Subscription-Token` header, answering `{"web": {"results": [{"title", "url",
  "description"}, ...]}}` (descriptions carry <strong> highlights, stripped here).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from hermes.errors import ToolError
from hermes.settings import WebSearchSettings

BRAVE_URL = "https://api.search.brave.com"
BRAVE_KEY_ENV = "BRAVE_API_KEY"
TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Hit:
    title: str
    url: str
    snippet: str


class SearchBackend(Protocol):
    name: str

    async def search(self, client: httpx.AsyncClient, query: str, count: int) -> list[Hit]: ...


def plain(text: Any) -> str:
    """A snippet as one line of text: tags dropped, entities decoded, spaces squeezed."""
    return " ".join(html.unescape(TAG.sub("", str(text or ""))).split())


def problem(what: str, answer: httpx.Response) -> str:
    """One line for a refused request: the status, and for a 429 when to retry
    (Retry-After, or Brave's X-RateLimit-Reset: "SECONDS_PER_WINDOW, ...")."""
    line = f"{what} answered HTTP {answer.status_code} {answer.reason_phrase}".rstrip()
    if answer.status_code == 429:
        wait = answer.headers.get("Retry-After") or answer.headers.get("X-RateLimit-Reset", "")
        wait = wait.split(",")[0].strip()
        line += f" (rate limited{f'; retry after {wait} s' if wait else ''})"
    return line


async def get_json(
    client: httpx.AsyncClient,
    what: str,
    url: str,
    params: dict[str, Any],
    headers: dict[str, str],
    hints: dict[int, str] | None = None,
) -> Any:
    """GET URL's JSON; a one-line ToolError (with HINTS[status] added) when it fails."""
    try:
        answer = await client.get(url, params=params, headers=headers)
    except httpx.TimeoutException:
        raise ToolError(f"{what} did not answer within {client.timeout.read:g} s") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"could not reach {what} at {url} ({type(exc).__name__})") from None
    if answer.status_code >= 400:
        hint = (hints or {}).get(answer.status_code)
        raise ToolError(problem(what, answer) + (f": {hint}" if hint else ""))
    try:
        return answer.json()
    except ValueError:
        raise ToolError(f"{what} at {url} did not answer with JSON") from None


class SearXNG:
    name = "searxng"

    def __init__(self, settings: WebSearchSettings) -> None:
        if not settings.url:
            raise ToolError("web.search.url is not set: give your SearXNG instance's address")
        self.base = settings.url.rstrip("/")

    async def search(self, client: httpx.AsyncClient, query: str, count: int) -> list[Hit]:
        url = f"{self.base}/search"
        hints = {403: "allow the json format in its settings.yml (search: formats: [html, json])"}
        data = await get_json(client, "SearXNG", url, {"q": query, "format": "json"}, {}, hints)
        found = data.get("results") if isinstance(data, dict) else None
        rows = [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []
        return [
            Hit(plain(r.get("title")), str(r.get("url") or ""), plain(r.get("content")))
            for r in rows[:count]
        ]


class Brave:
    name = "brave"

    def __init__(self, settings: WebSearchSettings, env: Mapping[str, str]) -> None:
        self.var = settings.api_key_env or BRAVE_KEY_ENV
        self.key = env.get(self.var, "").strip()
        if not self.key:
            raise ToolError(f"the Brave Search API key is missing: set {self.var} in the .env file")
        self.base = (settings.url or BRAVE_URL).rstrip("/")

    async def search(self, client: httpx.AsyncClient, query: str, count: int) -> list[Hit]:
        headers = {"Accept": "application/json", "X-Subscription-Token": self.key}
        url = f"{self.base}/res/v1/web/search"
        refused = f"it refused the key in {self.var}; check it at api-dashboard.search.brave.com"
        hints = dict.fromkeys((401, 403, 422), refused)
        params = {"q": query, "count": count}
        data = await get_json(client, "Brave Search", url, params, headers, hints)
        web = data.get("web") if isinstance(data, dict) else None
        found = web.get("results") if isinstance(web, dict) else None
        rows = [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []
        return [
            Hit(plain(r.get("title")), str(r.get("url") or ""), plain(r.get("description")))
            for r in rows[:count]
        ]


def backend(settings: WebSearchSettings, env: Mapping[str, str]) -> SearchBackend:
    """The configured backend (web.search.backend must be set)."""
    if settings.backend == "brave":
        return Brave(settings, env)
    if settings.backend == "searxng":
        return SearXNG(settings)
    raise ToolError("no search backend is configured: set web.search.backend in config.yaml")
