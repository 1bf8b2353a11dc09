"""Cheap listings for the service's pages: each flow's metadata row and each order's status, cached by snapshot.

A flow's row (id, name, status, step, kind, key, wake, timer, attempts, error)
is read from its snapshot's metadata only (no code, no decoding of its data) and
kept until the store holds another snapshot for it, so listing 10,000 flows
after the first time costs a dictionary look-up per flow. An order's status is
kept the same way, beside its flow's snapshot; an order that has no flow yet
(created only) is looked up every time.
"""

import threading

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


class Listing:
    """Rows of every flow and statuses of every order of one Shop (see the module docstring)."""

    def __init__(self, shop):
        self.shop = shop
        self.rt = shop.flows
        self._rows = {}  # flow id -> (snapshot bytes, row)
        self._orders = {}  # order id -> (snapshot bytes, status)
        self._created = {}  # order id -> (total, time) of its created record (a record never changes)
        self._lock = threading.Lock()

    def _snapshot(self, flow_id):
        stored = self.rt.store.get(flow_id)
        return None if stored is None else stored.snapshot

    @staticmethod
    def _same(a, b):
        return a is b or a == b

    def flow_rows(self):
        """[row] of every flow, sorted by id (after picking up other processes' commits)."""
        store = self.rt.store
        store.refresh()
        ids = sorted(store.ids())
        out = []
        with self._lock:
            for flow_id in ids:
                snap = self._snapshot(flow_id)
                if snap is None:
                    continue
                cached = self._rows.get(flow_id)
                if cached is not None and self._same(cached[0], snap):
                    out.append(cached[1])
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

    def order_rows(self):
        """[{id, status, total, created}] of every order: the ledger's, in ledger
        order, then order flows the ledger has no record of (total None)."""
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
        for row in self.flow_rows():
            if row["id"] not in listed and row["name"] in ORDER_FLOWS:
                rows.append({"id": row["id"], "status": self.order_status(row["id"]), "total": None,
                             "created": None})
        return rows
