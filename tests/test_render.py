"""Replies rendered per platform markup, then split without breaking an entity.

Checked against independent readings of each markup: Python's html.parser for
the HTML ones (every part balanced on its own, every & a whole reference), a
plain reading of ``` fences for the Markdown ones.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fakes.telegram_html import parse as telegram_parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hermes.platforms.render import as_text, preview, render, render_parts
from hermes.platforms.render_split import Part, Rendered, size, split_parts
from hermes.platforms.spec import Capabilities, LengthUnit, Markup

MARKUPS: list[Markup] = ["plain", "telegram_html", "discord_md", "slack_mrkdwn", "matrix_html"]
UNITS: list[LengthUnit] = ["chars", "utf16", "bytes"]
VOID = {"br", "hr"}
FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unexpected </{tag}>")


def check_html(part: str) -> None:
    """Every tag closed, in order; no cut tag or character reference."""
    parser = _Balance()
    parser.feed(part)
    parser.close()
    assert not parser.errors and not parser.stack, (parser.errors, parser.stack, part)
    bare = re.sub(r"<[^<>]*>", "", part)  # tags whole: nothing of one is left
    assert "<" not in bare and ">" not in bare, part
    assert not re.search(r"&(?!(amp|lt|gt|quot);)", bare), part


def check_fences(part: str) -> None:
    """Every ``` block opened in the part is closed in it (a fence line with only
    blank lines after it is only text)."""
    open_marker: str | None = None
    content = False
    for line in part.split("\n"):
        m = FENCE.fullmatch(line)
        if open_marker is None and m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
            open_marker, content = m.group(1), False
        elif open_marker and m and m.group(1)[0] == open_marker[0] and not m.group(2).strip():
            if len(m.group(1)) >= len(open_marker):
                open_marker = None
        elif open_marker:
            content = content or bool(line.strip())
    assert open_marker is None or not content, f"unclosed code block in:\n{part}"


def check_parts(
    rendered: Rendered, parts: list[Part], limit: int, unit: LengthUnit, markup: str
) -> None:
    text = rendered.text
    at = 0
    for part in parts:
        assert size(part.text, unit) <= limit, (limit, unit, part.text)
        assert part.text == part.head + text[part.start : part.end] + part.tail
        assert not text[at : part.start].strip(), "a cut dropped more than whitespace"
        assert text[part.start : part.end].strip(), "an empty part"
        at = part.end
        if markup.endswith("html"):
            check_html(part.text)
        if markup == "telegram_html":
            telegram_parse(part.text)  # the fake Bot API accepts it
        else:
            check_fences(part.text)
        if markup == "slack_mrkdwn":  # links whole (a ">" at a line's start is a quote)
            unquoted = re.sub(r"(?m)^(> ?)+", "", part.text)
            assert re.fullmatch(r"[^<>]*(<[^<>]+>[^<>]*)*", unquoted), part.text
    assert not text[at:].strip()


# ----- generated Markdown, as models write it -------------------------------------

WORDS = st.sampled_from(
    ["hello", "world", "snake_case", "a<b", "x&y", "2*3", "café", "🚀", "👍🏽", "日本語", "*", "_"]
)
INLINE = st.one_of(
    WORDS,
    WORDS.map(lambda w: f"**{w} {w}**"),
    WORDS.map(lambda w: f"*{w} it*"),
    WORDS.map(lambda w: f"_{w} it_"),
    WORDS.map(lambda w: f"`{w} < code`"),
    WORDS.map(lambda w: f"~~{w} gone~~"),
    WORDS.map(lambda w: f"[{w} link](https://example.com/{len(w)}?a=1&b=2)"),
    st.just("<https://example.org/x>"),
)
PARAGRAPH = st.lists(INLINE, min_size=1, max_size=40).map(" ".join)
CODE_LINE = st.lists(st.sampled_from(["x", "<y>", "&&", "🎉", "if", "    ", "a = 1"]), max_size=8)
CODE = st.builds(
    lambda lang, lines: f"```{lang}\n" + "\n".join("".join(line) for line in lines) + "\n```",
    st.sampled_from(["python", "", "js", "c++"]),
    st.lists(CODE_LINE, min_size=1, max_size=30),
)
BLOCK = st.one_of(
    PARAGRAPH,
    PARAGRAPH.map(lambda p: "## " + p[:60]),
    st.lists(PARAGRAPH, min_size=1, max_size=5).map(lambda i: "\n".join(f"- {x}" for x in i)),
    st.lists(PARAGRAPH, min_size=1, max_size=5).map(lambda i: "\n".join(f"1. {x}" for x in i)),
    PARAGRAPH.map(lambda p: "> " + p),
    CODE,
    st.just("| a | b |\n|---|---|\n| 1 | 2 |"),
)
MARKDOWN = st.lists(BLOCK, min_size=1, max_size=12).map("\n\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    MARKDOWN,
    st.sampled_from(MARKUPS),
    st.integers(min_value=90, max_value=400),
    st.sampled_from(UNITS),
)
def test_generated_markdown_splits_into_valid_parts(
    markdown: str, markup: Markup, limit: int, unit: LengthUnit
) -> None:
    rendered = render(markdown, markup)
    try:
        parts = split_parts(rendered, limit, unit)
    except ValueError:
        # only when some entities' reopening and closing alone fill a part (quotes,
        # lists and a link nested at a small limit): the reply goes as text then
        assert deepest(rendered, unit) >= limit
        assert render_parts(
            markdown, Capabilities(markup=markup, max_length=limit, length_unit=unit)
        )
        rendered = as_text(markdown, markup)
        parts = split_parts(rendered, limit, unit)
    assert parts
    check_parts(rendered, parts, limit, unit, markup)


def deepest(rendered: Rendered, unit: LengthUnit) -> int:
    """The longest reopening plus closing of entities nested in one another."""
    longest = 0
    for span in rendered.spans:
        stack = [s for s in rendered.spans if s.start <= span.start and span.end <= s.end]
        longest = max(longest, size("".join(s.reopen + s.close for s in stack), unit))
    return longest


def test_formatting_too_deep_for_the_limit_goes_as_text() -> None:
    markdown = "> * [hello link](https://example.com/5?a=1&b=2)"
    caps = Capabilities(markup="matrix_html", max_length=90, length_unit="chars")
    with pytest.raises(ValueError, match="too small to carry"):
        split_parts(render(markdown, "matrix_html"), 90, "chars")
    assert render_parts(markdown, caps) == [
        "&gt; * [hello link](https://example.com/5?a=1&amp;b=2)"
    ]
    assert preview(markdown, caps) == render_parts(markdown, caps)[0]


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=600), st.sampled_from(MARKUPS), st.integers(min_value=90, max_value=300))
def test_any_text_renders_and_splits(text: str, markup: Markup, limit: int) -> None:
    rendered = render(text, markup)
    parts = split_parts(rendered, limit, "utf16")
    check_parts(rendered, parts, limit, "utf16", markup)


LIMITS: dict[str, tuple[int, LengthUnit]] = {
    "telegram_html": (4096, "utf16"),
    "discord_md": (2000, "chars"),
    "slack_mrkdwn": (4000, "chars"),
    "matrix_html": (4000, "bytes"),
    "plain": (4096, "chars"),
}


def long_reply() -> str:
    """A 10,000+ character reply: prose with emoji, long code blocks, a list."""
    prose = "Here is **the plan** 🚀 for `main.py` & friends — read it *carefully*. " * 20
    code = "\n".join(f"    total += values[{i}]  # 🎉 step {i} <ok>" for i in range(150))
    items = "\n".join(f"- item {i}: [docs](https://example.com/{i}) 👍🏽" for i in range(40))
    text = f"# Report\n\n{prose}\n\n```python\ndef f(values):\n{code}\n```\n\n{items}\n\n{prose}"
    assert len(text) > 10_000
    return text


@pytest.mark.parametrize("markup", MARKUPS)
def test_a_long_reply_with_code_and_emoji_splits_for_each_markup(markup: Markup) -> None:
    limit, unit = LIMITS[markup]
    rendered = render(long_reply(), markup)
    parts = split_parts(rendered, limit, unit)
    assert len(parts) > 1
    check_parts(rendered, parts, limit, unit, markup)
    caps = Capabilities(max_length=limit, length_unit=unit, markup=markup)
    assert render_parts(long_reply(), caps) == [p.text for p in parts]
    code_parts = [p.text for p in parts if "values[45]" in p.text]
    opening = {
        "telegram_html": '<pre><code class="language-python">',
        "matrix_html": '<pre><code class="language-python">',
        "slack_mrkdwn": "```\n",
    }.get(markup, "```python\n")
    if "values[0]" not in code_parts[0]:  # the block was cut: reopened with its language
        assert code_parts[0].startswith(opening)


