"""Full-text search over past messages on PostgreSQL (GIN index).

The same contract as hermes/store/search.py (its module doc): the user's
words become terms that cannot be syntax (here: tsquery lexemes built from
``\\w+`` words only), all words first and then any of them, ranked over the
WINDOW most recent matches, at most PER_SESSION hits per session while others
have hits too. The index is ``messages_fts``, a GIN index on
``to_tsvector('english', content)`` over the rows SQLite's FTS5 table holds
(non-empty user and assistant messages); the queries repeat its expression and
condition so PostgreSQL uses it. ``english`` stems as FTS5's porter tokenizer
does, and also drops English stop words, so a query of stop words alone finds
nothing here.
"""

from __future__ import annotations

from hermes.store import search as fts
from hermes.store.db import Conn
from hermes.store.search import _WORD, RawHit

SNIPPET_WORDS = 24
_DOC = "to_tsvector('english', m.content)"
_INDEXED = "m.role IN ('user', 'assistant') AND m.content <> ''"


def tsquery_text(term: str) -> str:
    """One safe FTS5-style term ('"word"', '"word"*', '"two words"') -> tsquery text."""
    words = _WORD.findall(term)
    if term.endswith("*") and len(words) == 1:
        return f"{words[0]}:*"
    return " <-> ".join(words)


def expressions(terms: list[str]) -> list[str]:
    """tsquery texts to try in turn: all the terms, then any of them."""
    parts = [f"({tsquery_text(t)})" for t in terms if _WORD.search(t)]
    if not parts:
        return []
    found = [" & ".join(parts)]
    if len(parts) > 1:
        found.append(" | ".join(parts))
    return found


def ranked(
    conn: Conn, expression: str, limit: int, exclude: str | None
) -> list[tuple[int, str, str]]:
    rows = conn.execute(
        "WITH q AS (SELECT to_tsquery('english', ?) AS q),"
        " recent AS (SELECT m.id, m.session_id, m.content FROM messages AS m, q"
        f"  WHERE {_INDEXED} AND {_DOC} @@ q.q AND m.session_id IS DISTINCT FROM ?"
        "  ORDER BY m.id DESC LIMIT ?)"
        " SELECT r.id, r.session_id FROM recent AS r, q"
        " ORDER BY ts_rank(to_tsvector('english', r.content), q.q) DESC, r.id DESC LIMIT ?",
        (expression, exclude, fts.WINDOW, limit),
    ).fetchall()
    return [(int(r[0]), str(r[1]), expression) for r in rows]


def hit(conn: Conn, message_id: int, expression: str) -> RawHit | None:
    options = (
        f"StartSel='',StopSel='',MaxWords={SNIPPET_WORDS},MinWords={SNIPPET_WORDS // 2},"
        "MaxFragments=1,FragmentDelimiter='…'"
    )
    row = conn.execute(
        "SELECT m.id, m.session_id, m.role, m.created_at, s.title,"
        " ts_headline('english', m.content, to_tsquery('english', ?), ?), m.content"
        " FROM messages AS m JOIN sessions AS s ON s.id = m.session_id WHERE m.id = ?",
        (expression, options, message_id),
    ).fetchone()
    if row is None:
        return None
    excerpt = " ".join(str(row[5]).split())
    whole = " ".join(str(row[6]).split())
    if excerpt and not whole.startswith(excerpt[:40]):
        excerpt = "…" + excerpt  # as FTS5's snippet marks a cut
    if excerpt and not whole.endswith(excerpt[-40:]):
        excerpt += "…"
    return RawHit(int(row[0]), str(row[1]), str(row[2]), float(row[3]), row[4], excerpt)
