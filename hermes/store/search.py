"""Full-text search over past messages (FTS5), fast on large histories.

User text never reaches FTS5 as syntax: it is cut into words (and "quoted
phrases", and `word*` prefixes), each re-emitted as a quoted FTS5 string, so
characters such as - : " * ( ^ can never raise a syntax error. Common English
stop words are dropped when the query has other words.

Ranking: FTS5's bm25 must score every matching row before it can sort, which
takes about a second for a word found in most of a million messages. So the
ranking is done over a window: the WINDOW most recent matching rows (found by
walking the index backwards by rowid, which is cheap) are ranked by bm25 and
the best are returned. A rare word's matches all fit in the window, so its
ranking is exact; for a very common word, the best of the recent matches
win. All words are required first (AND); if that finds fewer hits than
asked, any of the words will do (OR), ranked the same way. At most
PER_SESSION hits come from one session while other sessions have hits too.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

from hermes.store.db import Conn, is_postgres

WINDOW = 1000
PER_SESSION = 2
MAX_TERMS = 16
SNIPPET_TOKENS = 24

_STOP_TEXT = """
a an and are as at be but by did do does for from had has have he her his how i if in into is
it its me my no not of on or our she so that the their them then there these they this to us was
we were what when where which who why will with would you your
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

_TOKEN = re.compile(r'"([^"]*)"|(\w+)(\*?)')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class RawHit:
    message_id: int
    session_id: str
    role: str
    created_at: float
    title: str | None
    excerpt: str


def fts_terms(text: str) -> list[str]:
    """User text -> safe FTS5 terms: '"word"', '"word"*' or '"two words"'."""
    terms: list[str] = []
    stops: list[str] = []
    for match in _TOKEN.finditer(text):
        phrase, word, star = match.groups()
        if phrase is not None:
            words = _WORD.findall(phrase)
            if words:
                terms.append('"' + " ".join(words) + '"')
        elif word:
            term = f'"{word}"' + ("*" if star else "")
            (stops if word.lower() in STOP_WORDS and not star else terms).append(term)
    chosen = terms or stops
    unique = list(dict.fromkeys(chosen))
    return unique[:MAX_TERMS]


def search(conn: Conn, query: str, max_results: int, exclude_session: str | None) -> list[RawHit]:
    """Best matches for query, newest-first among equals; see the module doc. On
    PostgreSQL the queries are hermes/store/search_pg.py's, the rest is this."""
    engine: Any = sys.modules[__name__]
    if is_postgres(conn):
        from hermes.store import search_pg as engine
    terms = fts_terms(query)
    tries = engine.expressions(terms) if terms and max_results > 0 else []
    chosen: list[tuple[int, str]] = []
    for expression in tries:
        ranked = engine.ranked(conn, expression, max_results * 4, exclude_session)
        seen = {mid for mid, _ in chosen}
        chosen.extend(_diverse([r for r in ranked if r[0] not in seen], max_results - len(chosen)))
        if len(chosen) >= max_results:
            break
    return [hit for mid, expression in chosen if (hit := engine.hit(conn, mid, expression))]


def expressions(terms: list[str]) -> list[str]:
    """FTS5 queries to try in turn: all the terms, then any of them."""
    found = [" ".join(terms)]
    if len(terms) > 1:
        found.append(" OR ".join(terms))
    return found


def ranked(
    conn: Conn, expression: str, limit: int, exclude: str | None
) -> list[tuple[int, str, str]]:
    """(message id, session id, expression) of the best rows in the recent window."""
    floor_row = conn.execute(
        "SELECT f.rowid FROM messages_fts AS f JOIN messages AS m ON m.id = f.rowid"
        " WHERE messages_fts MATCH ? AND m.session_id IS NOT ?"
        " ORDER BY f.rowid DESC LIMIT 1 OFFSET ?",
        (expression, exclude, WINDOW - 1),
    ).fetchone()
    floor = int(floor_row[0]) if floor_row else 0
    rows = conn.execute(
        "SELECT f.rowid, m.session_id FROM messages_fts AS f JOIN messages AS m ON m.id = f.rowid"
        " WHERE messages_fts MATCH ? AND f.rowid >= ? AND m.session_id IS NOT ?"
        " ORDER BY bm25(messages_fts), f.rowid DESC LIMIT ?",
        (expression, floor, exclude, limit),
    ).fetchall()
    return [(int(r[0]), str(r[1]), expression) for r in rows]


def _diverse(ranked: list[tuple[int, str, str]], wanted: int) -> list[tuple[int, str]]:
    """Take up to `wanted` rows in rank order, at most PER_SESSION per session,
    then fill up from the rows skipped if there are not enough."""
    if wanted <= 0:
        return []
    taken: list[tuple[int, str, str]] = []
    skipped: list[tuple[int, str, str]] = []
    per_session: dict[str, int] = {}
    for row in ranked:
        count = per_session.get(row[1], 0)
        if count < PER_SESSION:
            per_session[row[1]] = count + 1
            taken.append(row)
        else:
            skipped.append(row)
    if len(taken) < wanted:
        taken.extend(skipped[: wanted - len(taken)])
        order = {row[0]: i for i, row in enumerate(ranked)}
        taken.sort(key=lambda row: order[row[0]])
    return [(mid, expression) for mid, _, expression in taken[:wanted]]


def hit(conn: Conn, message_id: int, expression: str) -> RawHit | None:
    row = conn.execute(
        "SELECT m.id, m.session_id, m.role, m.created_at, s.title,"
        " snippet(messages_fts, 0, '', '', '…', ?)"
        " FROM messages_fts AS f JOIN messages AS m ON m.id = f.rowid"
        " JOIN sessions AS s ON s.id = m.session_id"
        " WHERE messages_fts MATCH ? AND f.rowid = ?",
        (SNIPPET_TOKENS, expression, message_id),
    ).fetchone()
    if row is None:
        return None
    excerpt = " ".join(str(row[5]).split())
    return RawHit(int(row[0]), str(row[1]), str(row[2]), float(row[3]), row[4], excerpt)
