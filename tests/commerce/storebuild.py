"""Order data (directories or databases) the Shop did not write itself, for the tests: a hostile
one (flows that opening a Shop must never run), and orders as an older flowscheme
journalled them (plain-string answers that carry nothing to re-derive a record from;
order-lifecycle flows, from before stock and payment deadlines).
Built with the flow and ledger APIs directly; every FlowRuntime is closed after."""

from commerce.ledger import Ledger  # noqa: F401  (tests/cli writes file ledgers with it)
from flow import FlowRuntime
from shophelp import flows_location, open_ledger, shop_state
from commerce.orders import LEDGER_KIND, LEGACY_FLOW as FLOW  # the flow older stores hold
from commerce.pricing import scheme_path, scheme_source

CART = [["tea", 2]]
LINES = [["tea", 2, 450, 900]]
TOTAL = 900

#: A flow of a name the shop does not know, from code the shop never loads; its
#: request payload holds a procedure, so even decoding its data needs that code.
EVIL = """
(defflow exfiltrate (lambda (oid) (request 'reserve (lambda () oid)) (request 'payment oid) 'done))
"""
#: Another version of the order flow (another code unit), payload a procedure too.
OTHER_ORDER = """;; an order flow this flowscheme does not load
(defflow order-lifecycle
  (lambda (oid) (request 'reserve (lambda () oid)) (request 'payment oid) (request 'fulfil oid)))
"""


def runtime(data, text, filename):
    rt = FlowRuntime(store=flows_location(data))
    rt.load(text, filename=filename)
    return rt


def order_runtime(data):
    return runtime(data, scheme_source("order.scm"), scheme_path("order.scm"))


def created(ledger, order):
    ledger.append(order, "created", f"{order}:created", amount=TOTAL, details={"cart": CART, "lines": LINES})


def build_hostile(data):
    """A data directory whose flows a recovery pass would run; returns {order: status
    `order list` must show}:

    h1  an order flow committed waiting on reserve (recover would serve it: a ledger append)
    h2  an order flow waiting on payment whose payment the ledger records (recover would resume it)
    h3  a flow named 'exfiltrate' (code not loaded) under an order id the ledger knows
    h4  an order flow from another version of order.scm (code not loaded)
    x-9 a flow named 'exfiltrate' the ledger does not know (not listed)
    """
    with open_ledger(data) as ledger:
        for order in ("h1", "h2", "h3", "h4"):
            created(ledger, order)
        rt = order_runtime(data)
        try:
            rt.start(FLOW, "h1", flow_id="h1")

            def reserve(request):
                ledger.append(request.flow_id, "reserved", request.key)
                return {"record": "reserved"}

            waiting = rt.start(FLOW, "h2", flow_id="h2", serve={"reserve": reserve})
            ledger.append("h2", "paid", waiting.key, amount=TOTAL, details={"payment_ref": "pay-h2"})
        finally:
            rt.close()
    rt = runtime(data, EVIL, "evil.scm")
    try:
        rt.start("exfiltrate", "h3", flow_id="h3")
        rt.start("exfiltrate", "x-9", flow_id="x-9")
    finally:
        rt.close()
    rt = runtime(data, OTHER_ORDER, "order-v0.scm")
    try:
        rt.start(FLOW, "h4", flow_id="h4")
    finally:
        rt.close()
    return {"h1": "reserving", "h2": "awaiting-payment", "h3": "unknown-flow", "h4": "reserving"}


def build_old_style(data, order, pay=True):
    """An order as an older flowscheme served it: each answer a plain string
    ("reserved", "paid", "fulfilled"), so the journal carries neither the cart and
    total nor the payment reference. Fulfilled if `pay`, else awaiting payment."""
    with open_ledger(data) as ledger:
        created(ledger, order)

        def serve(request):
            kind = LEDGER_KIND[request.kind]
            ledger.append(order, kind, request.key)
            return kind

        handlers = {"reserve": serve, "fulfil": serve}
        rt = order_runtime(data)
        try:
            waiting = rt.start(FLOW, order, flow_id=order, serve=handlers)
            if pay:
                ledger.append(order, "paid", waiting.key, amount=TOTAL, details={"payment_ref": f"pay-{order}"})
                rt.resume(order, "paid", kind="payment", serve=handlers)
        finally:
            rt.close()


def answer_payment(data, order, answer):
    """Resume `order` (waiting on payment) with a hand-made `answer`, serving fulfil
    like the shop does: a journal whose payment answer says whatever the test wants."""
    with open_ledger(data) as ledger:
        def fulfil(request):
            ledger.append(order, "fulfilled", request.key)
            return {"record": "fulfilled"}

        rt = order_runtime(data)
        try:
            return rt.resume(order, answer, kind="payment", serve={"fulfil": fulfil})
        finally:
            rt.close()


def tree_bytes(where):
    """Everything committed at `where`: {relative path: bytes} of every file under a data
    directory; the ledger's records and every flow's state in a database."""
    return shop_state(where)
