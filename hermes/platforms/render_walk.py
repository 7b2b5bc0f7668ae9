"""The walk over a model's Markdown that the markup renderers share.

Markdown is parsed by markdown-it-py (CommonMark, plus the tables and
~~strikethrough~~ models write; raw HTML stays text). A renderer subclasses
`Walker` and says how each construct looks in its markup; the `Builder` it
writes into records every entity it opens and closes (`Span`) and what must
stay whole (`atoms`), so the split (hermes/platforms/render_split.py) can cut
the result without breaking it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from hermes.platforms.render_split import Rendered, Span

_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_LINK_SCHEMES = ("http://", "https://", "mailto:", "tg://")
MAX_URL = 2000  # longer link targets are shown as text (a part must hold its tag whole)


class Builder:
    """The rendered text as it is written, with its entities and atoms."""

    def __init__(self, escapes: dict[str, str]) -> None:
        self._chunks: list[str] = []
        self.pos = 0
        self.escapes = escapes
        self._special = re.compile("[" + re.escape("".join(escapes)) + "]") if escapes else None
        self._open: list[tuple[int, str, str, str | None, bool]] = []
        self.spans: list[Span] = []
        self.atoms: list[tuple[int, int]] = []
        self.prefixes: list[str] = []  # written after every line break (indents, quote marks)

    def raw(self, text: str) -> None:
        self._chunks.append(text)
        self.pos += len(text)

    def atom(self, text: str) -> None:
        """Text no cut may fall inside."""
        self.atoms.append((self.pos, self.pos + len(text)))
        self.raw(text)

    def text(self, text: str) -> None:
        """Text, escaped for the markup (each escape stays whole)."""
        if self._special is None:
            self.raw(text)
            return
        at = 0
        for m in self._special.finditer(text):
            self.raw(text[at : m.start()])
            self.atom(self.escapes[m.group()])
            at = m.end()
        self.raw(text[at:])

    def open(
        self, opening: str, closing: str, short: str | None = None, block: bool = False
    ) -> None:
        self._open.append((self.pos, opening, closing, short, block))
        self.atom(opening)  # a cut tag would break the message

    def close(self) -> None:
        start, opening, closing, short, block = self._open.pop()
        close_start = self.pos
        self.atom(closing)
        span = Span(
            start, start + len(opening), close_start, self.pos, opening, closing, short, block
        )
        self.spans.append(span)

    def newline(self, blank: bool = False) -> None:
        if blank:
            self.raw("\n" + "".join(self.prefixes).rstrip())
        self.raw("\n" + "".join(self.prefixes))

    def result(self) -> Rendered:
        while self._open:
            self.close()
        spans = sorted(self.spans, key=lambda s: (s.start, -s.end))
        return Rendered("".join(self._chunks), tuple(spans), tuple(self.atoms))


class Walker:
    """Markdown -> a markup. Subclasses override the constructs their markup shows
    differently; blocks are separated by a blank line, list items by a line break."""

    escapes: ClassVar[dict[str, str]] = {}

    def __init__(self, source: str) -> None:
        self.source = source
        self.out = Builder(self.escapes)

    def render(self) -> Rendered:
        self.blocks(SyntaxTreeNode(_PARSER.parse(self.source)).children)
        return self.out.result()

    def blocks(self, nodes: list[SyntaxTreeNode], tight: bool = False) -> None:
        for i, node in enumerate(nodes):
            if i:
                self.out.newline(blank=not tight)
            self.block(node)

    def block(self, node: SyntaxTreeNode) -> None:
        kind = node.type
        if kind in ("paragraph", "inline"):
            self.inlines(node.children[0].children if kind == "paragraph" else node.children)
        elif kind == "heading":
            self.heading(node)
        elif kind in ("bullet_list", "ordered_list"):
            self.bullets(node)
        elif kind == "blockquote":
            self.quote(node)
        elif kind in ("fence", "code_block"):
            info = node.info.split()[0] if kind == "fence" and node.info.split() else ""
            self.code_block(node.content.removesuffix("\n"), info)
        elif kind == "table":
            first, last = node.map or (0, 0)
            self.code_block("\n".join(self.source.splitlines()[first:last]), "")
        elif kind == "hr":
            self.out.raw("———")
        else:  # html_block and what a later parser version may add: as text
            self.out.text(node.content.rstrip("\n"))

    def heading(self, node: SyntaxTreeNode) -> None:
        self.strong(node.children[0].children)

    def bullets(self, node: SyntaxTreeNode) -> None:
        number = int(str(node.attrs.get("start", 1)))
        tight = all(
            c.hidden for item in node.children for c in item.children if c.type == "paragraph"
        )
        for i, item in enumerate(node.children):
            if i:
                self.out.newline(blank=not tight)
            mark = "•" if node.type == "bullet_list" else f"{number + i}."
            self.out.raw(f"{mark} ")
            self.out.prefixes.append(" " * (len(mark) + 1))
            self.blocks(item.children, tight)
            self.out.prefixes.pop()

    def quote(self, node: SyntaxTreeNode) -> None:
        self.out.raw("> ")
        self.out.prefixes.append("> ")
        self.blocks(node.children)
        self.out.prefixes.pop()

    def code_block(self, code: str, lang: str) -> None:
        raise NotImplementedError

    def inlines(self, nodes: list[SyntaxTreeNode]) -> None:
        for node in nodes:
            self.inline(node)

    def inline(self, node: SyntaxTreeNode) -> None:
        kind = node.type
        if kind == "text":
            self.out.text(node.content)
        elif kind in ("softbreak", "hardbreak"):
            self.out.newline()
        elif kind == "strong":
            self.strong(node.children)
        elif kind in ("em", "s"):
            self.styled(kind, node.children)
        elif kind == "code_inline":
            self.code(node.content)
        elif kind in ("link", "image"):
            url = str(node.attrs.get("href" if kind == "link" else "src", ""))
            if not url.startswith(_LINK_SCHEMES) or len(url) > MAX_URL:
                self.inlines(node.children)
                if url and plain(node.children) != url:
                    self.out.text(f" ({url})")
            else:
                self.link(url, node.children)
        else:
            self.out.text(node.content)

    def strong(self, nodes: list[SyntaxTreeNode]) -> None:
        self.styled("strong", nodes)

    def styled(self, kind: str, nodes: list[SyntaxTreeNode]) -> None:
        raise NotImplementedError

    def code(self, code: str) -> None:
        raise NotImplementedError

    def link(self, url: str, nodes: list[SyntaxTreeNode]) -> None:
        raise NotImplementedError


def plain(nodes: list[SyntaxTreeNode]) -> str:
    """The text of inline nodes, without their formatting."""
    found: list[str] = []
    for node in nodes:
        if node.type in ("text", "code_inline"):
            found.append(node.content)
        elif node.type in ("softbreak", "hardbreak"):
            found.append(" ")
        found.append(plain(node.children))
    return "".join(found)


def attr(value: Any) -> str:
    """An HTML attribute value, escaped."""
    return str(value).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
