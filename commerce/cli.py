"""The order commands of `flowscheme`: `order` (catalog, quote, carts, begin,
settle, cancel, status, show, list, run-due, recover, stock), `stock` (show, add),
`ledger` (show, verify, repair) and `demo`, the guided tour of the order
lifecycle. Loaded lazily through the `flowscheme.commands` entry points (`stock`
is also `order stock`).

Reading commands (order list, order status, order show, stock show, ledger show,
ledger verify) never run a flow; `order recover` is the one that finishes what a
crash left half-done, `order run-due` the one that fires payment deadlines.
A torn ledger tail cut off on opening is announced on stderr ("warning: LEDGER
REPAIRED ...") from `Ledger.repaired`.

Amounts on the command line and in JSON are integers in minor units (cents);
text output shows them as 21.00.
Exit status: 0 success, 1 an order, ledger, flow or Scheme error, 2 a usage error.
"""

import contextlib
import functools
import json
import os
import subprocess
import sys
import time
import warnings

import click

from flow.cli import fail, internal_error
from interp.cli import debug_of
from flow.pgschema import redacted
from flow.inspect import format_table

LEDGER_FILE = "ledger.log"


# ====================================================================== helpers


def money(minor):
    if minor is None:
        return "-"
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100}.{minor % 100:02d}"


def cart_text(cart):
    return ", ".join(f"{sku} x{qty}" for sku, qty in cart)


def parse_cart(ctx, items):
    """SKU=QTY arguments (QTY defaults to 1) -> [(sku, qty)]."""
    if not items:
        raise click.BadParameter("give at least one item, e.g. tea=2 mug=1", ctx, param_hint="SKU=QTY")
    cart = []
    for item in items:
        sku, sep, qty = item.partition("=")
        if not sep:
            sku, sep, qty = item.partition(":")
        sku = sku.strip()
        if not sku:
            raise click.BadParameter(f"{item!r}: expected SKU=QTY, e.g. tea=2", ctx, param_hint="SKU=QTY")
        if not sep:
            cart.append((sku, 1))
            continue
        try:
            cart.append((sku, int(qty.strip())))
        except ValueError:
            raise click.BadParameter(f"{item!r}: the quantity must be a whole number", ctx, param_hint="SKU=QTY") from None
    return cart


@contextlib.contextmanager
def warnings_to_stderr():
    """Warnings (a flow store's torn tail cut, ...) are reported as one plain line
    each. Ledger repairs are not: announce_repairs shows them, from Ledger.repaired."""
    from .ledger import LedgerWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        if not issubclass(w.category, LedgerWarning):
            click.echo(f"warning: {w.message}", err=True)


def announce_repairs(ledger, data, start=0):
    """Print, prominently on stderr, every repair the ledger made from index `start` on
    (a torn tail cut off); returns how many it has made in all."""
    repairs = ledger.repaired[start:]
    for repair in repairs:
        click.echo(f"warning: LEDGER REPAIRED: {repair}", err=True)
    if repairs:
        click.echo(f"warning:   nothing committed was lost (an interrupted write is never acknowledged); "
                   f"`flowscheme ledger verify --data {data}` cross-checks the orders against their flows",
                   err=True)
    return len(ledger.repaired)


def guarded(ctx, fn):
    """Run fn(); order, ledger, flow and Scheme errors become a message and exit 1."""
    from interp.errors import SchemeError
    from flow.errors import FlowError

    from .ledger import LedgerError
    from .orders import OrderError

    try:
        with warnings_to_stderr():
            return fn()
    except (OrderError, LedgerError, FlowError, SchemeError, OSError) as e:
        sys.stdout.flush()
        if debug_of(ctx):
            import traceback

            traceback.print_exception(e, file=sys.stderr)
        click.echo(e.format() if isinstance(e, SchemeError) else str(e), err=True)
        ctx.exit(1)
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, KeyboardInterrupt):
        raise
    except Exception as e:
        internal_error(ctx, e)


def is_url(data):
    """True for a postgresql:// URL (a shop whose ledger and flows are in that database)."""
    from flow.store import is_store_url

    return is_store_url(data)


def has_data(data):
    if is_url(data):
        from .pgledger import exists

        return exists(data)
    return os.path.isfile(os.path.join(data, LEDGER_FILE))


def require_data(ctx, data):
    if not guarded(ctx, lambda: has_data(data)):
        if is_url(data):
            why = "the database has no ledger tables"
        else:
            why = "the directory does not exist" if not os.path.exists(data) else f"no {LEDGER_FILE} in it"
        fail(ctx, f"no order data at {data} ({why}); `flowscheme order begin ... --data {data}` starts one")


@contextlib.contextmanager
def shop_session(ctx, data, create=False, **options):
    """An open Shop (nothing runs on opening) whose ledger repairs are announced;
    closed afterwards. options: Shop's (payment_window, ...)."""
    from .orders import Shop

    if not create:
        require_data(ctx, data)
    shop = guarded(ctx, lambda: Shop(data, **options))
    seen = announce_repairs(shop.ledger, data)
    try:
        yield shop
    finally:
        shop.close()
        announce_repairs(shop.ledger, data, seen)


