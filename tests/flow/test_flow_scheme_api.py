"""The flow procedures as Scheme code sees them."""

import pytest

from interp.errors import SchemeError
from interp.printer import write_string

from flowhelp import ORDER, runtime


def ev(rt, text):
    return write_string(rt.eval(text))


def test_seed_order_flow_runs_unchanged_from_scheme(order_rt):
    rt = order_rt
    assert ev(rt, '(flow/start-with-id "o-1" (quote order-lifecycle) "o-1")') == '(flow-suspended "o-1" reserve "o-1")'
    assert ev(rt, "(flow/status \"o-1\")") == "suspended"
    assert ev(rt, '(flow/resume "o-1" (quote reserved))') == '(flow-suspended "o-1" payment "o-1")'
    assert ev(rt, '(flow/resume "o-1" (quote paid))') == '(flow-suspended "o-1" fulfil "o-1")'
    assert ev(rt, '(flow/resume "o-1" (quote shipped))') == '(flow-done "o-1" shipped)'
    assert ev(rt, '(flow/status "o-1")') == "done"
    assert ev(rt, '(flow/result "o-1")') == "shipped"
    # a done flow is not waiting: resuming it changes nothing
    assert ev(rt, '(flow/resume "o-1" 1)') == '(flow-not-waiting "o-1" done)'
    assert ev(rt, '(flow/result "o-1")') == "shipped"


def test_flow_start_generates_an_id_and_reports_it(order_rt):
    shape = order_rt.eval("(flow/start 'order-lifecycle \"o-9\")")
    tag, fid, kind, payload = (shape.car, shape.cdr.car, shape.cdr.cdr.car, shape.cdr.cdr.cdr.car)
    assert write_string(tag) == "flow-suspended" and isinstance(fid, str) and fid
    assert write_string(kind) == "reserve" and payload == "o-9"
    assert order_rt.status(fid) == "suspended"


def test_defflow_binds_the_name_and_start_accepts_symbol_or_string(order_rt):
    assert ev(order_rt, "order-lifecycle") == "order-lifecycle"
    assert ev(order_rt, '(car (flow/start-with-id "a" "order-lifecycle" 1))') == "flow-suspended"
    assert ev(order_rt, "(car (flow/start-with-id 'b order-lifecycle 2))") == "flow-suspended"


def test_start_with_existing_id_returns_existing_state(order_rt):
    rt = order_rt
    ev(rt, '(flow/start-with-id "o" (quote order-lifecycle) "first")')
    ev(rt, '(flow/resume "o" 1)')
    # same id again, even with other arguments: the flow as it is, nothing restarted
    assert ev(rt, '(flow/start-with-id "o" (quote order-lifecycle) "second")') == '(flow-suspended "o" payment "first")'
    assert len(rt.journal("o")) == 1


def test_host_requests_lists_every_waiting_flow(order_rt):
    rt = order_rt
    assert ev(rt, "(flow-host-requests)") == "()"
    ev(rt, '(flow/start-with-id "a" (quote order-lifecycle) "A")')
    ev(rt, '(flow/start-with-id "b" (quote order-lifecycle) "B")')
    ev(rt, '(flow/resume "b" 1)')
    ev(rt, '(flow/start-with-id "c" (quote order-lifecycle) "C")')
    ev(rt, '(flow/cancel "c")')
    got = sorted(ev(rt, "(flow-host-requests)")[1:-1].replace(")(", ")|(").replace(") (", ")|(").split("|"))
    assert got == ['("a" reserve "A")', '("b" payment "B")']


def test_cancel_and_its_status(order_rt):
    rt = order_rt
    ev(rt, '(flow/start-with-id "c" (quote order-lifecycle) "C")')
    assert ev(rt, '(flow/cancel "c")') == "cancelled"
    assert ev(rt, '(flow/status "c")') == "cancelled"
    assert ev(rt, '(flow/resume "c" 1)') == '(flow-not-waiting "c" cancelled)'
    with pytest.raises(SchemeError, match="cancelled, not done"):
        rt.eval('(flow/result "c")')
    assert ev(rt, "(flow-host-requests)") == "()"


def test_flow_result_of_a_suspended_or_failed_flow_is_an_error():
    rt = runtime(ORDER, "(defflow boom (lambda () (error \"kaboom\" 42)))")
    ev(rt, '(flow/start-with-id "o" (quote order-lifecycle) 1)')
    with pytest.raises(SchemeError, match="suspended, not done"):
        rt.eval('(flow/result "o")')
    assert ev(rt, '(flow/start-with-id "b" (quote boom))') == '(flow-failed "b" "kaboom 42")'
    assert ev(rt, '(flow/status "b")') == "failed"
    with pytest.raises(SchemeError, match="failed: kaboom 42"):
        rt.eval('(flow/result "b")')


