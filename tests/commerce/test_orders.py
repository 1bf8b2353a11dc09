"""The order lifecycle through the Python API (commerce.Shop): the behaviours the seed
promised (begin, settle, a replayed webhook, a restart between the two), the ledger
each order leaves behind, and every kind of bad input refused with a clear error
that records nothing and loses nothing."""

import os
import warnings
from decimal import Decimal
from fractions import Fraction

import pytest

from commerce import OrderError, OrderSummary, Shop
from commerce.ledger import (
    FILE_HEADER_SIZE,
    LedgerCorruptError,
    LedgerVersionError,
    LedgerWarning,
    encode_file_header,
    encode_frame,
)

from shophelp import ledger_state, open_ledger

CART = [("tea", 2), ("mug", 1)]  # 2 x 450 + 1200
TOTAL = 2100
KINDS = ["created", "reserved", "paid", "fulfilled"]


@pytest.fixture
def data_dir(store_location):
    """Where the shop keeps its data: a directory, or a PostgreSQL database (URL)."""
    return store_location


@pytest.fixture
def file_data_dir(tmp_path):
    """A data directory, for the tests about the ledger file itself (file store only)."""
    return tmp_path / "shop"


@pytest.fixture
def shop(data_dir):
    with Shop(data_dir) as s:
        yield s


@pytest.fixture(scope="module", params=["file", "postgres"])
def shared(request, tmp_path_factory):
    """One shop per store for the many small bad-input cases (opening a Shop takes a
    while): each case works on order ids of its own."""
    if request.param == "file":
        data_dir = str(tmp_path_factory.mktemp("shared") / "shop")
        release = None
    else:
        server = request.getfixturevalue("pg_server")
        name = server.acquire_database()
        data_dir = server.url(name)

        def release():
            server.ensure_running()
            server.release_database(name)
    try:
        with Shop(data_dir) as s:
            s.test_dir = data_dir
            yield s
    finally:
        if release is not None:
            release()


_ids = iter(range(10**9))


def fresh_id(prefix="o"):
    return f"{prefix}-{next(_ids)}"


def kinds(shop, order_id):
    return [r.kind for r in shop.ledger.records(order_id)]


def ledger_bytes(data_dir):
    """What the ledger has committed (its records; for a file ledger its bytes too)."""
    return ledger_state(data_dir)


# --------------------------------------------------------------------------- the seed behaviours


def test_begin_creates_reserves_and_waits_for_payment(shop):
    assert shop.begin("o-1", CART) == "awaiting-payment"
    assert shop.status("o-1") == "awaiting-payment"
    created, reserved = shop.ledger.records("o-1")
    assert (created.kind, reserved.kind) == ("created", "reserved")
    assert created.amount == TOTAL and type(created.amount) is int
    assert created.details["cart"] == [["tea", 2], ["mug", 1]]
    assert created.details["lines"] == [["tea", 2, 450, 900], ["mug", 1, 1200, 1200]]
    assert reserved.amount is None
    assert shop.flows.status("o-1") == "suspended"  # the flow waits at payment


def test_settle_records_payment_and_fulfils(shop):
    shop.begin("o-1", CART)
    assert shop.settle("o-1", "pay-77", TOTAL) == "settled"
    assert shop.status("o-1") == "fulfilled"
    records = shop.ledger.records("o-1")
    assert [r.kind for r in records] == KINDS
    paid = records[2]
    assert paid.amount == TOTAL and type(paid.amount) is int
    assert paid.details == {"payment_ref": "pay-77"}
    assert [type(r.amount) for r in records] == [int, type(None), int, type(None)]
    assert [r.seq for r in records] == [2, 3, 4, 5]  # seq 1: the shop's opening stock
    assert len({r.key for r in records}) == 4
    assert shop.ledger.verify().ok


def test_a_replayed_webhook_answers_already_settled_and_records_nothing(shop, data_dir):
    shop.begin("o-1", CART)
    assert shop.settle("o-1", "pay-77", TOTAL) == "settled"
    before = ledger_bytes(data_dir)
    assert shop.settle("o-1", "pay-77", TOTAL) == "already-settled"
    assert ledger_bytes(data_dir) == before
    assert kinds(shop, "o-1") == KINDS
    # (changed by #15: a second, real payment under another reference used to answer
    # already-settled and be recorded nowhere; it is refund-due now: test_order_lifecycles.py)


