"""The records that claim an order's transitions go with the flow's commit:
begin's `created` with the flow's first commit, settle's `paid` with the resume
it answers. On PostgreSQL they are one transaction (the same xmin, and a commit
that fails leaves no record); on the file store the record comes first and a
retry finds it. Either way a retry records each effect once."""

import pytest

from commerce import OrderError, Shop
from commerce.ledger import STOCK
from flow.store import is_store_url
from pgserver import sql
from shophelp import open_ledger

CART = [["tea", 2], ["mug", 1]]


def records(where):
    ledger = open_ledger(where)
    try:
        return [(r.kind, r.key) for r in ledger.records() if r.order != STOCK]
    finally:
        ledger.close()


class Refused(Exception):
    pass


def refuse_next_commit(shop, monkeypatch):
    """The flow store's next commit raises (as a lost server would), once."""
    store = shop.flows.store
    real = store.commit
    left = [1]

    def commit(*args, **kwargs):
        if left[0]:
            left[0] -= 1
            raise Refused("the commit did not happen")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "commit", commit)


def flow_xmin(where, flow_id):
    return sql(where, "SELECT xmin::text FROM flows WHERE id = %s", flow_id)[0][0]


def record_xmin(where, key):
    return sql(where, "SELECT xmin::text FROM ledger_records WHERE key = %s", key)[0][0]


def test_the_claiming_records_commit_with_the_flow(store_location):
    """On a database: the same transaction wrote `created` and the flow's row, then
    `paid` and the flow's next row (the served records between go in savepoints
    of that transaction: theirs are subtransaction ids)."""
    on_db = is_store_url(store_location)
    with Shop(store_location) as shop:
        assert shop.begin("o-1", CART) == "awaiting-payment"
        if on_db:
            assert record_xmin(store_location, "o-1:created") == flow_xmin(store_location, "o-1")
        total = shop.ledger.get("o-1:created").amount
        assert shop.settle("o-1", "pay-1", total) == "settled"
        if on_db:
            assert record_xmin(store_location, "o-1:2") == flow_xmin(store_location, "o-1")
            assert record_xmin(store_location, "o-1:2") != record_xmin(store_location, "o-1:created")
    assert records(store_location) == [("created", "o-1:created"), ("reserved", "o-1:1"), ("paid", "o-1:2"),
                                       ("fulfilled", "o-1:3")]


def test_a_begin_whose_commit_fails_is_begun_again_once(store_location, monkeypatch):
    with Shop(store_location) as shop:
        refuse_next_commit(shop, monkeypatch)
        with pytest.raises(Refused):
            shop.begin("o-1", CART)
        if is_store_url(store_location):
            with pytest.raises(OrderError, match="unknown order"):
                shop.status("o-1")
        else:
            assert shop.status("o-1") == "created"
        # a database keeps nothing of the step; a file ledger keeps the record, the flow is not there
        assert records(store_location) == ([] if is_store_url(store_location) else
                                           [("created", "o-1:created"), ("reserved", "o-1:1")])
        assert shop.begin("o-1", CART) == "awaiting-payment"
        assert shop.settle("o-1", "pay-1", shop.ledger.get("o-1:created").amount) == "settled"
    assert records(store_location) == [("created", "o-1:created"), ("reserved", "o-1:1"), ("paid", "o-1:2"),
                                       ("fulfilled", "o-1:3")]


def test_a_settle_whose_commit_fails_records_the_payment_once(store_location, monkeypatch):
    with Shop(store_location) as shop:
        assert shop.begin("o-1", CART) == "awaiting-payment"
        total = shop.ledger.get("o-1:created").amount
        refuse_next_commit(shop, monkeypatch)
        with pytest.raises(Refused):
            shop.settle("o-1", "pay-1", total)
        on_db = is_store_url(store_location)
        assert shop.status("o-1") == "awaiting-payment"
        kept = records(store_location)
        if on_db:  # the payment went with the step: the webhook's retry is the payment
            assert kept == [("created", "o-1:created"), ("reserved", "o-1:1")]
        else:  # recorded first: the retry finds it (and finishes the order)
            assert ("paid", "o-1:2") in kept
        assert shop.settle("o-1", "pay-1", total) == ("settled" if on_db else "already-settled")
        assert shop.status("o-1") == "fulfilled"
        assert shop.settle("o-1", "pay-1", total) == "already-settled"
    assert records(store_location) == [("created", "o-1:created"), ("reserved", "o-1:1"), ("paid", "o-1:2"),
                                       ("fulfilled", "o-1:3")]


def test_a_payment_for_an_order_that_moved_under_the_lock_is_not_recorded_with_it(store_location, monkeypatch):
    """settle reads the flow, then takes it: when it moved in between (here: cancelled
    by another caller just then), no payment is recorded in the step; the order's
    outcome decides (a refund-due for a cancelled order)."""
    with Shop(store_location) as shop:
        assert shop.begin("o-1", CART) == "awaiting-payment"
        total = shop.ledger.get("o-1:created").amount
        real = shop.flows.holding
        fired = []

        def holding(flow_id):
            if not fired:
                fired.append(shop.cancel(flow_id))  # moves the flow just before settle takes it
            return real(flow_id)

        monkeypatch.setattr(shop.flows, "holding", holding)
        assert shop.settle("o-1", "pay-1", total) == "cancelled"
        assert fired == ["cancelled"]
    kinds = [k for k, _ in records(store_location)]
    assert kinds == ["created", "reserved", "released", "refund-due"]


def test_begin_records_the_created_record_of_a_flow_that_has_none(new_store_location):
    """A flow that came without its record (its store imported, the ledger not): begin
    records the order's created record on its own — no commit of the flow follows
    to carry it — and the order goes on."""
    first, second = new_store_location(), new_store_location()
    with Shop(first) as shop:
        assert shop.begin("o-1", CART) == "awaiting-payment"
        total = shop.ledger.get("o-1:created").amount
        exported = shop.flows.export_store()
    with Shop(second) as shop:
        shop.flows.import_store(exported)
        assert shop.ledger.get("o-1:created") is None
        assert shop.begin("o-1", CART) == "awaiting-payment"
    assert records(second) == [("created", "o-1:created")]
    with Shop(second) as shop:
        assert shop.ledger.get("o-1:created").amount == total
        assert shop.settle("o-1", "pay-1", total) == "settled"
    assert [k for k, _ in records(second)] == ["created", "paid", "fulfilled"]
