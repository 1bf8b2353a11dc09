"""Pricing through Python: the catalog, forward quotes (quantity discount included)
and the backward query (which carts cost exactly X), all exact integers — run by
the miniKanren rules in schemes/pricing.scm inside flowscheme's interpreter."""

import pytest

from commerce import OrderError, Product, Quote, QuoteLine, Shop

CATALOG = {"tea": 450, "mug": 1200, "filter": 395, "honey": 875, "tray": 2400, "pot": 3950}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    with Shop(tmp_path_factory.mktemp("pricing")) as s:
        yield s


def test_the_catalog_maps_skus_to_integer_prices(shop):
    assert shop.catalog() == CATALOG
    assert all(type(price) is int for price in shop.catalog().values())


def test_products_carry_names_in_catalog_order(shop):
    products = shop.products()
    assert [p.sku for p in products] == list(CATALOG)
    assert products[0] == Product("tea", "Sencha green tea, 100 g", 450)
    assert all(isinstance(p.name, str) and p.name for p in products)


def test_a_quote_prices_each_line_and_sums_them(shop):
    q = shop.quote([("tea", 2), ("mug", 1)])
    assert q == Quote([QuoteLine("tea", 2, 450, 900), QuoteLine("mug", 1, 1200, 1200)], 2100)
    assert q.total == sum(line.total for line in q.lines)


def test_quote_lines_follow_the_cart_order(shop):
    q = shop.quote([("pot", 1), ("tea", 1)])
    assert [line.sku for line in q.lines] == ["pot", "tea"]
    assert q.total == 3950 + 450


@pytest.mark.parametrize(
    "sku, qty, total",
    [
        ("tea", 9, 9 * 450),  # below the bulk threshold: no discount
        ("tea", 10, 4500 - 450),  # 10 units: 10% off the line
        ("filter", 11, 4345 - 434),  # the discount 434.5 rounds down to 434
        ("pot", 25, 98750 - 9875),
        ("honey", 1, 875),
    ],
)
def test_the_quantity_discount(shop, sku, qty, total):
    q = shop.quote([(sku, qty)])
    assert q.lines == [QuoteLine(sku, qty, CATALOG[sku], total)]
    assert q.total == total


def test_every_amount_in_a_quote_is_an_exact_int(shop):
    q = shop.quote([("filter", 11), ("honey", 3), ("tray", 12)])
    for line in q.lines:
        assert all(type(x) is int for x in (line.qty, line.unit, line.total))
    assert type(q.total) is int


def test_large_quantities_stay_exact(shop):
    q = shop.quote([("filter", 10**20 + 1)])
    gross = 395 * (10**20 + 1)
    assert q.total == gross - gross // 10  # no float rounding anywhere
    assert type(q.total) is int


def test_a_repeated_quote_is_the_same_and_callers_cannot_spoil_it(shop):
    first = shop.quote([("tray", 2), ("honey", 1)])
    first.lines.clear()  # a caller mutating its copy
    second = shop.quote([("tray", 2), ("honey", 1)])
    assert second == Quote([QuoteLine("tray", 2, 2400, 4800), QuoteLine("honey", 1, 875, 875)], 5675)
    assert shop.quote((("tray", 2), ("honey", 1))) == second  # tuples are the same cart


def test_redefining_the_catalog_drops_memoised_quotes(tmp_path):
    with Shop(tmp_path / "s") as s:
        assert s.quote([("tea", 1)]).total == 450
        s.flows.interp.eval("""(define product-catalog '(("tea" "Tea" 500)))""")
        assert s.quote([("tea", 1)]).total == 500
        assert s.catalog() == {"tea": 500}


@pytest.mark.parametrize(
    "cart, message",
    [
        ([("nope", 1)], "unknown sku: nope"),
        ([("tea", 0)], "quantity must be a positive integer: 0"),
        ([("tea", -1)], "quantity must be a positive integer: -1"),
        ([("tea", 1.5)], "quantity must be a positive integer: 1.5"),
        ([("tea", True)], "quantity must be a positive integer: True"),
        ([("tea", "1")], "quantity must be a positive integer: '1'"),
        ([("tea", 1), ("mug", 1), ("tea", 1)], "duplicate sku: tea"),
        ([], "cart is empty"),
        (42, "a cart is a list of (sku, quantity) pairs"),
    ],
)
def test_a_bad_cart_is_a_clear_error(shop, cart, message):
    with pytest.raises(OrderError) as info:
        shop.quote(cart)
    assert message in str(info.value)


# --------------------------------------------------------------------------- backward


def test_which_carts_cost_exactly_2400(shop):
    assert shop.carts_costing(2400, 3) == [[("tray", 1)], [("mug", 2)]]


def test_which_carts_cost_exactly_2100(shop):
    assert shop.carts_costing(2100, 3) == [[("tea", 2), ("mug", 1)]]


@pytest.mark.parametrize("total, max_items", [(2400, 3), (2100, 3), (1295, 3), (4800, 2), (900, 2)])
def test_every_cart_found_backwards_really_costs_the_total(shop, total, max_items):
    carts = shop.carts_costing(total, max_items)
    assert carts, "the examples are chosen to have answers"
    for cart in carts:
        assert sum(qty for _, qty in cart) <= max_items
        assert shop.quote(cart).total == total
        assert all(type(qty) is int for _, qty in cart)
    assert len({tuple(c) for c in carts}) == len(carts)  # no cart twice


def test_a_total_nothing_costs_has_no_carts(shop):
    assert shop.carts_costing(1, 3) == []
    assert shop.carts_costing(449, 3) == []  # less than the cheapest product


def test_only_the_empty_cart_costs_nothing(shop):
    assert shop.carts_costing(0, 3) == [[]]
    assert shop.carts_costing(450, 0) == []


@pytest.mark.parametrize("total, max_items", [(-1, 3), (100, -1), (2100.0, 3), (2100, 3.0), (True, 3), ("2100", 3), (None, 3)])
def test_a_bad_backward_query_is_a_clear_error(shop, total, max_items):
    with pytest.raises(OrderError, match="must be non-negative integers"):
        shop.carts_costing(total, max_items)