def test_beginning_an_existing_order_changes_nothing_and_answers_its_status(shop, data_dir):
    assert shop.begin("o-1", CART) == "awaiting-payment"
    before = ledger_bytes(data_dir)
    assert shop.begin("o-1", CART) == "awaiting-payment"
    assert shop.begin("o-1", list(reversed(CART))) == "awaiting-payment"  # the same cart, in another order
    # (changed by #15: another cart used to be a silent no-op; it is refused now)
    for other in ([("pot", 3)], [("nope", 1)], [("tea", 2)]):
        with pytest.raises(OrderError, match="order o-1 exists with a different cart"):
            shop.begin("o-1", other)
    assert ledger_bytes(data_dir) == before
    shop.settle("o-1", "pay-1", TOTAL)
    assert shop.begin("o-1", CART) == "fulfilled"
    assert kinds(shop, "o-1") == KINDS


def test_a_restart_between_begin_and_settle_loses_nothing(data_dir):
    carts = {f"o-{i}": [("tea", i + 1)] for i in range(5)}
    with Shop(data_dir) as first:
        for order_id, cart in carts.items():
            assert first.begin(order_id, cart) == "awaiting-payment"
        totals = {o: first.quote(c).total for o, c in carts.items()}
    with Shop(data_dir) as second:  # a new process would see exactly this
        assert [s.order_id for s in second.orders()] == list(carts)
        assert all(s.status == "awaiting-payment" for s in second.orders())
        assert second.settle("o-3", "pay-o-3", totals["o-3"]) == "settled"
    with Shop(data_dir) as third:
        assert third.status("o-3") == "fulfilled"
        for order_id in carts:
            if order_id != "o-3":
                assert third.settle(order_id, f"pay-{order_id}", totals[order_id]) == "settled"
        for order_id in carts:
            assert kinds(third, order_id) == KINDS
            assert third.settle(order_id, f"pay-{order_id}", totals[order_id]) == "already-settled"
        assert third.ledger.verify().ok


def test_a_restart_without_closing_the_first_shop(data_dir):
    first = Shop(data_dir)  # left open, as a killed process would leave it
    first.begin("o-1", CART)
    second = Shop(data_dir)
    try:
        assert second.settle("o-1", "pay-1", TOTAL) == "settled"
        assert first.status("o-1") == "fulfilled"  # the first shop sees the other's commits
        assert first.settle("o-1", "pay-1", TOTAL) == "already-settled"
        assert kinds(first, "o-1") == KINDS
    finally:
        first.close()
        second.close()


def test_orders_lists_every_order_with_status_and_total(shop):
    shop.begin("a", [("tea", 1)])
    shop.begin("b", [("pot", 1)])
    shop.settle("b", "pay-b", 3950)
    assert shop.orders() == [OrderSummary("a", "awaiting-payment", 450), OrderSummary("b", "fulfilled", 3950)]
    assert all(type(s.total) is int for s in shop.orders())


def test_a_payment_recorded_before_a_crash_is_finished_by_the_next_shop(data_dir):
    """The webhook's paid record was committed but the process died before the
    flow moved on: the next Shop's explicit recover() completes the order without
    a redelivery. (Opening alone no longer recovers: it reads, it runs nothing.)"""
    with Shop(data_dir) as first:
        first.begin("o-1", CART)
        waiting = first.flows.result("o-1")
        first.ledger.append("o-1", "paid", waiting.key, amount=TOTAL, details={"payment_ref": "pay-1"})
    with Shop(data_dir) as second:
        assert second.status("o-1") == "awaiting-payment"  # opening ran nothing
        assert second.recover() == 1
        assert second.status("o-1") == "fulfilled"
        assert second.settle("o-1", "pay-1", TOTAL) == "already-settled"
        assert kinds(second, "o-1") == KINDS


