"""Near-duplicate skills (pure): before a skill is created, compare it with the
existing ones by name (difflib ratio over the names, hyphens as spaces) and by
content (Jaccard over the word sets of description and procedure). A create
that is close to an existing skill becomes a patch of that skill."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

NAME_THRESHOLD = 0.85
CONTENT_THRESHOLD = 0.6
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it"}
    | {"of", "on", "or", "the", "this", "to", "use", "when", "with", "you", "your"}
)


@dataclass(frozen=True)
class Match:
    name: str  # the existing skill
    name_score: float
    content_score: float

    def describe(self) -> str:
        return (
            f"near-duplicate of {self.name} (name {self.name_score:.2f}, "
            f"content {self.content_score:.2f})"
        )


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def jaccard(a: str, b: str) -> float:
    left, right = words(a), words(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def name_ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.replace("-", " "), b.replace("-", " ")).ratio()


def find_duplicate(
    name: str,
    content: str,
    existing: dict[str, str],
    *,
    name_threshold: float = NAME_THRESHOLD,
    content_threshold: float = CONTENT_THRESHOLD,
) -> Match | None:
    """The existing skill (name -> SKILL.md text) NAME/CONTENT nearly duplicates,
    the closest first; None when none is close. Its own name is no duplicate."""
    best: Match | None = None
    for other, text in existing.items():
        if other == name:
            continue
        match = Match(other, name_ratio(name, other), jaccard(content, text))
        close = match.name_score >= name_threshold or match.content_score >= content_threshold
        if close and (best is None or _score(match) > _score(best)):
            best = match
    return best


def _score(match: Match) -> float:
    return max(match.name_score, match.content_score)
