"""What a piece of SQL does, read as tokens rather than as text.

Comments and string literals are removed first, so `SELECT 'DROP TABLE x'`
and `-- DROP TABLE x` are harmless; quoted identifiers stay (a table may be
called "users"). Each `;`-separated statement is judged on its own and the
riskiest one wins. The answer is a level and a phrase ("drops table users")
that the client's rule completes with the tool and database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hermes.risk.model import Level, rank

Finding = tuple[Level, str]

_LEXEMES = r"""
      (?P<skip>--[^\n]*|/\*.*?(?:\*/|\Z)|\s+{hash})
    | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<string>[eEnNbBxX]?'(?:[^'\\]|''|\\.)*(?:'|\Z))
    | (?P<ident>"(?:[^"]|"")*(?:"|\Z)|`[^`]*(?:`|\Z))
    | (?P<meta>\\[A-Za-z!?]+)
    | (?P<word>[\w.$@]+)
    | (?P<punct>.)
"""
_TOKEN = re.compile(_LEXEMES.format(hash=""), re.VERBOSE | re.DOTALL)
_TOKEN_HASH = re.compile(_LEXEMES.format(hash=r"|\#[^\n]*"), re.VERBOSE | re.DOTALL)

STRING = "'…'"


def statements(sql: str, *, hash_comments: bool = False) -> list[list[str]]:
    """The statements of `sql` as token lists, without comments; literals become `'…'`.

    `hash_comments`: `#` starts a comment (MySQL) rather than being an operator.
    """
    result: list[list[str]] = [[]]
    for m in (_TOKEN_HASH if hash_comments else _TOKEN).finditer(sql):
        kind = m.lastgroup
        if kind == "skip":
            continue
        text = STRING if kind in ("dollar", "string") else m.group()
        if text == ";":
            result.append([])
        else:
            result[-1].append(text)
    return [s for s in result if s]


def _names(tokens: Sequence[str], at: int) -> str:
    """The object name at `at`, or a comma-separated list of them (`DROP TABLE a, b`)."""
    names: list[str] = []
    while at < len(tokens) and tokens[at] not in ("(", ")", ","):
        names.append("?" if tokens[at] == STRING else tokens[at])
        if tokens[at + 1 : at + 2] != [","]:
            break
        at += 2
    return ", ".join(names) or "?"


def _skip(tokens: Sequence[str], at: int, *words: str) -> int:
    while at < len(tokens) and tokens[at].upper() in words:
        at += 1
    return at


def _depth0(tokens: Sequence[str]) -> list[int]:
    """Indexes of the tokens outside any parentheses (a subquery's WHERE does not count)."""
    out: list[int] = []
    depth = 0
    for i, tok in enumerate(tokens):
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(i)
    return out


def _group(tokens: Sequence[str], open_at: int) -> Sequence[str]:
    """The tokens inside the parenthesis opened at `open_at`."""
    depth = 0
    for i in range(open_at, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[i], 0)
        if depth == 0:
            return tokens[open_at + 1 : i]
    return tokens[open_at + 1 :]


_TAUTOLOGIES = (["1", "=", "1"], ["TRUE"], ["1"], [STRING, "=", STRING])


def _filtered(tokens: Sequence[str], verb: str, table: str) -> Finding:
    """DELETE/UPDATE: with a real WHERE the rows are chosen; without one, every row."""
    top = [tokens[i].upper() for i in _depth0(tokens)]
    if "WHERE" in top:
        cond = top[top.index("WHERE") + 1 :]
        if cond not in _TAUTOLOGIES:
            return "medium", f"{verb} rows of {table} matching a WHERE clause"
    return "high", f"{verb} every row of {table}"


def _drop(tokens: Sequence[str], up: Sequence[str]) -> Finding:
    at = _skip(tokens, 1, "TEMPORARY", "TEMP")
    temporary = at > 1
    if at >= len(up):
        return "medium", "runs an incomplete DROP statement"
    kind = up[at]
    if kind in ("MATERIALIZED", "FOREIGN") and at + 1 < len(up):
        at += 1
        kind = f"{kind} {up[at]}"
    if kind == "OWNED":
        return "high", f"drops everything owned by {_names(tokens, _skip(tokens, at + 1, 'BY'))}"
    name = _names(tokens, _skip(tokens, at + 1, "IF", "EXISTS", "CONCURRENTLY"))
    phrase = f"drops {'temporary ' if temporary else ''}{kind.lower()} {name}"
    if kind in ("USER", "ROLE"):
        return "high", f"{phrase} (a credential change)"
    if kind in ("DATABASE", "SCHEMA", "TABLE") and not temporary:
        return "high", phrase
    return "medium", phrase


def _alter(tokens: Sequence[str], up: Sequence[str]) -> Finding | None:
    kind = up[1] if len(up) > 1 else ""
    if kind in ("USER", "ROLE"):
        who = _names(tokens, _skip(tokens, 2, "IF", "EXISTS"))
        target = f"a {kind.lower()}" if who == "?" else f"{kind.lower()} {who}"
        return "high", f"changes {target} (a credential change)"
    if kind != "TABLE":
        return None
    table = _names(tokens, _skip(tokens, 2, "IF", "EXISTS", "ONLY"))
    top = _depth0(tokens)
    verbs = [tokens[i].upper() for i in top]
    if "DELETE" in verbs:  # ClickHouse mutation: ALTER TABLE t DELETE WHERE ...
        return _filtered(tokens, "deletes", table)
    if "DROP" in verbs:
        at = top[verbs.index("DROP")] + 1
        what = tokens[at : at + 1]
        if up[at : at + 1] in (["COLUMN"], ["CONSTRAINT"], ["INDEX"], ["PARTITION"]):
            what = [up[at].lower(), *tokens[at + 1 : at + 2]]
        return "medium", f"alters table {table}: drops {' '.join(what) or '?'}"
    return None


_VERBS = ("SELECT", "INSERT", "DELETE", "UPDATE", "MERGE", "VALUES")


def _compound(tokens: Sequence[str], up: Sequence[str]) -> Finding | None:
    """WITH (data-modifying CTEs included) and EXPLAIN (only ANALYZE runs the statement)."""
    top = _depth0(tokens)
    main = next((i for i in top if i > 0 and up[i] in _VERBS), None)
    if up[0] == "EXPLAIN":
        analyze = main is not None and "ANALYZE" in up[:main]
        return _statement(tokens[main:]) if analyze and main is not None else None
    inner = [
        _statement(_group(tokens, i))
        for i, tok in enumerate(tokens[:-1])
        if tok == "(" and up[i + 1] in ("DELETE", "UPDATE")
    ]
    return worst([*inner, _statement(tokens[main:]) if main is not None else None])


def _statement(tokens: Sequence[str]) -> Finding | None:
    if not tokens:
        return None
    up = [t.upper() for t in tokens]
    head = up[0]
    if head in ("WITH", "EXPLAIN"):
        return _compound(tokens, up)
    if head == "DROP":
        return _drop(tokens, up)
    if head == "TRUNCATE":
        return "high", f"empties table {_names(tokens, _skip(tokens, 1, 'TABLE', 'ONLY'))}"
    if head == "DELETE":
        at = up.index("FROM") + 1 if "FROM" in up else 1
        return _filtered(tokens, "deletes", _names(tokens, _skip(tokens, at, "ONLY")))
    if head == "UPDATE":
        at = _skip(tokens, 1, "ONLY", "LOW_PRIORITY", "IGNORE")
        return _filtered(tokens, "updates", _names(tokens, at))
    if head == "ALTER":
        return _alter(tokens, up)
    if head in ("GRANT", "REVOKE"):
        to = "TO" if head == "GRANT" else "FROM"
        who = _names(tokens, up.index(to) + 1) if to in up else "?"
        verb = "grants privileges to" if head == "GRANT" else "revokes privileges from"
        return "high", f"{verb} {who} (a permission change)"
    if head == "CREATE" and up[1:2] in (["USER"], ["ROLE"]):
        name = _names(tokens, _skip(tokens, 2, "IF", "NOT", "EXISTS"))
        return "high", f"creates {up[1].lower()} {name} (a credential change)"
    if up[:2] == ["SET", "PASSWORD"] or head == "\\PASSWORD":
        return "high", "changes a database password"
    return None


def worst(findings: Sequence[Finding | None]) -> Finding | None:
    """The riskiest finding (the first of equals), or None."""
    best: Finding | None = None
    for item in findings:
        if item is not None and (best is None or rank(item[0]) > rank(best[0])):
            best = item
    return best


def sql_risk(sql: str, *, hash_comments: bool = False) -> Finding | None:
    """The riskiest statement in `sql`; None when nothing in it destroys or re-permissions."""
    return worst([_statement(s) for s in statements(sql, hash_comments=hash_comments)])
