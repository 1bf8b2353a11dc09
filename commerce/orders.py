"""Orders: the Python API over the order-lifecycle flow and the ledger.

    shop = Shop("data")                       # ledger + durable flow store under data/
    shop.quote([("tea", 2), ("mug", 1)])      # Quote(lines, total), priced by miniKanren rules
    shop.begin("o-1", cart)                   # created + reserved; waits for payment
    shop.settle("o-1", "pay-77", 2100)        # "settled" (paid + fulfilled)
    shop.settle("o-1", "pay-77", 2100)        # "already-settled": a replayed webhook records nothing

The flow (schemes/order.scm) carries only the order id; the driver here services
its requests: reserve and fulfil on the spot (FlowRuntime's `serve` handlers, so
the flow is committed once per call, when it waits for payment or is done), and
payment when the webhook comes. Every effect is a ledger record whose
idempotency key is the flow's request key (order id + step), so a crash at any
point followed by a retry records each effect exactly once: the ledger append
is idempotent (a flow re-run from its last commit asks again under the same
key), the flow resume answers only a flow still waiting on that kind, and
whatever a crash left half-done is finished the next time the order is touched
(or by `recover()`).
"""

import os
import time
from typing import NamedTuple

from flow import Done, Failed, FlowRuntime, NotWaiting, Suspended
from flow.errors import FlowNotFound

from .ledger import Ledger
from .pricing import Pricing, PricingError, load_rules, scheme_path, scheme_source

FLOW = "order-lifecycle"
STATUS_OF_KIND = {"reserve": "reserving", "payment": "awaiting-payment", "fulfil": "fulfilling"}
MAX_AMOUNT = 2**63 - 1  # the ledger stores amounts as signed 64-bit integers
LEDGER_KIND = {"reserve": "reserved", "payment": "paid", "fulfil": "fulfilled"}
SERVED = ("reserve", "fulfil")  # the requests serviced on the spot, inside the flow's step


class OrderError(ValueError):
    """A request the shop refuses: unknown order or sku, bad quantity, wrong amount."""


class OrderSummary(NamedTuple):
    order_id: str
    status: str
    total: int


