"""Splitting a long reply into parts that fit a platform's length limit
(Markdown kept as it is: its code blocks and code spans are the entities)."""

from __future__ import annotations

import random
import re

import pytest

from hermes.platforms.render_split import size, split
from hermes.platforms.render_text import as_is

FENCE_LINE = re.compile(r"[ \t]*(`{3,})(\w*)[ \t]*")


def split_message(text: str, limit: int) -> list[str]:
    return split(as_is(text), limit)


def blocks(part: str) -> list[tuple[str, list[str]]]:
    """The code blocks of a part as (language, lines); fails on an unclosed block
    (an independent, simple reading of ``` fences)."""
    found: list[tuple[str, list[str]]] = []
    current: tuple[str, str, list[str]] | None = None  # marker, lang, lines
    for line in part.split("\n"):
        m = FENCE_LINE.fullmatch(line)
        if current is None and m:
            current = (m.group(1), m.group(2), [])
        elif current is not None and m and not m.group(2) and len(m.group(1)) >= len(current[0]):
            found.append((current[1], current[2]))
            current = None
        elif current is not None:
            current[2].append(line)
    assert current is None, f"unclosed code block in part:\n{part}"
    return found


def test_a_text_that_fits_is_one_part_unchanged() -> None:
    text = "Hello!\n\n```python\nprint(1)\n```\n"
    assert split_message(text, 100) == [text]
    assert split_message("x" * 50, 50) == ["x" * 50]


def test_a_blank_text_gives_no_parts() -> None:
    assert split_message("", 10) == []
    assert split_message("  \n\n ", 10) == []


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_message("hello", 0)


def test_a_paragraph_break_is_preferred_to_a_line_break_or_a_space() -> None:
    text = "First paragraph here.\n\nSecond one\nhas lines and many words in it"
    assert split_message(text, 45) == [
        "First paragraph here.",
        "Second one\nhas lines and many words in it",
    ]


def test_a_line_break_is_preferred_to_a_space() -> None:
    text = "one two three\nfour five six seven eight"
    assert split_message(text, 30) == ["one two three", "four five six seven eight"]


def test_words_are_never_cut_when_they_fit() -> None:
    text = " ".join(["alpha", "beta", "gamma", "delta", "epsilon"] * 8)
    parts = split_message(text, 22)
    assert all(len(p) <= 22 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_a_word_longer_than_the_limit_is_cut() -> None:
    assert split_message("x" * 45, 20) == ["x" * 20, "x" * 20, "x" * 5]
    assert split_message("see " + "y" * 30 + " ok", 20) == ["see", "y" * 20, "y" * 10 + " ok"]


def test_a_cut_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"x = {i}" for i in range(12))
    text = f"Intro.\n\n```python\n{code}\n```\n\nDone."
    parts = split_message(text, 50)
    assert parts[0] == "Intro."  # the block starts a fresh part rather than being cut early
    assert parts[1].startswith("```python\nx = 0\n") and parts[1].endswith("\n```")
    assert parts[2].startswith("```python\n")
    assert parts[-1].endswith("```\n\nDone.")
    assert all(len(p) <= 50 for p in parts)
    code_lines = [line for p in parts for _, lines in blocks(p) for line in lines]
    assert code_lines == code.split("\n")


def test_a_block_that_fits_in_the_next_part_moves_there_whole() -> None:
    text = "Some words before the code.\n```sh\nls -la\nmake test\n```\nAfter."
    parts = split_message(text, 40)
    assert parts == ["Some words before the code.", "```sh\nls -la\nmake test\n```\nAfter."]


def test_a_long_code_line_is_cut_inside_the_block() -> None:
    text = "```\n" + "y" * 50 + "\n```"
    parts = split_message(text, 20)
    assert parts[0] == "```\n" + "y" * 12 + "\n```"
    assert all(len(p) <= 20 and blocks(p) for p in parts)
    assert "".join(line for p in parts for _, ls in blocks(p) for line in ls) == "y" * 50


def test_no_part_holds_an_empty_code_block() -> None:
    text = "Look:\n```js\n" + "\n".join(f"f({i});" for i in range(30)) + "\n```"
    for limit in range(20, 80):
        for part in split_message(text, limit):
            assert all(any(line.strip() for line in lines) for _, lines in blocks(part))


def test_a_longer_fence_keeps_inner_backticks_as_code() -> None:
    inner = "\n".join(["```python", *[f"print({i})" for i in range(8)], "```"])
    text = f"````markdown\n{inner}\n````"
    parts = split_message(text, 48)
    assert len(parts) > 1
    for part in parts:
        assert part.startswith("````markdown\n") and part.endswith("\n````")
        assert len(part) <= 48


