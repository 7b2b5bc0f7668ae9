"""What mongosh JavaScript and Redis commands do.

As with SQL, comments and string literals are blanked before looking, so
`print("db.dropDatabase()")` is harmless; `db.getCollection("users")` and
`db["users"]` are first rewritten to `db.users` so the collection keeps its name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hermes.risk.sql_text import Finding, worst

_COLLECTION = re.compile(r"""\bdb\s*(?:\.\s*getCollection\s*\(\s*|\[\s*)(['"`])(\w+)\1\s*[)\]]""")
_BLANK = re.compile(
    r"""//[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`""",
    re.DOTALL,
)
_CALL = re.compile(r"(?:\b(\w+)\s*)?\.\s*(\w+)\s*\(")

_USERS = frozenset(
    {"createUser", "updateUser", "dropUser", "dropAllUsers", "changeUserPassword",
     "grantRolesToUser", "revokeRolesFromUser", "createRole", "updateRole", "dropRole",
     "dropAllRoles", "grantPrivilegesToRole", "revokePrivilegesFromRole", "grantRolesToRole"}
)  # fmt: skip
_DELETES = frozenset({"deleteMany", "remove", "deleteOne", "findOneAndDelete"})
_UPDATES = frozenset({"updateMany", "updateOne", "replaceOne", "findOneAndUpdate", "update"})


def _blank(match: re.Match[str]) -> str:
    text = match.group()
    return " " if text.startswith("/") else text[0] * 2


def _first_argument(text: str, open_at: int) -> str:
    """The first argument of the call whose `(` is at `open_at` (up to a top-level comma)."""
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if depth == 0 or (depth == 1 and ch == ","):
            return text[open_at + 1 : i]
    return text[open_at + 1 :]


def _call(owner: str, method: str, argument: str, database: str) -> Finding | None:
    everything = argument.strip() in ("", "{}")
    coll = f"collection {owner}" if owner and owner != "db" else "a collection"
    if method == "dropDatabase":
        return "high", f"drops database {database}"
    if method == "drop":
        return "high", f"drops {coll}"
    if method in _USERS:
        return "high", f"runs {method} (a credential change)"
    if method in _DELETES:
        if everything and method in ("deleteMany", "remove"):
            return "high", f"deletes every document in {coll}"
        return "medium", f"deletes documents from {coll}"
    if method in _UPDATES:
        if everything and method in ("updateMany", "update"):
            return "high", f"updates every document in {coll}"
        return "medium", f"updates documents in {coll}"
    if method in ("dropIndex", "dropIndexes"):
        return "medium", f"drops indexes of {coll}"
    if method == "shutdownServer":
        return "medium", "shuts down the MongoDB server"
    return None


def mongo_risk(script: str, database: str = "the current database") -> Finding | None:
    """The riskiest call in a mongosh `--eval` script."""
    text = _BLANK.sub(_blank, _COLLECTION.sub(r"db.\2", script))
    findings = [
        _call(m.group(1) or "", m.group(2), _first_argument(text, m.end() - 1), database)
        for m in _CALL.finditer(text)
    ]
    return worst(findings)


_REDIS_CALL = re.compile(r"""redis\.(?:p?call)\s*\(\s*['"](\w+)['"]""", re.IGNORECASE)


def redis_risk(words: Sequence[str], database: str | None = None) -> Finding | None:
    """What one redis-cli command (`FLUSHALL`, `DEL k1 k2`, `EVAL script 0`) does."""
    if not words:
        return None
    verb = words[0].upper()
    sub = words[1].upper() if len(words) > 1 else ""
    db = f"database {database}" if database else "the database"
    if verb == "FLUSHALL":
        return "high", "deletes every key in every Redis database"
    if verb == "FLUSHDB":
        return "high", f"deletes every key in {db}"
    if verb in ("DEL", "UNLINK"):
        return "medium", f"deletes keys {', '.join(words[1:]) or '?'}"
    if verb == "CONFIG" and sub in ("SET", "RESETSTAT", "REWRITE"):
        return "medium", f"changes Redis server settings ({' '.join(words[1:3])})"
    if verb == "SHUTDOWN":
        return "medium", "shuts down the Redis server"
    if verb == "ACL" and sub in ("SETUSER", "DELUSER"):
        return "high", f"changes Redis user {' '.join(words[2:3]) or '?'} (a credential change)"
    if verb in ("EVAL", "EVAL_RO") and len(words) > 1:
        return worst([redis_risk([name], database) for name in _REDIS_CALL.findall(words[1])])
    return None
