"""Skills: procedures the agent wrote down, as skills/NAME/SKILL.md with YAML
front matter (name, description), in the agentskills.io layout.

The system prompt lists names and descriptions of the valid ones
(hermes/skills/format.py); `skill_view` opens one (counted in state.db);
`skill_manage` writes or removes one through a proposal (hermes/skills/proposals.py):
applied at once with `skills.write_approval: auto`, staged for the user's
`/skills apply ID` with `ask`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hermes.agent.prompt import read_skills_index
from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.skills import format as fmt
from hermes.skills import proposals
from hermes.store import skill_ops
from hermes.tools.base import Tool, schema

MAX_SKILL_CHARS = fmt.MAX_SKILL_CHARS


def _skill_dir(ctx: TurnContext, name: object) -> Path:
    if not isinstance(name, str) or fmt.name_problem(name):
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
    problems = fmt.validate(folder.name, text)
    if problems:
        raise ToolError(
            f"skill {folder.name!r} is invalid and not loaded: {'; '.join(problems)}; "
            "fix its SKILL.md (hermes skills check lists the problems)"
        )
    await ctx.store.run(skill_ops.record_view, folder.name, ctx.session_id, time.time())
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
        return await _propose(ctx, proposals.Draft("skill", "delete", folder.name, None))
    if action not in ("create", "update"):
        raise ToolError("action must be create, update or delete")
    content = args.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ToolError("content must be the whole SKILL.md text")
    if len(content) > MAX_SKILL_CHARS:
        raise ToolError(f"a skill may be at most {MAX_SKILL_CHARS:,} chars; make it shorter")
    problems = fmt.validate(folder.name, content)
    if problems:
        raise ToolError(
            f"{'; '.join(problems)}. SKILL.md starts with YAML front matter:\n"
            f"---\nname: {folder.name}\ndescription: when to use it, in one line\n---\n"
            "then the steps in Markdown"
        )
    exists = (folder / "SKILL.md").exists()
    if action == "create" and exists:
        raise ToolError(f"skill {folder.name!r} exists; use action=update to change it")
    if action == "update" and not exists:
        raise ToolError(f"no skill named {folder.name!r}; use action=create")
    verb = "create" if action == "create" else "patch"
    return await _propose(ctx, proposals.Draft("skill", verb, folder.name, content))


async def _propose(ctx: TurnContext, draft: proposals.Draft) -> str:
    """Stage the agent's change; applied at once with skills.write_approval: auto."""
    settings = ctx.profile.settings
    try:
        proposal, line = await proposals.stage(
            ctx.store, ctx.profile.home, settings, draft, "agent"
        )
    except proposals.ProposalError as exc:
        raise ToolError(str(exc)) from exc
    if proposal.status == "pending":
        return (
            f"Staged as proposal {proposal.id} ({proposals.describe_draft(proposal)}): "
            "skills.write_approval is ask, so the user applies it with "
            f"/skills apply {proposal.id}. Tell them."
        )
    if proposal.status != "applied":
        return line
    done = {"create": "Created", "patch": "Updated", "delete": "Deleted"}[proposal.action]
    return (
        f"{done} skill {proposal.target} (proposal {proposal.id}"
        + (f"; {proposal.reason}" if proposal.reason else "")
        + f"; /skills rollback {proposal.id} undoes it). It is listed from the next session."
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
