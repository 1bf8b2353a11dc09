"""Helpers for the commerce tests on every store: a shop's ledger opened on its own
(a file ledger in DIR/ledger.log, or PgLedger on a postgresql:// URL), and what it
has committed, to check that something recorded nothing."""

import os

from flow.store import is_store_url
from storestate import committed


def open_ledger(where):
    """The ledger of the shop at `where` (a data directory or a postgresql:// URL),
    opened on its own (close it)."""
    where = os.fspath(where)
    if is_store_url(where):
        from commerce.pgledger import PgLedger

        return PgLedger(where)
    from commerce.ledger import Ledger

    os.makedirs(where, mode=0o700, exist_ok=True)
    return Ledger(os.path.join(where, "ledger.log"))


def ledger_state(where):
    """Everything the ledger at `where` has committed, as read by a ledger of its own:
    the records (seq, order, kind, key, amount, time, details) and, for a file ledger,
    the file's bytes too."""
    where = os.fspath(where)
    ledger = open_ledger(where)
    try:
        records = [(r.seq, r.order, r.kind, r.key, r.amount, r.time, r.details) for r in ledger.records()]
    finally:
        ledger.close()
    raw = None
    if not is_store_url(where):
        with open(os.path.join(where, "ledger.log"), "rb") as f:
            raw = f.read()
    return records, raw


def flows_location(where):
    """Where the shop at `where` keeps its flows: DIR/flows for a data directory; the
    same database for a postgresql:// URL."""
    where = os.fspath(where)
    return where if is_store_url(where) else os.path.join(where, "flows")


def flows_state(where):
    """{flow id: (snapshot, [journal entries])} committed in the shop's flow store."""
    return committed(flows_location(where))


def shop_state(where):
    """Everything the shop at `where` has committed: every file's bytes for a data
    directory; the ledger's records and every flow's state for a database."""
    where = os.fspath(where)
    if not is_store_url(where):
        out = {}
        for folder, _, files in os.walk(where):
            for name in files:
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    out[os.path.relpath(path, where)] = f.read()
        return out
    return ledger_state(where)[0], flows_state(where)
