"""The flow procedures Scheme code sees: defflow, request, flow/start, ...

    (defflow name proc)                     register a flow (binds name to 'name)
    (request kind payload)                  suspend the running flow; the host's answer is the value
    (flow/start name arg ...)               -> (flow-suspended ID KIND PAYLOAD) | (flow-done ID VALUE)
    (flow/start-with-id id name arg ...)       | (flow-failed ID MESSAGE)
    (flow/resume id value)                  -> the same shapes
    (flow/status id)                        -> suspended | done | failed | cancelled
    (flow/result id)  (flow/cancel id)  (flow-host-requests)  -> ((ID KIND PAYLOAD) ...)
    (flow-store-export) -> bytevector       (flow-store-import! bv)       (flow-reset!)
"""

from interp.errors import scheme_error, type_error
from interp.values import Symbol, list_to_pairs, sym

from .errors import FlowError
from .model import Flow

FLOW_PRELUDE = """
(define-syntax defflow
  (syntax-rules ()
    ((_ name proc) (define name (%defflow 'name proc)))))
"""


def _name(x, who):
    if type(x) is Symbol:
        return x.name
    if type(x) is str:
        return x
    raise type_error(who, "a flow name (symbol or string)", x)


def _id(x, who):
    if type(x) is str:
        return x
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

    def check_request(args):
        if len(args) != 2:
            raise scheme_error(f"request: expected 2 arguments (kind payload), got {len(args)}")
        if type(args[0]) is not Symbol:
            raise type_error("request", "a symbol as the request kind", args[0])

    request = it.suspender("request", check_request)
    _outside = request.fn

    def request_fn(*args):
        from interp.machine import D

        if not D.may_suspend:
            raise scheme_error("request: called outside a flow (start one with flow/start)")
        return _outside(*args)

    request.fn = request_fn
    it.genv.define("request", request)

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
    it.genv.primitives["request"] = request
    it.eval(FLOW_PRELUDE, filename="<flow-prelude>")
