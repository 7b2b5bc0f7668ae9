"""Markdown kept as it is (plain text, Discord): where its code is, for the split.

A model's Markdown reads fine as text, and Discord renders it almost as models
write it, so these platforms get the reply unchanged. The split still must
not cut a fenced code block (```lang ... ```, or ~~~) without closing it and
reopening it with its language, nor an inline `code span` without closing it,
so this finds them. A block the text leaves open (a reply still streaming, or
cut off) is closed at its end.
"""

from __future__ import annotations

import re

from hermes.platforms.render_split import Rendered, Span

_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def as_is(text: str) -> Rendered:
    """TEXT with its fenced code blocks and inline code spans marked."""
    spans: list[Span] = []
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    opened: tuple[int, int, str, str] | None = None  # start, open_end, marker, lang
    for i, start in enumerate(starts):
        end = starts[i + 1] - 1 if i + 1 < len(starts) else len(text)
        line = text[start:end].rstrip("\r")
        m = _FENCE.fullmatch(line)
        if opened is None:
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):  # ```x``` is inline code
                words = m.group(2).split()
                opened = (start, min(end + 1, len(text)), m.group(1), words[0] if words else "")
            else:
                spans += _code_spans(text, start, end)
            continue
        first, open_end, marker, lang = opened
        fence = m.group(1) if m and not m.group(2).strip() else ""
        if fence.startswith(marker[0]) and len(fence) >= len(marker):  # closes the block
            close_start = max(open_end, start - 1)  # from the newline before the fence
            spans.append(_fence(first, open_end, close_start, end, marker, lang))
            opened = None
    if opened is not None and text[opened[1] :].strip():  # left open: closed at the end
        first, open_end, marker, lang = opened
        spans.append(_fence(first, open_end, len(text), len(text), marker, lang))
    return Rendered(text, tuple(spans))


def _fence(start: int, open_end: int, close_start: int, end: int, marker: str, lang: str) -> Span:
    reopen = f"{marker}{lang}\n"
    return Span(start, open_end, close_start, end, reopen, f"\n{marker}", f"{marker}\n", True)


def _code_spans(text: str, start: int, end: int) -> list[Span]:
    found = []
    for m in _CODE_SPAN.finditer(text, start, end):
        ticks = m.group(1)
        a, b = m.start(2), m.end(2)
        found.append(Span(m.start(), a, b, m.end(), ticks, ticks))
    return found
