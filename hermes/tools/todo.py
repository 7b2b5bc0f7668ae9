"""The `todo` tool: the session's task list, kept in the store (one per session).

One call form: `todo()` shows the list; `todo(todos=[...])` replaces it;
`todo(todos=[...], merge=true)` updates items by id and appends new ones.
Every call returns the whole list as a checklist.
"""

from __future__ import annotations

from typing import Any

from hermes.context import TurnContext
from hermes.errors import ToolError
from hermes.store.store import TodoItem
from hermes.tools.base import Tool, schema

STATUSES = ("pending", "in_progress", "done", "cancelled")
ALIASES = {
    "completed": "done",
    "complete": "done",
    "canceled": "cancelled",
    "in-progress": "in_progress",
}
MARKS = {"pending": "[ ]", "in_progress": "[~]", "done": "[x]", "cancelled": "[-]"}
MAX_ITEMS = 50
MAX_CONTENT = 500


def render(items: list[TodoItem]) -> str:
    if not items:
        return "Todo list is empty."
    done = sum(1 for i in items if i.status == "done")
    lines = [f"Todo list ({done}/{len(items)} done):"]
    for item in items:
        note = {"in_progress": " (in progress)", "cancelled": " (cancelled)"}.get(item.status, "")
        lines.append(f"{MARKS.get(item.status, '[?]')} {item.id}. {item.text}{note}")
    return "\n".join(lines)


def _status(value: object, default: str | None) -> str | None:
    if value is None:
        return default
    status = ALIASES.get(str(value), str(value))
    if status not in STATUSES:
        raise ToolError(f"status must be one of {', '.join(STATUSES)}; got {value!r}")
    return status


def _content(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ToolError("each todo's content must be non-empty text")
    if len(value) > MAX_CONTENT:
        raise ToolError(f"a todo's content may be at most {MAX_CONTENT} chars; split it up")
    return value.strip()


def _id(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdecimal():
        raise ToolError(f"todo id must be a whole number, got {value!r}")
    return int(value)


def apply(current: list[TodoItem], raw: list[Any], merge: bool) -> list[TodoItem]:
    """The new list: `raw` replaces `current`, or (merge) updates and extends it."""
    items = [TodoItem(i.id, i.text, i.status, dict(i.extra)) for i in current] if merge else []
    by_id = {i.id: i for i in items}
    for entry in raw:
        if not isinstance(entry, dict):
            raise ToolError("each todo must be an object like {content, status, id?}")
        item_id, text = _id(entry.get("id")), _content(entry.get("content"))
        existing = by_id.get(item_id) if item_id is not None else None
        if existing is not None:
            existing.text = text or existing.text
            existing.status = _status(entry.get("status"), existing.status) or existing.status
            continue
        if text is None:
            raise ToolError(
                f"todo {item_id or '(new)'} needs content: no existing item has that id"
            )
        new_id = item_id if item_id is not None else max(by_id, default=0) + 1
        item = TodoItem(new_id, text, _status(entry.get("status"), "pending") or "pending")
        items.append(item)
        by_id[new_id] = item
    if len(items) > MAX_ITEMS:
        raise ToolError(f"the todo list may hold at most {MAX_ITEMS} items; merge or drop some")
    return items


async def todo(args: dict[str, Any], ctx: TurnContext) -> str:
    raw = args.get("todos")
    if raw is None:
        return render(await ctx.store.get_todo(ctx.session_id))
    if not isinstance(raw, list):
        raise ToolError("todos must be a list of {content, status, id?} objects")
    merge = bool(args.get("merge"))
    # Read, change and write in one step: concurrent todo calls of a turn all land.
    items = await ctx.store.update_todo(ctx.session_id, lambda current: apply(current, raw, merge))
    return render(items)


TOOLS: list[Tool] = [
    Tool(
        name="todo",
        description=(
            "Plan and track a multi-step task with a checklist kept for this session. "
            "Call with no arguments to see the list. Pass `todos` (a list of {content, "
            "status, id?}) to replace the whole list, or with merge=true to update items "
            "by id (change status and/or content) and append items without an id. "
            "Statuses: pending, in_progress, done, cancelled. Keep one item in_progress "
            "at a time and mark items done as soon as they are finished; todos=[] clears "
            "the list. Skip it for simple one-step requests."
        ),
        parameters=schema(
            {
                "todos": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "content": {"type": "string"},
                            "status": {"type": "string", "enum": list(STATUSES)},
                        },
                    },
                },
                "merge": {
                    "type": "boolean",
                    "description": "Update/append instead of replacing (default false).",
                },
            }
        ),
        handler=todo,
    )
]