# ----- concrete renderings -----------------------------------------------------------


def test_telegram_html() -> None:
    text = render(
        "## Plan & goal\n\nUse **bold**, *it*, `x<y`, [site](https://a.b/?q=1&r=2) and a<b.\n\n"
        "- one\n- two\n\n> said\n\n```python\nif a < b:\n    pass\n```",
        "telegram_html",
    ).text
    assert text == (
        "<b>Plan &amp; goal</b>\n\n"
        'Use <b>bold</b>, <i>it</i>, <code>x&lt;y</code>, <a href="https://a.b/?q=1&amp;r=2">'
        "site</a> and a&lt;b.\n\n"
        "• one\n• two\n\n<blockquote>said</blockquote>\n\n"
        '<pre><code class="language-python">if a &lt; b:\n    pass</code></pre>'
    )


def test_links_telegram_cannot_show_stay_text() -> None:
    text = render("[here](javascript:alert(1)) and [rel](docs/x.md)", "telegram_html").text
    assert "<a" not in text and "here" in text and "rel (docs/x.md)" in text


def test_slack_mrkdwn() -> None:
    text = render(
        "# Title\n\n**bold** _it_ ~~gone~~ `a&b` [site](https://a.b/x|y) <https://c.d>\n\n"
        "> quoted\n> more\n\n```js\nlet x = a < b;\n```",
        "slack_mrkdwn",
    ).text
    assert text == (
        "*Title*\n\n*bold* _it_ ~gone~ `a&amp;b` <https://a.b/x%7Cy|site> <https://c.d>\n\n"
        "> quoted\n> more\n\n```\nlet x = a &lt; b;\n```"
    )


