"""web_search and web_extract over real HTTP on loopback: a fake SearXNG, a fake Brave
Search API and pages (tests/fakes/web_search.py); a real `hermes -z` turn with the
scripted model shows which of the tools the model is offered."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.settings import Settings, WebSearchSettings, WebSettings
from hermes.testing import ScriptedModel
from hermes.tools.web import TOOLS
from tests.cli_helpers import run_hermes
from tests.fakes.web_search import BRAVE_KEY, FakeWeb
from tests.gateway_helpers import make_home
from tests.tools_helpers import make_ctx

SEARCH, EXTRACT = TOOLS

ARTICLE = """<!doctype html><html><head><title>Brewing green tea | Tea Blog</title></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/shop">Shop our teapots</a></li>
<li><a href="/about">About us</a></li></ul></nav>
<main><article><h1>Brewing green tea</h1>
<p>Green tea wants water at about 80 degrees. Boiling water scalds the leaves and makes the
cup bitter, so let the kettle rest for a few minutes after it clicks off.</p>
<p>Steep for two to three minutes, then pour everything out so that the leaves do not keep
brewing in the pot and turn the second cup sour.</p></article></main>
<footer><p>Copyright 2026 Tea Blog Ltd. All rights reserved.</p>
<p><a href="/privacy">Privacy policy</a> · <a href="/cookies">Cookie settings</a></p></footer>
</body></html>"""


@pytest.fixture
def fake() -> Iterator[FakeWeb]:
    with FakeWeb() as server:
        server.add_result(
            "Green tea - Wikipedia",
            "https://en.wikipedia.org/wiki/Green_tea",
            "Green tea is a type of tea made from Camellia sinensis leaves.",
        )
        server.add_result(
            "How to brew green tea",
            "https://tea.example/brew",
            "Water at 80 degrees &amp; two minutes of steeping.",
        )
        server.add_result("Coffee roasting", "https://coffee.example/roast", "Roast beans.")
        yield server


def web_ctx(tmp_path: Path, env: dict[str, str] | None = None, **web: Any) -> TurnContext:
    search = web.pop("search", WebSearchSettings())
    settings = Settings(web=WebSettings(search=search, **{"extract_private": True, **web}))
    return make_ctx(tmp_path, settings=settings, env=env)


# -- web_search ---------------------------------------------------------------------------


async def test_searxng_search_lists_titles_urls_and_snippets(tmp_path: Path, fake: FakeWeb) -> None:
    ctx = web_ctx(tmp_path, search=WebSearchSettings(backend="searxng", url=fake.base_url))
    out = await SEARCH.run({"query": "green tea"}, ctx)
    assert out.splitlines() == [
        "Results for 'green tea' (searxng):",
        "1. Green tea - Wikipedia",
        "   https://en.wikipedia.org/wiki/Green_tea",
        "   Green tea is a type of tea made from Camellia sinensis leaves.",
        "2. How to brew green tea",
        "   https://tea.example/brew",
        "   Water at 80 degrees & two minutes of steeping.",
    ]
    (call,) = fake.calls_to("searxng")
    assert call.data == {"q": "green tea", "format": "json"}
    one = await SEARCH.run({"query": "green tea", "count": 1}, ctx)
    assert "1. Green tea" in one and "2." not in one
    assert await SEARCH.run({"query": "zebras"}, ctx) == "No results for 'zebras'."


async def test_searxng_failures_are_one_line_errors(tmp_path: Path, fake: FakeWeb) -> None:
    ctx = web_ctx(tmp_path, search=WebSearchSettings(backend="searxng", url=fake.base_url))
    fake.fail("searxng", 500, times=1)
    with pytest.raises(ToolError, match=r"^SearXNG answered HTTP 500 Internal Server Error$"):
        await SEARCH.run({"query": "tea"}, ctx)
    fake.json_enabled = False
    with pytest.raises(ToolError, match=r"HTTP 403 Forbidden: allow the json format") as err:
        await SEARCH.run({"query": "tea"}, ctx)
    assert "\n" not in str(err.value)
    no_url = web_ctx(tmp_path, search=WebSearchSettings(backend="searxng"))
    with pytest.raises(ToolError, match=r"web\.search\.url is not set"):
        await SEARCH.run({"query": "tea"}, no_url)


async def test_brave_search_sends_the_key_and_strips_highlights(
    tmp_path: Path, fake: FakeWeb
) -> None:
    search = WebSearchSettings(backend="brave", url=fake.base_url, results=3)
    ctx = web_ctx(tmp_path, {"BRAVE_API_KEY": BRAVE_KEY}, search=search)
    out = await SEARCH.run({"query": "tea"}, ctx)
    assert out.splitlines()[:4] == [
        "Results for 'tea' (brave):",
        "1. Green tea - Wikipedia",
        "   https://en.wikipedia.org/wiki/Green_tea",
        "   Green tea is a type of tea made from Camellia sinensis leaves.",
    ]
    assert "<strong>" not in out and "3." not in out
    (call,) = fake.calls_to("brave")
    assert call.headers["X-Subscription-Token"] == BRAVE_KEY
    assert call.headers["Accept"] == "application/json"
    assert call.data == {"q": "tea", "count": "3"}


async def test_brave_refusals_are_one_line_errors(tmp_path: Path, fake: FakeWeb) -> None:
    search = WebSearchSettings(backend="brave", url=fake.base_url, api_key_env="MY_BRAVE")
    with pytest.raises(ToolError, match=r"key is missing: set MY_BRAVE in the \.env file"):
        await SEARCH.run({"query": "tea"}, web_ctx(tmp_path, search=search))
    wrong = web_ctx(tmp_path, {"MY_BRAVE": "not-the-key"}, search=search)
    with pytest.raises(ToolError, match=r"HTTP 422 .*: it refused the key in MY_BRAVE"):
        await SEARCH.run({"query": "tea"}, wrong)
    fake.brave_limited = True
    right = web_ctx(tmp_path, {"MY_BRAVE": BRAVE_KEY}, search=search)
    with pytest.raises(ToolError) as err:
        await SEARCH.run({"query": "tea"}, right)
    assert str(err.value) == (
        "Brave Search answered HTTP 429 Too Many Requests (rate limited; retry after 1 s)"
    )


# -- web_extract --------------------------------------------------------------------------


async def test_extract_returns_the_article_without_menus_and_footer(
    tmp_path: Path, fake: FakeWeb
) -> None:
    url = fake.add_page("tea", ARTICLE)
    out = await EXTRACT.run({"url": url}, web_ctx(tmp_path))
    head, text = out.split("\n\n", 1)
    assert head.splitlines()[-1] == f"URL: {url}"
    assert head.startswith("Title: Brewing green tea")
    assert "Green tea wants water at about 80 degrees." in text
    assert "second cup sour" in text
    for boilerplate in ("Shop our teapots", "About us", "Copyright", "Cookie settings"):
        assert boilerplate not in out
    # a redirect is followed; the result names where it ended
    moved = await EXTRACT.run({"url": f"{fake.base_url}/redirect/tea"}, web_ctx(tmp_path))
    assert f"URL: {url}" in moved and "80 degrees" in moved


async def test_text_and_json_pass_through_and_other_types_are_refused(
    tmp_path: Path, fake: FakeWeb
) -> None:
    ctx = web_ctx(tmp_path)
    plain = fake.add_page("notes.txt", "line one\nline two\n", "text/plain; charset=utf-8")
    assert await EXTRACT.run({"url": plain}, ctx) == f"URL: {plain}\n\nline one\nline two"
    data = fake.add_page("data.json", json.dumps({"tea": "green"}), "application/json")
    assert (await EXTRACT.run({"url": data}, ctx)).endswith('{"tea": "green"}')
    image = fake.add_page("cat.png", b"\x89PNG\r\n\x1a\n", "image/png")
    with pytest.raises(ToolError, match=r"reads HTML and text pages; .*cat\.png is image/png$"):
        await EXTRACT.run({"url": image}, ctx)
    for bad in ("file:///etc/passwd", "ftp://example.com/x", "not a url", ""):
        with pytest.raises(ToolError, match=r"http:// and https:// URLs only"):
            await EXTRACT.run({"url": bad}, ctx)


async def test_long_pages_are_cut_and_the_result_says_so(tmp_path: Path, fake: FakeWeb) -> None:
    long_text = "".join(f"line {n:05d} of a long text file\n" for n in range(10_000))  # 310 kB
    url = fake.add_page("long.txt", long_text, "text/plain")
    out = await EXTRACT.run({"url": url}, web_ctx(tmp_path, max_chars=1000))
    assert out.endswith("[text cut at 1000 of 309999 chars]")
    assert "line 00000" in out and "line 09999" not in out
    out = await EXTRACT.run({"url": url}, web_ctx(tmp_path, max_bytes=50_000, max_chars=100_000))
    assert out.endswith("[the page is longer than 50000 bytes; only those were read]")
    assert "line 01000" in out and "line 02000" not in out


async def test_a_slow_page_times_out_with_one_line(tmp_path: Path, fake: FakeWeb) -> None:
    url = fake.add_page("slow", ARTICLE)
    fake.stall_page("slow")  # headers and a first chunk, then nothing
    with pytest.raises(ToolError) as err:
        await EXTRACT.run({"url": url}, web_ctx(tmp_path, timeout=1))
    assert str(err.value) == f"{url} did not answer within 1 s"


async def test_server_errors_and_rate_limits_are_one_line(tmp_path: Path, fake: FakeWeb) -> None:
    url = fake.add_page("tea", ARTICLE)
    ctx = web_ctx(tmp_path)
    fake.fail("page", 500, times=1)
    with pytest.raises(ToolError) as err:
        await EXTRACT.run({"url": url}, ctx)
    assert str(err.value) == f"{url} answered HTTP 500 Internal Server Error"
    fake.fail("page", 429, times=1, retry_after=30)
    with pytest.raises(ToolError) as err:
        await EXTRACT.run({"url": url}, ctx)
    assert (
        str(err.value)
        == f"{url} answered HTTP 429 Too Many Requests (rate limited; retry after 30 s)"
    )
    with pytest.raises(ToolError, match=r"answered HTTP 404 Not Found$"):
        await EXTRACT.run({"url": f"{fake.base_url}/pages/missing"}, ctx)
    assert "80 degrees" in await EXTRACT.run({"url": url}, ctx)  # recovered


async def test_pages_on_this_machine_are_refused_unless_allowed(
    tmp_path: Path, fake: FakeWeb
) -> None:
    url = fake.add_page("tea", ARTICLE)
    ctx = web_ctx(tmp_path, extract_private=False)
    with pytest.raises(ToolError, match=r"refuses 127\.0\.0\.1 .*web\.extract_private: true"):
        await EXTRACT.run({"url": url}, ctx)
    with pytest.raises(ToolError, match=r"refuses localhost"):
        await EXTRACT.run({"url": url.replace("127.0.0.1", "localhost")}, ctx)
    assert fake.calls_to("page") == []  # nothing was fetched


async def test_without_the_web_extra_html_gets_the_install_hint(
    tmp_path: Path, fake: FakeWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # `import trafilatura` fails
    url = fake.add_page("tea", ARTICLE)
    with pytest.raises(ToolError, match=r"needs the `web` extra .*pip install 'hermes\[web\]'"):
        await EXTRACT.run({"url": url}, web_ctx(tmp_path))
    plain = fake.add_page("notes.txt", "plain text needs no extra", "text/plain")
    assert (await EXTRACT.run({"url": plain}, web_ctx(tmp_path))).endswith("needs no extra")


# -- what the model is offered, in a real turn --------------------------------------------


async def test_without_a_backend_web_search_is_absent(tmp_path: Path, model: ScriptedModel) -> None:
    home = make_home(tmp_path / "home", model)
    model.reply("hi")
    done = await asyncio.to_thread(run_hermes, home, "-z", "hello")
    assert done.returncode == 0, done.stdout + done.stderr
    names = model.requests[0].tool_names
    assert "web_search" not in names and "web_extract" in names  # extract: on by default


async def test_a_configured_backend_offers_web_search_in_a_turn(
    tmp_path: Path, model: ScriptedModel, fake: FakeWeb
) -> None:
    web = {"search": {"backend": "searxng", "url": fake.base_url}, "extract": False}
    home = make_home(tmp_path / "home", model, {"web": web})
    model.tool_call("web_search", {"query": "coffee"})
    model.reply("Roast beans, it says.")
    done = await asyncio.to_thread(run_hermes, home, "-z", "how to roast coffee?")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Roast beans, it says." in done.stdout
    names = model.requests[0].tool_names
    assert "web_search" in names and "web_extract" not in names
    (result,) = [m["content"] for m in model.requests[1].messages if m["role"] == "tool"]
    assert result.splitlines()[1:3] == ["1. Coffee roasting", "   https://coffee.example/roast"]
