"""Cut a long reply into parts that fit a platform's message length limit.

Platforms refuse messages over their limit (Telegram: 4096 characters), so
the delivery splits a reply into parts. A cut should fall where a reader
expects one: at a paragraph break if possible, else a line break, else a
space; a word is cut only when it alone is longer than the limit. A fenced
code block (```lang) that must be cut is closed at the end of one part and
reopened with the same language at the start of the next, so each part still
renders as code; those fence lines count within the limit.

The function is pure and deterministic: the delivery ledger resumes a
half-sent reply by part index, so the same text must always give the same
parts. What a cut drops is only the whitespace at the cut itself (the blank
line, newline or spaces between two parts); everything else is kept, in
order.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

_BREAK = re.compile(r"[ \t\r\n]+")
_CONTENT = re.compile(r"\S")
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")

# Kinds of cut, most preferred first.
_PARAGRAPH, _LINE, _SPACE = 0, 1, 2


@dataclass(frozen=True)
class _Fence:
    marker: str  # the opening run of backticks (or tildes): the closing one repeats it
    lang: str  # first word of the info string ("" if none)

    def reopen(self, limit: int) -> str:
        """The line that reopens the block at the start of a part (with its newline);
        without the language when the language would leave no room for content."""
        full = f"{self.marker}{self.lang}\n"
        if len(full) + len(self.close()) + 1 <= limit:
            return full
        return f"{self.marker}\n"

    def close(self) -> str:
        """What ends a part cut inside the block."""
        return f"\n{self.marker}"


class _Lines:
    """The text's lines with the code-block state before each one."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.toggles: list[bool] = []  # the line opens or closes a block
        self.before: list[_Fence | None] = []  # block open before the line
        fence: _Fence | None = None
        for i, start in enumerate(self.starts):
            end = self.starts[i + 1] - 1 if i + 1 < len(self.starts) else len(text)
            line = text[start:end].rstrip("\r")
            self.before.append(fence)
            m = _FENCE.fullmatch(line)
            toggles = False
            if m and fence is None:
                marker, info = m.group(1), m.group(2)
                if not (marker[0] == "`" and "`" in info):  # ```x``` on one line is inline code
                    fence = _Fence(marker, info.split()[0] if info.split() else "")
                    toggles = True
            elif m and fence is not None:
                marker, rest = m.group(1), m.group(2)
                same = marker[0] == fence.marker[0] and len(marker) >= len(fence.marker)
                if same and not rest.strip():
                    fence, toggles = None, True
            self.toggles.append(toggles)
        self.before.append(fence)  # after the last line

    def index(self, pos: int) -> int:
        """The line holding position pos."""
        return bisect.bisect_right(self.starts, pos) - 1

    def opens(self, i: int) -> bool:
        return 0 <= i < len(self.toggles) and self.toggles[i] and self.before[i] is None

    def closes(self, i: int) -> bool:
        return 0 <= i < len(self.toggles) and self.toggles[i] and self.before[i] is not None


@dataclass(frozen=True)
class _Cut:
    end: int  # the part's text ends here
    resume: int  # the next part's text starts here
    fence: _Fence | None  # block open at the cut
    kind: int


def split_message(text: str, limit: int) -> list[str]:
    """Parts of text, each at most `limit` characters. A text that fits is returned
    as it is, in one part; a blank text gives no parts. Raises ValueError when the
    limit is too small to carry a code block's fence lines."""
    if limit < 1:
        raise ValueError(f"message length limit must be positive, not {limit}")
    if not text.strip():
        return []
    if len(text) <= limit:
        return [text]
    lines = _Lines(text)
    parts: list[str] = []
    pos = 0
    while (content := _CONTENT.search(text, pos)) is not None:
        fence = lines.before[lines.index(pos)]
        prefix = fence.reopen(limit) if fence else ""
        if len(prefix) + len(text) - pos <= limit:
            parts.append(prefix + text[pos:])
            break
        cut = _best_cut(text, lines, pos, content.start(), limit - len(prefix))
        body = text[pos : cut.end]
        parts.append(prefix + body + (cut.fence.close() if cut.fence else ""))
        pos = cut.resume
    return parts


def _best_cut(text: str, lines: _Lines, pos: int, first: int, room: int) -> _Cut:
    """Where the part starting at pos ends, given `room` characters for its text
    (its closing fence included, if it ends inside a block); the part must hold
    the character at `first`, its first non-blank one."""
    best: _Cut | None = None
    for m in _BREAK.finditer(text, pos):
        if m.start() - pos > room:
            break
        cut = _break_cut(text, lines, m.start(), m.end())
        if cut is None or cut.end <= first:
            continue
        size = cut.end - pos + (len(cut.fence.close()) if cut.fence else 0)
        if size > room:
            continue
        if best is None or cut.kind < best.kind or (cut.kind == best.kind and cut.end > best.end):
            best = cut
    return best or _hard_cut(lines, pos, first, room)


def _break_cut(text: str, lines: _Lines, start: int, end: int) -> _Cut | None:
    """A cut at the whitespace run text[start:end], or None where cutting would
    split a fence line or leave an empty code block behind."""
    newlines = text.count("\n", start, end)
    if newlines == 0:
        i = lines.index(start)
        if lines.toggles[i]:
            return None  # inside a fence line
        return _Cut(start, end, lines.before[i], _SPACE)
    last = lines.index(start)  # the line the part ends with
    nxt = lines.index(text.rindex("\n", start, end)) + 1  # the line the next part starts with
    if lines.opens(last) or lines.closes(nxt):
        return None  # would leave an empty block at one side of the cut
    resume = lines.starts[nxt] if nxt < len(lines.starts) else len(text)
    kind = _PARAGRAPH if newlines > 1 or lines.closes(last) or lines.opens(nxt) else _LINE
    return _Cut(start, resume, lines.before[nxt], kind)


def _hard_cut(lines: _Lines, pos: int, first: int, room: int) -> _Cut:
    """No break fits: cut inside a word, as late as the room allows; inside a fence
    line only when that line alone is longer than the room."""
    for inside_fence_line in (False, True):
        for end in range(pos + room, first, -1):
            i = lines.index(end)
            if lines.toggles[i] and end != lines.starts[i] and not inside_fence_line:
                continue
            fence = lines.before[i]
            if end - pos + (len(fence.close()) if fence else 0) <= room:
                return _Cut(end, end, fence, _SPACE + 1)
    raise ValueError("message length limit is too small to carry a code block's fence lines")


def utf16_size(text: str) -> int:
    """Length in UTF-16 code units: how Telegram counts its 4096 (an emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_to_fit(text: str, limit: int, size: Callable[[str], int] = len) -> list[str]:
    """split_message, where `size` measures a part (e.g. utf16_size): the
    character limit shrinks until every part fits."""
    chars = limit
    while True:
        parts = split_message(text, chars)
        worst = max((size(p) for p in parts), default=0)
        if worst <= limit or chars <= 1:
            return parts
        chars = max(1, chars * limit // worst - 1)