def data_option(fn):
    return click.option("--data", metavar="DIR|URL", required=True, envvar="FLOWSCHEME_DATA",
                        type=click.Path(file_okay=False),
                        help="The order data directory: DIR/ledger.log and the flow store DIR/flows; or a "
                             "postgresql:// URL: ledger and flows in that database (or set FLOWSCHEME_DATA).")(fn)


def json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(fn)


def echo_json(data):
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def quote_json(q):
    return {"lines": [line._asdict() for line in q.lines], "total": q.total}


@functools.lru_cache(maxsize=1)
def _pricing():
    """The pricing rules on their own interpreter (quotes need no data directory).
    Pure, so one per process serves every call."""
    from interp.interpreter import Interpreter

    from .pricing import Pricing, load_rules

    it = Interpreter()
    load_rules(it)
    return Pricing(it)


def _quote(cart):
    from .orders import OrderError
    from .pricing import PricingError

    try:
        return _pricing().quote(cart)
    except PricingError as e:
        raise OrderError(str(e)) from None


# ====================================================================== order

ORDER_HELP = """The order lifecycle: price a cart, begin an order (created, stock
reserved — or out-of-stock — then it waits for payment, until its deadline, as a
durable flow), settle it with the payment webhook (paid, fulfilled), cancel it,
and look at orders.

\b
flowscheme order catalog
flowscheme order quote tea=2 mug=1
flowscheme order begin o-1 tea=2 mug=1 --data shop [--payment-window 1800]
flowscheme order settle o-1 pay-123 2100 --data shop
flowscheme order cancel o-1 --data shop
flowscheme order status o-1 --data shop
flowscheme order show o-1 --data shop
flowscheme order list [--status expired] --data shop
flowscheme order run-due --data shop
flowscheme order recover --data shop
flowscheme order stock show|add --data shop
flowscheme order carts 2400 --max-items 3

Reading (list, status, show) never runs a flow; after a crash, `order recover`
finishes what was left half-done (begin, settle and cancel also finish their own
order); `order run-due` fires the payment deadlines that have passed (the order
expires and its stock goes back). A payment that does not fit — another
reference for a paid order, or one for an expired, cancelled or out-of-stock
order — is recorded refund-due.

Amounts are integers in minor units (2100 is 21.00). Exit status: 0 success,
1 an order error (unknown sku or order, bad quantity, wrong amount, a fulfilled
order cancelled, no data there), 2 a usage error.
"""


@click.group(help=ORDER_HELP, short_help="Price carts and drive orders: quote, begin, settle, cancel, list, ...",
             context_settings={"help_option_names": ["-h", "--help"]})
def order():
    pass


