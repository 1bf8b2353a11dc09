"""Stock: how many units of each sku the shop has, derived from the ledger alone.

The inventory is ledger-backed. Every record that moves stock carries its change
in `details["stock"]` ({sku: signed units}), and the ledger keeps the running
balance (`Ledger.stock()`), so the stock on hand is exactly what the file says,
after any crash:

    received    +n   under the pseudo-order ledger.STOCK: the opening stock
                     (key "stock:opening") and every `stock add` (key "stock:REF")
    reserved    -n   an order's cart, taken by a conditional append: if a sku has
                     too few units the record is `out-of-stock` instead, atomically
    released    +n   the reservation given back (expired, cancelled)
    fulfilled    0   the reserved units leave the shop: on hand does not change

"On hand" is what can still be reserved: received - reserved + released. The
units held by open reservations and those shipped are computed from the records
(`levels`) for `flowscheme stock show`.

A new data directory gets its opening stock — `Shop(opening_stock=...)`, by
default OPENING_UNITS of every catalog sku — as one `received` record (key
"stock:opening"), written by the Shop that creates the directory; a directory
without one (made by a flowscheme older than stock, or a crash right after its
creation) gets it with its first reservation or stock added, and until then
`Shop.stock()` shows it as if it were recorded. Orders begun by a flowscheme
older than stock (order-lifecycle flows) reserved nothing, and give nothing back.
"""

from typing import NamedTuple

from .ledger import STOCK

#: The opening stock of each catalog sku in a new data directory, unless the Shop is told otherwise.
OPENING_UNITS = 1000
OPENING_KEY = "stock:opening"


class StockLevel(NamedTuple):
    sku: str
    on_hand: int   # what can be reserved now: received - reserved + released
    held: int      # reserved by orders neither fulfilled nor released yet
    shipped: int   # reserved by orders since fulfilled
    received: int  # the opening stock and every stock added


def reservation(cart):
    """The stock change reserving `cart` ([[sku, qty], ...]) makes: {sku: -qty}."""
    change = {}
    for sku, qty in cart:
        change[sku] = change.get(sku, 0) - qty
    return change


def giving_back(reserved_record):
    """The stock change that releases what `reserved_record` took ({} if it took nothing)."""
    change = (reserved_record.details or {}).get("stock") if reserved_record is not None else None
    if not isinstance(change, dict):
        return {}
    return {sku: -n for sku, n in change.items() if isinstance(sku, str) and type(n) is int and n}


def levels(records, skus, pending_opening=None):
    """[StockLevel] for `skus` (then any other sku the records name), from every
    ledger record in order; pending_opening: an opening stock not recorded yet."""
    received, held, shipped, on_hand = {}, {}, {}, {}
    reserved_by = {}  # order -> its reservation {sku: units}
    for sku, n in (pending_opening or {}).items():
        received[sku] = received.get(sku, 0) + n
        on_hand[sku] = on_hand.get(sku, 0) + n
    for r in records:
        change = (r.details or {}).get("stock")
        if isinstance(change, dict):
            for sku, n in change.items():
                if isinstance(sku, str) and type(n) is int:
                    on_hand[sku] = on_hand.get(sku, 0) + n
        if r.order == STOCK and r.kind == "received" and isinstance(change, dict):
            for sku, n in change.items():
                if isinstance(sku, str) and type(n) is int:
                    received[sku] = received.get(sku, 0) + n
        elif r.kind == "reserved" and isinstance(change, dict):
            taken = {sku: -n for sku, n in change.items() if isinstance(sku, str) and type(n) is int}
            reserved_by[r.order] = taken
            for sku, n in taken.items():
                held[sku] = held.get(sku, 0) + n
        elif r.kind in ("released", "fulfilled") and r.order in reserved_by:
            for sku, n in reserved_by.pop(r.order).items():
                held[sku] -= n
                if r.kind == "fulfilled":
                    shipped[sku] = shipped.get(sku, 0) + n
    names = list(skus) + sorted(set(on_hand) - set(skus))
    return [StockLevel(sku, on_hand.get(sku, 0), held.get(sku, 0), shipped.get(sku, 0), received.get(sku, 0))
            for sku in names]
