"""The store of a home's state.db. See hermes/store/db.py for the schema.

INTERFACE CONTRACT (implemented by hermes/store/store.py):

    store = await Store.open(path)          # creates/migrates, WAL mode
    await store.close()

    sid = await store.create_session(source="cli", model="m", title=None)
    info = await store.get_session(sid)     # SessionInfo | None
    infos = await store.list_sessions(limit=50)
    ok = await store.delete_session(sid)
    await store.update_session(sid, model=..., title=...)

    ids = await store.append_messages(sid, [Message, ...])   # returns row ids
    rows = await store.load_messages(sid)   # list[StoredMessage], context order,
                                            # compacted messages excluded
    await store.compact(sid, upto_id, summary)  # messages with id <= upto_id leave
                                            # the context; a summary message takes their place
    n = await store.delete_messages_from(sid, message_id)   # /undo, /retry

    await store.add_usage(sid, Usage, model)
    total = await store.session_usage(sid)  # Usage

    hits = await store.search("query", max_results=5, exclude_session=None)
    todo = await store.get_todo(sid); await store.set_todo(sid, items)
    todo = await store.update_todo(sid, change)   # read-change-write in one transaction
"""

from hermes.store.store import SearchHit, SessionInfo, Store, StoredMessage

__all__ = ["SearchHit", "SessionInfo", "Store", "StoredMessage"]
