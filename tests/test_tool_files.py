"""read_file, write_file, patch and search_files."""

from __future__ import annotations

import asyncio
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools_helpers import make_ctx, wait_until

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.tools import files, search
from hermes.tools.files import TOOLS
from hermes.tools.search import TOOLS as SEARCH_TOOLS

T = {t.name: t for t in TOOLS + SEARCH_TOOLS}


@pytest.fixture
def ctx(tmp_path: Path) -> TurnContext:
    context = make_ctx(tmp_path)
    context.cwd.mkdir()
    return context


async def test_write_then_read_relative_to_the_workspace(ctx: TurnContext) -> None:
    out = await T["write_file"].run({"path": "a/b/notes.txt", "content": "one\ntwo\n"}, ctx)
    assert out == f"Created {ctx.cwd / 'a/b/notes.txt'}: 8 bytes, 2 lines"
    assert (ctx.cwd / "a/b/notes.txt").read_text() == "one\ntwo\n"
    out = await T["write_file"].run({"path": "a/b/notes.txt", "content": "é"}, ctx)
    assert out.startswith("Replaced") and out.endswith(": 2 bytes, 1 lines")
    assert [p.name for p in (ctx.cwd / "a/b").iterdir()] == ["notes.txt"]  # no temp files left

    read = await T["read_file"].run({"path": "a/b/notes.txt"}, ctx)
    assert read == "     1\té"


async def test_tilde_is_the_turns_home(ctx: TurnContext, tmp_path: Path) -> None:
    await T["write_file"].run({"path": "~/x.txt", "content": "hi"}, ctx)
    assert (tmp_path / "x.txt").read_text() == "hi"


