"""What a flow store has committed, read through a store of its own (for comparing
a store's state before and after something that must not change it)."""


def committed(location):
    """{flow id: (snapshot, [journal entries])} committed in the flow store at `location`
    (a directory or a postgresql:// URL)."""
    from flow.store import open_store

    store = open_store(str(location))
    try:
        store.refresh()
        return {fid: (bytes(store.get(fid).snapshot), [bytes(e) for e in store.get(fid).journal])
                for fid in sorted(store.ids())}
    finally:
        store.close()
