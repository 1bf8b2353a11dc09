"""Service: the one object behind the HTTP API and the dashboard — the Shop, its flow runtime, the worker thread, the change feed.

    service = Service("data", loads=["loan.scm"])   # opens the Shop; loads flow code
    service.start()                                  # recovery, then the worker thread
    ...
    service.stop()                                   # the worker stops after its current step; closes

Every method takes and returns plain data (dicts, lists, str, int, float,
None: JSON-ready) and blocks (it reads files, runs flows): call it from a
thread, never on the event loop (starlette's run_in_threadpool /
anyio.to_thread.run_sync). Errors are ServiceError subclasses carrying the HTTP
status they stand for: NotFound (404), Conflict (409), BadRequest (400);
anything else is a bug.

Views (read only; nothing runs):

    listing_view() -> serve.listing.ListingView: one pass over every flow and order,
        shared while the change counter stays the same (for up to a second); the
        three below take it as view= so one page is one pass
    counts() -> {"flows": {status: n}, "orders": {status: n}, "flows_total": n,
                 "orders_total": n, "changes": n}
    flows_page(status=None, name=None, kind=None, q=None, offset=0, limit=50) -> (rows, total)
        row: {id, name, status, step, kind, key, wake, timer, attempts, error}
        (metadata only; kind: the request kind a suspended flow waits on; q: a
        substring of the id; sorted by id)
    flow_detail(id) -> {id, name, status, step, args, result, error, note, order,
        waiting: {kind, key, payload, payload_text} | None,
        position: {file, line, column} | None, in,
        source: {file, first_line (= first), lines: [text], line (= wait)} | None,
        locals: [{name, value}], called_from: [{in, at, times}],
        journal: [{step, key, request, answer, raised?, asked, answered, waited}]
            (asked: when the flow made the request, answered: when it was answered,
            ISO 8601 UTC text or None (entries written before the journal kept
            times; an old entry's answer time is the ledger record's under its key,
            when there is one); waited: seconds between them, or None),
        waiting_since: when it suspended at the request it waits on (ISO 8601 UTC) | None,
        timer: {kind (= timer): "deadline"|"retry"|"sleep", wake, due_in, attempts} | None,
        retries: {attempts, last_error, next_at} | None, code: {...}}
    flow_source(id) -> {file, text} | None: the whole text of the code it stopped in
    orders_page(status=None, offset=0, limit=50) -> (rows, total)
        row: {id, status, total, created}   (ledger order)
    order_detail(id) -> {id, status, total, cart, records: [{seq, kind, key, amount,
        time, details}], stock: [{key, kind, time, changes: {sku: n}}],
        flow: {...its Shop.show state..., waiting_since: ISO 8601 UTC | None} | None}
    stock() -> {sku: units on hand}
    flow_names() -> [names of the defflows loaded]

Actions (each publishes to the change feed):

    begin_order(order_id, cart)             -> {"order", "status"}   cart: [[sku, qty]] or [{"sku", "qty"}]
    cancel_order(order_id)                  -> {"order", "status"}
    settle_payment(order_id, payment_ref, amount) -> {"order", "outcome"}
    start_flow(name, flow_id, args)         -> {"flow", "state", ...result}
    resume_flow(flow_id, key, value)        -> {"flow", "state", ...result}   (Conflict: not waiting on key)
    cancel_flow(flow_id)                    -> {"flow", "status"}

    result: {"state": "suspended", kind, key, payload} | {"state": "sleeping", until}
          | {"state": "done", value} | {"state": "failed", error: {message, position}}

The change feed: `service.feed` (serve.events.ChangeFeed): `feed.publish`,
`async for e in feed.subscribe()`, `feed.seq` the change counter. Events:
{"type": "order", "id", "status", "action"}, {"type": "flow", "id", "state"|"status",
"action"}, {"type": "worker", "id", "what", "state"}. `service.metrics`:
serve.metrics.Metrics (Prometheus registry). Order flows (shop-order,
order-lifecycle) are driven through the order actions only: the flow actions
refuse them (Conflict), as the ledger must see every move.
"""

import math
import time
from datetime import datetime, timezone
from fractions import Fraction

