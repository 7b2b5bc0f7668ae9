"""Wiring for front ends: a loaded profile, its store and a Conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from hermes.agent.conversation import Conversation
from hermes.agent.loop import ToolHook
from hermes.context import Profile, UserIO


@asynccontextmanager
async def open_conversation(
    profile: Profile,
    *,
    source: str,
    session_id: str | None = None,
    user: UserIO | None = None,
    model: str | None = None,
    hooks: Sequence[ToolHook] = (),
) -> AsyncIterator[Conversation]:
    """Open the profile's state.db and a Conversation; close everything after."""
    from hermes.store import Store
    from hermes.tools.process import ProcessManager

    store = await Store.open(profile.database)
    processes = ProcessManager()
    conv: Conversation | None = None
    try:
        conv = await Conversation.open(
            profile,
            store,
            processes,
            source=source,
            session_id=session_id,
            user=user,
            model=model,
            hooks=hooks,
        )
        yield conv
    finally:
        if conv is not None:
            await conv.close()
        await processes.shutdown()
        await store.close()
