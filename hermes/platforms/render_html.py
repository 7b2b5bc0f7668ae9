"""Markdown -> HTML for Telegram (parse_mode HTML) and for Matrix bodies.

Telegram's HTML knows a few inline tags (<b>, <i>, <s>, <code>, <a href>),
<pre><code class="language-x"> for code blocks and <blockquote>; newlines are
line breaks, there are no paragraphs, headings or lists, so headings become
bold and lists text bullets. Everything else is text with &, < and > escaped.
Matrix clients show a message's HTML body as HTML: the same inline tags, with
real paragraphs, headings, lists and <br> line breaks.
"""

from __future__ import annotations

import html
import re
from typing import ClassVar

from markdown_it.tree import SyntaxTreeNode

from hermes.platforms.render_walk import Walker, attr

HTML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_TAGS = {"strong": "b", "em": "i", "s": "s"}
_TAG = re.compile(r"<[^<>]*>")


def html_text(rendered: str) -> str:
    """What rendered HTML says, as plain text (for a platform that refused the
    HTML: the reply is sent without its formatting rather than lost)."""
    return html.unescape(_TAG.sub("", rendered.replace("<br>", "")))


class TelegramHTML(Walker):
    escapes: ClassVar[dict[str, str]] = HTML_ESCAPES

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self._quoted = False  # Telegram does not nest quotes

    def styled(self, kind: str, nodes: list[SyntaxTreeNode]) -> None:
        tag = _TAGS[kind]
        self.out.open(f"<{tag}>", f"</{tag}>")
        self.inlines(nodes)
        self.out.close()

    def code(self, code: str) -> None:
        self.out.open("<code>", "</code>")
        self.out.text(code)
        self.out.close()

    def link(self, url: str, nodes: list[SyntaxTreeNode]) -> None:
        self.out.open(f'<a href="{attr(url)}">', "</a>")
        if nodes:
            self.inlines(nodes)
        else:
            self.out.text(url)
        self.out.close()

    def code_block(self, code: str, lang: str) -> None:
        if lang:
            self.out.open(f'<pre><code class="language-{attr(lang)}">', "</code></pre>", None, True)
        else:
            self.out.open("<pre>", "</pre>", None, True)
        self.out.text(code or " ")
        self.out.close()

    def quote(self, node: SyntaxTreeNode) -> None:
        if self._quoted:
            self.blocks(node.children)
            return
        self._quoted = True
        self.out.open("<blockquote>", "</blockquote>", None, True)
        self.blocks(node.children)
        self.out.close()
        self._quoted = False


class MatrixHTML(TelegramHTML):
    def blocks(self, nodes: list[SyntaxTreeNode], tight: bool = False) -> None:
        for i, node in enumerate(nodes):
            if i:
                self.out.raw("\n")
            self.block(node)

    def block(self, node: SyntaxTreeNode) -> None:
        if node.type == "paragraph" and not node.hidden:
            self._element("p", node.children[0].children)
        elif node.type == "hr":
            self.out.atom("<hr>")
        else:
            super().block(node)

    def heading(self, node: SyntaxTreeNode) -> None:
        self._element(node.tag, node.children[0].children)

    def _element(self, tag: str, nodes: list[SyntaxTreeNode]) -> None:
        self.out.open(f"<{tag}>", f"</{tag}>", None, True)
        self.inlines(nodes)
        self.out.close()

    def bullets(self, node: SyntaxTreeNode) -> None:
        start = node.attrs.get("start")
        opening = f'<ol start="{start}">' if start is not None else f"<{node.tag}>"
        self.out.open(opening, f"</{node.tag}>", None, True)
        for item in node.children:
            self.out.raw("\n")
            self.out.open("<li>", "</li>", None, True)
            self.blocks(item.children)
            self.out.close()
        self.out.raw("\n")
        self.out.close()

    def quote(self, node: SyntaxTreeNode) -> None:
        self.out.open("<blockquote>", "</blockquote>", None, True)
        self.out.raw("\n")
        self.blocks(node.children)
        self.out.raw("\n")
        self.out.close()

    def inline(self, node: SyntaxTreeNode) -> None:
        if node.type in ("softbreak", "hardbreak"):
            self.out.atom("<br>")
            self.out.raw("\n")
        else:
            super().inline(node)