def test_tilde_fences_and_inline_triple_backticks() -> None:
    text = "~~~\n" + "\n".join(f"line {i}" for i in range(10)) + "\n~~~"
    parts = split_message(text, 30)
    assert all(p.startswith("~~~\n") and p.endswith("\n~~~") for p in parts)
    inline = "use ```x``` inline " * 5  # not a fence: nothing to close
    assert all("\n" not in p for p in split_message(inline, 40))


def test_a_fence_line_longer_than_the_limit_is_cut_like_a_word() -> None:
    text = "```" + "l" * 30 + "\n" + "\n".join("abc" for _ in range(20)) + "\n```"
    parts = split_message(text, 30)  # degenerate, but nothing is lost and no part is too long
    assert all(len(p) <= 30 for p in parts)
    assert all(p.startswith("```\nabc\n") for p in parts[2:])  # no room for the language
    assert "".join(parts).count("abc") == 20


def test_splitting_is_deterministic() -> None:
    text = " ".join(f"word{i}" for i in range(500)) + "\n```\ncode\n```"
    assert split_message(text, 97) == split_message(text, 97)


# ----- properties over random texts ---------------------------------------------


def random_text(rng: random.Random) -> str:
    """Paragraphs of prose tokens (wN.) and code blocks of code tokens tagged with
    their language (pyN; in python blocks, rsN; in rust, txN; in untagged)."""
    chunks: list[str] = []
    for _ in range(rng.randint(1, 12)):
        if rng.random() < 0.4:
            lang = rng.choice(["python", "rust", ""])
            tag = {"python": "py", "rust": "rs", "": "tx"}[lang]
            lines = [
                " " * rng.choice([0, 0, 4, 8])
                + " ".join(f"{tag}{rng.randint(0, 999)};" for _ in range(rng.randint(1, 4)))
                for _ in range(rng.randint(1, 15))
            ]
            if rng.random() < 0.2:
                lines.insert(rng.randint(0, len(lines)), "")
            chunks.append(f"```{lang}\n" + "\n".join(lines) + "\n```")
        else:
            sentences = [
                " ".join(f"w{rng.randint(0, 9999)}." for _ in range(rng.randint(1, 12)))
                for _ in range(rng.randint(1, 4))
            ]
            chunks.append(rng.choice(["\n", " "]).join(sentences))
    separators = ["\n\n", "\n", "\n\n\n"]
    text = chunks[0]
    for chunk in chunks[1:]:
        text += rng.choice(separators) + chunk
    return text


def normalized(text: str) -> str:
    """Text without fence lines, whitespace runs as one space."""
    kept = [line for line in text.split("\n") if not FENCE_LINE.fullmatch(line)]
    return " ".join("\n".join(kept).split())


def test_random_texts_split_into_valid_parts() -> None:
    rng = random.Random(20240611)
    for _ in range(400):
        text = random_text(rng)
        limit = rng.randint(30, 220)
        parts = split_message(text, limit)
        assert parts, text
        for part in parts:
            assert len(part) <= limit, (limit, part)
            assert part.strip()
            code = {tok for _, lines in blocks(part) for line in lines for tok in line.split()}
            langs = {"py": "python", "rs": "rust", "tx": ""}
            for lang, lines in blocks(part):
                assert any(line.strip() for line in lines), part  # no empty block
                for tok in " ".join(lines).split():
                    assert langs[tok[:2]] == lang, (tok, part)  # reopened with its language
            prose = [t for t in part.split() if t not in code and not FENCE_LINE.fullmatch(t)]
            assert all(re.fullmatch(r"w\d+\.", t) for t in prose), part  # prose stays outside
        # nothing lost, nothing repeated, words whole, in order
        assert " ".join(normalized(p) for p in parts) == normalized(text)
        if len(text) <= limit:
            assert parts == [text]


def test_parts_fit_a_limit_counted_in_utf16_units() -> None:
    text = "🚀 " * 3000 + "\n```\n" + "🎉" * 500 + "\n```"
    parts = split(as_is(text), 4096, "utf16")
    assert len(parts) > 1
    assert all(size(p, "utf16") <= 4096 for p in parts)
    assert "".join(parts).count("🚀") == 3000 and "".join(parts).count("🎉") == 500
    assert split(as_is("plain"), 4096, "utf16") == ["plain"]


def test_a_cut_inline_code_span_is_closed_and_reopened() -> None:
    text = "run `" + " ".join(f"arg{i}" for i in range(30)) + "` now"
    parts = split_message(text, 40)
    assert len(parts) > 2
    assert all(p.count("`") % 2 == 0 for p in parts), parts
    assert parts[1].startswith("`arg") and parts[0].endswith("`")


def test_a_block_the_text_leaves_open_is_closed_in_its_last_part() -> None:
    text = "Streaming:\n```python\n" + "\n".join(f"x = {i}" for i in range(20))
    parts = split_message(text, 60)
    assert all(blocks(p) is not None for p in parts[1:])  # every part closes its block
    assert parts[-1].endswith("\n```")
    assert split_message("```\n", 60) == ["```\n"]  # a fence line and nothing: only text
