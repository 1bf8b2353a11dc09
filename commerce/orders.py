"""Orders: the Python API over the shop-order flow, the ledger and its stock.

    shop = Shop("data")                       # ledger + durable flow store under data/
    shop.quote([("tea", 2), ("mug", 1)])      # Quote(lines, total), priced by miniKanren rules
    shop.begin("o-1", cart)                   # created + reserved (or out-of-stock); waits for payment
    shop.settle("o-1", "pay-77", 2100)        # "settled" (paid + fulfilled)
    shop.settle("o-1", "pay-77", 2100)        # "already-settled": a replayed webhook records nothing
    shop.settle("o-1", "pay-78", 2100)        # "duplicate-payment": refund-due recorded
    shop.cancel("o-2")                        # "cancelled": its reservation released
    shop.run_due()                            # fire the payment deadlines that are due: expired orders
    shop.stock()                              # {sku: units on hand}, derived from the ledger

The flow (`shop-order` in schemes/order.scm) carries the order id and its payment
window; the driver here services its requests: reserve, fulfil and release on the
spot (FlowRuntime's `serve` handlers, so the flow is committed once per call),
and payment when the webhook comes — or a cancellation (Shop.cancel answers the
request the order waits on with one; the flow releases). The deadline is the
flow's own (request/timeout) on the runtime's clock: `run_due()` (or any call
that meets an overdue order) fires it and the flow releases. Every effect is a
ledger record under an idempotency key:

    created     <order>:created          cart, lines, total
    reserved    <order>:1                the reserve request's key; takes the stock —
    out-of-stock  (the same key)         or, atomically, records that it could not
    paid        <order>:2                the payment request's key: one payment claims it
    fulfilled   <order>:3
    released    <order>:released         one per order, whoever releases (see below)
    refund-due  <order>:refund:<ref>     money in that must go back, one per payment reference

so a crash at any point followed by a retry records each effect exactly once.
`created` is appended in the step that starts the flow and `paid` in the step
that resumes it (holding the flow: FlowRuntime.holding), so on PostgreSQL each
commits with the flow's move or not at all; on the file store the record comes
first and a retry (or recover()) finds it.
A payment that does not fit — another reference for a paid order, one after the
order expired, was cancelled or found no stock, or one that lost the race with
the deadline or a cancellation (its `paid` record written, the flow gone on
without it) — becomes `refund-due`: money is never dropped.

Cancellation has one path, the release handler: the flow asks for it when a
cancellation is raised in it (or its deadline passes). A flow cancelled by the
runtime instead (`flowscheme flows cancel`) never runs again, so the shop, when
it meets such an order (recover, settle, cancel), calls that same handler under
the same key; an order whose flow failed is released the same way by
`Shop.cancel`.

Orders begun before stock and deadlines run the `order-lifecycle` flow (also in
schemes/order.scm): they are still settled, recovered and cancelled (through the
runtime, then released as above); they reserved no stock and give none back.

Opening is not running: `Shop(dir)`, `status`, `orders`, `show` and `stock` never
start or resume a flow; they read flow metadata (and the result of a finished
shop-order flow: a symbol) and the ledger. Each answer the driver gives goes into
the flow's journal and carries what its ledger record holds, so commerce.audit
can re-derive a lost record from the journal.
"""

import os
import uuid
from typing import Any, NamedTuple

from flow import Done, Failed, FlowError, FlowNotFound, FlowRuntime, NotWaiting, Suspended
from flow.store import is_store_url

from .ledger import STOCK, Ledger, LedgerError
from .pricing import Pricing, PricingError, load_rules, normalise_cart, scheme_path, scheme_source
from .stock import OPENING_KEY, OPENING_UNITS, giving_back, levels, reservation

FLOW = "shop-order"  # the flow every new order runs
LEGACY_FLOW = "order-lifecycle"  # the flow of orders begun before stock and deadlines
ORDER_FLOWS = (FLOW, LEGACY_FLOW)
PAYMENT_WINDOW = 30 * 60  # seconds an order waits for its payment, by default
STATUS_OF_KIND = {"reserve": "reserving", "payment": "awaiting-payment", "fulfil": "fulfilling",
                  "release": "releasing"}
#: What a finished shop-order flow's value says (its status).
OUTCOMES = ("fulfilled", "expired", "cancelled", "out-of-stock")
UNKNOWN_FLOW = "unknown-flow"  # the status of an order whose flow is not an order flow
MAX_AMOUNT = 2**63 - 1  # the ledger stores amounts as signed 64-bit integers
LEDGER_KIND = {"reserve": "reserved", "payment": "paid", "fulfil": "fulfilled", "release": "released"}
SERVED = ("reserve", "fulfil", "release")  # the requests serviced on the spot, inside the flow's step
CANCEL = {"record": "cancel"}  # the answer that cancels a shop-order flow where it waits
#: What settle answers: the payment fulfilled the order, was a replay, or became refund-due.
SETTLE_ANSWERS = ("settled", "already-settled", "duplicate-payment", "expired", "cancelled", "out-of-stock")