class _Numbers(click.Command):
    """A command whose arguments may be negative numbers (-2100 is a value, not
    an option: no `--` needed); the command itself says what is wrong with one."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("context_settings", {})["ignore_unknown_options"] = True
        super().__init__(*args, **kwargs)


def minor_units(ctx, text, name):
    """A whole, non-negative number of minor units from the command line."""
    try:
        value = int(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: {name} is a whole number of minor units (2100 for 21.00)", ctx, param_hint=name
        ) from None
    if value < 0:
        raise click.BadParameter(
            f"{text}: {name} is negative; it is a whole number of minor units, 0 or more (2100 for 21.00)",
            ctx, param_hint=name)
    return value


@order.command("catalog")
@json_option
@click.pass_context
def order_catalog(ctx, as_json):
    """The products on sale (from schemes/pricing.scm): sku, name, unit price."""
    products = guarded(ctx, lambda: _pricing().products())
    if as_json:
        echo_json([p._asdict() for p in products])
        return
    rows = [{"sku": p.sku, "name": p.name, "price": money(p.price)} for p in products]
    click.echo(format_table(rows, [("sku", "SKU"), ("name", "NAME"), ("price", "PRICE")]))


@order.command("quote")
@click.argument("items", nargs=-1, metavar="SKU=QTY...")
@json_option
@click.pass_context
def order_quote(ctx, items, as_json):
    """Price a cart with the miniKanren pricing rules (run forwards); a line of
    10 or more units gets the bulk discount. Example: order quote tea=2 mug=1"""
    cart = parse_cart(ctx, items)
    q = guarded(ctx, lambda: _quote(cart))
    if as_json:
        echo_json(quote_json(q))
        return
    rows = [{"sku": l.sku, "qty": l.qty, "unit": money(l.unit), "total": money(l.total)} for l in q.lines]
    rows.append({"sku": "total", "qty": "", "unit": "", "total": money(q.total)})
    click.echo(format_table(rows, [("sku", "SKU"), ("qty", "QTY"), ("unit", "UNIT"), ("total", "TOTAL")]))


@order.command("carts", cls=_Numbers)
@click.argument("total", metavar="TOTAL")
@click.option("--max-items", default=3, show_default=True, type=click.IntRange(0, 6),
              help="At most this many units in a cart.")
@json_option
@click.pass_context
def order_carts(ctx, total, max_items, as_json):
    """Which carts cost exactly TOTAL (minor units)? The pricing relations run
    backwards: a miniKanren query over every cart of at most --max-items units."""
    total = minor_units(ctx, total, "TOTAL")

    def run():
        from .orders import OrderError
        from .pricing import PricingError

        try:
            return _pricing().carts_costing(total, max_items)
        except PricingError as e:
            raise OrderError(str(e)) from None

    carts = guarded(ctx, run)
    if as_json:
        echo_json([[list(line) for line in c] for c in carts])
        return
    if not carts:
        click.echo(f"no cart of at most {max_items} items costs exactly {money(total)}")
    for c in carts:
        click.echo(cart_text(c))


@order.command("begin")
@click.argument("order_id", metavar="ORDER_ID")
@click.argument("items", nargs=-1, metavar="SKU=QTY...")
@click.option("--payment-window", metavar="SECONDS", type=click.FloatRange(min=0, min_open=True),
              default=1800, show_default=True, help="How long the order waits for its payment before it "
                                                     "expires (its stock goes back).")
@data_option
@json_option
@click.pass_context
def order_begin(ctx, order_id, items, payment_window, data, as_json):
    """Begin order ORDER_ID for a cart: record it (with its quote), reserve the
    stock, and leave it waiting for payment — or, when some sku is short, end it
    out-of-stock with nothing reserved. The data directory is created if
    missing. Beginning an existing order with the same cart changes nothing and
    shows its status; with another cart it is refused."""
    cart = parse_cart(ctx, items)
    window = int(payment_window) if float(payment_window).is_integer() else payment_window
    with shop_session(ctx, data, create=True, payment_window=window) as shop:
        status = guarded(ctx, lambda: shop.begin(order_id, cart))
        total = guarded(ctx, lambda: _order_total(shop, order_id))
        short = guarded(ctx, lambda: _shortage(shop, order_id)) if status == "out-of-stock" else None
    if as_json:
        out = {"order_id": order_id, "status": status, "total": total}
        if short is not None:
            out["short"] = short
        echo_json(out)
    elif status == "out-of-stock":
        click.echo(f"{order_id}: out-of-stock (total {money(total)}; nothing reserved: "
                   + ", ".join(f"{sku} {s['wanted']} wanted, {s['on_hand']} on hand" for sku, s in short.items())
                   + ")")
    elif status == "awaiting-payment":
        click.echo(f"{order_id}: {status} (total {money(total)}; settle with "
                   f"`flowscheme order settle {order_id} PAYMENT_REF {total} --data {data}`)")
    else:
        click.echo(f"{order_id}: {status} (total {money(total)})")


def _order_total(shop, order_id):
    created = shop.ledger.get(f"{order_id}:created")
    return created.amount if created is not None else None


def _shortage(shop, order_id):
    """{sku: {"wanted", "on_hand"}} of an out-of-stock order."""
    for r in shop.ledger.records(order_id):
        if r.kind == "out-of-stock":
            return r.details.get("short") or {}
    return {}


SETTLE_TEXT = {
    "duplicate-payment": "the order was already paid under another reference",
    "expired": "the order expired before its payment came",
    "cancelled": "the order was cancelled",
    "out-of-stock": "the order found no stock",
}


@order.command("settle", cls=_Numbers)
@click.argument("order_id", metavar="ORDER_ID")
@click.argument("payment_ref", metavar="PAYMENT_REF")
@click.argument("amount", metavar="AMOUNT")
@data_option
@json_option
@click.pass_context
def order_settle(ctx, order_id, payment_ref, amount, data, as_json):
    """The payment webhook: ORDER_ID was paid AMOUNT (minor units: 2100 for 21.00)
    under PAYMENT_REF. Records the payment, resumes the order's flow and fulfils
    it: "settled". A replayed webhook answers "already-settled" and records
    nothing; an amount other than the quoted total is refused. Money that came
    in and must go back — another reference for a paid order
    ("duplicate-payment"), a payment for an expired, cancelled or out-of-stock
    order — is recorded refund-due, once per reference."""
    amount_minor = minor_units(ctx, amount, "AMOUNT")
    with shop_session(ctx, data) as shop:
        result = guarded(ctx, lambda: shop.settle(order_id, payment_ref, amount_minor))
        status = guarded(ctx, lambda: shop.status(order_id))
    if as_json:
        echo_json({"order_id": order_id, "result": result, "status": status})
    elif result == "settled":
        click.echo(f"{order_id}: settled (paid {money(amount_minor)}, {status})")
    elif result == "already-settled":
        click.echo(f"{order_id}: already-settled (a replayed webhook: nothing recorded; {status})")
    else:
        click.echo(f"{order_id}: {result} ({SETTLE_TEXT.get(result, status)}: payment {payment_ref} of "
                   f"{money(amount_minor)} recorded refund-due)")


@order.command("cancel")
@click.argument("order_id", metavar="ORDER_ID")
@data_option
@json_option
@click.pass_context
def order_cancel(ctx, order_id, data, as_json):
    """Cancel ORDER_ID: its reservation is released (its stock goes back) and a
    payment it took but did not fulfil is recorded refund-due. The order's own
    flow does the release. A fulfilled order is refused (exit 1); an order that
    already ended (expired, cancelled, out-of-stock) answers so and records
    nothing."""
    with shop_session(ctx, data) as shop:
        before = guarded(ctx, lambda: [r.key for r in shop.ledger.records(order_id)])
        result = guarded(ctx, lambda: shop.cancel(order_id))
        new = guarded(ctx, lambda: [r for r in shop.ledger.records(order_id) if r.key not in before])
    if as_json:
        echo_json({"order_id": order_id, "status": result, "recorded": [record_json(r) for r in new]})
        return
    if not new:
        click.echo(f"{order_id}: {result} (nothing recorded)")
        return
    parts = []
    for r in new:
        if r.kind == "released":
            parts.append("reservation released" + (f" ({_stock_text(r.details.get('stock'))} back)"
                                                   if r.details.get("stock") else ""))
        elif r.kind == "refund-due":
            parts.append(f"payment {r.details.get('payment_ref')} of {money(r.amount)} refund-due")
        else:
            parts.append(r.kind)
    click.echo(f"{order_id}: {result} ({'; '.join(parts)})")


def _stock_text(change):
    return ", ".join(f"{sku} x{n}" for sku, n in (change or {}).items())


@order.command("status")
@click.argument("order_id", metavar="ORDER_ID")
@data_option
@json_option
@click.pass_context
def order_status(ctx, order_id, data, as_json):
    """The status of ORDER_ID: awaiting-payment, fulfilled, expired, ... and its
    ledger records. Reads only: no flow runs (a half-done order shows as such;
    `order recover` finishes it)."""
    with shop_session(ctx, data) as shop:
        status = guarded(ctx, lambda: shop.status(order_id))
        total = guarded(ctx, lambda: _order_total(shop, order_id))
        records = guarded(ctx, lambda: shop.ledger.records(order_id))
    if as_json:
        echo_json({"order_id": order_id, "status": status, "total": total,
                   "records": [record_json(r) for r in records]})
    else:
        kinds = " -> ".join(r.kind for r in records)
        click.echo(f"{order_id}: {status} (total {money(total)}; ledger: {kinds or 'nothing'})")


@order.command("show")
@click.argument("order_id", metavar="ORDER_ID")
@data_option
@json_option
@click.pass_context
def order_show(ctx, order_id, data, as_json):
    """Everything about ORDER_ID: status, cart, total, its flow's state (waiting
    on what, under which key, until which deadline) and its ledger records.
    Reads only: no flow runs."""
    with shop_session(ctx, data) as shop:
        d = guarded(ctx, lambda: shop.show(order_id))
    if as_json:
        echo_json({"order_id": d.order_id, "status": d.status, "total": d.total, "cart": d.cart,
                   "flow": d.flow, "records": [record_json(r) for r in d.records]})
        return
    click.echo(f"{d.order_id}: {d.status} (total {money(d.total)}"
               + (f"; {cart_text(d.cart)})" if d.cart else ")"))
    click.echo("flow:   " + _flow_text(d.flow))
    click.echo("ledger:" + ("" if d.records else " nothing"))
    if d.records:
        click.echo(_indent(ledger_table(d.records), "    "))


def _flow_text(flow):
    if flow is None:
        return "none (never started: `order recover` starts it)"
    text = f"{flow['name']} {flow['status']}"
    if flow.get("waiting_on"):
        text += f", waiting on {flow['waiting_on']} (key {flow['key']})"
    if flow.get("deadline") is not None:
        text += f", deadline {_when(flow['deadline'])}"
    if flow.get("retry_at") is not None:
        text += f", handler retry {flow['attempts']} at {_when(flow['retry_at'])}"
    if flow.get("value"):
        text += f": {flow['value']}"
    if flow.get("error"):
        text += f" ({flow['error']})"
    return text + f"; step {flow['step']}"


def _when(epoch):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


ORDER_STATUSES = ("created", "reserving", "awaiting-payment", "fulfilling", "releasing", "fulfilled", "expired",
                  "cancelled", "out-of-stock", "failed", "unknown-flow")


@order.command("list")
@click.option("--status", "only", type=click.Choice(ORDER_STATUSES), metavar="STATUS",
              help="Only orders with this status: " + ", ".join(ORDER_STATUSES) + ".")
@data_option
@json_option
@click.pass_context
def order_list(ctx, only, data, as_json):
    """Every order: id, status, total (only those with --status). Reads only: no
    flow runs, and the flows' code is not needed (a flow of another name shows as
    unknown-flow)."""
    with shop_session(ctx, data) as shop:
        orders = guarded(ctx, lambda: shop.orders(status=only))
    echo_orders(orders, as_json, f"no {only} orders" if only else "no orders")


def echo_orders(orders, as_json, none="no orders"):
    if as_json:
        echo_json([o._asdict() for o in orders])
    elif not orders:
        click.echo(none)
    else:
        rows = [{"id": o.order_id, "status": o.status, "total": money(o.total)} for o in orders]
        click.echo(format_table(rows, [("id", "ORDER"), ("status", "STATUS"), ("total", "TOTAL")]))


@order.command("run-due")
@data_option
@json_option
@click.pass_context
def order_run_due(ctx, data, as_json):
    """Fire what is due now: each order whose payment deadline passed expires
    (its reservation released, its stock back); a failed step is tried again.
    Safe from several processes at once: each deadline fires once."""
    with shop_session(ctx, data) as shop:
        fired = guarded(ctx, shop.run_due)
    if as_json:
        echo_json([{"order_id": o, "status": s} for o, s in fired])
    elif not fired:
        click.echo("nothing due")
    else:
        click.echo(f"fired {len(fired)}: " + _grouped(fired))


@order.command("recover")
@data_option
@json_option
@click.pass_context
def order_recover(ctx, data, as_json):
    """Finish what a crash left half-done, then list every order: start the flow
    of an order created in the ledger whose flow never started, finish a step the
    shop serves on the spot (reserve, fulfil, release), resume a flow whose
    payment the ledger already records, release the reservation of an order
    whose flow was cancelled (`flows cancel`), and make refund-due a payment an
    order that did not fulfil still holds. Opening the data never does this by
    itself."""
    with shop_session(ctx, data) as shop:
        moved = guarded(ctx, shop.recover)
        orders = guarded(ctx, shop.orders)
    if as_json:
        echo_json({"recovered": moved, "orders": [o._asdict() for o in orders]})
        return
    click.echo(f"recovered {moved} half-done order(s)" if moved else "nothing half-done to recover")
    echo_orders(orders, False)


# ====================================================================== stock

STOCK_HELP = """The shop's stock, kept in the ledger: what is on hand (can still be
reserved), held by open orders, shipped, and received. Every change is a ledger
record — received (the opening stock, `stock add`), reserved, released — so the
stock after any crash is exactly what the ledger says.

