"""Markdown -> Slack mrkdwn.

Slack's mrkdwn: *bold*, _italic_, ~strike~, `code`, ```pre``` (no language),
<url|text> links, "> " quotes; no headings (shown bold) and no lists (text
bullets). &, < and > are escaped everywhere else, as Slack asks.
"""

from __future__ import annotations

from typing import ClassVar

from markdown_it.tree import SyntaxTreeNode

from hermes.platforms.render_html import HTML_ESCAPES
from hermes.platforms.render_walk import Walker, plain

_MARKS = {"strong": "*", "em": "_", "s": "~"}


class SlackMrkdwn(Walker):
    escapes: ClassVar[dict[str, str]] = HTML_ESCAPES

    def styled(self, kind: str, nodes: list[SyntaxTreeNode]) -> None:
        mark = _MARKS[kind]
        self.out.open(mark, mark)
        self.inlines(nodes)
        self.out.close()

    def code(self, code: str) -> None:
        self.out.open("`", "`")
        self.out.text(code)
        self.out.close()

    def link(self, url: str, nodes: list[SyntaxTreeNode]) -> None:
        target = _escape(url).replace("|", "%7C")
        text = _escape(plain(nodes)).replace("|", "¦").replace("\n", " ")
        self.out.atom(f"<{target}>" if not text or text == target else f"<{target}|{text}>")

    def code_block(self, code: str, lang: str) -> None:
        self.out.open("```\n", "\n```", None, True)
        self.out.text(code or " ")
        self.out.close()


def _escape(text: str) -> str:
    return "".join(HTML_ESCAPES.get(c, c) for c in text)
