"""The system prompt: SOUL.md + a snapshot of memories + the skills index.

Built once when a session starts and kept for the whole session, so the
provider's prompt cache keeps hitting; memory written during the session
shows up in the next session's prompt.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path

from hermes.context import Profile

DEFAULT_SOUL = "You are Hermes, a capable personal assistant that runs on the user's own machine."


@dataclass(frozen=True)
class SkillEntry:
    name: str
    description: str


def read_skills_index(skills_dir: Path) -> list[SkillEntry]:
    """Name and description of every valid skills/NAME/SKILL.md (agentskills.io format,
    hermes/skills/format.py); an invalid one is logged and left out."""
    from hermes.skills.format import load_index

    return [SkillEntry(s.name, s.description) for s in load_index(skills_dir)]


def skill_front_matter(text: str) -> dict[str, object]:
    """The YAML front matter of a SKILL.md text ({} when absent or invalid)."""
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    import yaml

    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def build_system_prompt(profile: Profile, *, now: float | None = None) -> str:
    home = profile.home
    parts = [_read(home / "SOUL.md") or DEFAULT_SOUL]
    memory = _read(home / "memories" / "MEMORY.md")
    user = _read(home / "memories" / "USER.md")
    if memory or user:
        parts.append(
            "# What you remember\n"
            "(A snapshot taken when this conversation started. Use the memory tool to "
            "add, replace or remove entries; changes apply from the next conversation.)"
        )
        if user:
            parts.append("## About the user (USER.md)\n" + user)
        if memory:
            parts.append("## Your notes (MEMORY.md)\n" + memory)
    skills = read_skills_index(home / "skills")
    if skills:
        lines = [f"- {s.name}: {s.description}" for s in skills]
        parts.append(
            "# Skills\nProcedures you wrote down earlier. Open one with skill_view when a "
            "task matches; write or improve one with skill_manage after a task worth "
            "repeating.\n" + "\n".join(lines)
        )
    day = time.strftime("%Y-%m-%d", time.localtime(now))
    parts.append(
        "# Environment\n"
        f"- Date: {day}\n"
        f"- System: {platform.system()} {platform.machine()}\n"
        f"- Profile: {profile.name} (home {home})\n"
        f"{_terminal_line(profile)}\n"
        "- Use session_search to recall earlier conversations before saying you "
        "don't know something the user told you before."
    )
    return "\n\n".join(parts)


def _terminal_line(profile: Profile) -> str:
    """Where the terminal and file tools work (no I/O: the prompt stays stable)."""
    from hermes.backends.pool import backend_for
    from hermes.errors import HermesError

    try:
        backend = backend_for(profile)
    except HermesError as exc:
        return f"- The terminal and file tools cannot run: {exc}"
    reach = backend.where()
    if reach.host_paths:
        return f"- Working directory of the terminal and file tools: {backend.cwd}"
    return (
        f"- The terminal and file tools run on {reach.description}, not on this machine; "
        f"they start in {backend.cwd} there"
    )
