"""`hermes skills list | check | pending | show ID | apply ID | reject ID | rollback ID`:
the same verbs as `/skills` in a chat (hermes/skills/verbs.py), on the profile's
skills/ folder and state.db. `check` exits 1 when a skill is invalid."""

from __future__ import annotations

import argparse
import asyncio

from hermes.cli.shared import local_home


def cmd_skills(args: argparse.Namespace) -> int:
    from hermes.skills import verbs
    from hermes.store import Store
    from hermes.store.where import locate_home

    home, _ = local_home(args)
    line = " ".join([args.action, getattr(args, "id", None) or ""]).strip()

    async def run() -> str:
        async with await Store.open(locate_home(home)) as store:
            return await verbs.run(store, home, line)

    text = asyncio.run(run())
    print(text)
    if args.action == "check":
        return 0 if text.startswith("All ") else 1
    return 0
