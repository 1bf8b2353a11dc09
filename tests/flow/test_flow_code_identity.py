"""Which code a resumed flow runs: the saved continuation when its code unit is
loaded unchanged (no replay), a replay of the journal when the code changed,
and named errors when the new code diverges or the code is not loaded."""

import pytest

from flow import CodeNotLoaded, FlowRuntime, NondeterminismError, StoreFormatError
from flowhelp import Effects

V1 = """
(defflow order (lambda (oid)
  (effect 'begin)
  (let* ((r (request 'reserve oid))
         (p (request 'payment (list oid r))))
    (effect 'paid)
    (list 'v1 r p (request 'fulfil oid)))))
"""
# the same requests, a different text (so a different code unit): replayable
V2_COMPATIBLE = """
;; version 2: same requests, a different result shape
(defflow order (lambda (oid)
  (effect 'begin)
  (let* ((r (request 'reserve oid))
         (p (request 'payment (list oid r))))
    (effect 'paid)
    (list 'v2 r p (request 'fulfil oid)))))
"""
V2_OTHER_KIND = V1.replace("(request 'payment", "(request 'charge")
V2_OTHER_PAYLOAD = V1.replace("(request 'payment (list oid r))", "(request 'payment (list oid r 'extra))")
V2_FINISHES_EARLY = "(defflow order (lambda (oid) (effect 'begin) (request 'reserve oid) 'early))"
V2_FAILS = "(defflow order (lambda (oid) (effect 'begin) (request 'reserve oid) (car '())))"


def make(*sources, filename="order.scm", store=None, allow=None):
    rt = FlowRuntime(store=store, allow=allow)
    effects = Effects()
    rt.interp.define("effect", effects)
    for s in sources:
        rt.load(s, filename)
    return rt, effects


def suspended_at_payment():
    rt, fx = make(V1)
    rt.start("order", "o", flow_id="o")
    rt.resume("o", "R", kind="reserve")
    assert fx.seen == ["begin"]
    return rt, rt.export_store()


def test_unchanged_code_resumes_from_the_continuation_without_replay():
    _, data = suspended_at_payment()
    rt, fx = make(V1)
    rt.import_store(data)
    assert rt.resume("o", "P", kind="payment").kind == "fulfil"
    assert fx.seen == ["paid"]  # 'begin ran before the export and is not run again
    assert rt.resume("o", "F").value == ["v1", "R", "P", "F"]
    assert fx.seen == ["paid"]


def test_same_text_under_another_file_name_is_the_same_code():
    _, data = suspended_at_payment()
    rt, fx = make(V1, filename="elsewhere/order.scm")
    rt.import_store(data)
    rt.resume("o", "P")
    assert fx.seen == ["paid"]


def test_changed_code_replays_the_journal():
    _, data = suspended_at_payment()
    rt, fx = make(V2_COMPATIBLE)
    rt.import_store(data)
    assert rt.resume("o", "P", kind="payment").kind == "fulfil"
    assert fx.seen == ["begin", "paid"]  # replayed from the start, answers from the journal
    # the flow now runs the new code's continuation: no second replay
    assert rt.resume("o", "F").value == ["v2", "R", "P", "F"]
    assert fx.seen == ["begin", "paid"]
    assert [e.kind.name for e in rt.journal("o")] == ["reserve", "payment", "fulfil"]


def test_a_changed_helper_in_another_unit_replays_too():
    helper_v1 = "(define (charge oid) (let ((p (request 'payment oid))) p))"
    flow = "(defflow f (lambda (oid) (let ((r (request 'reserve oid))) (list r (charge oid) (request 'done 0)))))"
    rt = FlowRuntime()
    rt.load(helper_v1, "helper.scm")
    rt.load(flow, "flow.scm")
    rt.start("f", "o", flow_id="o")
    rt.resume("o", "R")  # suspended inside charge, in helper.scm's code
    data = rt.export_store()
    new = FlowRuntime()
    new.load("(define (charge oid) (list 'charged (request 'payment oid)))", "helper.scm")
    new.load(flow, "flow.scm")
    new.import_store(data)
    assert new.resume("o", "P").kind == "done"
    assert new.resume("o", 0).value == ["R", ["charged", "P"], 0]


@pytest.mark.parametrize("code, step, expected, actual", [
    (V2_OTHER_KIND, 2, "(request 'payment (\"o\" \"R\"))", "(request 'charge (\"o\" \"R\"))"),
    (V2_OTHER_PAYLOAD, 2, "(request 'payment (\"o\" \"R\"))", "(request 'payment (\"o\" \"R\" extra))"),
    (V2_FINISHES_EARLY, 2, "(request 'payment (\"o\" \"R\"))", "the flow finishing with early"),
    (V2_FAILS, 2, "(request 'payment (\"o\" \"R\"))", "an error: car: expected a pair, got ()"),
])
def test_divergent_new_code_is_a_nondeterminism_error(code, step, expected, actual):
    _, data = suspended_at_payment()
    rt, fx = make(code)
    rt.import_store(data)
    before = rt.export_store()
    with pytest.raises(NondeterminismError) as e:
        rt.resume("o", "P", kind="payment")
    err = e.value
    assert (err.flow_id, err.step, err.expected, err.actual) == ("o", step, expected, actual)
    msg = str(err)
    assert "'o'" in msg and f"step {step}" in msg and expected in msg and actual in msg
    # nothing changed: the flow still waits where it was
    assert rt.export_store() == before
    assert rt.status("o") == "suspended" and rt.result("o").kind == "payment"


