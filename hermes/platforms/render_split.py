"""Cut a rendered reply into parts that fit a platform's message length limit.

Platforms refuse messages over their limit (Telegram: 4096 UTF-16 units,
Discord: 2000 characters, Slack: 4000), so the courier splits a reply after
rendering it into the platform's markup (hermes/platforms/render.py). The
renderer says where its formatting entities are (`Span`: a code block, a bold
run, an HTML tag pair) and which pieces must stay whole (`atoms`: a tag, a
character reference, a Slack link). A cut falls where a reader expects one: at
a paragraph break if possible, else a line break, else a space; a word is cut
only when it alone is longer than the limit. An entity open at a cut is closed
at the end of the part and reopened at the start of the next (a code block with
its language), so every part renders on its own; the reopening and closing
text counts within the limit. No part holds an entity with nothing in it.

Sizes are measured in the platform's unit: characters, UTF-16 code units (an
emoji is 2) or UTF-8 bytes.

The split is pure and deterministic: the delivery ledger resumes a half-sent
reply by part index, so the same text must always give the same parts. What a
cut drops is only the whitespace at the cut itself; a line's indentation after
a line break is kept.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass

from hermes.platforms.spec import LengthUnit

_BREAK = re.compile(r"[ \t\r\n]+")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 units each
_NON_ASCII = re.compile("[^\x00-\x7f]")  # more than one UTF-8 byte each
_CONTENT = re.compile(r"\S")
_PARAGRAPH, _LINE, _SPACE, _HARD = 0, 1, 2, 3  # kinds of cut, most preferred first


@dataclass(frozen=True)
class Span:
    """A formatting entity in rendered text: text[start:open_end] opens it,
    text[close_start:end] closes it (empty when the text leaves it open)."""

    start: int
    open_end: int
    close_start: int
    end: int
    reopen: str  # what opens it again at the start of the next part
    close: str  # what closes it at the end of a part cut inside it
    short: str | None = None  # a shorter reopen when `reopen` leaves no room
    block: bool = False  # a block (code block, quote): a cut at its edge is a paragraph break

    def reopening(self, limit: int, unit: LengthUnit) -> str:
        if self.short is None or size(self.reopen + self.close, unit) < limit:
            return self.reopen
        return self.short


@dataclass(frozen=True)
class Rendered:
    """Text in a platform's markup, with its entities (nested, ordered by start)
    and the ranges that are never cut (besides the entities' own open and close)."""

    text: str
    spans: tuple[Span, ...] = ()
    atoms: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Part:
    """One message: `head` + rendered.text[start:end] + `tail`."""

    text: str
    start: int
    end: int
    head: str = ""  # the entities reopened
    tail: str = ""  # the entities closed


def size(text: str, unit: LengthUnit) -> int:
    """How long text is for a platform that counts in `unit`."""
    if unit == "utf16":  # a lone surrogate (from a JSON escape) counts as what it takes
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    if unit == "bytes":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text)


def _sizes(text: str, unit: LengthUnit) -> list[int]:
    """The size of each character of text."""
    sizes = [1] * len(text)
    if unit != "chars":
        for m in (_ASTRAL if unit == "utf16" else _NON_ASCII).finditer(text):
            sizes[m.start()] = size(m.group(), unit)
    return sizes


def split(rendered: Rendered, limit: int, unit: LengthUnit = "chars") -> list[str]:
    """The parts of a rendered text, each at most `limit` in `unit`. A text that fits
    is one part, unchanged (but for closing what it leaves open); a blank text gives
    none. ValueError when the limit cannot carry an entity's reopening and closing."""
    return [p.text for p in split_parts(rendered, limit, unit)]


def split_parts(rendered: Rendered, limit: int, unit: LengthUnit = "chars") -> list[Part]:
    """`split`, saying where each part's text comes from."""
    return list(iter_parts(rendered, limit, unit))


def iter_parts(rendered: Rendered, limit: int, unit: LengthUnit = "chars") -> Iterator[Part]:
    """`split_parts`, one part at a time (a preview needs only the first)."""
    if limit < 1:
        raise ValueError(f"message length limit must be positive, not {limit}")
    if rendered.text.strip():
        yield from _Splitter(rendered, limit, unit).parts()


@dataclass(frozen=True)
class _Cut:
    end: int  # the part's text ends here
    resume: int  # the next part's text starts here
    kind: int


