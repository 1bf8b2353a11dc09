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
(begin, settle) or by an explicit `shop.recover()`.

Opening is not running: `Shop(dir)`, `status` and `orders` never start or resume a
flow; they read the flows' metadata only (no flow code needed, flows of unknown
names shown as "unknown-flow"). Each answer the driver gives goes into the flow's
journal and carries what its ledger record holds (reserve: the order's cart, lines
and total; payment: reference and amount), so commerce.audit can re-derive a lost
record from the journal.
"""

import os
import time
from typing import NamedTuple

from flow import Done, Failed, FlowError, FlowRuntime, NotWaiting, Suspended
from flow.errors import FlowNotFound

from .ledger import Ledger, LedgerError
from .pricing import Pricing, PricingError, load_rules, scheme_path, scheme_source

FLOW = "order-lifecycle"
STATUS_OF_KIND = {"reserve": "reserving", "payment": "awaiting-payment", "fulfil": "fulfilling"}
STATUS_OF_FLOW = {"done": "fulfilled", "failed": "failed", "cancelled": "cancelled"}
UNKNOWN_FLOW = "unknown-flow"  # the status of an order whose flow is not an order-lifecycle flow
MAX_AMOUNT = 2**63 - 1  # the ledger stores amounts as signed 64-bit integers
LEDGER_KIND = {"reserve": "reserved", "payment": "paid", "fulfil": "fulfilled"}
SERVED = ("reserve", "fulfil")  # the requests serviced on the spot, inside the flow's step


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


class Shop:
    """An order desk on a data directory: data_dir/ledger.log and data_dir/flows/.

    Opening reads; it never starts or resumes a flow. `recover()` is the explicit
    call that finishes what a crash left half-done (`recover=True` calls it right
    after opening). A data directory the Shop creates is 0700, its ledger 0600.
    """

    def __init__(self, data_dir, recover=False):
        self.data_dir = os.fspath(data_dir)
        _private_dir(self.data_dir)
        self.ledger = Ledger(os.path.join(self.data_dir, "ledger.log"))
        self.flows = None
        try:
            flows_dir = os.path.join(self.data_dir, "flows")
            _private_dir(flows_dir)
            self.flows = FlowRuntime(store=flows_dir)
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
        self._own_flow(order_id)
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
        flow = self._own_flow(order_id)
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
        paid, recorded = self.ledger.append(order_id, "paid", flow.key, amount=amount,
                                            details={"payment_ref": payment_ref})
        self._drive(order_id, self.flows.resume(order_id, _paid_answer(paid), kind="payment",
                                                serve=self._serve(order_id)))
        return "settled" if recorded else "already-settled"

    def _own_flow(self, order_id):
        """The order's flow metadata (or None); refuses a flow that is not an
        order-lifecycle flow rather than driving it."""
        flow = self._meta(order_id)
        if flow is not None and flow.name != FLOW:
            raise OrderError(f"order {order_id}: its flow is named {flow.name!r}, not {FLOW!r}; "
                             f"refusing to drive it (nothing recorded)")
        return flow

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
        ledger record under the request's key (idempotent) and answers with what
        it recorded — reserve also with the order's cart, lines and total (from
        its created record), so the journal can rebuild that record too."""
        def service(request):
            kind = LEDGER_KIND[request.kind]
            self.ledger.append(order_id, kind, request.key, details={})
            answer = {"record": kind}
            if kind == "reserved":
                created = self.ledger.get(f"{order_id}:created")
                if created is not None:
                    answer.update(total=created.amount, cart=created.details.get("cart"),
                                  lines=created.details.get("lines"))
            return answer

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
        """Finish whatever a crash left half-done — the one call that runs flows
        without being asked about a particular order: created orders whose flow
        never started, order flows waiting on a synchronous step, and payments
        recorded in the ledger whose flow was not yet resumed. Flows that are not
        order-lifecycle flows are left alone. Returns how many orders moved; an
        order it cannot move (its flow's code not loaded, ...) does not stop the
        others: RecoveryError names them all at the end."""
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
            if self.flows.flow(flow_id, data=False).name != FLOW:
                continue
            if kind in SERVED:
                attempt(flow_id, lambda f=flow_id: self._drive(f, self._state(f)))
            elif kind == "payment":
                attempt(flow_id, lambda f=flow_id, k=key: self._resume_paid(f, k))
        if failures:
            raise RecoveryError(moved, failures)
        return moved

    def _resume_paid(self, flow_id, key):
        """Resume a flow waiting for a payment the ledger records; False if it records none."""
        paid = self.ledger.get(key)
        if paid is None or paid.order != flow_id or paid.kind != "paid":
            return False
        return self._drive(flow_id, self.flows.resume(flow_id, _paid_answer(paid), kind="payment",
                                                      serve=self._serve(flow_id)))

    # ---------------------------------------------------------------- queries

    def status(self, order_id):
        """created, reserving, awaiting-payment, fulfilling, fulfilled, cancelled,
        failed, or unknown-flow (its flow is not an order-lifecycle flow). Reads
        the flow's metadata only: nothing runs, no flow code is needed."""
        order_id = _check_id(order_id)
        meta = self._meta(order_id)
        if meta is None:
            if self.ledger.get(f"{order_id}:created") is not None:
                return "created"
            raise OrderError(f"unknown order: {order_id}")
        return _status_of_meta(meta)

    def orders(self):
        """Every order: those in the ledger, in ledger order, then order flows the
        ledger has no record of (total None; `ledger verify` says what is missing).
        Metadata reads only: nothing runs."""
        out = []
        listed = set()
        for order_id in self.ledger.orders():
            created = self.ledger.get(f"{order_id}:created")
            meta = self._meta(order_id)
            status = _status_of_meta(meta) if meta is not None else ("created" if created else "unknown")
            out.append(OrderSummary(order_id, status, created.amount if created else None))
            listed.add(order_id)
        for flow_id in sorted(self.flows.ids()):
            if flow_id in listed:
                continue
            meta = self._meta(flow_id)
            if meta is not None and meta.name == FLOW:
                out.append(OrderSummary(flow_id, _status_of_meta(meta), None))
        return out


def _status_of_meta(meta):
    """The order status a flow's metadata (status, kind, name) stands for."""
    if meta.name != FLOW:
        return UNKNOWN_FLOW
    if meta.status == "suspended":
        return STATUS_OF_KIND.get(meta.kind.name, f"waiting-{meta.kind.name}")
    return STATUS_OF_FLOW.get(meta.status, meta.status)


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
