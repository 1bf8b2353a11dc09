"""Shared helpers for the flow tests: the seed order flow, runtimes, transfers."""

from flow import FlowRuntime

ORDER = (
    "(defflow order-lifecycle (lambda (oid) (begin (request (quote reserve) oid) "
    "(request (quote payment) oid) (request (quote fulfil) oid))))"
)


def runtime(*sources, store=None, filename="flows.scm", **options):
    """A runtime with each source loaded (all under the same file name);
    options: FlowRuntime's (allow=..., limits=...)."""
    rt = FlowRuntime(store=store, **options)
    for text in sources:
        rt.load(text, filename)
    return rt


def transfer(rt, *sources, filename="flows.scm"):
    """Export rt's flows and import them into a fresh runtime with the same code."""
    fresh = runtime(*sources, filename=filename)
    fresh.import_store(rt.export_store())
    return fresh


class Effects:
    """A host procedure `effect`: records what the flow did (to see replays)."""

    def __init__(self):
        self.seen = []

    def __call__(self, what):
        self.seen.append(what.name)
        return what


def stored_state(location):
    """{flow id: (snapshot bytes, [journal entry bytes])} as committed in the store at
    `location` (a directory or a postgresql:// URL), read through a store of its own."""
    from flow.store import open_store

    store = open_store(location)
    try:
        store.refresh()
        out = {}
        for fid in sorted(store.ids()):
            got = store.get(fid)
            out[fid] = (bytes(got.snapshot), [bytes(e) for e in got.journal])
        return out
    finally:
        store.close()


def lose_the_answer_of_the_next_writes(monkeypatch):
    """Make PgStore's commits land and then drop their connection before the
    client hears (the server committed; the store must find its commit id)."""
    import psycopg
    from flow.pgstore import PgStore

    real = PgStore._write

    def write_then_drop(self, step, row, commit_id):
        landed = real(self, step, row, commit_id)
        assert landed
        step.conn.close()
        raise psycopg.OperationalError("the connection dropped (simulated)")

    monkeypatch.setattr(PgStore, "_write", write_then_drop)
