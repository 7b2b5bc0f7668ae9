"""The agentskills.io format of a skill, and the one validator every path uses
(loading the index, skill_manage, proposals, `hermes skills check`).

A skill is a folder skills/NAME/ holding SKILL.md: YAML front matter, then the
procedure in Markdown. Front matter: `name` (= the folder's name; 1-64
lowercase letters, digits and hyphens, no leading, trailing or doubled
hyphen), `description` (1-1024 chars: what it does and when to use it), and
optionally `license`, `compatibility` (<= 500 chars), `metadata` (a mapping of
text to text) and `allowed-tools` (space-separated tool names). Optional
folders beside SKILL.md: references/, scripts/, assets/.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_COMPATIBILITY = 500
MAX_SKILL_CHARS = 20_000
FIELDS = ("name", "description", "license", "compatibility", "metadata", "allowed-tools")
OPTIONAL_DIRS = ("references", "scripts", "assets")
HIDDEN = (".", "_")  # skills/.archive, skills/.bundled.json: not skills


@dataclass(frozen=True)
class Skill:
    """A valid skill as the index lists it."""

    name: str
    description: str


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one skill: `skills/NAME: what`."""

    name: str
    text: str

    def line(self) -> str:
        return f"skills/{self.name}: {self.text}"


def name_problem(name: object) -> str | None:
    """What is wrong with a skill name, or None."""
    if not isinstance(name, str) or not name:
        return "name is missing; give the folder's name, e.g. name: deploy-staging"
    if len(name) > MAX_NAME:
        return f"name is {len(name)} chars; at most {MAX_NAME}"
    if not NAME_RE.fullmatch(name):
        return (
            f"name {name!r} must be lowercase letters, digits and single hyphens "
            "(not at the start or end), e.g. deploy-staging"
        )
    return None


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str, str | None]:
    """(front matter, body, problem): the YAML between the leading `---` lines."""
    import yaml

    text = text.lstrip("\ufeff")
    if not text.startswith("---"):
        return None, text, "SKILL.md must start with YAML front matter between '---' lines"
    end = text.find("\n---", 3)
    if end < 0:
        return None, text, "the front matter has no closing '---' line"
    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 2})" if where is not None else ""
        return None, text, f"the front matter is not valid YAML{at}"
    if not isinstance(data, dict):
        return None, text, "the front matter must be a YAML mapping (key: value lines)"
    body = text[end + 4 :].lstrip("-").lstrip("\n")
    return data, body, None


def validate(folder_name: str, text: str) -> list[str]:
    """Everything wrong with SKILL.md TEXT for the folder FOLDER_NAME ([] when valid).
    Pure: no I/O."""
    problems: list[str] = []
    folder_problem = name_problem(folder_name)
    if folder_problem:
        problems.append(f"folder {folder_problem}")
    if len(text) > MAX_SKILL_CHARS:
        problems.append(f"SKILL.md is {len(text):,} chars; at most {MAX_SKILL_CHARS:,}")
    meta, body, problem = split_front_matter(text)
    if meta is None:
        return [*problems, problem or "no front matter"]
    name = meta.get("name")
    bad_name = name_problem(name)
    if bad_name:
        problems.append(bad_name)
    elif name != folder_name:
        problems.append(f"name {name!r} must equal the folder's name {folder_name!r}")
    description = meta.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append("description is missing: say what the skill does and when to use it")
    elif len(description) > MAX_DESCRIPTION:
        problems.append(f"description is {len(description)} chars; at most {MAX_DESCRIPTION}")
    for key in ("license", "compatibility", "allowed-tools"):
        if key in meta and not isinstance(meta[key], str):
            problems.append(f"{key} must be text")
    compat = meta.get("compatibility")
    if isinstance(compat, str) and len(compat) > MAX_COMPATIBILITY:
        problems.append(f"compatibility is {len(compat)} chars; at most {MAX_COMPATIBILITY}")
    if "metadata" in meta:
        data = meta["metadata"]
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            problems.append("metadata must be a mapping of text keys to values")
    unknown = sorted(str(k) for k in meta if k not in FIELDS)
    if unknown:
        problems.append(
            f"unknown front matter field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}"
        )
    if not body.strip():
        problems.append("the procedure after the front matter is empty")
    return problems


def description_of(text: str) -> str:
    """The description of a SKILL.md text on one line ('' when absent)."""
    meta, _, _ = split_front_matter(text)
    return " ".join(str((meta or {}).get("description") or "").split())


def folder_problems(folder: Path) -> list[str]:
    """What is wrong with the skill folder FOLDER (reads SKILL.md)."""
    path = folder / "SKILL.md"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ["SKILL.md is not UTF-8 text"]
    except OSError as exc:
        return [f"SKILL.md cannot be read ({exc.strerror or exc})"]
    problems = validate(folder.name, text)
    for sub in OPTIONAL_DIRS:
        if (folder / sub).exists() and not (folder / sub).is_dir():
            problems.append(f"{sub} must be a folder")
    return problems


def scan(skills_dir: Path) -> tuple[list[Skill], list[Problem]]:
    """The valid skills of SKILLS_DIR (by name) and one Problem per thing wrong with
    the others. Folders starting with '.' or '_' (the archive) are not skills."""
    skills: list[Skill] = []
    problems: list[Problem] = []
    if not skills_dir.is_dir():
        return skills, problems
    for folder in sorted(p for p in skills_dir.iterdir() if p.is_dir()):
        if folder.name.startswith(HIDDEN):
            continue
        if not (folder / "SKILL.md").is_file():
            problems.append(Problem(folder.name, "no SKILL.md in the folder"))
            continue
        found = folder_problems(folder)
        if found:
            problems.extend(Problem(folder.name, p) for p in found)
            continue
        text = (folder / "SKILL.md").read_text(encoding="utf-8")
        skills.append(Skill(folder.name, description_of(text)))
    return skills, problems


def load_index(skills_dir: Path) -> list[Skill]:
    """The valid skills; each invalid one is logged (one line per problem) and left out.
    Kept while no file it was read from changes (see _signature): every new
    session's prompt lists the skills, and reading them costs ~1 ms per skill."""
    signature = _signature(skills_dir)
    kept = _INDEX.get(skills_dir)
    if signature is not None and kept is not None and kept[0] == signature:
        return list(kept[1])
    skills, problems = scan(skills_dir)
    for problem in problems:
        log.warning("skill not loaded: %s", problem.line())
    if signature is not None and time.time() - max(s[1] for s in signature) > SETTLED:
        _INDEX[skills_dir] = (signature, skills)
    else:  # just written: a second write in the same clock tick might not change mtime
        _INDEX.pop(skills_dir, None)
    return skills


SETTLED = 2.0  # seconds since the last change before an index is kept
_Stat = tuple[str, float, int, int, int]
_INDEX: dict[Path, tuple[tuple[_Stat, ...], list[Skill]]] = {}


def _stat(path: Path) -> _Stat:
    st = path.stat()
    return (path.name, st.st_mtime, st.st_mtime_ns, st.st_size, st.st_ino)


def _signature(skills_dir: Path) -> tuple[_Stat, ...] | None:
    """What scan() read, by stat: the folder (its entries), each skill folder (its
    entries) and each SKILL.md. None when it cannot be had (then nothing is kept)."""
    try:
        stats = [_stat(skills_dir)]
        for folder in sorted(skills_dir.iterdir()):
            stats.append(_stat(folder))
            if folder.is_dir() and (folder / "SKILL.md").exists():
                stats.append(_stat(folder / "SKILL.md"))
    except OSError:
        return None
    return tuple(stats)