class OrderError(ValueError):
    """A request the shop refuses: unknown order or sku, bad quantity, wrong amount."""


class RecoveryError(OrderError):
    """recover() finished what it could (`moved` orders) but not these: `failures`,
    [(order id, error)] — a flow whose code is not loaded, say."""

    def __init__(self, moved, failures):
        self.moved, self.failures = moved, failures
        super().__init__(f"recovered {moved} order(s), but could not recover "
                         + "; ".join(f"{order_id}: {error}" for order_id, error in failures))


class OrderSummary(NamedTuple):
    order_id: str
    status: str
    total: int | None  # None: the ledger has no created record for it (see commerce.audit)


class OrderDetails(NamedTuple):
    """Everything known about one order (Shop.show): reads only."""

    order_id: str
    status: str
    total: int | None
    cart: list | None
    records: list  # its LedgerRecords, in ledger order
    flow: dict[str, Any] | None  # its flow's state: name, status, step, waiting_on, key, deadline, ...


class Shop:
    """An order desk on a data directory: data_dir/ledger.log and data_dir/flows/ —
    or on a postgresql:// URL: the ledger (commerce.pgledger) and the flows
    (flow.pgstore) in that database, a served step's ledger records committed
    in the same transaction as the flow's commit.

    payment_window: seconds an order waits for its payment (None: forever); fixed
    per order when it begins. clock: the flow runtime's clock (flow.ManualClock
    in tests). opening_stock: {sku: units} a new data directory starts with
    (default OPENING_UNITS of every catalog sku), recorded by the Shop that
    creates the directory — or, in a directory that has none yet (an older one),
    with the first reservation or stock added (see commerce.stock).

    Opening reads (only a data directory it creates gets written: its opening
    stock); it never starts or resumes a flow. `recover()` is the explicit call
    that finishes what a crash left half-done (`recover=True` calls it right
    after opening); `run_due()` the one that fires payment deadlines. A data
    directory the Shop creates is 0700, its ledger 0600.
    """

    def __init__(self, data_dir, recover=False, payment_window=PAYMENT_WINDOW, clock=None, opening_stock=None):
        if payment_window is not None and (isinstance(payment_window, bool)
                                           or not isinstance(payment_window, (int, float))
                                           or not 0 < payment_window < float("inf")):
            raise OrderError(f"payment_window must be a positive number of seconds or None, got {payment_window!r}")
        self.payment_window = payment_window
        # ledger and flows in one PostgreSQL database (commerce.pgledger): a flow
        # step's ledger records commit in the flow's own transaction
        self._one_transaction = is_store_url(data_dir)
        if self._one_transaction:
            from .pgledger import PgLedger

            self.data_dir = data_dir
            self.ledger = PgLedger(data_dir)
            new = self.ledger.created
            flows_at = data_dir
        else:
            self.data_dir = os.fspath(data_dir)
            _private_dir(self.data_dir)
            ledger_path = os.path.join(self.data_dir, "ledger.log")
            new = not os.path.lexists(ledger_path)
            self.ledger = Ledger(ledger_path)
            flows_at = os.path.join(self.data_dir, "flows")
        self.flows = None
        try:
            if flows_at is not data_dir:
                _private_dir(flows_at)
            self.flows = FlowRuntime(store=flows_at, clock=clock)
            load_rules(self.flows.interp)
            self.flows.load(scheme_source("order.scm"), filename=scheme_path("order.scm"))
            self.pricing = Pricing(self.flows.interp)
            self.opening_stock = self._check_stock(OPENING_UNITS if opening_stock is None else opening_stock,
                                                   "opening_stock", zero=True)
            if new:  # a data directory this Shop creates starts with its opening stock
                self._record_opening()
            if recover:
                self.recover()
        except BaseException:
            self.close()
            raise

    @property
    def clock(self):
        return self.flows.clock

    def close(self):
        if self.flows is not None:
            self.flows.close()
        self.ledger.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------- pricing

    def catalog(self):
        return self.pricing.catalog()

    def products(self):
        return self.pricing.products()

    def quote(self, cart):
        try:
            return self.pricing.quote(cart)
        except PricingError as e:
            raise OrderError(str(e)) from None

    def carts_costing(self, total, max_items):
        try:
            return self.pricing.carts_costing(total, max_items)
        except PricingError as e:
            raise OrderError(str(e)) from None

    # ---------------------------------------------------------------- stock

    def stock(self):
        """{sku: units on hand} — what can still be reserved — for every catalog
        sku (and any other the ledger names), from the ledger alone."""
        on_hand = self.ledger.stock()
        if not self.ledger.has_key(OPENING_KEY):
            for sku, n in self.opening_stock.items():
                on_hand[sku] = on_hand.get(sku, 0) + n
        skus = list(self.catalog())
        return {sku: on_hand.get(sku, 0) for sku in skus + sorted(set(on_hand) - set(skus))}

    def stock_levels(self):
        """[StockLevel(sku, on_hand, held, shipped, received)], from the ledger's records."""
        pending = None if self.ledger.has_key(OPENING_KEY) else self.opening_stock
        return levels(self.ledger.records(), list(self.catalog()), pending)

    def add_stock(self, items, ref=None):
        """Receive stock: items {sku: units} or [(sku, units)], recorded as one
        `received` record under key "stock:REF" — idempotent by `ref` (a delivery
        note, say; without one every call adds). Returns the new stock()."""
        change = self._check_stock(items, "stock to add")
        if not change:
            raise OrderError("give at least one sku and a number of units to add, e.g. tea=10")
        if ref is not None and (not isinstance(ref, str) or not ref or len(ref) > 200):
            raise OrderError(f"a stock reference must be a non-empty string of at most 200 characters, got {ref!r}")
        key = f"stock:{ref}" if ref is not None else f"stock:{uuid.uuid4().hex}"
        if key == OPENING_KEY:
            raise OrderError("the stock reference 'opening' is the opening stock's own")
        self._record_opening()
        record, _ = self.ledger.append(STOCK, "received", key, details={"stock": change})
        if record.order != STOCK or record.kind != "received":
            raise OrderError(f"key {key} holds a {record.kind!r} record of {record.order!r}: nothing added")
        return self.stock()

    def _check_stock(self, items, what, zero=False):
        catalog = self.catalog()
        if type(items) is int:  # n units of every catalog sku
            pairs = [(sku, items) for sku in catalog]
        elif isinstance(items, dict):
            pairs = list(items.items())
        elif isinstance(items, (list, tuple)):
            pairs = items
        else:
            raise OrderError(f"{what}: expected {{sku: units}} or [(sku, units)], got {items!r}")
        out = {}
        for line in pairs:
            if not isinstance(line, (list, tuple)) or len(line) != 2:
                raise OrderError(f"{what}: malformed line {line!r} (a (sku, units) pair)")
            sku, n = line
            if sku not in catalog:
                raise OrderError(f"{what}: unknown sku: {sku}")
            if type(n) is not int or n < 0 or (n == 0 and not zero) or n > MAX_AMOUNT:
                raise OrderError(f"{what}: units must be a positive integer: {n!r}")
            if sku in out:
                raise OrderError(f"{what}: duplicate sku: {sku}")
            out[sku] = n
        return out

    def _record_opening(self):
        """Record the opening stock, once per data directory (idempotent by its key)."""
        if not self.ledger.has_key(OPENING_KEY):
            self.ledger.append(STOCK, "received", OPENING_KEY, details={"stock": dict(self.opening_stock),
                                                                       "opening": True})

    # ---------------------------------------------------------------- lifecycle

    def begin(self, order_id, cart):
        """Create the order (recording its quote), reserve its stock, and leave it
        waiting for payment (for payment_window seconds): "awaiting-payment", or
        "out-of-stock" (nothing reserved; the order is over). Beginning an
        existing order with the same cart answers its status and records
        nothing; with another cart it is refused."""
        order_id = _check_id(order_id)
        # a new order: its created record and its flow's first commit are one step
        # (one transaction on PostgreSQL; elsewhere the record comes first, and
        # recover() starts a flow a crash left unstarted)
        with self.flows.holding(order_id):
            flow = self._own_flow(order_id)
            if flow is None:
                created = self._create(order_id, cart)
                self._check_same_cart(order_id, created, cart)  # (created before, by a step a crash cut short)
                return self._status_of(self._start(order_id), FLOW, order_id)
        # begun before: its record (made now, on its own, if its flow was started without one)
        created = self.ledger.get(f"{order_id}:created") or self._create(order_id, cart)
        self._check_same_cart(order_id, created, cart)
        return self._status_of(self._start(order_id), flow.name, order_id)

    def _create(self, order_id, cart):
        """Append the order's created record (its quote) -> the record under its key."""
        q = self.quote(cart)
        if q.total > MAX_AMOUNT:
            raise OrderError(f"order {order_id}: total {q.total} is more than the ledger can record ({MAX_AMOUNT})")
        details = {"cart": [[line.sku, line.qty] for line in q.lines], "lines": [list(line) for line in q.lines]}
        self._record_opening()
        return self.ledger.append(order_id, "created", f"{order_id}:created", amount=q.total, details=details)[0]

    def _check_same_cart(self, order_id, created, cart):
        try:
            given = sorted([sku, qty] for sku, qty in normalise_cart(cart))
        except PricingError as e:
            raise OrderError(str(e)) from None
        known = (created.details or {}).get("cart")
        if isinstance(known, list) and sorted(known) != given:
            shown = ", ".join(f"{sku} x{qty}" for sku, qty in known)
            raise OrderError(f"order {order_id} exists with a different cart ({shown}): nothing recorded")

    def settle(self, order_id, payment_ref, amount):
        """The payment webhook. Answers "settled" (paid + fulfilled), or records
        nothing and answers "already-settled" (a replayed webhook), or — money
        that must go back — records `refund-due` (once per reference) and answers
        "duplicate-payment" (the order was paid under another reference),
        "expired", "cancelled" or "out-of-stock". A wrong amount is refused
        (OrderError, nothing recorded)."""
        order_id = _check_id(order_id)
        if not isinstance(payment_ref, str) or not payment_ref:
            raise OrderError(f"payment reference must be a non-empty string, got {payment_ref!r}")
        if type(amount) is not int:
            raise OrderError(f"amount must be an integer number of minor units, got {amount!r}")
        created = self.ledger.get(f"{order_id}:created")
        if created is None:
            raise OrderError(f"unknown order: {order_id}")
        if amount != created.amount:
            raise OrderError(
                f"order {order_id}: payment of {amount} does not match the quoted total {created.amount}"
            )
        recorded = False
        for _ in range(8):
            claimed = self._claim(order_id, payment_ref, amount)
            if claimed is not None:
                flow, paid, new, state = claimed
                recorded = recorded or new
                state = self._drive(order_id, state)
                if (paid.details or {}).get("payment_ref") == payment_ref and isinstance(state, Done) \
                        and self._status_of(state, flow.name, order_id) == "fulfilled":
                    return "settled" if recorded else "already-settled"  # (the common case, at once)
                continue
            flow = self._settled_step(order_id)  # (refuses a flow that is not an order's first)
            if flow is None or (flow.status == "suspended" and flow.kind.name == "payment"):
                continue  # it moved (or is ready for the payment now): look again
            outcome = self._outcome(order_id, flow)
            if outcome == "fulfilled":
                if self._paid_ref(order_id) in (payment_ref, None):
                    return "settled" if recorded else "already-settled"
                self._refund(order_id, payment_ref, amount, "duplicate-payment")
                return "duplicate-payment"
            if outcome in ("expired", "cancelled", "out-of-stock"):
                self._refund(order_id, payment_ref, amount, outcome)
                return outcome
            raise OrderError(f"order {order_id} is {outcome}: it takes no payment"
                             + (" (its payment is recorded: `order cancel` makes it refund-due)" if recorded
                                else " (nothing recorded)"))
        raise OrderError(f"order {order_id} kept moving while its payment was delivered; deliver it again")

    def _claim(self, order_id, payment_ref, amount):
        """The payment, when the order's flow waits for it and nothing else is due
        first (an overdue deadline, a release a crash left unfinished): `paid`
        recorded under the request's key and the flow resumed with it, as one step
        -> (flow, paid record, new, state). None: the flow is in any other state.

        Whoever records the payment under the request's key claims the order:
        exactly one delivery, even when another process (a concurrent delivery,
        recover(), the deadline, a cancellation) is the one that moves the flow.
        On PostgreSQL the record commits with the flow's move, or neither does."""
        with self.flows.holding(order_id):
            flow = self._own_flow(order_id)  # (held: the store answers without asking again)
            if flow is None or flow.status != "suspended" or flow.kind.name != "payment":
                return None
            if self._overdue(flow) or self._released(order_id, flow) is not None:
                return None
            paid, new = self.ledger.append(order_id, "paid", flow.key, amount=amount,
                                           details={"payment_ref": payment_ref})
            if paid.order != order_id or paid.kind != "paid":
                raise OrderError(f"order {order_id}: key {flow.key} holds a {paid.kind!r} record of "
                                 f"order {paid.order!r}; refusing the payment (nothing recorded)")
            return flow, paid, new, self.flows.resume(order_id, _paid_answer(paid), key=flow.key,
                                                      serve=self._serve(order_id, flow.name))

    def _settled_step(self, order_id):
        """The order's flow metadata once nothing but the webhook (or nothing at
        all) is left to do: a flow never started is started, a served step
        finished, an overdue deadline fired, a flow cancelled by the runtime
        compensated. None when it moved (look again)."""
        flow = self._own_flow(order_id)
        if flow is None:
            self._start(order_id)
            return None
        if flow.status == "suspended":
            if flow.kind.name in SERVED:
                self._drive(order_id, self._state(order_id))
                return None
            if self._finish_release(order_id, flow):
                return None
            if self._overdue(flow):
                self.flows.fire(order_id, serve=self._serve(order_id, flow.name))
                return None
        elif flow.status == "cancelled":
            self._compensate(order_id, flow)
        return flow

    def _overdue(self, flow):
        """Has the flow's payment deadline passed (its deadline fires before anything else)?"""
        return flow.wake is not None and str(flow.timer) == "deadline" and flow.wake <= self.clock.now()

    def _released(self, order_id, flow):
        """The released record of a shop-order flow that still waits on payment or
        fulfil (a step a crash cut short after the record), or None. On PostgreSQL
        there is none to look for: the release handler's record commits with the
        flow's step."""
        if flow.name != FLOW or flow.kind.name not in ("payment", "fulfil") or self._one_transaction:
            return None
        released = self.ledger.get(f"{order_id}:released")
        ok = released is not None and released.order == order_id and released.kind == "released"
        return released if ok else None

    def _finish_release(self, order_id, flow):
        """A shop-order flow still waiting on payment (or fulfil) whose release the
        ledger already records — a crash cut the step short after the record and
        before the flow's commit: carry the flow there (its deadline fired at its
        own time, or the cancellation delivered again). False if there is none."""
        released = self._released(order_id, flow)
        if released is None:
            return False
        serve = self._serve(order_id, flow.name)
        expired = (released.details or {}).get("reason") == "expired"
        if expired and flow.wake is not None and str(flow.timer) == "deadline":
            self._drive(order_id, self.flows.fire(order_id, now=max(flow.wake, self.clock.now()), serve=serve))
        else:
            self._drive(order_id, self.flows.resume(order_id, CANCEL, key=flow.key, serve=serve))
        return True

    def cancel(self, order_id):
        """Cancel the order: unpaid, its reservation is released ("cancelled");
        paid but not fulfilled, released and its payment made refund-due. A
        fulfilled order is refused (OrderError). An order already expired,
        cancelled or out of stock answers that status and records nothing.
        The release is the flow's own (see the module docstring)."""
        order_id = _check_id(order_id)
        if self.ledger.get(f"{order_id}:created") is None and self._meta(order_id) is None:
            raise OrderError(f"unknown order: {order_id}")
        self._own_flow(order_id)
        for _ in range(8):
            flow = self._own_flow(order_id)
            if flow is None:
                self._start(order_id)
                continue
            serve = self._serve(order_id, flow.name)
            if flow.status == "suspended":
                if flow.name == FLOW and flow.kind.name in ("payment", "fulfil"):  # (fulfil: its handler failing)
                    self._drive(order_id, self.flows.resume(order_id, CANCEL, key=flow.key, serve=serve))
                elif flow.kind.name in SERVED:
                    self._drive(order_id, self._state(order_id))
                else:  # an order-lifecycle flow takes no cancellation: the runtime cancels it
                    self.flows.cancel(order_id)
                continue
            fulfilled = any(r.kind == "fulfilled" for r in self.ledger.records(order_id))
            outcome = "fulfilled" if fulfilled else self._outcome(order_id, flow)
            if outcome == "fulfilled":
                raise OrderError(f"order {order_id} is fulfilled: it cannot be cancelled (nothing recorded)")
            if flow.status in ("cancelled", "failed"):
                self._compensate(order_id, flow)  # a flow that cannot run: the same release, by the shop
                return "cancelled"
            if outcome in OUTCOMES:
                return outcome
            raise OrderError(f"order {order_id} is {outcome}: it cannot be cancelled (nothing recorded)")
        raise OrderError(f"order {order_id} kept moving while it was cancelled; cancel it again")

    def run_due(self, now=None):
        """Fire what is due for the order flows — payment deadlines (the order
        expires: its reservation is released), handler retries — and return
        [(order id, status after)]. Several processes may call it at once: each
        deadline fires once."""
        out = []
        for _wake, flow_id in self.flows.due(now):
            meta = self._meta(flow_id)
            if meta is None or meta.name not in ORDER_FLOWS:
                continue
            result = self.flows.fire(flow_id, now, serve=self._serve(flow_id, meta.name))
            if result is not None:
                self._drive(flow_id, result)
                out.append((flow_id, self.status(flow_id)))
        return out

    # ---------------------------------------------------------------- the handlers

    def _serve(self, order_id, name=FLOW):
        """The handlers for the requests serviced on the spot: each appends its
        ledger record under its key (idempotent) and answers with what it
        recorded, so the journal can rebuild that record too."""
        if name == LEGACY_FLOW:
            return {"reserve": self._legacy_reserve, "fulfil": self._fulfil}
        return {"reserve": self._reserve, "fulfil": self._fulfil, "release": self._release}

    def _reserve(self, request):
        """Take the cart's stock (reserved), or record out-of-stock: one
        conditional append, atomic against every other process."""
        order_id = request.flow_id
        created = self.ledger.get(f"{order_id}:created")
        if created is None:
            raise OrderError(f"order {order_id} has no created record: nothing to reserve")
        cart = (created.details or {}).get("cart") or []
        self._record_opening()
        record, _ = self.ledger.append(order_id, "reserved", request.key, details={"stock": reservation(cart)},
                                       short_kind="out-of-stock")
        self._check_record(record, order_id, ("reserved", "out-of-stock"), request.key)
        answer = {"record": record.kind, "total": created.amount, "cart": cart,
                  "lines": (created.details or {}).get("lines")}
        if record.kind == "reserved":
            answer["stock"] = record.details.get("stock")
        else:
            answer["short"] = record.details.get("short")
        return answer

    def _legacy_reserve(self, request):
        """order-lifecycle flows reserve as they always did: no stock."""
        order_id = request.flow_id
        record, _ = self.ledger.append(order_id, "reserved", request.key, details={})
        self._check_record(record, order_id, ("reserved",), request.key)
        answer = {"record": "reserved"}
        created = self.ledger.get(f"{order_id}:created")
        if created is not None:
            answer.update(total=created.amount, cart=created.details.get("cart"), lines=created.details.get("lines"))
        return answer

    def _fulfil(self, request):
        order_id = request.flow_id
        # (on PostgreSQL a release commits with its flow's step, after which the flow
        # asks for no fulfil: nothing to look for)
        if not self._one_transaction and self.ledger.has_key(f"{order_id}:released"):
            raise OrderError(f"order {order_id}: its reservation was released; it cannot be fulfilled")
        record, _ = self.ledger.append(order_id, "fulfilled", request.key, details={})
        self._check_record(record, order_id, ("fulfilled",), request.key)
        return {"record": "fulfilled"}

    def _release(self, request):
        """The flow's release request: payload (order-id reason)."""
        payload = request.payload
        reason = payload[1] if isinstance(payload, list) and len(payload) == 2 else "cancelled"
        return self._give_back(request.flow_id, str(reason))

    def _give_back(self, order_id, reason):
        """Release the order's reservation (`released` under <order>:released, its
        stock back) and make every payment it did not fulfil refund-due. The one
        place stock goes back: the flow's release request, or the shop for a flow
        that cannot run any more (_compensate). Idempotent by its keys."""
        records = self.ledger.records(order_id)
        reserved = next((r for r in records if r.kind == "reserved"), None)
        key = f"{order_id}:released"
        if reserved is not None and not any(r.kind == "fulfilled" for r in records):
            record, _ = self.ledger.append(order_id, "released", key,
                                           details={"reason": reason, "stock": giving_back(reserved)})
            self._check_record(record, order_id, ("released",), key)
        refunds = [self._refund(order_id, r.details.get("payment_ref"), r.amount, reason)
                   for r in records if r.kind == "paid" and isinstance((r.details or {}).get("payment_ref"), str)]
        released = self.ledger.get(key)
        return {"record": "released", "reason": reason,
                "stock": (released.details or {}).get("stock") if released is not None else {},
                "refunds": refunds}

    def _refund(self, order_id, payment_ref, amount, reason):
        """Record that payment `payment_ref` must go back (once per reference)."""
        key = f"{order_id}:refund:{payment_ref}"
        record, _ = self.ledger.append(order_id, "refund-due", key, amount=amount,
                                       details={"payment_ref": payment_ref, "reason": reason})
        self._check_record(record, order_id, ("refund-due",), key)
        return payment_ref

    def _compensate(self, order_id, flow):
        """A flow that will not run again (cancelled by the runtime, or failed)
        and still holds its reservation or an unfulfilled payment: release it
        through the same handler the flow uses. True if it had anything to do."""
        if flow.status not in ("cancelled", "failed"):
            return False
        records = self.ledger.records(order_id)
        kinds = {r.kind for r in records}
        if "fulfilled" in kinds:
            return False
        refunded = {(r.details or {}).get("payment_ref") for r in records if r.kind == "refund-due"}
        open_reservation = "reserved" in kinds and "released" not in kinds
        unrefunded = any(r.kind == "paid" and (r.details or {}).get("payment_ref") not in refunded for r in records)
        if not (open_reservation or unrefunded):
            return False
        self._give_back(order_id, "cancelled")
        return True

    @staticmethod
    def _check_record(record, order_id, kinds, key):
        if record.order != order_id or record.kind not in kinds:
            raise OrderError(f"order {order_id}: key {key} already holds a {record.kind!r} record of order "
                             f"{record.order!r}")

    # ---------------------------------------------------------------- driving flows

    def _own_flow(self, order_id):
        """The order's flow metadata (or None); refuses a flow that is not an
        order flow rather than driving it."""
        flow = self._meta(order_id)
        if flow is not None and flow.name not in ORDER_FLOWS:
            raise OrderError(f"order {order_id}: its flow is named {flow.name!r}, not {FLOW!r}; "
                             f"refusing to drive it (nothing recorded)")
        return flow

    def _meta(self, order_id):
        """The flow's metadata only (status, kind, key, wake), or None: no decoding."""
        try:
            return self.flows.flow(order_id, data=False)
        except FlowNotFound:
            return None

    def _state(self, order_id):
        try:
            return self.flows.result(order_id)
        except FlowNotFound:
            return None

    def _start(self, order_id):
        """Start the order's flow (reserving on the spot); its state after. An
        existing flow is left as it is (a half-done step finished)."""
        window = False if self.payment_window is None else self.payment_window
        return self._drive(order_id, self.flows.start(FLOW, order_id, window, flow_id=order_id,
                                                      serve=self._serve(order_id, FLOW)))

    def _drive(self, order_id, state):
        """Finish a synchronous step (reserve, fulfil, release) the flow was left
        waiting on (by a crash, or a handler that failed), from `state` (its
        latest known result, or NotWaiting when someone else moved it on); the
        final state."""
        serve = None
        while True:
            if isinstance(state, NotWaiting):  # moved on elsewhere: look again
                state = self._state(order_id)
            if not (isinstance(state, Suspended) and state.kind in SERVED):
                return state
            if serve is None:
                meta = self._meta(order_id)
                serve = self._serve(order_id, meta.name if meta is not None else FLOW)
            if state.kind not in serve:
                return state
            answer = serve[state.kind](state)
            state = self.flows.resume(order_id, answer, kind=state.kind, key=state.key, serve=serve)

    def recover(self):
        """Finish whatever a crash left half-done — the one call that runs flows
        without being asked about a particular order: created orders whose flow
        never started, order flows waiting on a synchronous step, payments
        recorded in the ledger whose flow was not yet resumed, releases recorded
        whose flow did not get there (a deadline or a cancellation cut short), and finished
        orders whose money or stock was not settled yet (a payment that lost
        the race with the deadline not yet refund-due; a flow cancelled by the
        runtime still holding its reservation). Flows that are not order flows
        are left alone. Returns how many orders moved; an order it cannot move
        (its flow's code not loaded, ...) does not stop the others:
        RecoveryError names them all at the end."""
        moved, failures = 0, []

        def attempt(order_id, step):
            nonlocal moved
            try:
                if step() is not False:
                    moved += 1
            except (FlowError, LedgerError, OrderError) as e:
                failures.append((order_id, e))

        known = set(self.flows.ids())
        for order_id in self.ledger.orders():
            if order_id not in known and self.ledger.has_key(f"{order_id}:created"):
                attempt(order_id, lambda o=order_id: self._start(o))
        for flow_id, kind, key in self.flows.waiting():
            name = self.flows.flow(flow_id, data=False).name
            if name not in ORDER_FLOWS:
                continue
            if kind in SERVED:
                attempt(flow_id, lambda f=flow_id: self._drive(f, self._state(f)))
            elif kind in ("payment", "fulfil") and self.ledger.has_key(f"{flow_id}:released"):
                attempt(flow_id, lambda f=flow_id: self._finish_release(f, self._meta(f)))
            elif kind == "payment":
                attempt(flow_id, lambda f=flow_id, k=key, n=name: self._resume_paid(f, k, n))
        for order_id in self.ledger.orders():
            attempt(order_id, lambda o=order_id: self._settle_finished(o))
        if failures:
            raise RecoveryError(moved, failures)
        return moved

    def _settle_finished(self, order_id):
        """A finished order flow whose ledger is not settled: compensate a flow
        that cannot run, make refund-due a payment a finished order did not
        take. False if there is nothing to do."""
        flow = self._meta(order_id)
        if flow is None or flow.name not in ORDER_FLOWS or flow.waiting:
            return False
        if flow.status in ("cancelled", "failed"):
            return self._compensate(order_id, flow) if flow.status == "cancelled" else False
        records = self.ledger.records(order_id)
        if any(r.kind == "fulfilled" for r in records):
            return False
        refunded = {(r.details or {}).get("payment_ref") for r in records if r.kind == "refund-due"}
        loose = [r for r in records if r.kind == "paid" and (r.details or {}).get("payment_ref") not in refunded]
        if not loose:
            return False
        outcome = self._outcome(order_id, flow)
        for r in loose:
            self._refund(order_id, r.details.get("payment_ref"), r.amount, outcome)
        return True

    def _resume_paid(self, flow_id, key, name=FLOW):
        """Resume a flow waiting for a payment the ledger records; False if it records none."""
        paid = self.ledger.get(key)
        if paid is None or paid.order != flow_id or paid.kind != "paid":
            return False
        return self._drive(flow_id, self.flows.resume(flow_id, _paid_answer(paid), key=key,
                                                      serve=self._serve(flow_id, name)))

    # ---------------------------------------------------------------- queries

    def status(self, order_id):
        """created, reserving, awaiting-payment, fulfilling, releasing, fulfilled,
        expired, cancelled, out-of-stock, failed, or unknown-flow (its flow is
        not an order flow). Reads only: nothing runs, no flow code is needed."""
        order_id = _check_id(order_id)
        meta = self._meta(order_id)
        if meta is None:
            if self.ledger.get(f"{order_id}:created") is not None:
                return "created"
            raise OrderError(f"unknown order: {order_id}")
        return self._status_of_meta(meta)

    def orders(self, status=None):
        """Every order (only those with `status`, when given): those in the ledger,
        in ledger order, then order flows the ledger has no record of (total
        None; `ledger verify` says what is missing). Reads only: nothing runs."""
        out = []
        listed = set()
        for order_id in self.ledger.orders():
            created = self.ledger.get(f"{order_id}:created")
            meta = self._meta(order_id)
            state = self._status_of_meta(meta) if meta is not None else ("created" if created else "unknown")
            out.append(OrderSummary(order_id, state, created.amount if created else None))
            listed.add(order_id)
        for flow_id in sorted(self.flows.ids()):
            if flow_id in listed:
                continue
            meta = self._meta(flow_id)
            if meta is not None and meta.name in ORDER_FLOWS:
                out.append(OrderSummary(flow_id, self._status_of_meta(meta), None))
        return [o for o in out if status is None or o.status == status]

    def show(self, order_id):
        """OrderDetails: status, total, cart, ledger records and the flow's state. Reads only."""
        order_id = _check_id(order_id)
        records = self.ledger.records(order_id)
        meta = self._meta(order_id)
        if meta is None and not records:
            raise OrderError(f"unknown order: {order_id}")
        created = next((r for r in records if r.kind == "created"), None)
        flow = None
        if meta is not None:
            flow = {"name": meta.name, "status": str(meta.status), "step": meta.step,
                    "waiting_on": meta.kind.name if meta.waiting and meta.kind is not None else None,
                    "key": meta.key, "deadline": meta.wake if str(meta.timer) == "deadline" else None,
                    "retry_at": meta.wake if str(meta.timer) == "retry" else None,
                    "attempts": meta.attempts, "error": (meta.error or {}).get("message")}
            if meta.status == "done":
                flow["value"] = self._outcome(order_id, meta)
        status = self._status_of_meta(meta) if meta is not None else ("created" if created else "unknown")
        return OrderDetails(order_id, status, created.amount if created else None,
                            (created.details or {}).get("cart") if created else None, records, flow)

    def _status_of_meta(self, meta):
        """The order status a flow's metadata stands for."""
        if meta.name not in ORDER_FLOWS:
            return UNKNOWN_FLOW
        if meta.status == "suspended":
            return STATUS_OF_KIND.get(meta.kind.name, f"waiting-{meta.kind.name}")
        if meta.status == "done" or meta.status == "failed":
            return self._outcome(meta.id, meta)
        return str(meta.status)

    def _outcome(self, order_id, meta):
        """How a flow that is not waiting ended: fulfilled, expired, cancelled,
        out-of-stock (a shop-order flow's value), failed (cancelled if the shop
        released it since), or cancelled (by the runtime)."""
        if meta.status == "done":
            if meta.name == LEGACY_FLOW:
                return "fulfilled"
            try:
                value = self.flows.result(order_id).value
            except FlowError:
                value = None
            return value if value in OUTCOMES else "done"
        if meta.status == "failed":
            released = self.ledger.get(f"{order_id}:released")
            if released is not None and released.order == order_id:
                return str((released.details or {}).get("reason", "cancelled"))
            return "failed"
        return str(meta.status)

    def _status_of(self, state, name, order_id):
        """The order status a flow result stands for (without reading the flow again)."""
        if isinstance(state, Suspended):
            return STATUS_OF_KIND.get(state.kind, f"waiting-{state.kind}")
        if isinstance(state, Done):
            if name == LEGACY_FLOW:
                return "fulfilled"
            return state.value if state.value in OUTCOMES else "done"
        if isinstance(state, (Failed, NotWaiting)) or state is None:
            return self.status(order_id)
        return "created"

    def _paid_ref(self, order_id):
        """The payment reference of the order's paid record, or None."""
        for r in self.ledger.records(order_id):
            if r.kind == "paid":
                return (r.details or {}).get("payment_ref")
        return None


def _paid_answer(paid):
    """The answer to the payment request: what the paid record holds."""
    return {"record": "paid", "payment_ref": (paid.details or {}).get("payment_ref"), "amount": paid.amount}


def _private_dir(path):
    """Make directory `path` 0700 (whatever the umask) if it does not exist yet."""
    try:
        os.makedirs(path, mode=0o700)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
        return
    os.chmod(path, 0o700)


def _check_id(order_id):
    if type(order_id) is not str or not order_id or len(order_id) > 200:
        raise OrderError(f"order id must be a non-empty string of at most 200 characters, got {order_id!r}")
    try:
        order_id.encode("utf-8")
    except UnicodeEncodeError:
        raise OrderError(f"order id must be valid Unicode text, got {order_id!r}") from None
    if order_id.startswith("%"):
        raise OrderError(f"order id must not start with '%' (the ledger's own, as in {STOCK!r}), got {order_id!r}")
    return order_id