class Shop:
    """An order desk on a data directory: data_dir/ledger.log and data_dir/flows/."""

    def __init__(self, data_dir, recover=True):
        self.data_dir = os.fspath(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        self.ledger = Ledger(os.path.join(self.data_dir, "ledger.log"))
        self.flows = None
        try:
            self.flows = FlowRuntime(store=os.path.join(self.data_dir, "flows"))
            load_rules(self.flows.interp)
            self.flows.load(scheme_source("order.scm"), filename=scheme_path("order.scm"))
            self.pricing = Pricing(self.flows.interp)
            if recover:
                self.recover()
        except BaseException:
            self.close()
            raise

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

    # ---------------------------------------------------------------- lifecycle

    def begin(self, order_id, cart):
        """Create the order (recording its quote), reserve stock, and leave it
        waiting for payment. Beginning an existing order changes nothing."""
        order_id = _check_id(order_id)
        created = self.ledger.get(f"{order_id}:created")
        if created is None:
            q = self.quote(cart)
            if q.total > MAX_AMOUNT:
                raise OrderError(f"order {order_id}: total {q.total} is more than the ledger can record ({MAX_AMOUNT})")
            details = {"cart": [[line.sku, line.qty] for line in q.lines],
                       "lines": [list(line) for line in q.lines]}
            self.ledger.append(order_id, "created", f"{order_id}:created", amount=q.total, details=details)
        return _status_of(self._start(order_id))

    def settle(self, order_id, payment_ref, amount):
        """The payment webhook: "settled", or "already-settled" (nothing recorded)."""
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
        flow = self._meta(order_id)
        if flow is None or (flow.status == "suspended" and flow.kind.name != "payment"):
            # a crash stopped begin before the flow started, or left a step half-done
            state = self._state(order_id)
            if state is None:
                self._start(order_id)
            else:
                self._drive(order_id, state)
            flow = self._meta(order_id)
        if flow.status == "done":
            return "already-settled"
        if not (flow.status == "suspended" and flow.kind.name == "payment"):
            raise OrderError(f"order {order_id} is {_status_of(self._state(order_id))}: "
                             f"it takes no payment (nothing recorded)")
        # Whoever records the payment settles the order: the ledger key makes that
        # exactly one delivery, even when another process (a concurrent delivery, or
        # a Shop's recover()) is the one that moves the flow on.
        _, recorded = self.ledger.append(order_id, "paid", flow.key, amount=amount,
                                         details={"payment_ref": payment_ref})
        self._drive(order_id, self.flows.resume(order_id, "paid", kind="payment", serve=self._serve(order_id)))
        return "settled" if recorded else "already-settled"

    def _meta(self, order_id):
        """The flow's metadata only (status, kind, key), or None: no decoding."""
        try:
            return self.flows.flow(order_id, data=False)
        except FlowNotFound:
            return None

    def _state(self, order_id):
        try:
            return self.flows.result(order_id)
        except FlowNotFound:
            return None

    def _serve(self, order_id):
        """The handlers for the requests serviced on the spot: each appends its
        ledger record under the request's key (idempotent) and answers."""
        def service(request):
            self.ledger.append(order_id, LEDGER_KIND[request.kind], request.key, details={})
            return LEDGER_KIND[request.kind]

        return dict.fromkeys(SERVED, service)

    def _start(self, order_id):
        """Start the order's flow (reserving on the spot); its state after."""
        return self._drive(order_id, self.flows.start(FLOW, order_id, flow_id=order_id,
                                                      serve=self._serve(order_id)))

    def _drive(self, order_id, state):
        """Finish a synchronous step (reserve, fulfil) the flow was left waiting on
        (by a crash, or a handler that failed), from `state` (its latest known
        result, or NotWaiting when someone else moved it on); the final state."""
        serve = self._serve(order_id)
        while True:
            if isinstance(state, NotWaiting):  # moved on elsewhere: look again
                state = self._state(order_id)
            if not (isinstance(state, Suspended) and state.kind in serve):
                return state
            answer = serve[state.kind](state)
            state = self.flows.resume(order_id, answer, kind=state.kind, serve=serve)

    def recover(self):
        """Finish whatever a crash left half-done: created orders whose flow never
        started, flows waiting on a synchronous step, and payments recorded in the
        ledger whose flow was not yet resumed. Returns how many orders moved."""
        moved = 0
        known = set(self.flows.ids())
        for order_id in self.ledger.orders():
            if order_id not in known:
                self._start(order_id)
                moved += 1
        for flow_id, kind, key in self.flows.waiting():
            if kind in SERVED:
                self._drive(flow_id, self._state(flow_id))
                moved += 1
            elif kind == "payment" and self.ledger.has_key(key):
                self._drive(flow_id, self.flows.resume(flow_id, "paid", kind="payment", serve=self._serve(flow_id)))
                moved += 1
        return moved

    # ---------------------------------------------------------------- queries

    def status(self, order_id):
        """created, reserving, awaiting-payment, fulfilling, fulfilled, cancelled or failed."""
        order_id = _check_id(order_id)
        state = self._state(order_id)
        if state is None:
            if self.ledger.get(f"{order_id}:created") is not None:
                return "created"
            raise OrderError(f"unknown order: {order_id}")
        return _status_of(state)

    def orders(self):
        out = []
        for order_id in self.ledger.orders():
            created = self.ledger.get(f"{order_id}:created")
            out.append(OrderSummary(order_id, self.status(order_id), created.amount if created else 0))
        return out


def _status_of(state):
    """The order status a flow result stands for."""
    if isinstance(state, Suspended):
        return STATUS_OF_KIND.get(state.kind, f"waiting-{state.kind}")
    if isinstance(state, Done):
        return "fulfilled"
    if isinstance(state, Failed):
        return "failed"
    if isinstance(state, NotWaiting):
        return state.status
    return "created"


def _check_id(order_id):
    if type(order_id) is not str or not order_id or len(order_id) > 200:
        raise OrderError(f"order id must be a non-empty string of at most 200 characters, got {order_id!r}")
    try:
        order_id.encode("utf-8")
    except UnicodeEncodeError:
        raise OrderError(f"order id must be valid Unicode text, got {order_id!r}") from None
    return order_id


def now():
    return time.time()