def test_scheme_side_restart_carries_on(order_rt):
    rt = order_rt
    ev(rt, '(flow/start-with-id "o-1" (quote order-lifecycle) "o-1")')
    ev(rt, '(flow/resume "o-1" (quote reserved))')
    rt.eval("(define saved (flow-store-export))")
    assert ev(rt, "(bytevector? saved)") == "#t"
    rt.eval("(flow-reset!)")
    # after a reset the runtime knows no flows and no definitions
    assert ev(rt, "(flow-host-requests)") == "()"
    with pytest.raises(SchemeError, match="no flow with id"):
        rt.eval('(flow/status "o-1")')
    with pytest.raises(SchemeError, match="no flow named"):
        rt.eval("(flow/start 'order-lifecycle 1)")
    rt.load(ORDER)  # reload the definitions
    rt.eval("(flow-store-import! saved)")
    assert ev(rt, "(flow-host-requests)") == '(("o-1" payment "o-1"))'
    assert ev(rt, '(flow/resume "o-1" (quote paid))') == '(flow-suspended "o-1" fulfil "o-1")'
    assert ev(rt, '(flow/resume "o-1" (quote shipped))') == '(flow-done "o-1" shipped)'
    assert [e.answer for e in rt.journal("o-1")] == [rt.eval("'reserved"), rt.eval("'paid"), rt.eval("'shipped")]


def test_scheme_side_import_before_reloading_names_the_missing_flow(order_rt):
    rt = order_rt
    ev(rt, '(flow/start-with-id "o-1" (quote order-lifecycle) "o-1")')
    rt.eval("(define saved (flow-store-export)) (flow-reset!)")
    with pytest.raises(SchemeError, match="order-lifecycle"):
        rt.eval("(flow-store-import! saved)")
    assert ev(rt, "(flow-host-requests)") == "()"


def test_request_outside_a_flow_is_a_clear_error(order_rt):
    with pytest.raises(SchemeError, match="request: called outside a flow"):
        order_rt.eval("(request 'payment 1)")
    with pytest.raises(SchemeError, match="outside a flow"):
        order_rt.eval("(define (f) (request 'x 1)) (+ 1 (f))")
    # the runtime still works afterwards
    assert ev(order_rt, "(car (flow/start-with-id \"x\" 'order-lifecycle 1))") == "flow-suspended"


@pytest.mark.parametrize(
    "text, message",
    [
        ("(flow/start 'no-such-flow)", "no flow named 'no-such-flow'"),
        ("(flow/start 42)", "flow name"),
        ('(flow/start-with-id 42 (quote order-lifecycle) 1)', "flow id"),
        ('(flow/resume "nope" 1)', "no flow with id 'nope'"),
        ('(flow/status "nope")', "no flow with id"),
        ('(flow/result "nope")', "no flow with id"),
        ('(flow/cancel "nope")', "no flow with id"),
        ("(flow-store-import! \"not bytes\")", "bytevector"),
        ("(flow-store-import! (bytevector 1 2 3))", "not a flowscheme flow store"),
        ("(defflow x 42)", "expected a Scheme procedure"),
    ],
)
def test_bad_calls_from_scheme_are_scheme_errors(order_rt, text, message):
    with pytest.raises(SchemeError, match=message):
        order_rt.eval(text)


def test_request_arguments_are_checked_inside_a_flow():
    rt = runtime(
        "(defflow one-arg (lambda () (request 'x)))",
        "(defflow not-symbol (lambda () (request \"kind\" 1)))",
    )
    r = rt.start("one-arg", flow_id="a")
    assert r.error.message.startswith("request: expected 2 arguments")
    r = rt.start("not-symbol", flow_id="b")
    assert "symbol" in r.error.message
    assert rt.status("a") == rt.status("b") == "failed"


def test_a_flow_cannot_resume_itself():
    rt = runtime(
        "(defflow selfish (lambda () (request 'a 1) (flow/resume \"s\" 2)))",
        allow=["flows"],
    )
    rt.start("selfish", flow_id="s")
    r = rt.resume("s", 0)
    assert r.error.message.endswith("a flow cannot start or resume itself")
    assert len(rt.journal("s")) == 1


def test_flows_started_from_inside_a_flow():
    rt = runtime(
        ORDER,
        "(defflow parent (lambda () (let ((child (flow/start-with-id \"child\" 'order-lifecycle \"c\")))"
        "  (list (car child) (request 'wait (cadr child))))))",
        allow=["flow/start-with-id"],
    )
    r = rt.start("parent", flow_id="p")
    assert (r.kind, r.payload) == ("wait", "child")
    assert rt.status("child") == "suspended"
    assert rt.resume("p", "ok").value == ["flow-suspended", "ok"]
