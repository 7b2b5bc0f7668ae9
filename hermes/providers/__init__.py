"""Model providers. `resolve_provider` picks one per SPEC §1 (see resolve.py)."""
