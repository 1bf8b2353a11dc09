"""PgLedger appends inside a flow step (one round trip each): a failing append
leaves the step's other writes alone and the step still commits; a conditional
append that falls short writes short_kind in the step; records of a step that
does not commit are neither in the database nor remembered by get/has_key."""

import pytest

from commerce.ledger import STOCK, LedgerError
from commerce.pgledger import PgLedger
from flow.pgstore import PgStore, current_step
from pgserver import sql

BIG = 2**62  # two of these overflow a 64-bit balance: the database refuses the second


@pytest.fixture
def both(pg_url):
    store, ledger = PgStore(pg_url), PgLedger(pg_url)
    yield store, ledger
    ledger.close()
    store.close()


def keys(url):
    return [r[0] for r in sql(url, "SELECT key FROM ledger_records ORDER BY seq")]


def test_a_failing_first_append_in_a_step_is_undone_and_the_step_goes_on(pg_url, both):
    store, ledger = both
    ledger.append(STOCK, "received", "stock:a", details={"stock": {"tea": BIG}})
    with store.lock("o-1"):
        with pytest.raises(LedgerError, match="out of range"):
            ledger.append("o-1", "reserved", "o-1:1", details={"stock": {"tea": BIG}})
        assert not current_step(store.dbkey).in_tx  # nothing of the step is pending
        ledger.append("o-1", "created", "o-1:created", amount=5)
        store.commit("o-1", b"flow", [], index=("payment", None))
    assert keys(pg_url) == ["stock:a", "o-1:created"]
    assert ledger.stock() == {"tea": BIG} and ledger.verify().ok


def test_a_failing_later_append_in_a_step_keeps_the_earlier_ones(pg_url, both):
    store, ledger = both
    ledger.append(STOCK, "received", "stock:a", details={"stock": {"tea": BIG}})
    with store.lock("o-1"):
        ledger.append("o-1", "created", "o-1:created", amount=5)
        ledger.append("o-1", "reserved", "o-1:1", details={"stock": {"tea": -1}})
        with pytest.raises(LedgerError, match="out of range"):
            ledger.append("o-1", "released", "o-1:released", details={"stock": {"tea": BIG + 1}})
        assert ledger.has_key("o-1:1") and not ledger.has_key("o-1:released")  # (the step sees its own)
        store.commit("o-1", b"flow", [], index=("payment", None))
    assert keys(pg_url) == ["stock:a", "o-1:created", "o-1:1"]
    assert ledger.stock() == {"tea": BIG - 1} and ledger.verify().ok


def test_a_conditional_append_that_falls_short_writes_short_kind_in_the_step(pg_url, both):
    store, ledger = both
    ledger.append(STOCK, "received", "stock:a", details={"stock": {"tea": 1, "cake": 5}})
    with store.lock("o-1"):
        ledger.append("o-1", "created", "o-1:created", amount=5)
        r, new = ledger.append("o-1", "reserved", "o-1:1", details={"stock": {"tea": -2, "cake": -1}},
                               short_kind="out-of-stock")
        assert new and r.kind == "out-of-stock"
        assert r.details == {"short": {"tea": {"wanted": 2, "on_hand": 1}}}
        store.commit("o-1", b"flow", [], index=(None, None))
    assert ledger.get("o-1:1").kind == "out-of-stock"
    assert ledger.stock() == {"cake": 5, "tea": 1} and ledger.verify().ok
    # enough: taken, in one statement, and answered the same when appended again
    with store.lock("o-2"):
        ledger.append("o-2", "created", "o-2:created", amount=5)
        r, new = ledger.append("o-2", "reserved", "o-2:1", details={"stock": {"tea": -1}}, short_kind="out-of-stock")
        assert new and r.kind == "reserved"
        again, new = ledger.append("o-2", "reserved", "o-2:1", details={"stock": {"tea": -1}},
                                   short_kind="out-of-stock")
        assert not new and again == r
        store.commit("o-2", b"flow", [], index=(None, None))
    assert ledger.stock() == {"cake": 5, "tea": 0} and ledger.verify().ok


def test_records_of_a_step_that_does_not_commit_are_not_remembered(pg_url, both):
    store, ledger = both
    with store.lock("o-1"):
        r, new = ledger.append("o-1", "created", "o-1:created", amount=5)
        assert new and ledger.get("o-1:created") == r  # seen inside the step's transaction
        # the step ends without its commit (an error, a limit): rolled back
    assert ledger.get("o-1:created") is None and not ledger.has_key("o-1:created")
    assert keys(pg_url) == []
    # written by someone else later: found (nothing stale was kept)
    other = PgLedger(pg_url)
    try:
        other.append("o-1", "created", "o-1:created", amount=7)
    finally:
        other.close()
    assert ledger.get("o-1:created").amount == 7


def test_records_of_a_committed_step_are_answered_without_asking_again(pg_url, both):
    store, ledger = both
    with store.lock("o-1"):
        ledger.append("o-1", "created", "o-1:created", amount=5, details={"cart": [["tea", 1]]})
        store.commit("o-1", b"flow", [], index=(None, None))
    got = ledger.get("o-1:created")
    # a committed record never changes; a caller changing what it was handed changes nothing kept
    got.details["cart"].append(["cake", 9])
    store.close()
    ledger._pool.close()  # no database connection left to ask
    assert ledger.has_key("o-1:created")
    assert ledger.get("o-1:created").details == {"cart": [["tea", 1]]}


def test_a_step_reads_back_what_it_appended_without_asking(pg_url, both, monkeypatch):
    store, ledger = both
    with store.lock("o-1"):
        r, _ = ledger.append("o-1", "created", "o-1:created", amount=5)
        ledger.append("o-1", "reserved", "o-1:1", details={})
        asked = []
        real = ledger._run
        monkeypatch.setattr(ledger, "_run", lambda *a, **k: asked.append(a[1]) or real(*a, **k))
        assert ledger.get("o-1:created") == r and ledger.has_key("o-1:1")
        assert asked == []
        assert ledger.get("o-1:2") is None and asked == ["reading a record"]  # (not written: asked)
        store.commit("o-1", b"flow", [], index=(None, None))
        # a later transaction of the same step starts with nothing of its own
        ledger.append("o-1", "paid", "o-1:2", amount=5)
        assert ledger.get("o-1:2").kind == "paid"
        # ...and ends without a commit: its record is gone, the committed ones stay
    monkeypatch.undo()
    assert ledger.get("o-1:2") is None and keys(pg_url) == ["o-1:created", "o-1:1"]
    assert ledger.get("o-1:created") == r
