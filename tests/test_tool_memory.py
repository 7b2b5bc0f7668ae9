"""The memory tool: MEMORY.md / USER.md entries, limits and the prompt snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools_helpers import make_ctx

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.settings import MemorySettings, Settings
from hermes.tools.memory import TOOLS, read_memories

MEMORY = TOOLS[0]


@pytest.fixture
def ctx(tmp_path: Path) -> TurnContext:
    settings = Settings(memory=MemorySettings(memory_char_limit=100, user_char_limit=40))
    return make_ctx(tmp_path, settings=settings)


async def test_add_creates_the_file_and_reports_usage(ctx: TurnContext, tmp_path: Path) -> None:
    out = await MEMORY.run({"action": "add", "target": "memory", "text": "Repo uses uv"}, ctx)
    assert out.splitlines() == ["Added to MEMORY.md. MEMORY.md: 12/100 chars", "Repo uses uv"]
    out = await MEMORY.run({"action": "add", "target": "memory", "text": "Deploy on Fridays"}, ctx)
    assert "MEMORY.md: 32/100 chars" in out
    path = tmp_path / "memories" / "MEMORY.md"
    assert path.read_text() == "Repo uses uv\n§\nDeploy on Fridays\n"
    assert read_memories(tmp_path) == ("Repo uses uv\n§\nDeploy on Fridays", "")


async def test_user_target_is_user_md(ctx: TurnContext, tmp_path: Path) -> None:
    out = await MEMORY.run({"action": "add", "target": "user", "text": "Name: Ada"}, ctx)
    assert "USER.md: 9/40 chars" in out
    assert read_memories(tmp_path) == ("", "Name: Ada")


async def test_replace_and_remove_find_the_entry_by_a_substring(
    ctx: TurnContext, tmp_path: Path
) -> None:
    for text in ("likes tea", "works in Berlin", "has a cat"):
        await MEMORY.run({"action": "add", "target": "memory", "text": text}, ctx)
    out = await MEMORY.run(
        {"action": "replace", "target": "memory", "old_text": "Berlin", "text": "works in Paris"},
        ctx,
    )
    assert out.startswith("Replaced an entry in MEMORY.md.")
    await MEMORY.run({"action": "remove", "target": "memory", "old_text": "cat"}, ctx)
    assert read_memories(tmp_path)[0] == "likes tea\n§\nworks in Paris"


async def test_missing_or_ambiguous_entries_are_clear_errors(ctx: TurnContext) -> None:
    for text in ("likes tea", "likes coffee"):
        await MEMORY.run({"action": "add", "target": "memory", "text": text}, ctx)
    with pytest.raises(ToolError, match=r"matches 2 entries in MEMORY\.md .* longer piece"):
        await MEMORY.run({"action": "remove", "target": "memory", "old_text": "likes"}, ctx)
    with pytest.raises(ToolError, match=r"no entry in MEMORY\.md contains 'juice'"):
        await MEMORY.run({"action": "remove", "target": "memory", "old_text": "juice"}, ctx)
    with pytest.raises(ToolError, match="target must be 'memory' or 'user'"):
        await MEMORY.run({"action": "add", "target": "notes", "text": "x"}, ctx)
    with pytest.raises(ToolError, match="unknown action"):
        await MEMORY.run({"action": "forget", "target": "memory", "text": "x"}, ctx)


async def test_an_add_over_the_limit_is_refused_with_usage(
    ctx: TurnContext, tmp_path: Path
) -> None:
    await MEMORY.run({"action": "add", "target": "user", "text": "a" * 30}, ctx)
    with pytest.raises(ToolError) as err:
        await MEMORY.run({"action": "add", "target": "user", "text": "b" * 10}, ctx)
    message = str(err.value)
    assert "USER.md is at 30/40 chars" in message and "over the limit" in message
    assert "remove or condense entries first" in message
    assert read_memories(tmp_path)[1] == "a" * 30
    out = await MEMORY.run(
        {"action": "replace", "target": "user", "old_text": "aaa", "text": "short"}, ctx
    )
    assert "USER.md: 5/40 chars" in out


async def test_duplicates_and_separator_lines_are_handled(ctx: TurnContext) -> None:
    await MEMORY.run({"action": "add", "target": "memory", "text": "same"}, ctx)
    out = await MEMORY.run({"action": "add", "target": "memory", "text": "same"}, ctx)
    assert out.startswith("Already in MEMORY.md; nothing changed.")
    with pytest.raises(ToolError, match="separator"):
        await MEMORY.run({"action": "add", "target": "memory", "text": "a\n§\nb"}, ctx)


async def test_a_memory_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    path = tmp_path / "memories" / "MEMORY.md"
    path.parent.mkdir()
    path.write_bytes("café".encode("latin-1"))
    with pytest.raises(ToolError, match=r"MEMORY.md is not UTF-8 text .* left as it is"):
        await MEMORY.run({"action": "add", "target": "memory", "text": "x"}, ctx)
    assert path.read_bytes() == "café".encode("latin-1")


ADDER = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, "tests")
from tools_helpers import make_ctx
from hermes.settings import MemorySettings, Settings
from hermes.tools.memory import TOOLS

async def main() -> None:
    home, who = Path(sys.argv[1]), sys.argv[2]
    ctx = make_ctx(home, settings=Settings(memory=MemorySettings(memory_char_limit=100_000)))
    for n in range(40):
        await TOOLS[0].run({"action": "add", "target": "memory", "text": f"{who} {n}"}, ctx)

asyncio.run(main())
"""


def test_replicas_sharing_the_home_lose_no_entry(tmp_path: Path) -> None:
    """Replicas of a cluster on one shared volume add entries at once (here: four
    processes, 40 entries each): every entry is kept."""
    import subprocess
    import sys

    procs = [
        subprocess.Popen([sys.executable, "-c", ADDER, str(tmp_path), f"replica{i}"])
        for i in range(4)
    ]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]
    memory, _ = read_memories(tmp_path)
    entries = set(memory.split("\n§\n"))
    assert entries == {f"replica{i} {n}" for i in range(4) for n in range(40)}
