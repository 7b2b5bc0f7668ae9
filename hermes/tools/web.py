"""The agent's web tools: web_search (through the backend `web.search.backend` names,
hermes/tools/web_backends.py) and web_extract (one page's readable text).

web_search is offered only when a backend is configured; web_extract while
`web.extract` is on (the default). web_extract reads at most `web.max_bytes` of a page
within `web.timeout` seconds, turns HTML into its readable text with trafilatura
(Apache-2.0, the optional extra `web`, imported on first use), passes text and JSON
through, refuses other types, and returns at most `web.max_chars` (the result says
what was cut). Unless `web.extract_private` is on it reads only public addresses, at
every redirect too, so a page cannot steer it at this machine or the local network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.settings import WebSettings
from hermes.tools.base import Tool, schema
from hermes.tools.web_backends import backend, problem

USER_AGENT = "Mozilla/5.0 (compatible; Hermes-Agent/0.1; +web_extract)"
MAX_REDIRECTS = 5
SNIPPET_CHARS = 400
HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/ld+json")
INSTALL_HINT = "web_extract needs the `web` extra to read HTML: pip install 'hermes[web]'"


def _web(ctx: TurnContext) -> WebSettings:
    return ctx.profile.settings.web


def _client(settings: WebSettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=settings.timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT}
    )


# -- web_search --------------------------------------------------------------------------


async def web_search(args: dict[str, Any], ctx: TurnContext) -> str:
    query = str(args.get("query") or "").strip()
    if not query:
        raise ToolError("query is empty: say what to search for")
    settings = _web(ctx)
    count = args.get("count") or settings.search.results
    if not isinstance(count, int) or not 1 <= count <= 20:
        raise ToolError("count must be a whole number from 1 to 20")
    engine = backend(settings.search, ctx.profile.env)
    async with _client(settings) as client:
        hits = await engine.search(client, query, count)
    if not hits:
        return f"No results for {query!r}."
    lines = [f"Results for {query!r} ({engine.name}):"]
    for n, hit in enumerate(hits, 1):
        snippet = hit.snippet[:SNIPPET_CHARS] + ("…" if len(hit.snippet) > SNIPPET_CHARS else "")
        lines += [f"{n}. {hit.title or '(untitled)'}", f"   {hit.url}"]
        lines += [f"   {snippet}"] if snippet else []
    return "\n".join(lines)


# -- web_extract -------------------------------------------------------------------------


@dataclass
class Page:
    url: str
    content_type: str
    charset: str | None
    body: bytes
    cut: bool  # more than max_bytes: the rest was not read


async def _check_address(url: str, allow_private: bool) -> None:
    """Refuse a URL that is not http(s), or that leads inward unless that is allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolError(f"web_extract reads http:// and https:// URLs only, not {url[:100]!r}")
    if allow_private:
        return
    host = parts.hostname
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise ToolError(f"could not resolve {host!r}: check the address") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global:
            raise ToolError(
                f"web_extract refuses {host} ({address} is a private or local address); "
                "set web.extract_private: true in config.yaml to allow such pages"
            )


async def _fetch(client: httpx.AsyncClient, url: str, settings: WebSettings) -> Page:
    for _ in range(MAX_REDIRECTS + 1):
        await _check_address(url, settings.extract_private)
        async with client.stream("GET", url) as answer:
            if answer.is_redirect and "location" in answer.headers:
                url = str(answer.url.join(answer.headers["location"]))
                continue
            if answer.status_code >= 400:
                raise ToolError(problem(url, answer))
            content_type = answer.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type and not content_type.startswith(HTML_TYPES + TEXT_TYPES):
                raise ToolError(f"web_extract reads HTML and text pages; {url} is {content_type}")
            body, cut = bytearray(), False
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > settings.max_bytes:
                    del body[settings.max_bytes :]
                    cut = True
                    break
            return Page(str(answer.url), content_type, answer.charset_encoding, bytes(body), cut)
    raise ToolError(f"{url} redirected more than {MAX_REDIRECTS} times")


def _readable(body: bytes, url: str) -> tuple[str, str]:
    """(title, text) of an HTML page, boilerplate (menus, footers, ads) dropped."""
    import trafilatura

    doc = trafilatura.bare_extraction(body, url=url, with_metadata=True, include_comments=False)
    text = str(getattr(doc, "text", None) or "")
    title = str(getattr(doc, "title", None) or "")
    if not text.strip():  # too little to tell content from boilerplate: all of its text
        text = trafilatura.html2txt(body)
    return title, text


async def web_extract(args: dict[str, Any], ctx: TurnContext) -> str:
    url = str(args.get("url") or "").strip()
    settings = _web(ctx)
    await _check_address(url, allow_private=True)  # the scheme, before anything is fetched
    try:
        async with asyncio.timeout(settings.timeout), _client(settings) as client:
            page = await _fetch(client, url, settings)
    except (TimeoutError, httpx.TimeoutException):
        raise ToolError(f"{url} did not answer within {settings.timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"could not reach {url} ({type(exc).__name__})") from None
    title = ""
    if page.content_type in HTML_TYPES or not page.content_type:
        try:
            import trafilatura  # noqa: F401  (a clear error before the worker thread)
        except ImportError:
            raise ToolError(INSTALL_HINT) from None
        title, text = await asyncio.to_thread(_readable, page.body, page.url)
    else:
        text = page.body.decode(page.charset or "utf-8", errors="replace")
    text = text.strip()
    head = [f"Title: {title}"] if title else []
    head.append(f"URL: {page.url}")
    notes = []
    if page.cut:
        notes.append(f"[the page is longer than {settings.max_bytes} bytes; only those were read]")
    if len(text) > settings.max_chars:
        notes.append(f"[text cut at {settings.max_chars} of {len(text)} chars]")
        text = text[: settings.max_chars]
    return "\n".join([*head, "", text or "(no readable text on this page)", *notes])


TOOLS = [
    Tool(
        "web_search",
        "Search the web. Returns titles, URLs and snippets; read a page with web_extract.",
        schema(
            {
                "query": {"type": "string", "description": "what to search for"},
                "count": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 20,
                    "description": "how many results (default: web.search.results)",
                },
            },
            ["query"],
        ),
        web_search,
        when=lambda ctx: _web(ctx).search.backend is not None,
    ),
    Tool(
        "web_extract",
        "Fetch a web page (http/https) and return its readable text: the article without "
        "menus, footers or ads. Text and JSON come back as they are. Long pages are cut.",
        schema({"url": {"type": "string", "description": "the page's http(s) URL"}}, ["url"]),
        web_extract,
        when=lambda ctx: _web(ctx).extract,
    ),
]