def test_settle_can_start_a_flow_that_a_crash_kept_from_starting(data_dir):
    """created is in the ledger but the flow was never started; the webhook alone
    (no recovery pass, no redelivered begin) carries the order to the end."""
    with open_ledger(data_dir) as ledger:
        ledger.append("o-1", "created", "o-1:created", amount=TOTAL,
                      details={"cart": [["tea", 2], ["mug", 1]], "lines": []})
    with Shop(data_dir, recover=False) as shop:
        assert shop.status("o-1") == "created"
        assert shop.settle("o-1", "pay-1", TOTAL) == "settled"
        assert kinds(shop, "o-1") == KINDS


# --------------------------------------------------------------------------- bad input: orders


BAD_CARTS = [
    ([("nope", 1)], "unknown sku: nope"),
    ([("Tea", 1)], "unknown sku: Tea"),
    ([("tea", 0)], "quantity must be a positive integer: 0"),
    ([("tea", -3)], "quantity must be a positive integer: -3"),
    ([("tea", 1.0)], "quantity must be a positive integer: 1.0"),
    ([("tea", 2.5)], "quantity must be a positive integer: 2.5"),
    ([("tea", True)], "quantity must be a positive integer: True"),
    ([("tea", False)], "quantity must be a positive integer: False"),
    ([("tea", "2")], "quantity must be a positive integer: '2'"),
    ([("tea", None)], "quantity must be a positive integer: None"),
    ([("tea", Fraction(2))], "quantity must be a positive integer: Fraction(2, 1)"),
    ([("tea", Decimal(2))], "quantity must be a positive integer: Decimal('2')"),
    ([(5, 1)], "sku must be a string: 5"),
    ([(None, 1)], "sku must be a string: None"),
    ([("tea", 1), ("tea", 2)], "duplicate sku: tea"),
    ([], "cart is empty"),
    ([("tea",)], "malformed line"),
    ([("tea", 1, 2)], "malformed line"),
    (["ab"], "malformed line"),
    ("tea", "a cart is a list"),
    ({"tea": 1}, "a cart is a list"),
    (None, "a cart is a list"),
]


@pytest.mark.parametrize("cart, message", BAD_CARTS, ids=[repr(c) for c, _ in BAD_CARTS])
def test_begin_refuses_a_bad_cart_and_records_nothing(shared, cart, message):
    shop = shared
    kept, bad = fresh_id("kept"), fresh_id("bad")
    shop.begin(kept, CART)
    before = ledger_bytes(shop.test_dir)
    with pytest.raises(OrderError) as info:
        shop.begin(bad, cart)
    assert message in str(info.value)
    assert ledger_bytes(shop.test_dir) == before
    assert bad not in shop.flows.ids()
    with pytest.raises(OrderError, match=f"unknown order: {bad}"):
        shop.status(bad)
    assert shop.status(kept) == "awaiting-payment"


def test_begin_refuses_a_total_the_ledger_cannot_record(shared):
    shop = shared
    before = ledger_bytes(shop.test_dir)
    with pytest.raises(OrderError, match="more than the ledger can record"):
        shop.begin("o-huge", [("pot", 10**18)])
    assert ledger_bytes(shop.test_dir) == before
    assert shop.quote([("pot", 10**18)]).total == 3950 * 10**18 - 395 * 10**18  # pricing itself is exact


@pytest.mark.parametrize("order_id", ["", None, 5, b"o-1", "x" * 201, "\ud800"])
def test_bad_order_ids_are_refused(shared, order_id):
    shop = shared
    before = ledger_bytes(shop.test_dir)
    for call in (lambda: shop.begin(order_id, CART), lambda: shop.settle(order_id, "p", TOTAL),
                 lambda: shop.status(order_id)):
        with pytest.raises(OrderError, match="order id must be"):
            call()
    assert ledger_bytes(shop.test_dir) == before