\b
flowscheme stock show --data shop [--json]
flowscheme stock add tea=50 mug=10 --data shop [--ref DELIVERY-NOTE]

(also `flowscheme order stock ...`)
"""


@click.group(help=STOCK_HELP, short_help="Show the stock (from the ledger) or add to it.",
             context_settings={"help_option_names": ["-h", "--help"]})
def stock():
    pass


@stock.command("show")
@data_option
@json_option
@click.pass_context
def stock_show(ctx, data, as_json):
    """Units of each sku: on hand (can be reserved), held by orders awaiting
    payment, shipped (fulfilled), received. Reads only."""
    with shop_session(ctx, data) as shop:
        levels = guarded(ctx, shop.stock_levels)
    if as_json:
        echo_json([lv._asdict() for lv in levels])
        return
    rows = [lv._asdict() for lv in levels]
    click.echo(format_table(rows, [("sku", "SKU"), ("on_hand", "ON HAND"), ("held", "HELD"),
                                   ("shipped", "SHIPPED"), ("received", "RECEIVED")]))


@stock.command("add")
@click.argument("items", nargs=-1, metavar="SKU=QTY...")
@click.option("--ref", metavar="REF", help="The delivery's reference: adding twice under one REF adds once.")
@data_option
@json_option
@click.pass_context
def stock_add(ctx, items, ref, data, as_json):
    """Receive stock: one `received` ledger record for the skus given (the data
    directory is created if missing). With --ref the delivery is recorded once
    however often it is added."""
    cart = parse_cart(ctx, items)
    with shop_session(ctx, data, create=True) as shop:
        on_hand = guarded(ctx, lambda: shop.add_stock(cart, ref=ref))
    if as_json:
        echo_json(on_hand)
    else:
        click.echo("on hand: " + ", ".join(f"{sku} {on_hand[sku]}" for sku, _ in cart))


order.add_command(stock)


# ====================================================================== ledger


def record_json(r):
    return {"seq": r.seq, "order": r.order, "kind": r.kind, "key": r.key, "amount": r.amount,
            "time": r.time, "details": r.details, "offset": r.offset}


def details_text(r):
    d = dict(r.details or {})
    parts = []
    cart = d.pop("cart", None)
    d.pop("lines", None)
    if cart:
        parts.append(cart_text(cart))
    ref = d.pop("payment_ref", None)
    if ref:
        parts.append(f"payment {ref}")
    reason = d.pop("reason", None)
    if reason:
        parts.append(str(reason))
    change = d.pop("stock", None)
    if isinstance(change, dict) and change:
        parts.append("stock " + ", ".join(f"{sku} {n:+d}" if type(n) is int else f"{sku} {n}"
                                          for sku, n in change.items()))
    short = d.pop("short", None)
    if isinstance(short, dict):
        parts.append("short: " + ", ".join(
            f"{sku} {v.get('wanted')} wanted, {v.get('on_hand')} on hand" if isinstance(v, dict) else f"{sku} {v}"
            for sku, v in short.items()))
    if d.pop("opening", None):
        parts.append("opening stock")
    parts += [f"{k}={v}" for k, v in d.items()]
    return "; ".join(parts)


def ledger_table(records, with_time=True):
    rows = []
    for r in records:
        rows.append({
            "seq": r.seq, "order": r.order, "kind": r.kind, "amount": money(r.amount) if r.amount is not None else None,
            "key": r.key, "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.time)),
            "details": details_text(r) or None,
        })
    cols = [("seq", "SEQ"), ("order", "ORDER"), ("kind", "KIND"), ("amount", "AMOUNT"), ("key", "KEY")]
    if with_time:
        cols.append(("time", "TIME"))
    cols.append(("details", "DETAILS"))
    return format_table(rows, cols)


@contextlib.contextmanager
def ledger_session(ctx, data):
    """An open Ledger (a PgLedger for a URL) whose repairs are announced; closed afterwards."""
    from .ledger import Ledger

    require_data(ctx, data)
    if is_url(data):
        from .pgledger import PgLedger

        lg = guarded(ctx, lambda: PgLedger(data))
    else:
        lg = guarded(ctx, lambda: Ledger(os.path.join(data, LEDGER_FILE)))
    seen = announce_repairs(lg, data)
    try:
        yield lg
    finally:
        lg.close()
        announce_repairs(lg, data, seen)


@click.group(short_help="Show, verify or repair the order ledger.",
             context_settings={"help_option_names": ["-h", "--help"]})
def ledger():
    """The order ledger (DIR/ledger.log): every effect of every order, appended
    once under an idempotency key, checksummed and fsync'd.

    \b
    flowscheme ledger show --data shop [ORDER_ID] [--json]
    flowscheme ledger verify --data shop [--json]
    flowscheme ledger repair --data shop [--set-aside-damaged-tail] [--json]

    verify checks the file and cross-checks it against the order flows; repair
    re-appends what the flows' journals can re-derive and names the rest.
    Exit status: 0 success, 1 a ledger error or (verify, repair) a problem left,
    2 a usage error.
    """


@ledger.command("show")
@click.argument("order_id", metavar="[ORDER_ID]", required=False)
@data_option
@json_option
@click.pass_context
def ledger_show(ctx, order_id, data, as_json):
    """The ledger's records in order (only ORDER_ID's when given)."""
    with ledger_session(ctx, data) as lg:
        records = guarded(ctx, lambda: lg.records(order_id))
    if as_json:
        echo_json([record_json(r) for r in records])
    elif not records:
        click.echo(f"no records for {order_id}" if order_id else "the ledger is empty")
    else:
        click.echo(ledger_table(records))


@ledger.command("verify")
@data_option
@json_option
@click.pass_context
def ledger_verify(ctx, data, as_json):
    """Re-read the whole ledger — every frame's checksum, every order's records in
    one lifecycle (created -> reserved -> paid -> fulfilled; created -> reserved
    -> released; created -> out-of-stock; refund-due after paid, released or
    out-of-stock) — and cross-check it against the order flows: every request a
    flow's journal answered has its record under its key, every order's records
    match its flow's state, a finished order holds no reservation and no payment
    that is neither fulfilled nor refund-due. Every gap is named with order, key
    and what is missing. Reads only (a damaged ledger is reported, not opened).
    Exit 1 on any problem."""
    from .ledger import verify_file

    require_data(ctx, data)
    if is_url(data):
        from .pgledger import PgLedger

        def verify_url():
            with PgLedger(data) as lg:
                return lg.verify()

        report = guarded(ctx, verify_url)
    else:
        path = os.path.join(data, LEDGER_FILE)
        report = guarded(ctx, lambda: verify_file(path))
    audit = None
    if not report.damaged:
        from . import audit as audit_module

        with shop_session(ctx, data) as shop:
            audit = guarded(ctx, lambda: audit_module.verify(shop))
        report = audit.ledger
    ok = report.ok and (audit is not None and audit.ok)
    if as_json:
        echo_json({"path": report.path, "records": report.records, "ok": ok,
                   "problems": [{"offset": p.offset, "message": p.message} for p in report.problems],
                   "cross_check": audit.as_json() if audit is not None else None})
    else:
        if audit is not None:
            click.echo(audit.summary())
        else:
            click.echo("cross-check against the flows skipped: the ledger file is damaged (below); "
                       f"`flowscheme ledger repair --data {data}` says what can be done")
        click.echo(str(report))
    if not ok:
        ctx.exit(1)


@ledger.command("repair")
@data_option
@click.option("--set-aside-damaged-tail", "set_aside", is_flag=True,
              help="If the ledger will not open because its last frame(s) are damaged, first move "
                   "those bytes to a new file beside it (DIR/ledger.log.damaged-at-OFFSET) and cut them "
                   "from the ledger; the records lost are then re-derived from the flows like any other.")
@json_option
@click.pass_context
def ledger_repair(ctx, data, set_aside, as_json):
    """Re-derive lost ledger records from the order flows: each record a flow's
    journal shows was served (created, reserved or out-of-stock, paid, fulfilled,
    released) but the ledger lacks is re-appended under its own idempotency key,
    from the journal's answer.
    Names what cannot be re-derived. Runs no flow; safe to run twice. Exit 1 if
    anything is left."""
    from . import audit as audit_module
    from .ledger import Ledger, LedgerCorruptError, set_aside_damaged_tail

    require_data(ctx, data)
    if is_url(data) and set_aside:
        raise click.UsageError("--set-aside-damaged-tail is for a ledger file; a PostgreSQL ledger has no tail "
                               "to set aside", ctx)
    path = data if is_url(data) else os.path.join(data, LEDGER_FILE)
    set_aside_json = None
    if set_aside:
        moved = guarded(ctx, lambda: set_aside_damaged_tail(path))
        if moved is None:
            click.echo(f"{path}: no damaged bytes to set aside", err=True)
        else:
            offset, size, copy = moved
            set_aside_json = {"offset": offset, "bytes": size, "copy": copy}
            click.echo(f"warning: LEDGER CUT: moved {size} damaged bytes at offset {offset} of {path} "
                       f"to {copy}; the records they held are re-derived below where the flows can",
                       err=True)

    def open_ledger():
        if is_url(data):
            from .pgledger import PgLedger

            return PgLedger(data)
        try:
            return Ledger(path)
        except LedgerCorruptError as e:
            hint = ("" if set_aside else
                    f"\nthe ledger does not open; if the damage is at its end, `flowscheme ledger repair "
                    f"--set-aside-damaged-tail --data {data}` moves it aside (keeping a copy) and "
                    f"re-derives from the flows what it held")
            raise LedgerCorruptError(e.path, e.offset, e.reason + hint) from None

    with contextlib.closing(guarded(ctx, open_ledger)) as lg:
        announce_repairs(lg, data)
    with shop_session(ctx, data) as shop:
        result = guarded(ctx, lambda: audit_module.repair(shop))
    if as_json:
        echo_json(dict(result.as_json(), ok=result.ok, set_aside=set_aside_json))
    else:
        click.echo(str(result))
    if not result.ok:
        ctx.exit(1)


# ====================================================================== demo

DEMO_ORDERS = [
    ("o-1001", [("tea", 2), ("mug", 1)]),
    ("o-1002", [("honey", 1), ("filter", 2)]),
    ("o-1003", [("tea", 10)]),
]
DEMO_BACKWARD = (2400, 2)
#: The demo shop's opening stock: little of pot and tray, so that it runs out.
DEMO_STOCK = {"tea": 20, "mug": 5, "filter": 10, "honey": 5, "tray": 1, "pot": 1}
DEMO_SHORT = ("o-1004", [("pot", 2)])   # more than there is: out-of-stock
DEMO_EXPIRES = ("o-1005", [("tray", 1)])  # never paid: its deadline passes on a skipped clock


def _fresh_demo_dir(parent):
    """A fresh place for one demo run: a new subdirectory of `parent`, or for a
    postgresql:// URL a new schema in that database (the URL then names it)."""
    if is_url(parent):
        return _fresh_demo_schema(parent)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = os.path.join(parent, f"demo-{stamp}" + (f"-{n}" if n else ""))
        try:
            os.makedirs(path, mode=0o700)
            os.chmod(path, 0o700)  # whatever the umask: it holds a ledger
            return path
        except FileExistsError:
            continue
    raise click.ClickException(f"cannot make a fresh demo directory under {parent}")


