"""Pricing: Python's view of schemes/pricing.scm (relational rules on schemes/kanren.scm).

Quotes are computed by running the miniKanren relations forwards in the
interpreter; amounts are exact integers in minor units, never floats.
"""

from importlib import resources
from typing import NamedTuple

from interp.errors import SchemeError
from interp.values import Pair, list_to_pairs, pairs_to_list


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


def cart_to_scheme(cart):
    """[(sku, qty)] -> the Scheme list ((sku qty) ...); shape errors -> PricingError."""
    try:
        lines = [list_to_pairs([sku, qty]) for sku, qty in cart]
    except (TypeError, ValueError):
        raise PricingError("a cart is a list of (sku, quantity) pairs") from None
    return list_to_pairs(lines)


class Pricing:
    """The pricing rules, callable from Python."""

    def __init__(self, interpreter):
        self.interp = interpreter

    def _call(self, proc, *args):
        return self.interp.call(proc, *args)

    def products(self):
        rows = pairs_to_list(self.interp.lookup("product-catalog"))
        return [Product(*pairs_to_list(r)) for r in rows]

    def catalog(self):
        return {p.sku: p.price for p in self.products()}

    def problem(self, cart):
        """None, or the rules' description of what is wrong with the cart."""
        for line in cart if isinstance(cart, (list, tuple)) else ():
            if isinstance(line, (list, tuple)) and len(line) == 2:
                qty = line[1]
                if type(qty) is not int:
                    return f"quantity must be a positive integer: {qty!r}"
        p = self._call("cart-problem", cart_to_scheme(cart))
        return None if p is False else p

    def quote(self, cart):
        problem = self.problem(cart)
        if problem is not None:
            raise PricingError(problem)
        try:
            result = self._call("price-cart", cart_to_scheme(cart))
        except SchemeError as e:
            raise PricingError(e.message) from None
        lines, total = pairs_to_list(result)
        out = [QuoteLine(*pairs_to_list(line)) for line in pairs_to_list(lines)]
        if type(total) is not int:
            raise PricingError(f"pricing rules gave a non-integer total: {total!r}")
        return Quote(out, total)

    def carts_costing(self, total, max_items):
        """Every cart of at most max_items units costing exactly total (run backwards)."""
        if type(total) is not int or type(max_items) is not int or total < 0 or max_items < 0:
            raise PricingError("total and max_items must be non-negative integers")
        carts = pairs_to_list(self._call("carts-costing", total, max_items))
        return [[tuple(pairs_to_list(line)) for line in pairs_to_list(c)] for c in carts]


def is_pair(x):
    return type(x) is Pair