async def test_read_window_and_how_to_continue(ctx: TurnContext) -> None:
    (ctx.cwd / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    out = await T["read_file"].run({"path": "n.txt", "offset": 3, "limit": 2}, ctx)
    assert out.splitlines() == [
        "     3\tline 3",
        "     4\tline 4",
        "[lines 3-4 of 10; continue with offset=5]",
    ]
    with pytest.raises(ToolError, match=r"offset 11 is past the end of .*n.txt \(10 lines\)"):
        await T["read_file"].run({"path": "n.txt", "offset": 11}, ctx)


async def test_read_caps_its_output(ctx: TurnContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_READ_CHARS", 100)
    (ctx.cwd / "big.txt").write_text(("y" * 30 + "\n") * 20)  # 37 chars a numbered line
    out = await T["read_file"].run({"path": "big.txt"}, ctx)
    assert out.splitlines()[-1] == (
        "[stopped after line 2: read_file shows at most 100 chars per call; "
        "20 lines in all; continue with offset=3]"
    )
    assert len(out.splitlines()) == 3


async def test_read_errors_are_clear(ctx: TurnContext) -> None:
    (ctx.cwd / "blob.bin").write_bytes(b"\x89PNG\0\0\x01")
    with pytest.raises(ToolError, match=r"blob.bin is a binary file \(7 bytes\)"):
        await T["read_file"].run({"path": "blob.bin"}, ctx)
    with pytest.raises(ToolError, match=r"no such file: .*missing\.txt"):
        await T["read_file"].run({"path": "missing.txt"}, ctx)
    with pytest.raises(ToolError, match="is a directory"):
        await T["read_file"].run({"path": "."}, ctx)


async def test_patch_replaces_a_unique_match_and_keeps_the_mode(ctx: TurnContext) -> None:
    target = ctx.cwd / "app.py"
    target.write_text("def f():\n    return 1\n\ndef g():\n    return 1\n")
    os.chmod(target, 0o755)
    out = await T["patch"].run(
        {"path": "app.py", "old": "def g():\n    return 1", "new": "def g():\n    return 2"}, ctx
    )
    assert out == f"Patched {target}: replaced 1 occurrence (line 4)"
    assert target.read_text() == "def f():\n    return 1\n\ndef g():\n    return 2\n"
    assert target.stat().st_mode & 0o777 == 0o755


async def test_patch_refuses_an_ambiguous_match_unless_replace_all(ctx: TurnContext) -> None:
    target = ctx.cwd / "c.txt"
    target.write_text("a = 1\nb = 1\na = 1\n")
    with pytest.raises(ToolError, match=r"occurs 2 times .* \(lines 1, 3\).*replace_all=true"):
        await T["patch"].run({"path": "c.txt", "old": "a = 1", "new": "a = 2"}, ctx)
    assert target.read_text() == "a = 1\nb = 1\na = 1\n"
    out = await T["patch"].run(
        {"path": "c.txt", "old": "a = 1", "new": "a = 2", "replace_all": True}, ctx
    )
    assert "replaced 2 occurrences (line 1, 3)" in out
    assert target.read_text() == "a = 2\nb = 1\na = 2\n"


async def test_patch_not_found_shows_the_closest_lines(ctx: TurnContext) -> None:
    (ctx.cwd / "s.py").write_text("import os\n\ndef handler(event):\n    return event.name\n")
    with pytest.raises(ToolError) as err:
        await T["patch"].run(
            {"path": "s.py", "old": "def handle(event):\n    pass", "new": "x"}, ctx
        )
    message = str(err.value)
    assert "old text not found" in message
    assert "     3\tdef handler(event):" in message
    assert "import os" not in message


async def test_patch_hints_at_whitespace_and_validates(ctx: TurnContext) -> None:
    (ctx.cwd / "w.py").write_text("if x:\n    y = 1\n")
    with pytest.raises(ToolError, match="only if whitespace is ignored"):
        await T["patch"].run({"path": "w.py", "old": "if x:\n  y = 1", "new": "z"}, ctx)
    with pytest.raises(ToolError, match="identical"):
        await T["patch"].run({"path": "w.py", "old": "x", "new": "x"}, ctx)
    with pytest.raises(ToolError, match="no such file"):
        await T["patch"].run({"path": "nope.py", "old": "x", "new": "y"}, ctx)


async def test_patch_keeps_windows_line_endings(ctx: TurnContext) -> None:
    target = ctx.cwd / "crlf.txt"
    target.write_bytes(b"one\r\ntwo\r\n")
    await T["patch"].run({"path": "crlf.txt", "old": "one\ntwo", "new": "1\n2"}, ctx)
    assert target.read_bytes() == b"1\r\n2\r\n"


async def test_search_lists_matches_skipping_noise(ctx: TurnContext) -> None:
    (ctx.cwd / "src").mkdir()
    (ctx.cwd / "src/main.py").write_text("x = 1\nTODO: fix\n")
    (ctx.cwd / "src/notes.md").write_text("todo later\n")
    (ctx.cwd / ".git").mkdir()
    (ctx.cwd / ".git/config").write_text("TODO in git\n")
    (ctx.cwd / "node_modules").mkdir()
    (ctx.cwd / "node_modules/lib.py").write_text("TODO in deps\n")
    (ctx.cwd / "image.bin").write_bytes(b"TODO\0binary")

    out = await T["search_files"].run({"pattern": "TODO"}, ctx)
    assert out == "src/main.py:2: TODO: fix"
    out = await T["search_files"].run({"pattern": "todo", "ignore_case": True}, ctx)
    assert out.splitlines() == ["src/main.py:2: TODO: fix", "src/notes.md:1: todo later"]
    out = await T["search_files"].run({"pattern": "todo", "ignore_case": True, "glob": "*.md"}, ctx)
    assert out == "src/notes.md:1: todo later"
    out = await T["search_files"].run({"pattern": "x =|later", "glob": "src/*.py"}, ctx)
    assert out == "src/main.py:1: x = 1"


async def test_search_limits_results_and_reports_none(ctx: TurnContext) -> None:
    (ctx.cwd / "many.txt").write_text("hit\n" * 10)
    out = await T["search_files"].run({"pattern": "hit", "max_results": 3}, ctx)
    assert out.splitlines() == [
        "many.txt:1: hit",
        "many.txt:2: hit",
        "many.txt:3: hit",
        "[stopped at 3 matches; narrow the pattern, path or glob]",
    ]
    out = await T["search_files"].run({"pattern": "absent", "path": "many.txt"}, ctx)
    assert out.startswith("No matches for 'absent'") and "1 files searched" in out


async def test_search_rejects_a_bad_regex(ctx: TurnContext) -> None:
    with pytest.raises(ToolError, match=r"invalid regex 'foo\(': missing \), unterminated"):
        await T["search_files"].run({"pattern": "foo("}, ctx)


async def test_concurrent_patches_of_one_file_all_land(ctx: TurnContext) -> None:
    target = ctx.cwd / "many.txt"
    target.write_text("".join(f"line {i}\n" for i in range(8)))
    calls = [
        T["patch"].run({"path": "many.txt", "old": f"line {i}\n", "new": f"LINE {i}\n"}, ctx)
        for i in range(8)
    ]
    await asyncio.gather(*calls)  # tool calls of one turn run concurrently
    assert target.read_text() == "".join(f"LINE {i}\n" for i in range(8))


async def test_search_numbers_lines_like_read_file(ctx: TurnContext) -> None:
    (ctx.cwd / "ff.c").write_text("a\x0cb\u2028c\nneedle\n")  # form feed, line separator
    out = await T["search_files"].run({"pattern": "needle"}, ctx)
    assert out == "ff.c:2: needle"
    assert (await T["read_file"].run({"path": "ff.c"}, ctx)).split("\n")[1] == "     2\tneedle"
    with pytest.raises(ToolError, match=r"Closest lines:\n     2\tneedle"):
        await T["patch"].run({"path": "ff.c", "old": "needles", "new": "x"}, ctx)


async def test_a_cancelled_search_stops_walking(
    ctx: TurnContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, finished = threading.Event(), threading.Event()

    def endless_walk(top: object) -> Iterator[tuple[str, list[str], list[str]]]:
        try:
            while True:
                started.set()
                yield str(ctx.cwd), [], []
        finally:
            finished.set()

    monkeypatch.setattr(os, "walk", endless_walk)
    task = asyncio.create_task(T["search_files"].run({"pattern": "x"}, ctx))
    await wait_until(started.is_set)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(finished.is_set)  # the worker thread gave up, not left walking


async def test_search_says_when_a_limit_cut_the_walk(
    ctx: TurnContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "SEARCH_MAX_SCANNED", 5)
    for i in range(10):
        (ctx.cwd / f"f{i}.txt").write_text("nothing here\n")
    out = await T["search_files"].run({"pattern": "needle", "glob": "*.py"}, ctx)
    assert out.splitlines()[1] == "[searched only the first 0 files; narrow the path]"


async def test_pipes_are_refused_not_read_forever(ctx: TurnContext) -> None:
    os.mkfifo(ctx.cwd / "fifo")
    with pytest.raises(ToolError, match="fifo is not a regular file"):
        await T["read_file"].run({"path": "fifo"}, ctx)
    with pytest.raises(ToolError, match="fifo is not a regular file"):
        await T["patch"].run({"path": "fifo", "old": "a", "new": "b"}, ctx)
    (ctx.cwd / "t.txt").write_text("needle\n")
    assert await T["search_files"].run({"pattern": "needle"}, ctx) == "t.txt:1: needle"


async def test_patch_refuses_a_huge_file(ctx: TurnContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_EDIT_BYTES", 10)
    (ctx.cwd / "big.txt").write_text("x" * 11)
    with pytest.raises(ToolError, match=r"11 bytes, too big to patch \(limit 10\).*terminal"):
        await T["patch"].run({"path": "big.txt", "old": "x", "new": "y"}, ctx)


def test_a_huge_one_line_file_is_read_in_pieces(tmp_path: Path) -> None:
    big = tmp_path / "min.js"
    big.write_text("z" * 20_000_000 + "\nend\n")
    tracemalloc.start()
    try:
        out = files._read(big, 1, 10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.splitlines()[0].endswith(" ... [line cut: 20,000,000 chars]")
    assert out.splitlines()[1] == "     2\tend"
    assert peak < 2_000_000


def test_line_lengths_count_pieces_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "READ_CHUNK", 10)
    monkeypatch.setattr(files, "MAX_LINE_CHARS", 5)
    (tmp_path / "x.txt").write_text("abcdefghij\nabcdefghijk\r\nabc")
    assert files._read(tmp_path / "x.txt", 1, 10).splitlines() == [
        "     1\tabcde ... [line cut: 10 chars]",
        "     2\tabcde ... [line cut: 11 chars]",
        "     3\tabc",
    ]
