"""Cheap listings for the service's pages: each flow's metadata row and each order's status, cached by snapshot; one pass shared as a view.

A flow's row (id, name, status, step, kind, key, wake, timer, attempts, error)
is read from its snapshot's metadata only (no code, no decoding of its data) and
kept until the store holds another snapshot for it, so listing 10,000 flows
after the first time costs a dictionary look-up per flow. An order's status is
kept the same way, beside its flow's snapshot; an order that has no flow yet
(created only) is looked up every time.

A view (`Listing.view(seq)`) is one pass over both: every flow's row, every
order's row and both counted by status, made once and shared by every page
and API call that asks for the same change-feed sequence number `seq` within
`max_age` seconds (the age bounds how long another process's commits, which
the feed does not see, can go unnoticed). One overview request is one pass at
most; requests that come together after a change share one.
"""

import threading
import time

from commerce.orders import ORDER_FLOWS, OrderError
from flow.errors import FlowError
from flow.model import Flow


def meta_row(f):
    """The listing row of a Flow read with decode_data=False."""
    waiting = f.status in ("suspended", "sleeping")
    return {
        "id": f.id,
        "name": f.name,
        "status": str(f.status),
        "step": f.step,
        "kind": f.kind.name if f.status == "suspended" and f.kind is not None else None,
        "key": f.key if waiting else None,
        "wake": f.wake,
        "timer": None if f.timer is None else str(f.timer),
        "attempts": f.attempts,
        "error": (f.error or {}).get("message") if f.error else None,
    }


class ListingView:
    """One pass's listing (read only; shared): flows: [row] sorted by id; orders:
    [{id, status, total, created}]; flow_counts, order_counts: {status: n}; seq:
    the change-feed number it was made for; made: when (time.monotonic())."""

    __slots__ = ("seq", "made", "flows", "orders", "flow_counts", "order_counts")

    def __init__(self, seq, flows, orders):
        self.seq = seq
        self.made = time.monotonic()
        self.flows = flows
        self.orders = orders
        self.flow_counts = _count(flows)
        self.order_counts = _count(orders)


def _count(rows):
    counts = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


class Listing:
    """Rows of every flow and statuses of every order of one Shop (see the module docstring)."""

    def __init__(self, shop, max_age=1.0):
        self.shop = shop
        self.rt = shop.flows
        self.max_age = max_age
        self.passes = 0  # views made (passes over every flow and order)
        self._rows = {}  # flow id -> (snapshot bytes, row)
        self._orders = {}  # order id -> (snapshot bytes, status)
        self._created = {}  # order id -> (total, time) of its created record (a record never changes)
        self._lock = threading.Lock()
        self._view = None
        self._view_lock = threading.Lock()  # (one pass at a time: who waits gets the view just made)

    def view(self, seq):
        """The ListingView for change-feed number `seq` (read the number before
        calling): the one made for it less than max_age seconds ago, else a new pass."""
        def fresh(v):
            return v is not None and v.seq == seq and time.monotonic() - v.made < self.max_age

        v = self._view
        if fresh(v):
            return v
        with self._view_lock:
            v = self._view
            if fresh(v):
                return v
            flows = self.flow_rows()
            v = ListingView(seq, flows, self.order_rows(flows))
            self.passes += 1
            if self._view is None or seq >= self._view.seq:
                self._view = v
            return v

    def _snapshot(self, flow_id):
        """The flow's latest commit (a snapshot or a piece: see flow.pieces), or None."""
        stored = self.rt.store.get(flow_id)
        return None if stored is None else stored.latest

    @staticmethod
    def _same(a, b):
        return a is b or a == b

    def flow_rows(self):
        """[row] of every flow, sorted by id (after picking up other processes' commits)."""
        store = self.rt.store
        store.refresh()
        ids = sorted(store.ids())
        out = []
        get, rows, append = store.get, self._rows, out.append  # (the loop runs once per flow: kept lean)
        with self._lock:
            for flow_id in ids:
                stored = get(flow_id)
                if stored is None:
                    continue
                snap = stored.latest  # (its metadata: a piece has it too, see flow.pieces)
                cached = rows.get(flow_id)
                if cached is not None and (cached[0] is snap or cached[0] == snap):
                    append(cached[1])
                    continue
                try:
                    row = meta_row(Flow.from_snapshot(snap, self.rt.cenv, decode_data=False))
                except FlowError as e:  # a malformed snapshot: listed, with what is wrong
                    row = {"id": flow_id, "name": None, "status": "unreadable", "step": None, "kind": None,
                           "key": None, "wake": None, "timer": None, "attempts": 0, "error": str(e)}
                self._rows[flow_id] = (snap, row)
                out.append(row)
            if len(self._rows) > len(ids):
                alive = set(ids)
                for gone in [i for i in self._rows if i not in alive]:
                    del self._rows[gone]
        return out

    def order_status(self, order_id, row=None):
        """The order's status (Shop.status), cached beside its flow's snapshot."""
        snap = self._snapshot(order_id)
        if snap is not None:
            with self._lock:
                cached = self._orders.get(order_id)
                if cached is not None and self._same(cached[0], snap):
                    return cached[1]
        try:
            status = self.shop.status(order_id)
        except (OrderError, FlowError) as e:
            return f"unreadable: {e}"
        if snap is not None and status not in ("failed", "created"):
            # (failed: what it reads as depends on the ledger too; look again each time)
            with self._lock:
                self._orders[order_id] = (snap, status)
        return status

    def order_rows(self, flow_rows=None):
        """[{id, status, total, created}] of every order: the ledger's, in ledger
        order, then order flows the ledger has no record of (total None).
        flow_rows: flow_rows() when the caller has just made it (not made again)."""
        ledger = self.shop.ledger
        rows, listed = [], set()
        for order_id in ledger.orders():
            created = self._created.get(order_id)
            if created is None:
                record = ledger.get(f"{order_id}:created")
                if record is not None and record.order == order_id:
                    created = self._created[order_id] = (record.amount, record.time)
            if created is None and self._snapshot(order_id) is None:
                status = "unknown"
            else:
                status = self.order_status(order_id)
            rows.append({"id": order_id, "status": status, "total": created[0] if created else None,
                         "created": created[1] if created else None})
            listed.add(order_id)
        for row in self.flow_rows() if flow_rows is None else flow_rows:
            if row["id"] not in listed and row["name"] in ORDER_FLOWS:
                rows.append({"id": row["id"], "status": self.order_status(row["id"]), "total": None,
                             "created": None})
        return rows
