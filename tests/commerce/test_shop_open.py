"""Opening is not running: a Shop opened on a data directory or database, and its status and
orders queries, never start or resume a flow — not even on a hostile store whose
flows a recovery pass would run, nor on flows whose code is not loaded.
Recovery is the explicit `Shop.recover()`."""

import pytest

from commerce import OrderError, RecoveryError, Shop
from commerce.orders import OrderSummary

import storebuild


@pytest.fixture
def hostile(store_location):
    data = store_location
    statuses = storebuild.build_hostile(data)
    return data, statuses


def test_opening_and_reading_a_hostile_store_runs_nothing_and_writes_nothing(hostile):
    data, statuses = hostile
    before = storebuild.tree_bytes(data)
    with Shop(data) as shop:
        assert {o.order_id: o.status for o in shop.orders()} == statuses
        for order, status in statuses.items():
            assert shop.status(order) == status
        assert [o.total for o in shop.orders()] == [storebuild.TOTAL] * 4
        assert len(shop.ledger.records()) == 6
    assert storebuild.tree_bytes(data) == before


def test_opening_twice_and_in_another_order_still_runs_nothing(hostile):
    data, _ = hostile
    before = storebuild.tree_bytes(data)
    for _ in range(2):
        Shop(data).close()
    assert storebuild.tree_bytes(data) == before


def test_recover_is_the_explicit_call_and_skips_what_it_cannot_or_must_not_drive(hostile):
    data, _ = hostile
    with Shop(data) as shop:
        with pytest.raises(RecoveryError) as info:
            shop.recover()
        error = info.value
        assert error.moved == 2  # h1 served its reserve, h2 resumed with its recorded payment
        assert [order for order, _ in error.failures] == ["h4"]  # its code is not loaded
        assert "h4" in str(error) and "order-v0.scm" in str(error)
        assert shop.status("h1") == "awaiting-payment"
        assert shop.status("h2") == "fulfilled"
        assert shop.status("h3") == "unknown-flow"  # another flow's name: never driven
        assert shop.flows.status("x-9") == "suspended"
        assert [r.kind for r in shop.ledger.records("h2")] == ["created", "reserved", "paid", "fulfilled"]
        assert [r.kind for r in shop.ledger.records("h3")] == ["created"]


def test_recover_true_is_an_explicit_opt_in(store_location):
    data = store_location
    with Shop(data) as shop:
        shop.begin("o", [("tea", 1)])
        shop.ledger.append("o", "paid", shop.flows.result("o").key, amount=450, details={"payment_ref": "p"})
    with Shop(data) as shop:
        assert shop.status("o") == "awaiting-payment"
    with Shop(data, recover=True) as shop:
        assert shop.status("o") == "fulfilled"


def test_begin_and_settle_refuse_to_drive_a_flow_of_another_name(hostile):
    data, _ = hostile
    before = storebuild.tree_bytes(data)
    with Shop(data) as shop:
        with pytest.raises(OrderError, match="named 'exfiltrate'.*nothing recorded"):
            shop.settle("h3", "pay", storebuild.TOTAL)
        with pytest.raises(OrderError, match="named 'exfiltrate'"):
            shop.begin("x-9", [("tea", 1)])
    assert storebuild.tree_bytes(data) == before


@pytest.mark.file_only("loses the ledger's records by truncating the ledger file")
def test_orders_lists_an_order_flow_the_ledger_lost_with_no_total(tmp_path):
    data = tmp_path / "shop"
    with Shop(data) as shop:
        shop.begin("o", [("tea", 1)])
    with open(data / "ledger.log", "r+b") as f:
        f.truncate(16)  # only the file header left
    with Shop(data) as shop:
        assert shop.orders() == [OrderSummary("o", "awaiting-payment", None)]
        assert shop.status("o") == "awaiting-payment"
