"""Where adapters keep their place in their platforms' streams: the gateway's side
of the `Cursor` protocol (hermes/platforms/spec.py), in state.db's kv table.

A platform module never opens the store: the gateway hands it `Build.cursor`, a
factory of cursors by key. The key is the module's own (it starts with the
platform's name and names the bot or account, e.g. `telegram.offset.123456`), and
a value is stored under exactly that key, so a home keeps its place across
upgrades as long as the module keeps its key.
"""

from __future__ import annotations

from collections.abc import Callable

from hermes.platforms.spec import Cursor
from hermes.store import Store, gateway_ops


class KvCursor:
    """A Cursor kept in state.db's kv table under KEY."""

    def __init__(self, store: Store, key: str) -> None:
        self.store = store
        self.key = key

    async def load(self) -> str | None:
        return await self.store.run(gateway_ops.kv_get, self.key)

    async def save(self, value: str) -> None:
        await self.store.run(gateway_ops.kv_set, self.key, value)


def kv_cursors(store: Store) -> Callable[[str], Cursor]:
    """The `Build.cursor` factory of a gateway whose state.db is STORE."""

    def cursor(key: str) -> Cursor:
        return KvCursor(store, key)

    return cursor
