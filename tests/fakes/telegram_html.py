"""How the fake Bot API reads a message sent with parse_mode HTML, from the
"HTML style" section of the Bot API docs: a few tags, the entities &lt; &gt;
&amp; &quot; and numeric ones; every other <, > and & must be escaped. The
text is stored without its tags, with entities whose offsets and lengths count
UTF-16 code units. Malformed HTML is refused as Telegram refuses it (400
"can't parse entities"), which is what the adapter's fallback is tested with.
"""

from __future__ import annotations

import html
import re
from typing import Any

TOKEN = re.compile(
    r"<(/?)([A-Za-z][\w-]*)((?:\s+[\w-]+(?:=\"[^\"]*\"|='[^']*')?)*)\s*>"  # a tag
    r"|&(#\d+|#x[\da-fA-F]+|lt|gt|amp|quot);"  # an entity
    r"|[<>&]"  # neither: refused
)
ATTRIBUTE = re.compile(r"([\w-]+)(?:=\"([^\"]*)\"|='([^']*)')?")
KINDS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link",
    "code": "code", "pre": "pre", "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip


class ParseError(ValueError):
    pass


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse(source: str) -> tuple[str, list[dict[str, Any]]]:
    """(text, entities) of an HTML message; ParseError as Telegram words it."""
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, Any]]] = []  # tag, offset, entity
    at = 0
    for m in TOKEN.finditer(source):
        out.append(source[at : m.start()])
        at = m.end()
        where = len(source[: m.start()].encode())
        offset = _units("".join(out))
        if m.group(4):
            out.append(html.unescape(m.group()))
        elif m.group(2) is None:
            raise ParseError(
                f"can't parse entities: unexpected {m.group()!r} at byte offset {where}"
            )
        elif m.group(1):
            tag = m.group(2).lower()
            if not stack:
                raise ParseError(f"can't parse entities: unexpected end tag at byte offset {where}")
            open_tag, start, entity = stack.pop()
            if open_tag != tag:
                raise ParseError(
                    f"can't parse entities: unmatched end tag at byte offset {where}, "
                    f'expected "</{open_tag}>", found "</{tag}>"'
                )
            entity.update(offset=start, length=offset - start)
            if entity["length"] and entity["type"] != "_inner":
                entities.append(entity)
        else:
            tag = m.group(2).lower()
            attrs = {
                a.group(1): html.unescape(a.group(2) or a.group(3) or "")
                for a in ATTRIBUTE.finditer(m.group(3))
            }
            entity = _entity(tag, attrs, stack, where)
            stack.append((tag, offset, entity))
    if stack:
        tag = stack[-1][0]
        raise ParseError(f"can't parse entities: can't find end tag for start tag \"{tag}\"")
    out.append(source[at:])
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _entity(tag: str, attrs: dict[str, str], stack: list[Any], where: int) -> dict[str, Any]:
    if tag not in KINDS or (tag == "span" and attrs.get("class") != "tg-spoiler"):
        raise ParseError(
            f'can\'t parse entities: unsupported start tag "{tag}" at byte offset {where}'
        )
    inside = {t for t, _, _ in stack}
    if tag == "blockquote" and "blockquote" in inside:
        raise ParseError("can't parse entities: blockquote entities can't be nested")
    if inside & {"code", "pre"} and not (tag == "code" and stack[-1][0] == "pre"):
        raise ParseError(f"can't parse entities: a {tag} entity inside code or pre")
    entity: dict[str, Any] = {"type": KINDS[tag]}
    if tag == "a":
        if not attrs.get("href"):
            raise ParseError("can't parse entities: a link without href")
        entity["url"] = attrs["href"]
    if tag == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "").removeprefix("language-")
        if language:
            stack[-1][2]["language"] = language
        entity["type"] = "_inner"  # <pre><code class>: one pre entity
    return entity