def test_divergence_at_the_first_journaled_step():
    rt, _ = make(V1)
    rt.start("order", "o", flow_id="o")
    rt.resume("o", "R")
    new, _ = make(V1.replace("(request 'reserve oid)", "(request 'reserve (list oid))"))
    new.import_store(rt.export_store())
    with pytest.raises(NondeterminismError, match=r"at step 1: expected \(request 'reserve \"o\"\), got "
                                                 r"\(request 'reserve \(\"o\"\)\)"):
        new.resume("o", "P")


def test_resume_without_the_code_names_flow_unit_and_file(store_location):
    rt, _ = make(V1, filename="schemes/order.scm", store=store_location)
    rt.start("order", "o", flow_id="o")
    unit = rt.defs["order"].unit_hash
    rt.close()
    bare = FlowRuntime(store=store_location)  # the durable store, but no code loaded
    assert bare.status("o") == "suspended"  # reading state needs no code
    with pytest.raises(CodeNotLoaded) as e:
        bare.resume("o", "R")
    msg = str(e.value)
    assert "'o'" in msg and "(order)" in msg and unit[:12] in msg and "schemes/order.scm" in msg
    assert (e.value.flow_id, e.value.flow_name, e.value.unit_hash, e.value.filename) == (
        "o", "order", unit, "schemes/order.scm")
    assert bare.status("o") == "suspended"
    bare.close()


def test_import_without_the_code_names_flow_unit_and_file():
    _, data = suspended_at_payment()
    rt = FlowRuntime()
    rt.load("(defflow something-else (lambda () 1))")
    with pytest.raises(CodeNotLoaded, match=r"flow 'o' \(order\) needs code unit [0-9a-f]{12} from order.scm"):
        rt.import_store(data)
    assert rt.ids() == []


def test_a_corrupted_continuation_is_refused_at_import(monkeypatch):
    rt, _ = suspended_at_payment()
    # a snapshot whose continuation names a node that does not exist in its unit
    import msgpack

    from flow import codec

    stored = rt.store.get("o")
    meta = msgpack.unpackb(stored.snapshot, raw=False)
    units, objects, root = msgpack.unpackb(meta["k"], raw=False)
    for o in objects:
        if o[0] == codec.T_FRAME and isinstance(o[1], list):
            o[1][1] = 10**6
    meta["k"] = msgpack.packb([units, objects, root], use_bin_type=True)
    stored.snapshot = msgpack.packb(meta, use_bin_type=True)
    data = rt.export_store()
    other, _ = make(V1)
    with pytest.raises(StoreFormatError, match="node 1000000 does not exist"):
        other.import_store(data)
    assert other.ids() == []


def test_a_continuation_inside_eval_is_replayed_in_a_fresh_runtime():
    # (eval ...) analyses its expression into a code unit of its own, which a
    # fresh runtime does not have: the runtime replays the journal instead
    code = "(defflow ev (lambda () (effect 'start) (list (eval '(+ 1 (request 'inside 1))) (request 'after 2))))"
    rt, _ = make(code, allow=["eval"])
    rt.start("ev", flow_id="e")
    fresh, fx = make(code, allow=["eval"])
    fresh.import_store(rt.export_store())
    assert fresh.resume("e", 10).kind == "after"
    assert fx.seen == ["start"]  # replayed
    assert fresh.resume("e", 5).value == [11, 5]
    assert [e.answer for e in fresh.journal("e")] == [10, 5]


def test_data_holding_a_procedure_from_code_not_loaded(store_location):
    from flow import SchemeObject, codec

    code = "(defflow apply-it (lambda (f) (f (request 'arg 0))))"
    rt, _ = make(code)
    proc = rt.interp.eval("(lambda (x) (* x 10))", "helpers.scm")
    rt.start("apply-it", SchemeObject(proc), flow_id="q")
    data = rt.export_store()
    fresh, _ = make(code)
    with pytest.raises(CodeNotLoaded, match=r"flow 'q' \(apply-it\) needs code unit [0-9a-f]{12} from helpers.scm") as e:
        fresh.import_store(data)
    assert isinstance(e.value, codec.MissingUnit)  # what the flow inspector catches
    assert fresh.ids() == []
    # a durable store opened without that code: status and cancel work, reading the data says why not
    durable, _ = make(code, store=store_location)
    durable.interp.eval("(lambda (x) (* x 10))", "helpers.scm")
    durable.import_store(data)
    durable.close()
    bare, _ = make(code, store=store_location)
    assert bare.status("q") == "suspended"
    with pytest.raises(CodeNotLoaded, match="helpers.scm"):
        bare.result("q")
    with pytest.raises(CodeNotLoaded, match="helpers.scm"):
        bare.resume("q", 1)
    assert bare.cancel("q") == "cancelled"
    assert bare.status("q") == "cancelled"
    bare.close()


def test_a_journal_holding_a_procedure_from_code_not_loaded():
    from flow import SchemeObject

    code = "(defflow takes (lambda () (let ((f (request 'give-me-a-procedure 0))) (request 'next (f 2)))))"
    rt, _ = make(code)
    rt.start("takes", flow_id="t")
    rt.resume("t", SchemeObject(rt.interp.eval("(lambda (x) (* x 10))", "answers.scm")))
    data = rt.export_store()
    fresh, _ = make(code)
    with pytest.raises(CodeNotLoaded, match=r"flow 't' \(takes\) needs code unit [0-9a-f]{12} from answers.scm"):
        fresh.import_store(data)
    fresh.interp.eval("(lambda (x) (* x 10))", "answers.scm")
    fresh.import_store(data)
    assert fresh.result("t").payload == 20