@pytest.mark.parametrize("amount", [2100.0, 2100.5, True, "2100", None, Decimal(2100), Fraction(2100), [2100]])
def test_settle_refuses_a_non_integer_amount_and_records_nothing(shared, amount):
    shop, order_id = shared, fresh_id()
    shop.begin(order_id, CART)
    before = ledger_bytes(shop.test_dir)
    with pytest.raises(OrderError, match="amount must be an integer"):
        shop.settle(order_id, "pay-1", amount)
    assert ledger_bytes(shop.test_dir) == before
    assert shop.status(order_id) == "awaiting-payment"
    assert shop.settle(order_id, "pay-1", TOTAL) == "settled"  # the real webhook still works


@pytest.mark.parametrize("amount", [TOTAL - 1, TOTAL + 1, 0, -TOTAL, 2**70])
def test_settle_refuses_an_amount_that_differs_from_the_quote(shared, amount):
    shop, order_id = shared, fresh_id()
    shop.begin(order_id, CART)
    before = ledger_bytes(shop.test_dir)
    with pytest.raises(OrderError, match=f"payment of {amount} does not match the quoted total {TOTAL}"):
        shop.settle(order_id, "pay-1", amount)
    assert ledger_bytes(shop.test_dir) == before
    assert shop.status(order_id) == "awaiting-payment"
    assert shop.settle(order_id, "pay-1", TOTAL) == "settled"


@pytest.mark.parametrize("ref", ["", None, 77, b"pay"])
def test_settle_refuses_a_bad_payment_reference(shared, ref):
    shop, order_id = shared, fresh_id()
    shop.begin(order_id, CART)
    before = ledger_bytes(shop.test_dir)
    with pytest.raises(OrderError, match="payment reference must be a non-empty string"):
        shop.settle(order_id, ref, TOTAL)
    assert ledger_bytes(shop.test_dir) == before
    assert shop.status(order_id) == "awaiting-payment"


def test_an_unknown_order_is_a_clear_error(shop, data_dir):
    shop.begin("o-1", CART)
    before = ledger_bytes(data_dir)
    with pytest.raises(OrderError, match="unknown order: o-2"):
        shop.settle("o-2", "pay-1", TOTAL)
    with pytest.raises(OrderError, match="unknown order: o-2"):
        shop.status("o-2")
    assert ledger_bytes(data_dir) == before
    assert "o-2" not in shop.flows.ids()
    assert shop.ledger.records("o-2") == []


def test_an_order_id_held_by_another_flow_is_refused_and_nothing_recorded(shop, data_dir):
    shop.flows.load("(defflow other (lambda () (request 'anything 1)))")
    shop.flows.start("other", flow_id="o-9")
    before = ledger_bytes(data_dir)
    with pytest.raises(OrderError, match="order o-9: its flow is named 'other'"):
        shop.begin("o-9", CART)
    assert ledger_bytes(data_dir) == before
    # the order's record there all the same (written by hand): its payment is refused too
    shop.ledger.append("o-9", "created", "o-9:created", amount=TOTAL,
                       details={"cart": [["mug", 1], ["tea", 2]]})
    before = ledger_bytes(data_dir)
    with pytest.raises(OrderError, match="order o-9: its flow is named 'other'.*nothing recorded"):
        shop.settle("o-9", "pay-9", TOTAL)
    assert ledger_bytes(data_dir) == before
    assert shop.flows.status("o-9") == "suspended"


def test_a_payment_for_an_order_cancelled_by_the_runtime_becomes_refund_due(shop, data_dir):
    """(Changed by #15: it used to be refused with nothing recorded — the money
    was recorded nowhere — and the reservation kept forever.)"""
    shop.begin("o-1", CART)
    shop.flows.cancel("o-1")
    assert shop.status("o-1") == "cancelled"
    assert shop.settle("o-1", "pay-1", TOTAL) == "cancelled"
    assert kinds(shop, "o-1") == ["created", "reserved", "released", "refund-due"]
    before = ledger_bytes(data_dir)
    assert shop.settle("o-1", "pay-1", TOTAL) == "cancelled"  # idempotent by its reference
    assert ledger_bytes(data_dir) == before


# --------------------------------------------------------------------------- bad input: the ledger file


def _shop_with_orders(data_dir, n=3):
    with Shop(data_dir) as s:
        for i in range(n):
            s.begin(f"o-{i}", CART)
        s.settle("o-0", "pay-0", TOTAL)
        return [r.offset for r in s.ledger.records()]


