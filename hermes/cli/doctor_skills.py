"""`hermes doctor`'s look at skills: each invalid skill (not loaded into the
prompt's index, refused by skill_view) on one line with what is wrong and how
to fix it, by the one validator (hermes/skills/format.py)."""

from __future__ import annotations

from pathlib import Path

from hermes.cli.doctor import Finding, ok, warn


def check_skills(home: Path) -> list[Finding]:
    from hermes.skills import format as fmt

    skills, problems = fmt.scan(home / "skills")
    by_skill: dict[str, list[str]] = {}
    for problem in problems:
        by_skill.setdefault(problem.name, []).append(problem.text)
    found = [
        warn(
            f"skill {name} is invalid and not loaded ({'; '.join(texts)})",
            f"fix skills/{name}/SKILL.md (the format: docs/skills.md), then `hermes skills check`",
        )
        for name, texts in by_skill.items()
    ]
    if skills and not found:
        found.append(ok(f"all {len(skills)} skill(s) valid"))
    return found
