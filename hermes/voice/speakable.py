"""Markdown -> the text to read aloud (pure).

Code longer than a few words becomes "(code omitted)", a link its text, a bare URL
"(link)"; headings, emphasis, list bullets and table rules lose their markup, and
lines of only emoji/symbols are dropped."""

from __future__ import annotations

import re
import unicodedata

CODE = "(code omitted)"
LINK = "(link)"
SHORT_CODE_WORDS = 3  # inline code of at most this many words is read as words

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n(.*?)(?:^ {0,3}\1[ \t]*$|\Z)", re.M | re.S)
_INLINE = re.compile(r"(`+)(.+?)\1", re.S)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$", re.M)
_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^>\s]+>")
_URL = re.compile(r"\b(?:https?://|ftp://|www\.)[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"]")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.M)
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$", re.M)
_RULE = re.compile(r"^ {0,3}([-*_])([ \t]*\1){2,}[ \t]*$", re.M)
_QUOTE = re.compile(r"^ {0,3}>+ ?", re.M)
_BULLET = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?", re.M)
_TABLE_RULE = re.compile(
    r"^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$", re.M
)
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~)(?=\S)(.+?)(?<=\S)\1", re.S)
_HTML_TAG = re.compile(r"</?[A-Za-z][^>\n]*>")
_CODE_MARK = "\x00CODE\x00"


def _code(m: re.Match[str]) -> str:
    """Code of a few words is read as words; longer code is omitted."""
    body = m.group(2).strip()
    return body if len(body.split()) <= SHORT_CODE_WORDS else _CODE_MARK


def _table_row(line: str) -> str:
    if line.count("|") < 2:
        return line
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    return ", ".join(c for c in cells if c) + "."


def _wordless(line: str) -> bool:
    """True for a line with no letters or digits (emoji, arrows, dingbats only)."""
    stripped = line.strip()
    if not stripped:
        return False
    return not any(unicodedata.category(ch)[0] in "LN" for ch in stripped)


def speakable(markdown: str) -> str:
    """MARKDOWN as plain sentences for a speech synthesizer ("" if nothing to say)."""
    text = markdown.replace("\r\n", "\n")
    text = _FENCE.sub(_code, text)
    text = _INLINE.sub(_code, text)
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _REF_LINK.sub(lambda m: m.group(1), text)
    text = _REF_DEF.sub("", text)
    text = _AUTOLINK.sub(LINK, text)
    text = _URL.sub(LINK, text)
    text = _HTML_TAG.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = _RULE.sub("", text)
    text = _HEADING.sub(lambda m: m.group(1).rstrip(".:") + ".", text)
    text = _SETEXT.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub("", text)
    for _ in range(2):  # nested emphasis: ***bold italic***, **bold _italic_**
        text = _EMPHASIS.sub(lambda m: m.group(2), text)
    lines = []
    for raw in text.split("\n"):
        line = _table_row(raw).strip()
        if _wordless(line.replace(_CODE_MARK, "x")):
            continue
        lines.append(line)
    out = "\n".join(lines).replace(_CODE_MARK, CODE)
    out = re.sub(r"(\(code omitted\)\s*){2,}", CODE + " ", out)
    out = re.sub(r"[ \t]+", " ", out)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def cut(text: str, limit: int) -> str:
    """TEXT cut to at most LIMIT characters, at the last sentence end before it
    (else the last word boundary)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?…](?=\s|$)", head)]
    if ends and ends[-1] > limit // 3:
        return head[: ends[-1]].strip()
    space = head.rfind(" ")
    return (head[:space] if space > 0 else head).strip()
