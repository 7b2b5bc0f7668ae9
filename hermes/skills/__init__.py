"""The skills loop: the agentskills.io format and its validator (format.py), usage
tracking (hermes/store/skill_ops.py), staged proposals bound to the hash of what
they change (proposals.py), near-duplicate detection (similar.py), the background
review and memory nudge (review.py) and the curator (curator.py)."""
