"""The declared store interface: what open_store accepts, and that every store
the project ships implements FlowStore."""

import pytest

from flow import FlowRuntime
from flow.store import FileStore, FlowStore, MemoryStore, is_store_url, open_store


def test_memory_and_file_stores_implement_the_interface(tmp_path):
    assert isinstance(open_store(None), MemoryStore)
    file_store = open_store(str(tmp_path / "flows"))
    try:
        assert isinstance(file_store, FileStore)
        for store in (open_store(None), file_store):
            assert isinstance(store, FlowStore)
    finally:
        file_store.close()


def test_a_store_object_is_used_as_it_is():
    store = MemoryStore()
    assert open_store(store) is store
    rt = FlowRuntime(store=store)
    assert rt.store is store


def test_a_postgresql_url_is_recognised_and_a_path_is_not(tmp_path):
    assert is_store_url("postgresql://u@127.0.0.1:5432/db")
    assert is_store_url("postgres://u@127.0.0.1/db")
    assert not is_store_url(str(tmp_path))
    assert not is_store_url(b"postgresql://x")


def test_an_object_that_is_half_a_store_is_refused_naming_what_it_lacks():
    class Half:
        def get(self, flow_id):
            return None

        def ids(self):
            return []

    with pytest.raises(TypeError, match=r"Half is not a flow store: it lacks refresh, lock, try_lock, commit"):
        open_store(Half())


def test_anything_else_is_refused_naming_what_a_store_can_be():
    with pytest.raises(TypeError, match="a flow store is None, a directory path, a postgresql:// URL"):
        open_store(42)
    with pytest.raises(TypeError, match="not int"):
        FlowRuntime(store=42)


def _held_elsewhere(directory, flow_id, ready, release):
    store = FileStore(directory)
    with store.lock(flow_id):
        ready.set()
        release.wait(30)
    store.close()


@pytest.mark.parametrize("where", ["memory", "file"])
def test_try_lock_skips_a_flow_another_thread_holds_and_takes_a_free_one(tmp_path, where):
    import threading

    store = open_store(None if where == "memory" else str(tmp_path / "flows"))
    held, release = threading.Event(), threading.Event()

    def holder():
        with store.lock("a"):
            held.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(30)
        with store.try_lock("a") as got:
            assert got is False
        with store.try_lock("b") as got:
            assert got is True
            with store.try_lock("b") as again:  # re-entrant in the thread that holds it
                assert again is True
    finally:
        release.set()
        t.join()
    with store.try_lock("a") as got:
        assert got is True
    store.close()


def test_try_lock_of_the_file_store_skips_a_flow_another_process_holds(tmp_path):
    import multiprocessing

    directory = str(tmp_path / "flows")
    FileStore(directory).close()
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_held_elsewhere, args=(directory, "a", ready, release))
    p.start()
    try:
        assert ready.wait(30)
        store = FileStore(directory)
        with store.try_lock("a") as got:
            assert got is False
        with store.try_lock("b") as got:
            assert got is True
    finally:
        release.set()
        p.join(30)
    with store.try_lock("a") as got:
        assert got is True
    store.close()


def test_a_store_of_your_own_need_not_take_pieces():
    """The runtime sends pieces only to a store whose class says takes_pieces; one
    of your own without it is still a store (and gets full snapshots)."""
    from flow.store import STORE_METHODS

    inner = MemoryStore()
    Plain = type("Plain", (), {"durable": False, **{m: staticmethod(getattr(inner, m)) for m in STORE_METHODS}})
    store = Plain()
    assert open_store(store) is store and isinstance(store, FlowStore)
    assert not hasattr(store, "takes_pieces")
    assert MemoryStore.takes_pieces and FileStore.takes_pieces