def _shown(where):
    """A data location for a message: a URL without its password, a path as it is."""
    return redacted(where) if is_url(where) else where


def _fresh_demo_schema(url):
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    import psycopg

    name = "demo_" + time.strftime("%Y%m%d_%H%M%S") + f"_{os.getpid()}"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
    except psycopg.Error as e:
        raise click.ClickException(f"cannot make a demo schema in {redacted(url)}: {e}") from None
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={name}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _flowscheme(*args, debug=False):
    """argv running the flowscheme CLI in a fresh Python process."""
    return [sys.executable, "-m", "interp.cli", *(["--debug"] if debug else []), *args]


def _run_child(ctx, args):
    """Run the flowscheme CLI in a fresh process: (its stdout, its pid)."""
    proc = subprocess.Popen(_flowscheme(*args, debug=debug_of(ctx)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    if proc.returncode != 0:
        fail(ctx, f"demo: `flowscheme {' '.join(args)}` failed (exit {proc.returncode}):\n{err.strip()}")
    return out, proc.pid


@click.command(short_help="The order lifecycle, narrated: price, begin, restart, pay, refund, expire, ledger.")
@click.option("--data", metavar="DIR|URL", default="flowscheme-data", show_default=True,
              help="Parent directory: each run works in a fresh DIR/demo-<date>-<time> subdirectory, "
                   "so runs never mix; or a postgresql:// URL: each run works in a fresh schema of that "
                   "database.")
@click.pass_context
def demo(ctx, data):
    """The order lifecycle in one command, each step narrated in one line: price a
    cart with the miniKanren rules, begin three orders (each a durable flow that
    stops to wait for its payment), restart (fresh processes pick the orders up),
    deliver the payment webhooks from concurrent processes, replay one (it is
    answered already-settled and records nothing), pay one twice (the second
    payment becomes refund-due), order more than there is (out-of-stock), let an
    order's payment deadline pass on a skipped clock (expired, its stock back),
    ask the pricing rules a backward question, and print the verified ledger."""
    from flow import ManualClock

    from . import audit
    from .orders import Shop

    t_start = time.perf_counter()
    where = guarded(ctx, lambda: _fresh_demo_dir(data))
    step = _Narrator()
    click.echo(f"flowscheme demo: an order lifecycle on durable Scheme flows (data in {_shown(where)})")

    shop = guarded(ctx, lambda: Shop(where, opening_stock=DEMO_STOCK))
    try:
        cart0 = DEMO_ORDERS[0][1]
        q = guarded(ctx, lambda: shop.quote(cart0))
        step("price", f"{cart_text(cart0)} by the miniKanren rules in schemes/pricing.scm: "
                      + " + ".join(f"{l.sku} {l.qty} x {money(l.unit)}" for l in q.lines)
                      + f" = {money(q.total)}")
        totals = {}
        for order_id, cart in DEMO_ORDERS:
            status = guarded(ctx, lambda: shop.begin(order_id, cart))
            totals[order_id] = _order_total(shop, order_id)
            extra = " (bulk discount)" if any(qty >= 10 for _, qty in cart) else ""
            step("begin", f"{order_id}: {cart_text(cart)} for {money(totals[order_id])}{extra} -> created, "
                          f"reserved, {status} (its flow suspended)")
    finally:
        shop.close()

    out, pid = _run_child(ctx, ["order", "recover", "--json", "--data", where])
    recovered = json.loads(out)
    waiting = _grouped((o["order_id"], o["status"]) for o in recovered["orders"])
    half_done = f"recovered {recovered['recovered']} half-done order(s)" if recovered["recovered"] \
        else "nothing half-done to recover"
    step("restart", f"the shop closes; a fresh process (pid {pid}) opens the same data: {waiting} "
                    f"({half_done}: opening runs nothing, `order recover` is explicit)")

    procs = []
    for order_id, _ in DEMO_ORDERS:
        args = ["order", "settle", order_id, f"pay-{order_id[2:]}", str(totals[order_id]), "--json", "--data", where]
        procs.append((order_id, subprocess.Popen(_flowscheme(*args, debug=debug_of(ctx)), stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, text=True)))
    results = []
    for order_id, proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            fail(ctx, f"demo: the webhook for {order_id} failed (exit {proc.returncode}):\n{err.strip()}")
        r = json.loads(out)
        results.append((order_id, f"{r['result']} ({r['status']})"))
    step("webhooks", f"{len(procs)} processes at once deliver the payment webhooks: {_grouped(results)}")

    replay_id = DEMO_ORDERS[0][0]
    clock = ManualClock(time.time())  # the flows' clock, skipped forward below
    shop = guarded(ctx, lambda: Shop(where, clock=clock, opening_stock=DEMO_STOCK))
    try:
        r = guarded(ctx, lambda: shop.settle(replay_id, f"pay-{replay_id[2:]}", totals[replay_id]))
        step("replay", f"the webhook for {replay_id} delivered again (to this process) -> {r}: "
                       f"nothing recorded twice")
        r = guarded(ctx, lambda: shop.settle(replay_id, f"pay-{replay_id[2:]}-bis", totals[replay_id]))
        step("duplicate", f"{replay_id} paid again under another reference -> {r}: the money is recorded "
                          f"refund-due, to go back")
        order_id, cart = DEMO_SHORT
        status = guarded(ctx, lambda: shop.begin(order_id, cart))
        short = guarded(ctx, lambda: _shortage(shop, order_id))
        step("stockout", f"{order_id}: {cart_text(cart)} -> {status} ("
                         + ", ".join(f"{sku}: {v['wanted']} wanted, {v['on_hand']} on hand" for sku, v in short.items())
                         + "): nothing reserved, the flow is done")
        order_id, cart = DEMO_EXPIRES
        sku = cart[0][0]
        status = guarded(ctx, lambda: shop.begin(order_id, cart))
        held = guarded(ctx, lambda: shop.stock()[sku])
        clock.advance(shop.payment_window + 1)
        fired = guarded(ctx, shop.run_due)
        back = guarded(ctx, lambda: shop.stock()[sku])
        step("expire", f"{order_id}: {cart_text(cart)} -> {status} ({sku} on hand {held}); the clock skips "
                       f"{shop.payment_window // 60:.0f} minutes, no payment: {_grouped(fired)}, "
                       f"{sku} on hand {back} again")
        total, max_items = DEMO_BACKWARD
        carts = guarded(ctx, lambda: shop.carts_costing(total, max_items))
        answers = " | ".join(cart_text(c) for c in carts) or "none"
        step("backward", f"which carts of at most {max_items} items cost exactly {money(total)}? "
                         f"the same rules run backwards: {answers}")
        records = guarded(ctx, lambda: shop.ledger.records())
        report = guarded(ctx, lambda: audit.verify(shop))
    finally:
        shop.close()
    verdict = ("verified (checksums; every order in one lifecycle: created -> reserved -> paid -> fulfilled, "
               "-> released, or -> out-of-stock; every request its flow was answered recorded under its key; "
               "every payment fulfilled or refund-due)") if report.ok \
        else (f"{len(report.ledger.problems) + len(report.gaps)} problem(s): "
              + "; ".join(str(x) for x in (*report.ledger.problems, *report.gaps)))
    step("ledger", f"{len(records)} records, every effect written once; {verdict}")
    click.echo(_indent(ledger_table(records, with_time=False), "    "))
    click.echo(f"done in {time.perf_counter() - t_start:.1f} s. Look around:")
    click.echo(f"    flowscheme order list --data {_shown(where)}")
    click.echo(f"    flowscheme ledger show --data {_shown(where)}")
    store = where if is_url(where) else os.path.join(where, "flows")
    click.echo(f"    flowscheme flows show {replay_id} --store {_shown(store)}")
    if not report.ok:
        ctx.exit(1)


def _grouped(pairs):
    """[(id, outcome)] -> "a, b outcome1; c outcome2" (ids with the same outcome together)."""
    groups = {}
    for key, outcome in pairs:
        groups.setdefault(outcome, []).append(key)
    return "; ".join(f"{', '.join(ids)} {outcome}" for outcome, ids in groups.items())


class _Narrator:
    def __init__(self):
        self.n = 0

    def __call__(self, label, text):
        self.n += 1
        click.echo(f"{self.n:>2}. {label:<9} {text}")


def _indent(text, prefix):
    return "\n".join(prefix + line for line in text.splitlines())