def test_matrix_html() -> None:
    text = render("# T\n\nline one\nline two\n\n1. a\n2. b", "matrix_html").text
    assert text == "<h1>T</h1>\n<p>line one<br>\nline two</p>\n<ol>\n<li>a</li>\n<li>b</li>\n</ol>"


@pytest.mark.parametrize("markup", ["plain", "discord_md"])
def test_plain_and_discord_keep_the_markdown(markup: Markup) -> None:
    source = "## Hi\n\n**bold** <not html> & `code`\n\n```py\nx = 1\n```"
    assert render(source, markup).text == source


def test_a_cut_telegram_code_block_is_reopened_with_its_language() -> None:
    code = "\n".join(f"x{i} = {i}  # <{i}>" for i in range(40))
    caps = Capabilities(max_length=200, length_unit="utf16", markup="telegram_html")
    parts = render_parts(f"Intro **text**.\n\n```python\n{code}\n```\n\nDone.", caps)
    assert parts[0] == "Intro <b>text</b>."
    assert all(p.startswith('<pre><code class="language-python">x') for p in parts[1:-1])
    assert all(p.endswith("</code></pre>") for p in parts[1:-1])
    assert parts[-1].endswith("</code></pre>\n\nDone.")


def test_bold_cut_at_a_space_is_closed_and_reopened() -> None:
    long_bold = "**" + " ".join(f"word{i}" for i in range(40)) + "**"
    for markup, mark in (("telegram_html", ("<b>", "</b>")), ("slack_mrkdwn", ("*", "*"))):
        caps = Capabilities(max_length=60, markup=markup)
        parts = render_parts(long_bold, caps)
        assert len(parts) > 1
        assert all(p.startswith(mark[0]) and p.endswith(mark[1]) for p in parts), parts


@pytest.mark.parametrize("markup", ["telegram_html", "matrix_html", "slack_mrkdwn"])
def test_markdown_that_shows_nothing_is_sent_as_text(markup: Markup) -> None:
    assert render("[]()", markup).text == "[]()"  # an empty link: rendered, nothing is left
    if markup != "slack_mrkdwn":
        assert render("> ", markup).text == "&gt; "  # an empty quote (tags only)


@pytest.mark.parametrize("unit", UNITS)
def test_a_lone_surrogate_is_measured_not_fatal(unit: LengthUnit) -> None:
    caps = Capabilities(max_length=50, length_unit=unit, markup="telegram_html")
    parts = render_parts("bad \ud800 char " * 20, caps)
    assert len(parts) > 1 and all(size(p, unit) <= 50 for p in parts)


def test_an_escape_is_never_cut() -> None:
    caps = Capabilities(max_length=20, markup="telegram_html")
    parts = render_parts("<" * 50, caps)
    assert all(re.fullmatch(r"(&lt;)+", p) for p in parts)
    assert "".join(parts) == "&lt;" * 50


def test_a_streaming_preview_is_one_valid_message() -> None:
    caps = Capabilities(max_length=100, length_unit="utf16", markup="telegram_html")
    shown = preview("**" + " ".join(["streaming words"] * 20) + "**", caps)
    assert shown.startswith("<b>") and shown.endswith("</b>…") and size(shown, "utf16") <= 100
    check_html(shown.removesuffix("…"))
    assert preview("```py\nx = 1", caps) == '<pre><code class="language-py">x = 1</code></pre>'
    assert preview("", caps) == ""
