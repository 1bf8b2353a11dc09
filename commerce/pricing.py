"""Pricing: Python's view of schemes/pricing.scm (relational rules on schemes/kanren.scm).

Quotes are computed by running the miniKanren relations forwards in the
interpreter; amounts are exact integers in minor units, never floats.
"""

from importlib import resources
from typing import NamedTuple

from interp.errors import SchemeError
from interp.values import list_to_pairs, pairs_to_list


class Product(NamedTuple):
    sku: str
    name: str
    price: int


class QuoteLine(NamedTuple):
    sku: str
    qty: int
    unit: int
    total: int


class Quote(NamedTuple):
    lines: list
    total: int


class PricingError(ValueError):
    """A cart the pricing rules reject (unknown sku, bad quantity, ...)."""


def scheme_source(name):
    """The text of schemes/<name> (shipped as package data)."""
    return resources.files("schemes").joinpath(name).read_text(encoding="utf-8")


def scheme_path(name):
    return str(resources.files("schemes").joinpath(name))


def load_rules(interpreter):
    """Load kanren.scm and pricing.scm into an interpreter."""
    for name in ("kanren.scm", "pricing.scm"):
        interpreter.eval(scheme_source(name), filename=scheme_path(name))


def normalise_cart(cart):
    """[(sku, qty)] -> a tuple of (sku, qty) tuples, refusing what is not a cart of
    string skus and integer quantities (bool, float, str quantities included).
    Catalog checks (unknown sku, quantity < 1, duplicates, empty) are the rules' job."""
    if not isinstance(cart, (list, tuple)):
        raise PricingError(f"a cart is a list of (sku, quantity) pairs, got {_describe(cart)}")
    lines = []
    for line in cart:
        if not isinstance(line, (list, tuple)) or len(line) != 2:
            raise PricingError(f"malformed line {_describe(line)}: a line is a (sku, quantity) pair")
        sku, qty = line
        if type(sku) is not str:
            raise PricingError(f"sku must be a string: {_describe(sku)}")
        if type(qty) is not int:
            raise PricingError(f"quantity must be a positive integer: {_describe(qty)}")
        lines.append((sku, qty))
    return tuple(lines)


def cart_to_scheme(cart):
    """[(sku, qty)] -> the Scheme list ((sku qty) ...); shape errors -> PricingError."""
    try:
        lines = [list_to_pairs([sku, qty]) for sku, qty in cart]
    except (TypeError, ValueError):
        raise PricingError("a cart is a list of (sku, quantity) pairs") from None
    return list_to_pairs(lines)


QUOTE_CACHE_SIZE = 4096


class Pricing:
    """The pricing rules, callable from Python.

    Quotes are memoised per cart (the rules are pure functions of the cart): a
    repeated cart costs a dict lookup instead of a miniKanren search. The memo
    is dropped when `product-catalog` or `price-cart` is redefined in the
    interpreter; call `forget()` after changing the rules any other way."""

    def __init__(self, interpreter):
        self.interp = interpreter
        self._quotes = {}
        self._rules = None

    def _call(self, proc, *args):
        return self.interp.call(proc, *args)

    def forget(self):
        """Drop every memoised quote."""
        self._quotes = {}

    def products(self):
        rows = pairs_to_list(self.interp.lookup("product-catalog"))
        return [Product(*pairs_to_list(r)) for r in rows]

    def catalog(self):
        return {p.sku: p.price for p in self.products()}

    def problem(self, cart):
        """None, or the rules' description of what is wrong with the cart."""
        try:
            lines = normalise_cart(cart)
        except PricingError as e:
            return str(e)
        p = self._call("cart-problem", cart_to_scheme(lines))
        return None if p is False else p

    def quote(self, cart):
        lines = normalise_cart(cart)
        rules = (self.interp.lookup("product-catalog"), self.interp.lookup("price-cart"))
        if self._rules is None or any(a is not b for a, b in zip(rules, self._rules)):
            self._quotes, self._rules = {}, rules
        known = self._quotes.get(lines)
        if known is not None:
            return Quote(list(known.lines), known.total)
        q = self._price(lines)
        if len(self._quotes) >= QUOTE_CACHE_SIZE:
            self._quotes = {}
        self._quotes[lines] = q
        return Quote(list(q.lines), q.total)

    def _price(self, lines):
        # price-cart checks the cart itself (cart-problem) before searching; only
        # when it refuses is cart-problem asked for the problem's own text, so a
        # good cart is checked once, not twice.
        scheme_cart = cart_to_scheme(lines)
        try:
            result = self._call("price-cart", scheme_cart)
        except SchemeError as e:
            problem = self._call("cart-problem", scheme_cart)
            raise PricingError(e.message if problem is False else problem) from None
        quoted, total = pairs_to_list(result)
        out = [QuoteLine(*pairs_to_list(line)) for line in pairs_to_list(quoted)]
        for x in [total] + [n for line in out for n in (line.qty, line.unit, line.total)]:
            if type(x) is not int:
                raise PricingError(f"pricing rules gave a non-integer amount: {x!r}")
        return Quote(out, total)

    def carts_costing(self, total, max_items):
        """Every cart of at most max_items units costing exactly total (run backwards)."""
        if type(total) is not int or type(max_items) is not int or total < 0 or max_items < 0:
            raise PricingError(
                f"total and max_items must be non-negative integers, got {total!r} and {max_items!r}"
            )
        carts = pairs_to_list(self._call("carts-costing", total, max_items))
        return [[tuple(pairs_to_list(line)) for line in pairs_to_list(c)] for c in carts]


def _describe(value):
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
