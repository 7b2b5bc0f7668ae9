"""Skills: procedures the agent wrote down, as skills/NAME/SKILL.md with YAML
front matter (name, description), in the agentskills.io layout.

The system prompt lists names and descriptions; `skill_view` opens one,
`skill_manage` writes or removes one.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from hermes.agent.prompt import read_skills_index, skill_front_matter
from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.tools.base import Tool, schema
from hermes.tools.files import atomic_write

NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
MAX_SKILL_CHARS = 20_000


def _skill_dir(ctx: TurnContext, name: object) -> Path:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ToolError(
            f"name must be lowercase letters, digits and dashes (e.g. deploy-staging), got {name!r}"
        )
    return ctx.profile.home / "skills" / name


async def skills_list(args: dict[str, Any], ctx: TurnContext) -> str:
    skills = read_skills_index(ctx.profile.home / "skills")
    if not skills:
        return "No skills yet. Write one with skill_manage after a task worth repeating."
    return "\n".join(f"- {s.name}: {s.description}" for s in skills)


async def skill_view(args: dict[str, Any], ctx: TurnContext) -> str:
    folder = _skill_dir(ctx, args.get("name"))
    path = folder / "SKILL.md"
    if not path.is_file():
        known = ", ".join(s.name for s in read_skills_index(folder.parent)) or "none"
        raise ToolError(f"no skill named {args.get('name')!r} (skills: {known})")
    text = path.read_text(encoding="utf-8", errors="replace")
    extras = sorted(p.name for p in folder.iterdir() if p.name != "SKILL.md")
    if extras:
        text += f"\n\n[files beside it in {folder}: {', '.join(extras)}; open with read_file]"
    return text


async def skill_manage(args: dict[str, Any], ctx: TurnContext) -> str:
    action = args.get("action")
    folder = _skill_dir(ctx, args.get("name"))
    if action == "delete":
        if not folder.is_dir():
            raise ToolError(f"no skill named {folder.name!r} to delete")
        shutil.rmtree(folder)
        return f"Deleted skill {folder.name}."
    if action not in ("create", "update"):
        raise ToolError("action must be create, update or delete")
    content = args.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ToolError("content must be the whole SKILL.md text")
    if len(content) > MAX_SKILL_CHARS:
        raise ToolError(f"a skill may be at most {MAX_SKILL_CHARS:,} chars; make it shorter")
    meta = skill_front_matter(content)
    if not meta.get("description"):
        raise ToolError(
            "SKILL.md must start with YAML front matter holding name and description:\n"
            f"---\nname: {folder.name}\ndescription: when to use it, in one line\n---\n"
        )
    exists = (folder / "SKILL.md").exists()
    if action == "create" and exists:
        raise ToolError(f"skill {folder.name!r} exists; use action=update to change it")
    if action == "update" and not exists:
        raise ToolError(f"no skill named {folder.name!r}; use action=create")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "SKILL.md", content.encode("utf-8"))
    verb = "Created" if action == "create" else "Updated"
    return (
        f"{verb} skill {folder.name} ({len(content):,} chars). It is listed from the next session."
    )


TOOLS = [
    Tool(
        "skills_list",
        "List your skills (name and description). The system prompt lists them too.",
        schema({}),
        skills_list,
    ),
    Tool(
        "skill_view",
        "Open a skill: returns its SKILL.md (the procedure) and names the files beside it. "
        "Use it when a task matches a skill's description, before starting the task.",
        schema({"name": {"type": "string", "description": "the skill's name"}}, ["name"]),
        skill_view,
    ),
    Tool(
        "skill_manage",
        "Write down a procedure worth repeating, or improve one you used. action=create or "
        "update takes the whole SKILL.md: YAML front matter (name, description: when to use "
        "it) then the steps in Markdown. action=delete removes a skill.",
        schema(
            {
                "action": {"type": "string", "enum": ["create", "update", "delete"]},
                "name": {"type": "string", "description": "lowercase-with-dashes"},
                "content": {"type": "string", "description": "the whole SKILL.md text"},
            },
            ["action", "name"],
        ),
        skill_manage,
    ),
]
