"""`hermes doctor` reports each invalid skill on one line, with what to fix (the
validator is hermes/skills/format.py), as a user runs it."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import run_hermes
from tests.test_cli_setup_doctor import custom_home

GOOD = "---\nname: briefing\ndescription: a morning brief\n---\nRead the news.\n"


def write_skill(home: Path, folder: str, text: str) -> None:
    (home / "skills" / folder).mkdir(parents=True, exist_ok=True)
    (home / "skills" / folder / "SKILL.md").write_text(text)


def doctor(home: Path) -> list[str]:
    result = run_hermes(home, "doctor", "--offline", clean=True, timeout=30)
    return result.stdout.splitlines()


def test_doctor_names_each_invalid_skill_with_what_to_fix(tmp_path: Path) -> None:
    home = custom_home(tmp_path / "home")
    write_skill(home, "briefing", GOOD)
    valid = [line for line in doctor(home) if "skill" in line]
    assert any(line.startswith("✓ all ") and "skill(s) valid" in line for line in valid), valid

    write_skill(home, "Deploy_Staging", GOOD.replace("briefing", "deploy"))
    write_skill(home, "notes", "just some notes\n")
    (home / "skills" / "empty").mkdir()
    (home / "skills" / ".archive" / "old").mkdir(parents=True)  # archived: not a skill
    lines = [line for line in doctor(home) if "skill" in line]
    bad = [line for line in lines if line.startswith("! skill ")]
    assert len(bad) == 3, lines  # one line per invalid skill
    deploy, empty, notes = sorted(bad)
    assert deploy.startswith("! skill Deploy_Staging is invalid and not loaded (folder name")
    assert "name 'deploy' must equal the folder's name 'Deploy_Staging'" in deploy
    assert deploy.endswith(
        ": fix skills/Deploy_Staging/SKILL.md (the format: docs/skills.md), then "
        "`hermes skills check`"
    )
    assert "(no SKILL.md in the folder)" in empty
    assert "must start with YAML front matter" in notes
    assert not any(line.startswith("✓ all ") for line in lines)
    assert not any("briefing" in line for line in lines)  # the valid one is not named