@pytest.mark.file_only("damages the ledger file")
def test_a_corrupt_middle_of_the_ledger_is_an_error_naming_its_offset(file_data_dir):
    data_dir = file_data_dir
    offsets = _shop_with_orders(data_dir)
    path = data_dir / "ledger.log"
    damaged = bytearray(path.read_bytes())
    victim = offsets[3]
    damaged[victim + 30] ^= 0xFF  # a byte inside the fourth record's body
    path.write_bytes(bytes(damaged))
    flows_before = (data_dir / "flows" / "flows.log").read_bytes()
    with pytest.raises(LedgerCorruptError, match=f"offset {victim}") as info:
        Shop(data_dir)
    assert "checksum" in str(info.value)
    assert path.read_bytes() == bytes(damaged)  # nothing truncated, nothing skipped
    assert (data_dir / "flows" / "flows.log").read_bytes() == flows_before
    damaged[victim + 30] ^= 0xFF  # repaired by hand: everything is still there
    path.write_bytes(bytes(damaged))
    with Shop(data_dir) as s:
        assert [o.status for o in s.orders()] == ["fulfilled", "awaiting-payment", "awaiting-payment"]


@pytest.mark.file_only("edits the ledger file's header")
def test_a_ledger_written_by_a_newer_format_is_refused_untouched(file_data_dir):
    data_dir = file_data_dir
    _shop_with_orders(data_dir)
    path = data_dir / "ledger.log"
    original = path.read_bytes()
    newer = encode_file_header(version=2) + original[FILE_HEADER_SIZE:]
    path.write_bytes(newer)
    with pytest.raises(LedgerVersionError, match="version 2.*upgrade flowscheme"):
        Shop(data_dir)
    assert path.read_bytes() == newer
    path.write_bytes(original)
    with Shop(data_dir) as s:
        assert len(s.orders()) == 3


@pytest.mark.file_only("appends a frame to the ledger file")
def test_a_record_written_by_a_newer_format_is_refused_untouched(file_data_dir):
    data_dir = file_data_dir
    _shop_with_orders(data_dir)
    path = data_dir / "ledger.log"
    body = {"seq": 99, "order": "o-9", "kind": "created", "key": "o-9:created", "amount": 1,
            "time": 0.0, "details": {}}
    newer = path.read_bytes() + encode_frame(body, version=3)
    path.write_bytes(newer)
    with pytest.raises(LedgerVersionError, match="version 3"):
        Shop(data_dir)
    assert path.read_bytes() == newer


@pytest.mark.file_only("tears the ledger file's last frame")
def test_a_torn_tail_is_cut_with_a_warning_and_every_committed_order_kept(file_data_dir):
    data_dir = file_data_dir
    _shop_with_orders(data_dir)
    path = data_dir / "ledger.log"
    whole = path.read_bytes()
    body = {"seq": 99, "order": "o-9", "kind": "created", "key": "o-9:created", "amount": 1,
            "time": 0.0, "details": {}}
    path.write_bytes(whole + encode_frame(body)[:-5])  # a write the crash interrupted
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = Shop(data_dir)
    try:
        assert any(issubclass(w.category, LedgerWarning) and "torn tail" in str(w.message) for w in caught)
        assert path.read_bytes() == whole
        assert [o.order_id for o in s.orders()] == ["o-0", "o-1", "o-2"]
        assert s.settle("o-1", "pay-1", TOTAL) == "settled"
        assert s.ledger.verify().ok
    finally:
        s.close()


@pytest.mark.file_only("puts a file that is not a ledger where the ledger goes")
def test_a_file_that_is_not_a_ledger_is_refused_untouched(file_data_dir):
    data_dir = file_data_dir
    data_dir.mkdir()
    path = data_dir / "ledger.log"
    path.write_bytes(b"hello, this is not a ledger at all\n")
    with pytest.raises(Exception, match="not a flowscheme ledger"):
        Shop(data_dir)
    assert path.read_bytes() == b"hello, this is not a ledger at all\n"
    assert not os.path.exists(data_dir / "flows" / "flows.log")