from commerce.orders import MAX_AMOUNT, ORDER_FLOWS, OrderError, Shop
from commerce.pricing import PricingError
from flow.convert import SchemeObject, to_python
from flow.errors import CodeNotLoaded, FlowError, FlowNotFound, NondeterminismError, UnknownFlow
from flow.inspect import describe
from flow.results import Done, Failed, NotWaiting, Sleeping, Suspended
from interp import SchemeError, write_string

from .background import BackgroundWorker
from .events import ChangeFeed
from .listing import Listing
from .metrics import Metrics


MAX_ID = 200  # characters of an order or flow id
MAX_PAGE = 500  # rows of one page
MAX_DEPTH = 64  # nesting of a JSON value passed to a flow
MAX_ITEMS = 10_000  # elements of a JSON value passed to a flow
SOURCE_CONTEXT = 6  # lines shown either side of where a flow stopped


class ServiceError(Exception):
    status = 400

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    status = 400


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


def check_id(value, what):
    if type(value) is not str or not value or len(value) > MAX_ID:
        raise BadRequest(f"{what} must be a non-empty string of at most {MAX_ID} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or "/" in value:
        raise BadRequest(f"{what} must not contain control characters or '/': {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{what} must be valid Unicode text") from None
    return value


def check_json_value(value, what="value"):
    """A JSON value a flow may take (bounded in depth and size); BadRequest otherwise."""
    count = 0
    stack = [(value, 0)]
    while stack:
        x, depth = stack.pop()
        count += 1
        if count > MAX_ITEMS:
            raise BadRequest(f"{what} is too large (more than {MAX_ITEMS} elements)")
        if depth > MAX_DEPTH:
            raise BadRequest(f"{what} is nested too deeply (more than {MAX_DEPTH} levels)")
        t = type(x)
        if t is float and not math.isfinite(x):
            raise BadRequest(f"{what} holds a non-finite number")
        if t is list:
            stack.extend((v, depth + 1) for v in x)
        elif t is dict:
            for k, v in x.items():
                if type(k) is not str:
                    raise BadRequest(f"{what}: object keys must be strings")
                stack.append((v, depth + 1))
        elif not (x is None or t in (bool, int, float, str)):
            raise BadRequest(f"{what} holds a {t.__name__}, not a JSON value")
    return value


def jsonable(x, depth=0):
    """A Python value from flow.convert.to_python as JSON data: Scheme values with
    no JSON form become {"scheme": their write text}."""
    if depth > 50:
        return {"scheme": "..."}
    t = type(x)
    if x is None or t in (bool, int, str):
        return x
    if t is float:
        return x if math.isfinite(x) else {"scheme": write_string(x)}
    if t is Fraction:
        return {"scheme": f"{x.numerator}/{x.denominator}"}
    if t is bytes:
        return {"bytes": x.hex()}
    if t is list:
        return [jsonable(v, depth + 1) for v in x]
    if t is dict:
        if all(type(k) is str for k in x):
            return {k: jsonable(v, depth + 1) for k, v in x.items()}
        return {"scheme-table": [[jsonable(k, depth + 1), jsonable(v, depth + 1)] for k, v in x.items()]}
    if t is SchemeObject:
        return {"scheme": write_string(x.value)}
    return {"scheme": repr(x)}


def result_data(r):
    """A FlowRuntime result as plain data."""
    if isinstance(r, Suspended):
        return {"flow": r.flow_id, "state": "suspended", "kind": r.kind, "key": r.key,
                "payload": jsonable(r.payload)}
    if isinstance(r, Sleeping):
        return {"flow": r.flow_id, "state": "sleeping", "until": r.until}
    if isinstance(r, Done):
        return {"flow": r.flow_id, "state": "done", "value": jsonable(r.value)}
    if isinstance(r, Failed):
        return {"flow": r.flow_id, "state": "failed",
                "error": {"message": r.error.message, "position": r.error.position}}
    if isinstance(r, NotWaiting):
        return {"flow": r.flow_id, "state": str(r.status), "waiting_on": r.waiting_on}
    return {"state": type(r).__name__}


def _page(rows, offset, limit):
    if type(offset) is not int or offset < 0:
        raise BadRequest("offset must be a non-negative integer")
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be an integer from 1 to {MAX_PAGE}")
    return rows[offset:offset + limit], len(rows)


def _cart(cart):
    """[[sku, qty]] or [{"sku", "qty"}] -> [(sku, qty)]."""
    if not isinstance(cart, list) or not cart:
        raise BadRequest("cart must be a non-empty list of {\"sku\": ..., \"qty\": ...} items")
    if len(cart) > 100:
        raise BadRequest("cart has more than 100 lines")
    out = []
    for line in cart:
        if isinstance(line, dict) and set(line) <= {"sku", "qty"} and "sku" in line:
            sku, qty = line["sku"], line.get("qty", 1)
        elif isinstance(line, (list, tuple)) and len(line) == 2:
            sku, qty = line
        else:
            raise BadRequest(f"malformed cart line {line!r}: expected {{\"sku\": \"tea\", \"qty\": 2}}")
        if type(sku) is not str or not sku or len(sku) > 100:
            raise BadRequest(f"malformed cart line {line!r}: sku must be a non-empty string")
        if type(qty) is not int or qty < 1 or qty > 1_000_000:
            raise BadRequest(f"malformed cart line {line!r}: qty must be an integer from 1 to 1000000")
        out.append((sku, qty))
    return out


class Service:
    """See the module docstring. data: what Shop takes (a data directory, or a
    store URL where the Shop takes one); loads: .scm files loaded into the
    shop's flow runtime; clock, payment_window: passed to the Shop; idle: the
    worker's longest sleep between looks; listing_max_age: how long (seconds)
    views at an unchanged change counter share one listing pass (it bounds how
    late another process's commits show; see serve.listing)."""

    def __init__(self, data, loads=(), clock=None, payment_window=None, idle=1.0, listing_max_age=1.0):
        kw = {} if payment_window is None else {"payment_window": payment_window}
        self.shop = Shop(data, clock=clock, **kw)
        self.rt = self.shop.flows
        self.data = data
        try:
            for path in loads:
                self.rt.load_file(path)
        except BaseException:
            self.shop.close()
            raise
        self.loads = list(loads)
        self.feed = ChangeFeed()
        self.metrics = Metrics(self._flow_status_counts)
        self.metrics.watch_commits(self.rt.store)
        self.listing = Listing(self.shop, max_age=listing_max_age)
        self.worker = BackgroundWorker(self, idle=idle)
        self.started = time.time()

    # ---------------------------------------------------------------- life

    def start(self):
        """Start the worker thread (it first finishes what a crash left half-done: Shop.recover)."""
        self.worker.start()

    def stop(self, timeout=30.0):
        """Stop the worker (after its current step), end the feed's subscriptions, close the shop."""
        self.worker.stop(timeout)
        self.feed.close()
        self.shop.close()

    def health(self):
        return {"ok": True, "worker": self.worker.alive(), "changes": self.feed.seq,
                "uptime": round(time.time() - self.started, 3)}

    def publish(self, **event):
        return self.feed.publish(event)

    # ---------------------------------------------------------------- views

    def listing_view(self):
        """The listing (serve.listing.ListingView) as of the feed's change counter
        now: one pass over every flow and order, shared by the views asking for
        the same counter (pass it to counts / flows_page / orders_page so a page
        reads one pass)."""
        return self.listing.view(self.feed.seq)

    def _flow_status_counts(self):
        return dict(self.listing_view().flow_counts)

    def counts(self, view=None):
        view = view or self.listing_view()
        flows, orders = dict(view.flow_counts), dict(view.order_counts)
        return {"flows": flows, "orders": orders, "flows_total": len(view.flows),
                "orders_total": len(view.orders), "changes": view.seq}

    def flows_page(self, status=None, name=None, kind=None, q=None, offset=0, limit=50, view=None):
        rows = (view or self.listing_view()).flows
        if status:
            rows = [r for r in rows if r["status"] == status]
        if name:
            rows = [r for r in rows if r["name"] == name]
        if kind:
            rows = [r for r in rows if r["kind"] == kind]
        if q:
            rows = [r for r in rows if q in r["id"]]
        return _page(rows, offset, limit)

    def flow_names(self):
        return sorted(self.rt.defs)

    def _meta(self, flow_id):
        try:
            return self.rt.flow(flow_id, data=False)
        except FlowNotFound:
            raise NotFound(f"no flow {flow_id!r}") from None

    def flow_detail(self, flow_id):
        flow_id = check_id(flow_id, "flow id")
        meta = self._meta(flow_id)
        try:
            info = describe(self.rt, flow_id)
        except FlowNotFound:
            raise NotFound(f"no flow {flow_id!r}") from None
        except FlowError as e:  # its data needs code that is not loaded: what the metadata says
            info = {"id": meta.id, "name": meta.name, "status": str(meta.status), "step": meta.step,
                    "args": [], "waiting_on": None, "request_key": meta.key, "code": None, "where": None,
                    "in": None, "locals": [], "locals_in": None, "called_from": [], "journal": [],
                    "result": None, "error": meta.error, "note": str(e)}
        old_times = self._ledger_times(flow_id, [j["key"] for j in info["journal"]
                                                 if j.get("answered") is None])
        out = {
            "id": info["id"], "name": info["name"], "status": str(info["status"]), "step": info["step"],
            "args": info["args"], "result": info["result"], "error": info["error"], "note": info["note"],
            "order": meta.name in ORDER_FLOWS, "code": info["code"], "in": info["in"],
            "locals": info["locals"], "locals_in": info["locals_in"], "called_from": info["called_from"],
            "journal": [_journal_item(j, old_times.get(j["key"])) for j in info["journal"]],
            "waiting": None, "waiting_since": iso_time(info.get("waiting_since")),
            "position": None, "source": None, "timer": None, "retries": None,
        }
        if meta.status == "suspended":
            out["waiting"] = {"kind": meta.kind.name if meta.kind is not None else None, "key": meta.key,
                              "payload": None, "payload_text": info["waiting_on"]}
            try:
                f = self.rt.flow(flow_id)
                out["waiting"]["payload"] = jsonable(to_python(f.payload))
            except Exception as e:  # (data needing code that is not loaded, say)
                out["waiting"]["payload"] = {"scheme": f"unreadable: {e}"}
        if info["where"]:
            file, line, column = _split_position(info["where"])
            out["position"] = {"file": file, "line": line, "column": column}
            out["source"] = self._source_lines(file, line, meta)
        if meta.wake is not None:
            now = self.rt.clock.now()
            out["timer"] = {"kind": str(meta.timer), "timer": str(meta.timer), "wake": meta.wake,
                            "due_in": round(meta.wake - now, 3), "attempts": meta.attempts}
        if meta.attempts or str(meta.timer) == "retry":
            out["retries"] = {"attempts": meta.attempts, "last_error": (meta.error or {}).get("message"),
                              "next_at": meta.wake if str(meta.timer) == "retry" else None}
        return out

    def _ledger_times(self, flow_id, keys):
        """{key: time} of the ledger records under those keys that belong to this flow:
        when a journal entry written before entries kept their times was answered
        (the shop records an order's answer under its request key)."""
        out = {}
        for key in keys:
            record = self.shop.ledger.get(key)
            if record is not None and record.order == flow_id:
                out[key] = record.time
        return out

    def _unit_text(self, file, meta):
        """The text of the loaded code unit from `file` (the flow's own unit first)."""
        units = self.rt.interp.units
        if meta.def_unit is not None:
            u = units.get(meta.def_unit[0])
            if u is not None and (u.filename or "<string>") == file:
                return u.text
        for u in list(units.values()):
            if u is not None and (u.filename or "<string>") == file:
                return u.text
        return None

    def _source_lines(self, file, line, meta):
        text = self._unit_text(file, meta)
        if text is None or line is None:
            return None
        lines = text.splitlines()
        first = max(1, line - SOURCE_CONTEXT)
        last = min(len(lines), line + SOURCE_CONTEXT)
        return {"file": file, "first_line": first, "line": line, "lines": lines[first - 1:last],
                "first": first, "wait": line}  # (first, wait: the names the flow page reads)

    def flow_source(self, flow_id):
        flow_id = check_id(flow_id, "flow id")
        meta = self._meta(flow_id)
        if meta.def_unit is None:
            return None
        text = self._unit_text(meta.def_unit[1], meta)
        return None if text is None else {"file": meta.def_unit[1], "text": text}

    def orders_page(self, status=None, offset=0, limit=50, view=None):
        rows = (view or self.listing_view()).orders
        if status:
            rows = [r for r in rows if r["status"] == status]
        return _page(rows, offset, limit)

    def order_detail(self, order_id):
        order_id = check_id(order_id, "order id")
        try:
            d = self.shop.show(order_id)
        except OrderError as e:
            raise NotFound(str(e)) from None
        records = [{"seq": r.seq, "kind": r.kind, "key": r.key, "amount": r.amount, "time": r.time,
                    "details": jsonable(r.details)} for r in d.records]
        stock = [{"key": r.key, "kind": r.kind, "time": r.time, "changes": dict(r.details["stock"])}
                 for r in d.records if isinstance(r.details, dict) and isinstance(r.details.get("stock"), dict)]
        flow = jsonable(d.flow)
        if isinstance(flow, dict):
            try:
                since = self.rt.flow(order_id, data=False).since
            except FlowError:
                since = None
            flow["waiting_since"] = iso_time(since) if flow.get("waiting_on") else None
        return {"id": d.order_id, "status": d.status, "total": d.total, "cart": jsonable(d.cart),
                "records": records, "stock": stock, "flow": flow}

    def stock(self):
        return self.shop.stock()

    # ---------------------------------------------------------------- order actions

    def _order_exists(self, order_id):
        return (self.shop.ledger.get(f"{order_id}:created") is not None
                or self.rt.store.get(order_id) is not None)

    def _order_call(self, order_id, fn, missing=NotFound):
        """Run a Shop call; OrderError becomes `missing` (no such order yet) or Conflict."""
        try:
            return fn()
        except (OrderError, PricingError) as e:
            if not self._order_exists(order_id):
                raise missing(str(e)) from None
            raise Conflict(str(e)) from None
        except FlowError as e:
            raise Conflict(f"order {order_id}: {e}") from None

    def begin_order(self, order_id, cart):
        order_id = check_id(order_id, "order id")
        cart = _cart(cart)
        try:
            self.shop.quote(cart)  # unknown skus etc.: bad input, nothing recorded
        except OrderError as e:
            raise BadRequest(str(e)) from None
        status = self._order_call(order_id, lambda: self.shop.begin(order_id, cart), BadRequest)
        self.publish(type="order", id=order_id, status=status, action="begin")
        return {"order": order_id, "status": status}

    def cancel_order(self, order_id):
        order_id = check_id(order_id, "order id")
        if not self._order_exists(order_id):
            raise NotFound(f"unknown order: {order_id}")
        status = self._order_call(order_id, lambda: self.shop.cancel(order_id))
        self.publish(type="order", id=order_id, status=status, action="cancel")
        return {"order": order_id, "status": status}

    def settle_payment(self, order_id, payment_ref, amount):
        order_id = check_id(order_id, "order id")
        if type(payment_ref) is not str or not payment_ref or len(payment_ref) > MAX_ID:
            raise BadRequest(f"payment_ref must be a non-empty string of at most {MAX_ID} characters")
        if type(amount) is not int or not 0 <= amount <= MAX_AMOUNT:
            raise BadRequest(f"amount must be an integer number of minor units from 0 to {MAX_AMOUNT}")
        if not self._order_exists(order_id):
            raise NotFound(f"unknown order: {order_id}")
        outcome = self._order_call(order_id, lambda: self.shop.settle(order_id, payment_ref, amount))
        self.publish(type="order", id=order_id, status=self.listing.order_status(order_id), action="settle",
                     outcome=outcome)
        return {"order": order_id, "outcome": outcome}

    # ---------------------------------------------------------------- flow actions

    def _not_an_order(self, flow_id, name, what):
        if name in ORDER_FLOWS:
            raise Conflict(f"flow {flow_id!r} is an order ({name}): {what} it through /orders "
                           f"so the ledger records it")

    def _flow_call(self, flow_id, fn):
        try:
            return fn()
        except FlowNotFound:
            raise NotFound(f"no flow {flow_id!r}") from None
        except UnknownFlow as e:
            raise NotFound(str(e)) from None
        except (CodeNotLoaded, NondeterminismError) as e:
            raise Conflict(str(e)) from None
        except FlowError as e:
            raise Conflict(str(e)) from None
        except SchemeError as e:
            raise Conflict(f"flow {flow_id!r}: {e}") from None

    def start_flow(self, name, flow_id, args=()):
        if type(name) is not str or not name or len(name) > MAX_ID:
            raise BadRequest("a flow name must be a non-empty string")
        if name not in self.rt.defs:
            raise NotFound(f"no flow named {name!r} is loaded (defflow it in a file given to --load)")
        flow_id = check_id(flow_id, "flow id")
        self._not_an_order(flow_id, name, "begin")
        if not isinstance(args, list):
            raise BadRequest("args must be a list of JSON values")
        check_json_value(args, "args")
        existing = self.rt.store.get(flow_id)
        if existing is not None:
            meta = self._meta(flow_id)
            if meta.name != name:
                raise Conflict(f"flow {flow_id!r} exists and runs {meta.name!r}, not {name!r}")
        r = self._flow_call(flow_id, lambda: self.rt.start(name, *args, flow_id=flow_id))
        out = result_data(r)
        out["created"] = existing is None
        self.publish(type="flow", id=flow_id, state=out["state"], action="start")
        return out

    def resume_flow(self, flow_id, key, value):
        flow_id = check_id(flow_id, "flow id")
        if type(key) is not str or not key or len(key) > 2 * MAX_ID:
            raise BadRequest("key must be the request key the flow waits on (a non-empty string)")
        check_json_value(value, "value")
        meta = self._meta(flow_id)
        self._not_an_order(flow_id, meta.name, "pay or cancel")
        r = self._flow_call(flow_id, lambda: self.rt.resume(flow_id, value, key=key))
        if isinstance(r, NotWaiting):
            waits = f"waits on {r.waiting_on} under another key" if r.waiting_on else f"is {r.status}"
            raise Conflict(f"flow {flow_id!r} does not wait on key {key!r} (it {waits}): nothing changed")
        out = result_data(r)
        self.publish(type="flow", id=flow_id, state=out["state"], action="resume")
        return out

    def cancel_flow(self, flow_id):
        flow_id = check_id(flow_id, "flow id")
        meta = self._meta(flow_id)
        self._not_an_order(flow_id, meta.name, "cancel")
        status = self._flow_call(flow_id, lambda: self.rt.cancel(flow_id))
        self.publish(type="flow", id=flow_id, status=str(status), action="cancel")
        return {"flow": flow_id, "status": str(status)}


def iso_time(epoch):
    """Epoch seconds as ISO 8601 UTC text (`2027-01-15T08:00:00.000Z`), None as None."""
    if epoch is None:
        return None
    try:
        moment = datetime.fromtimestamp(float(epoch), timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _journal_item(entry, ledger_time=None):
    """A describe() journal item as the API shows it: asked and answered as ISO 8601
    UTC text or None, waited: the seconds between them (None unless both are known).
    An entry written before the journal kept times has none of its own; its answer
    time is then the ledger record's under its key, if there is one (order flows)."""
    asked, answered = entry.get("asked"), entry.get("answered")
    if answered is None:
        answered = ledger_time
    out = {k: v for k, v in entry.items() if k not in ("asked", "answered")}
    out["asked"] = iso_time(asked)
    out["answered"] = iso_time(answered)
    out["waited"] = round(answered - asked, 3) if asked is not None and answered is not None else None
    return out


def _split_position(where):
    """"file:line:col" -> (file, line, col) (line, col None when it is not that shape)."""
    parts = str(where).rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1]), int(parts[2])
    return str(where), None, None


__all__ = ["Service", "ServiceError", "BadRequest", "NotFound", "Conflict", "check_id", "jsonable",
           "result_data", "iso_time"]