class _Splitter:
    def __init__(self, rendered: Rendered, limit: int, unit: LengthUnit) -> None:
        self.text = text = rendered.text
        self.spans = rendered.spans
        self.limit, self.unit = limit, unit
        self.cum = [0, *itertools.accumulate(_sizes(text, unit))]
        self.filled = [0, *itertools.accumulate(map(operator.not_, map(str.isspace, text)))]
        # where a cut would fall inside an atom (2: never) or an entity's own opening
        # or closing text (1: only when that alone is longer than a part)
        self.inside = bytearray(len(text) + 1)
        masked = list(text)
        edges = [(s.start, s.open_end) for s in self.spans]
        edges += [(s.close_start, s.end) for s in self.spans]
        for level, ranges in ((1, edges), (2, rendered.atoms)):
            for a, b in ranges:
                self.inside[a + 1 : b] = bytes([level]) * max(0, b - a - 1)
                masked[a:b] = "x" * (b - a)
        self.masked = "".join(masked)  # breaks are looked for outside what stays whole
        # the innermost entity whose content holds each position, and each one's parent
        self.inner = [-1] * (len(text) + 1)
        self.parent: list[int] = []
        for i, s in enumerate(self.spans):
            self.parent.append(self.inner[s.start])
            self.inner[s.open_end : s.close_start + 1] = [i] * (s.close_start + 1 - s.open_end)
        self.block_ends = {s.end for s in self.spans if s.block}
        self.block_starts = {s.start for s in self.spans if s.block}

    def parts(self) -> Iterator[Part]:
        text, pos = self.text, 0
        ending = self._tail(len(text))  # closes what the text leaves open (a cut-off stream)
        while (content := _CONTENT.search(text, pos)) is not None:
            stack = self._stack(pos)
            head = "".join(s.reopening(self.limit, self.unit) for s in stack)
            room = self.limit - size(head, self.unit)
            if self.cum[-1] - self.cum[pos] + size(ending, self.unit) <= room:
                yield Part(head + text[pos:] + ending, pos, len(text), head, ending)
                return
            cut = self._best_cut(pos, content.start(), room)
            tail = self._tail(cut.end)
            yield Part(head + text[pos : cut.end] + tail, pos, cut.end, head, tail)
            pos = cut.resume

    def _stack(self, pos: int) -> list[Span]:
        """The entities open at pos, outermost first."""
        found, i = [], self.inner[pos]
        while i >= 0:
            found.append(self.spans[i])
            i = self.parent[i]
        return found[::-1]

    def _tail(self, end: int) -> str:
        return "".join(s.close for s in reversed(self._stack(end)))

    def _fits(self, pos: int, end: int, room: int) -> bool:
        return self.cum[end] - self.cum[pos] + size(self._tail(end), self.unit) <= room

    def _leaves_empty(self, pos: int, end: int, resume: int) -> bool:
        """Whether a cut would leave an entity with nothing in it on either side."""
        i = self.inner[end]
        if i < 0:
            return False
        s = self.spans[i]
        before = self.filled[end] - self.filled[max(s.open_end, pos)]
        after = self.filled[max(s.close_start, resume)] - self.filled[resume]
        return before == 0 or after == 0

    def _best_cut(self, pos: int, first: int, room: int) -> _Cut:
        """The most preferred kind of break that fits, the latest of its kind."""
        found: list[_Cut] = []
        for m in _BREAK.finditer(self.masked, pos):
            if self.cum[m.start()] - self.cum[pos] > room:
                break
            if m.start() > first:
                found.append(self._break(m.start(), m.end()))
        found.sort(key=lambda cut: (cut.kind, -cut.end))
        for cut in found:
            if self._fits(pos, cut.end, room) and not self._leaves_empty(pos, cut.end, cut.resume):
                return cut
        return self._hard_cut(pos, first, room)

    def _break(self, start: int, end: int) -> _Cut:
        newlines = self.text.count("\n", start, end)
        if newlines == 0:
            return _Cut(start, end, _SPACE)
        resume = self.text.rindex("\n", start, end) + 1  # keep the next line's indentation
        edge = start in self.block_ends or resume in self.block_starts  # beside a block
        return _Cut(start, resume, _PARAGRAPH if newlines > 1 or edge else _LINE)

    def _hard_cut(self, pos: int, first: int, room: int) -> _Cut:
        """No break fits: cut inside a word, as late as the room allows; inside what
        should stay whole only when that alone is longer than the room."""
        top = bisect.bisect_right(self.cum, self.cum[pos] + room) - 1
        for allowed in (0, 1):
            for end in range(top, first, -1):
                if self.inside[end] > allowed or (
                    not allowed and self._leaves_empty(pos, end, end)
                ):
                    continue
                if self._fits(pos, end, room):
                    return _Cut(end, end, _HARD)
        raise ValueError("message length limit is too small to carry the reply's formatting")
