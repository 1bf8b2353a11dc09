"""The flow procedures Scheme code sees: defflow, request, flow/start, ...

    (defflow name proc)                     register a flow (binds name to 'name)
    (request kind payload)                  suspend the running flow; the host's answer is the value
    (request/timeout kind payload seconds)  the same, or a timeout record (timeout? x) if the
                                            deadline passes first
    (sleep seconds)  (sleep-until epoch)    suspend until then (a durable timer)
    (flow/start name arg ...)               -> (flow-suspended ID KIND PAYLOAD) | (flow-done ID VALUE)
    (flow/start-with-id id name arg ...)       | (flow-failed ID MESSAGE)
    (flow/resume id value)                  -> the same shapes
    (flow/status id)                        -> suspended | done | failed | cancelled
    (flow/result id)  (flow/cancel id)  (flow-host-requests)  -> ((ID KIND PAYLOAD) ...)
    (flow-store-export) -> bytevector       (flow-store-import! bv)       (flow-reset!)
"""

from interp.capabilities import guard, restrict
from fractions import Fraction

from interp.errors import scheme_error, type_error
from interp.values import Symbol, is_string, list_to_pairs, string_text, sym

from .errors import FlowError
from .model import Flow

FLOW_PRELUDE = """
(define-syntax defflow
  (syntax-rules ()
    ((_ name proc) (define name (%defflow 'name proc)))))
(define-record-type timeout
  (make-timeout kind seconds)
  timeout?
  (kind timeout-kind)
  (seconds timeout-seconds))
(define-record-type flow-cancellation
  (make-flow-cancellation id)
  flow-cancellation?
  (id flow-cancellation-flow-id))
"""

# the runtime's own request kinds (a flow cannot ask for them by name)
SLEEP = sym("%sleep")
SLEEP_UNTIL = sym("%sleep-until")


def _name(x, who):
    if type(x) is Symbol:
        return x.name
    if is_string(x):
        return string_text(x)
    raise type_error(who, "a flow name (symbol or string)", x)


def _id(x, who):
    if is_string(x):
        return string_text(x)
    if type(x) is Symbol:
        return x.name
    raise type_error(who, "a flow id (string)", x)


def _shape(f):
    """The Scheme list describing a flow's state after a transition."""
    if f.status == "suspended":
        return list_to_pairs([sym("flow-suspended"), f.id, f.kind, f.payload])
    if f.status == "done":
        return list_to_pairs([sym("flow-done"), f.id, f.result])
    if f.status == "failed":
        return list_to_pairs([sym("flow-failed"), f.id, (f.error or {}).get("message", "")])
    return list_to_pairs([sym("flow-cancelled"), f.id])


def install(rt):
    """Define the flow procedures in rt's interpreter."""
    it = rt.interp

    def guarded(fn):
        def run(*args):
            try:
                return fn(*args)
            except FlowError as e:
                raise scheme_error(str(e)) from None

        run.__name__ = fn.__name__
        run.__wrapped__ = fn
        return run

    def defflow(name, proc):
        if type(name) is not Symbol:
            raise type_error("defflow", "a symbol", name)
        rt.register(name.name, proc)
        return name

    def check_kind(who, kind):
        if type(kind) is not Symbol:
            raise type_error(who, "a symbol as the request kind", kind)
        if kind.name.startswith("%"):
            raise scheme_error(f"{who}: request kinds starting with % are the runtime's own ({kind.name})")

    def check_seconds(who, x):
        if type(x) not in (int, float, Fraction) or x != x or x < 0 or x == float("inf"):
            raise type_error(who, "a finite number of seconds >= 0", x)

    def check_request(args):
        if len(args) != 2:
            raise scheme_error(f"request: expected 2 arguments (kind payload), got {len(args)}")
        check_kind("request", args[0])

    def check_request_timeout(args):
        if len(args) != 3:
            raise scheme_error(f"request/timeout: expected 3 arguments (kind payload seconds), got {len(args)}")
        check_kind("request/timeout", args[0])
        check_seconds("request/timeout", args[2])

    def check_sleep(args):
        check_seconds(args[0].name, args[1])

    def check_sleep_until(args):
        if type(args[1]) not in (int, float, Fraction) or args[1] != args[1] or abs(args[1]) == float("inf"):
            raise type_error("sleep-until", "a time in epoch seconds", args[1])

    def flow_suspender(name, check, kind=None):
        """A primitive that suspends the running flow: with its arguments as the
        request (kind payload [seconds]), or, given kind, as (kind argument)."""
        prim = it.suspender(name, check)
        suspend = prim.fn

        def fn(*args):
            from interp.machine import D

            if not D.may_suspend:
                raise scheme_error(f"{name}: called outside a flow (start one with flow/start)")
            if kind is not None:
                if len(args) != 1:
                    raise scheme_error(f"{name}: expected 1 argument, got {len(args)}")
                args = (kind, args[0])
            return suspend(*args)

        prim.fn = fn
        it.genv.define(name, prim)
        it.genv.primitives[name] = prim
        return prim

    flow_suspender("request", check_request)
    flow_suspender("request/timeout", check_request_timeout)
    flow_suspender("sleep", check_sleep, SLEEP)
    flow_suspender("sleep-until", check_sleep_until, SLEEP_UNTIL)

    def start(name, *args):
        return _shape(rt._start(_name(name, "flow/start"), list(args), None))

    def start_with_id(flow_id, name, *args):
        return _shape(rt._start(_name(name, "flow/start-with-id"), list(args), _id(flow_id, "flow/start-with-id")))

    def resume(flow_id, value):
        r = rt._resume(_id(flow_id, "flow/resume"), value)
        if isinstance(r, Flow):
            return _shape(r)
        return list_to_pairs([sym("flow-not-waiting"), r.flow_id, sym(r.status)])

    def status(flow_id):
        return sym(rt._flow(_id(flow_id, "flow/status"), decode_data=False).status)

    def result(flow_id):
        f = rt._flow(_id(flow_id, "flow/result"))
        if f.status == "done":
            return f.result
        if f.status == "failed":
            raise scheme_error(f"flow/result: flow {f.id} failed: {(f.error or {}).get('message')}")
        raise scheme_error(f"flow/result: flow {f.id} is {f.status}, not done")

    def cancel(flow_id):
        return sym(rt.cancel(_id(flow_id, "flow/cancel")))

    def host_requests():
        out = []
        for flow_id in rt.ids():
            f = rt._flow(flow_id)
            if f.status == "suspended":
                out.append(list_to_pairs([f.id, f.kind, f.payload]))
        return list_to_pairs(out)

    def store_export():
        return bytearray(rt.export_store())

    def store_import(bv):
        if type(bv) is not bytearray:
            raise type_error("flow-store-import!", "a bytevector", bv)
        return rt.import_store(bytes(bv))

    def reset():
        rt.reset()
        from interp.values import UNSPECIFIED

        return UNSPECIFIED

    for name, fn in (
        ("%defflow", defflow),
        ("flow/start", start),
        ("flow/start-with-id", start_with_id),
        ("flow/resume", resume),
        ("flow/status", status),
        ("flow/result", result),
        ("flow/cancel", cancel),
        ("flow-host-requests", host_requests),
        ("flow-store-export", store_export),
        ("flow-store-import!", store_import),
        ("flow-reset!", reset),
    ):
        it.define(name, guarded(fn))
        it.genv.primitives[name] = it.lookup(name)
        restrict("flows", [name])  # flow code acts on other flows only when granted
        guard(it.lookup(name))
    it.eval(FLOW_PRELUDE, filename="<flow-prelude>")
