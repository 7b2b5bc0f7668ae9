"""How a list of tasks reads when some are delegated children (the chat's /tasks
and `hermes tasks list`; the dashboard does the same in dashboard.js).

A child (`tasks.parent` set) is the session whose `delegate` call started it. When
that session is itself a task among the listed rows, the child is listed right
under it, indented; otherwise it stays in its place and says who delegated it:
"delegated by bg_…" (a task not listed) or "delegated by the agent in session …"
(a chat's agent). A child's prompt is the brief its parent wrote; it reads as the
goal that brief names. Pure functions over task rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from hermes.store.task_ops import TaskRow

# hermes/gateway/delegation.py BRIEF: "...\n\nTask: GOAL[\n\nContext from the other agent:...]"
GOAL = "\n\nTask: "
CONTEXT = "\n\nContext from the other agent:"


def headline(row: TaskRow) -> str:
    """What the task is about: a delegated child's goal, else its prompt."""
    if row.parent and GOAL in row.prompt:
        return row.prompt.split(GOAL, 1)[1].split(CONTEXT, 1)[0].strip()
    return row.prompt


@dataclass(frozen=True)
class Line:
    row: TaskRow
    level: int  # 0: in its own place; 1: under its parent task; 2: under that one's child
    parent_task: TaskRow | None  # the task in whose session the delegate call ran

    @property
    def child(self) -> bool:
        return self.row.parent is not None


def nest(rows: list[TaskRow], parents: dict[str, TaskRow]) -> list[Line]:
    """ROWS in their order, each child moved right under its parent task when that
    task is among them (children oldest first). PARENTS: the tasks by session id
    (task_ops.in_sessions of the rows' parents)."""
    listed = {r.session_id: r for r in rows if r.session_id}
    under: dict[str, list[TaskRow]] = {}
    for r in rows:
        host = listed.get(r.parent or "")
        if host is not None and host.id != r.id:
            under.setdefault(host.id, []).append(r)
    placed = {r.id for kids in under.values() for r in kids}
    lines: list[Line] = []
    done: set[str] = set()

    def put(row: TaskRow, level: int) -> None:
        if row.id in done:
            return
        done.add(row.id)
        lines.append(
            Line(row, level, parents.get(row.parent or "") or listed.get(row.parent or ""))
        )
        for kid in sorted(under.get(row.id, []), key=lambda k: (k.created_at, k.id)):
            put(kid, level + 1)

    for r in rows:
        if r.id not in placed:
            put(r, 0)
    for r in rows:  # a loop of parents (impossible in practice) is still listed
        put(r, 0)
    return lines


def delegated_by(line: Line, agent: str) -> str:
    """ "delegated by bg_…" or "delegated by AGENT" (e.g. "the agent in this chat")."""
    if line.parent_task is not None:
        return f"delegated by {line.parent_task.id}"
    return f"delegated by {agent}"
