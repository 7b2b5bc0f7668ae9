"""A loopback web for the web tools: a SearXNG instance, the Brave Search API and
some pages, written from their public documentation.

- SearXNG `GET /search?q=...&format=json` -> `{"query", "number_of_results", "results":
  [{"title", "url", "content", "engine", ...}], "answers", "suggestions", ...}`; with
  `json_enabled = False` it answers 403, as an instance whose settings.yml lacks the
  json format does.
- Brave `GET /res/v1/web/search?q=...&count=N` with `X-Subscription-Token: KEY` ->
  `{"type": "search", "query": {...}, "web": {"type": "search", "results": [{"title",
  "url", "description" (with <strong> highlights), ...}]}}`; a wrong key gets 422
  SUBSCRIPTION_TOKEN_INVALID; `brave_limited = True` answers 429 with Brave's
  X-RateLimit-* headers.
- Pages: `add_page(name, body, content_type)` serves `GET /pages/NAME`;
  `/redirect/NAME` answers 302 to it; `stall_page(name)` sends the headers and a first
  chunk, then nothing until `recover()` (a slow page, without sleeping).
Failures as in FakePlatform: `fail("searxng" | "brave" | "page", 500, times=1)`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tests.fakes.platform_base import Call, FakePlatform, Reply

BRAVE_KEY = "brave-test-key-0123456789"


class FakeWeb(FakePlatform):
    def __init__(self) -> None:
        self.key = BRAVE_KEY
        self.json_enabled = True
        self.brave_limited = False
        self.index: list[dict[str, str]] = []  # {"title", "url", "text"}: what searches find
        self.pages: dict[str, tuple[bytes, str]] = {}  # name -> (body, content type)
        self.stalled: set[str] = set()
        self._release: asyncio.Event | None = None
        super().__init__()

    def routes(self) -> None:
        self.http("GET", "/search", self.searxng, name="searxng")
        self.http("GET", "/res/v1/web/search", self.brave, name="brave")
        self.http("GET", "/pages/{page}", self.page, name="page")
        self.http("GET", "/redirect/{page}", self.redirect, name="redirect")

    # -- for tests ----------------------------------------------------------------------

    def add_result(self, title: str, url: str, text: str) -> None:
        with self.cond:
            self.index.append({"title": title, "url": url, "text": text})

    def add_page(self, name: str, body: str | bytes, content_type: str = "text/html") -> str:
        """Serve BODY at /pages/NAME; its URL."""
        data = body.encode() if isinstance(body, str) else body
        with self.cond:
            self.pages[name] = (data, content_type)
        return f"{self.base_url}/pages/{name}"

    def stall_page(self, name: str) -> None:
        with self.cond:
            self.stalled.add(name)
            self._release = self._release or asyncio.Event()

    def recover(self) -> None:
        with self.cond:
            release, self._release = self._release, None
            self.stalled.clear()
        if release is not None:
            self.run(_set(release))
        super().recover()

    def close(self) -> None:
        if self._loop is not None:
            self.recover()  # stalled handlers end before the server stops
        super().close()

    # -- routes -------------------------------------------------------------------------

    def _found(self, query: str) -> list[dict[str, str]]:
        words = query.lower().split()
        with self.cond:
            return [
                r for r in self.index if any(w in (r["title"] + r["text"]).lower() for w in words)
            ]

    def searxng(self, call: Call) -> Any:
        if call.data.get("format") != "json" or not self.json_enabled:
            return Reply(403, b"403 Forbidden", {"Content-Type": "text/html"})
        query = str(call.data.get("q", ""))
        found = self._found(query)
        results = [
            {
                "title": r["title"],
                "url": r["url"],
                "content": r["text"],
                "engine": "duckduckgo",
                "engines": ["duckduckgo", "wikipedia"],
                "parsed_url": ["https", r["url"].split("/")[2], "/", "", "", ""],
                "template": "default.html",
                "positions": [n],
                "score": 1.0 / n,
                "category": "general",
            }
            for n, r in enumerate(found, 1)
        ]
        return {
            "query": query,
            "number_of_results": len(results),
            "results": results,
            "answers": [],
            "corrections": [],
            "infoboxes": [],
            "suggestions": [],
            "unresponsive_engines": [],
        }

    def brave(self, call: Call) -> Any:
        if call.headers.get("X-Subscription-Token") != self.key:
            error = {
                "id": "00000000-0000-0000-0000-000000000000",
                "status": 422,
                "code": "SUBSCRIPTION_TOKEN_INVALID",
                "detail": "The provided subscription token is invalid.",
            }
            return Reply(422, {"type": "ErrorResponse", "error": error, "time": 0})
        if self.brave_limited:
            headers = {
                "X-RateLimit-Limit": "1, 15000",
                "X-RateLimit-Policy": "1;w=1, 15000;w=2592000",
                "X-RateLimit-Remaining": "0, 14000",
                "X-RateLimit-Reset": "1, 1419704",
            }
            error = {"status": 429, "code": "RATE_LIMITED", "detail": "Request rate limited."}
            return Reply(429, {"type": "ErrorResponse", "error": error}, headers)
        query = str(call.data.get("q", ""))
        count = int(call.data.get("count", 20))
        results = [
            {
                "type": "search_result",
                "title": r["title"],
                "url": r["url"],
                "description": _highlight(r["text"], query),
                "is_source_local": False,
                "language": "en",
                "family_friendly": True,
                "profile": {"name": r["url"].split("/")[2], "url": r["url"]},
            }
            for r in self._found(query)[:count]
        ]
        return {
            "type": "search",
            "query": {"original": query, "more_results_available": False},
            "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": False}]},
            "web": {"type": "search", "results": results, "family_friendly": True},
        }

    async def page(self, call: Call) -> web.StreamResponse:
        name = call.params["page"]
        with self.cond:
            found = self.pages.get(name)
            stalled, release = name in self.stalled, self._release
        if found is None:
            return web.Response(status=404, text="404: Not Found")
        body, content_type = found
        if not stalled or release is None:
            return web.Response(body=body, headers={"Content-Type": content_type})
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(call.request)
        await response.write(body[:100])
        await release.wait()
        return response

    def redirect(self, call: Call) -> web.Response:
        raise web.HTTPFound(f"/pages/{call.params['page']}")


def _highlight(text: str, query: str) -> str:
    """Brave marks the query's words in descriptions with <strong>."""
    for word in query.split():
        text = text.replace(word, f"<strong>{word}</strong>")
    return text


async def _set(event: asyncio.Event) -> None:
    event.set()
