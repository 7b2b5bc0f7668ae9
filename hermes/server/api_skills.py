"""The skills routes under /api/hermes: the staged skill and memory proposals
(hermes/skills/proposals.py) for the dashboard and any client — list the
pending ones and the last decided, show one with what it changes, apply,
reject, roll back. The same decisions as `/skills apply|reject|rollback ID` in
a chat and `hermes skills ...`; the rules (hash-bound, stale, rollback only while
the target still holds what was applied) are proposals.py's, not repeated here.

Each proposal comes with `before` (the target's text it changes: the current
text while pending, the replaced one once applied) and `diff`, a unified diff
from `before` to the proposed text. An unknown id is a 404; a decision its state
does not allow (already decided, stale, a target edited since) a 409 whose
message is the rule's own line.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hermes.server.api_work import json_error
from hermes.server.httpio import clip
from hermes.skills import proposals
from hermes.skills.proposals import ProposalError
from hermes.store import skill_ops
from hermes.store.db import Conn
from hermes.store.skill_ops import Proposal

if TYPE_CHECKING:
    from hermes.gateway.core import Gateway

RECENT_DEFAULT = 10
RECENT_MAX = 100
BEFORE_APPLIED = ("applied", "rolled_back")  # `before` is the text they replaced
DECISIONS = {
    "apply": (proposals.apply, "applied"),
    "reject": (proposals.reject, "rejected"),
    "rollback": (proposals.rollback, "rolled_back"),
}


def diff(path: str, before: str | None, after: str | None) -> str:
    """A unified diff of PATH from BEFORE to AFTER (None: the file is absent)."""
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True),
        (after or "").splitlines(keepends=True),
        fromfile="/dev/null" if before is None else f"a/{path}",
        tofile="/dev/null" if after is None else f"b/{path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def proposal_json(home: Path, p: Proposal) -> dict[str, Any]:
    """A proposal as the API shows it (reads its target's current text)."""
    current = proposals.read_target(home, p.kind, p.target)
    before = p.previous if p.status in BEFORE_APPLIED else current
    path = proposals.target_path(home, p.kind, p.target).relative_to(home).as_posix()
    return {
        "id": p.id,
        "kind": p.kind,
        "action": p.action,
        "target": p.target,
        "path": path,
        "summary": proposals.describe_draft(p),
        "reason": p.reason,
        "source": p.source,
        "status": p.status,
        "note": p.note,
        "created_at": p.created_at,
        "decided_at": p.decided_at,
        "target_changed": p.status == "pending" and proposals.sha256_text(current) != p.base_hash,
        "content": p.content,
        "before": before,
        "diff": diff(path, before, p.content),
    }


def _listing(conn: Conn, home: Path, recent: int) -> dict[str, Any]:
    pending = skill_ops.proposals(conn, "pending")
    decided = skill_ops.decided(conn, recent) if recent else []
    return {
        "pending": [proposal_json(home, p) for p in pending],
        "recent": [proposal_json(home, p) for p in decided],
    }


def _one(conn: Conn, home: Path, pid: str) -> dict[str, Any] | None:
    p = skill_ops.get_proposal(conn, pid)
    return None if p is None else proposal_json(home, p)


def _recent(value: str | None) -> int:
    if value is None:
        return RECENT_DEFAULT
    if not value.isdigit() or int(value) > RECENT_MAX:
        raise ValueError(f"recent must be a whole number from 0 to {RECENT_MAX}")
    return int(value)


def routes(gw: Gateway) -> list[Route]:
    home = gw.profile.home

    async def list_proposals(request: Request) -> JSONResponse:
        try:
            recent = _recent(request.query_params.get("recent"))
        except ValueError as exc:
            return json_error(400, f"bad request: {exc}")
        return JSONResponse(await gw.store.run(_listing, home, recent))

    async def show(request: Request) -> JSONResponse:
        pid = request.path_params["id"]
        found = await gw.store.run(_one, home, pid)
        if found is None:
            return json_error(404, f"no proposal {clip(pid)}")
        return JSONResponse(found)

    def decision(verb: str) -> Any:
        decide, done = DECISIONS[verb]

        async def endpoint(request: Request) -> JSONResponse:
            pid = request.path_params["id"]
            if await gw.store.run(skill_ops.get_proposal, pid) is None:
                return json_error(404, f"no proposal {clip(pid)}")
            try:
                message = await decide(gw.store, home, pid)
            except ProposalError as exc:
                return json_error(409, str(exc))
            after = await gw.store.run(skill_ops.get_proposal, pid)
            assert after is not None  # proposals are never deleted
            if after.status != done:  # stale: the rule's line says nothing was changed
                return json_error(409, message)
            return JSONResponse({"id": after.id, "status": after.status, "message": message})

        return endpoint

    base = "/api/hermes/skills/proposals"
    return [
        Route(base, list_proposals, methods=["GET"]),
        Route(base + "/{id}", show, methods=["GET"]),
        *(Route(f"{base}/{{id}}/{verb}", decision(verb), methods=["POST"]) for verb in DECISIONS),
    ]
