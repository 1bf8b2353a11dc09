"""FlowRuntime, the Python driver API: transitions, results, idempotency, errors."""

import pytest

from flow import (
    CodeNotLoaded,
    Done,
    Failed,
    FlowError,
    FlowNotFound,
    FlowRuntime,
    NotWaiting,
    Suspended,
    UnknownFlow,
)

from flowhelp import ORDER, runtime, transfer


def test_order_lifecycle_across_export_and_import(order_rt):
    rt = order_rt
    assert rt.start("order-lifecycle", "o-1", flow_id="o-1") == Suspended("o-1", "reserve", "o-1", "o-1:1")
    assert rt.resume("o-1", "reserved", kind="reserve") == Suspended("o-1", "payment", "o-1", "o-1:2")
    fresh = transfer(rt, ORDER)
    assert fresh.status("o-1") == "suspended"
    assert fresh.pending() == [Suspended("o-1", "payment", "o-1", "o-1:2")]
    assert fresh.resume("o-1", "paid", kind="payment") == Suspended("o-1", "fulfil", "o-1", "o-1:3")
    assert fresh.resume("o-1", {"tracking": "T1"}) == Done("o-1", {"tracking": "T1"})
    assert fresh.status("o-1") == "done"
    assert fresh.result("o-1") == Done("o-1", {"tracking": "T1"})
    assert [(e.kind.name, e.key) for e in fresh.journal("o-1")] == [
        ("reserve", "o-1:1"), ("payment", "o-1:2"), ("fulfil", "o-1:3")]
    # the original runtime is untouched by what the copy did
    assert rt.status("o-1") == "suspended"


def test_request_keys_are_flow_id_and_step(order_rt):
    keys = [order_rt.start("order-lifecycle", 7, flow_id="k").key]
    keys.append(order_rt.resume("k", 1).key)
    keys.append(order_rt.resume("k", 1).key)
    assert keys == ["k:1", "k:2", "k:3"]
    # deterministic: the same flow driven again elsewhere gets the same keys
    other = runtime(ORDER)
    assert [other.start("order-lifecycle", 7, flow_id="k").key, other.resume("k", 2).key] == ["k:1", "k:2"]


def test_start_generates_distinct_ids(order_rt):
    a = order_rt.start("order-lifecycle", 1)
    b = order_rt.start("order-lifecycle", 1)
    assert a.flow_id != b.flow_id and a.flow_id.startswith("order-lifecycle-")
    assert sorted(order_rt.ids()) == sorted([a.flow_id, b.flow_id])


def test_start_with_an_existing_id_is_idempotent(order_rt):
    rt = order_rt
    rt.start("order-lifecycle", "x", flow_id="o")
    rt.resume("o", 1)
    before = rt.export_store()
    assert rt.start("order-lifecycle", "y", flow_id="o") == Suspended("o", "payment", "x", "o:2")
    assert rt.export_store() == before
    rt.resume("o", 1)
    rt.resume("o", "end")
    assert rt.start("order-lifecycle", "z", flow_id="o") == Done("o", "end")


def test_resume_with_the_wrong_kind_changes_nothing(order_rt):
    rt = order_rt
    rt.start("order-lifecycle", "o", flow_id="o")
    rt.resume("o", "r", kind="reserve")
    before = rt.export_store()
    journal_before = len(rt.journal("o"))
    r = rt.resume("o", "paid", kind="reserve")  # a replayed webhook
    assert r == NotWaiting("o", "suspended", "payment") and not r
    r = rt.resume("o", "paid", kind="fulfil")
    assert r == NotWaiting("o", "suspended", "payment")
    assert rt.export_store() == before and len(rt.journal("o")) == journal_before
    assert rt.resume("o", "paid", kind="payment").kind == "fulfil"
    rt.resume("o", "done", kind="fulfil")
    before = rt.export_store()
    assert rt.resume("o", "again", kind="fulfil") == NotWaiting("o", "done", None)
    assert rt.resume("o", "again") == NotWaiting("o", "done", None)
    assert rt.export_store() == before


def test_status_result_pending_cancel(order_rt):
    rt = order_rt
    for i in range(3):
        rt.start("order-lifecycle", i, flow_id=f"f{i}")
    rt.resume("f1", 0)
    assert rt.cancel("f2") == "cancelled"
    assert rt.cancel("f2") == "cancelled"
    assert rt.status("f2") == "cancelled"
    assert rt.resume("f2", 0) == NotWaiting("f2", "cancelled", None)
    assert sorted(rt.pending()) == [Suspended("f0", "reserve", 0, "f0:1"), Suspended("f1", "payment", 1, "f1:2")]
    rt.resume("f1", 0)
    rt.resume("f1", "v")
    assert rt.cancel("f1") == "done"  # a finished flow stays as it was
    assert rt.result("f1") == Done("f1", "v")
    assert rt.result("f0") == Suspended("f0", "reserve", 0, "f0:1")
    assert rt.status("f1") == "done"


@pytest.mark.parametrize("call", [
    lambda rt: rt.status("nope"),
    lambda rt: rt.result("nope"),
    lambda rt: rt.resume("nope", 1),
    lambda rt: rt.cancel("nope"),
    lambda rt: rt.journal("nope"),
])
def test_unknown_flow_ids(order_rt, call):
    with pytest.raises(FlowNotFound, match="no flow with id 'nope'") as e:
        call(order_rt)
    assert isinstance(e.value, FlowError) and isinstance(e.value, KeyError)


def test_unknown_flow_name(order_rt):
    with pytest.raises(UnknownFlow, match="no flow named 'shipping'"):
        order_rt.start("shipping", 1)
    assert order_rt.ids() == []


def test_unconvertible_arguments_and_answers_are_rejected_before_anything_changes(order_rt):
    with pytest.raises(TypeError, match="cannot pass a object"):
        order_rt.start("order-lifecycle", object(), flow_id="o")
    assert order_rt.ids() == []
    order_rt.start("order-lifecycle", 1, flow_id="o")
    before = order_rt.export_store()
    with pytest.raises(TypeError):
        order_rt.resume("o", {1, 2})
    assert order_rt.export_store() == before


def test_a_flow_id_must_be_text(order_rt):
    with pytest.raises(FlowError, match="valid Unicode"):
        order_rt.start("order-lifecycle", 1, flow_id="bad\ud800id")
    assert order_rt.start("order-lifecycle", 1, flow_id=42).flow_id == "42"
    assert order_rt.status(42) == "suspended"


FAILING = """
(define (helper x) (car x))
(defflow fails-later (lambda (x) (request 'first x) (helper x)))
(defflow fails-at-once (lambda () (error "no good" 'at 'once)))
(defflow raises-object (lambda () (raise 'custom)))
"""


def test_a_failing_flow_keeps_its_error_and_the_others_carry_on():
    rt = FlowRuntime()
    rt.load(ORDER)
    rt.load(FAILING, "failing.scm")
    rt.start("order-lifecycle", "a", flow_id="ok")
    rt.start("fails-later", 5, flow_id="bad")
    r = rt.resume("bad", "whatever")
    assert isinstance(r, Failed) and r.flow_id == "bad"
    assert r.error.message == "car: expected a pair, got 5"
    assert r.error.position == "failing.scm:2:20"
    assert ["helper", "failing.scm:2:20"] in r.error.backtrace
    assert rt.status("bad") == "failed"
    assert rt.result("bad") == r
    assert rt.resume("bad", 1) == NotWaiting("bad", "failed", None)
    # the error survives export/import
    fresh = transfer(rt, ORDER)
    assert fresh.result("bad") == r
    # other flows are unaffected
    assert rt.resume("ok", 1).kind == "payment"
    r = rt.start("fails-at-once", flow_id="bad2")
    assert r.error.message == "no good at once" and r.error.position.startswith("failing.scm:4:")
    r = rt.start("raises-object", flow_id="bad3")
    assert isinstance(r, Failed) and "custom" in r.error.message
    assert sorted(p.flow_id for p in rt.pending()) == ["ok"]


def test_a_failure_in_a_python_host_procedure_is_a_failed_flow():
    rt = FlowRuntime()
    rt.interp.define("host-divide", lambda a, b: a // b)
    rt.load("(defflow div (lambda (a) (host-divide a (request 'divisor a))))")
    rt.start("div", 10, flow_id="d")
    r = rt.resume("d", 0)
    assert isinstance(r, Failed) and "division by zero" in r.error.message
    assert rt.start("div", 10, flow_id="e").kind == "divisor"


def test_exit_inside_a_flow_fails_the_flow_not_the_host():
    rt = FlowRuntime(allow=["exit"])
    rt.load("(defflow quitter (lambda () (request 'a 1) (exit 3)))")
    rt.start("quitter", flow_id="q")
    r = rt.resume("q", 1)
    assert isinstance(r, Failed) and "(exit 3)" in r.error.message


def test_a_flow_holding_an_unsaveable_value_is_refused_and_not_stored():
    from flow import UnsaveableFlow

    rt = FlowRuntime()
    rt.interp.define("make-host-thing", lambda: object())
    rt.load("(defflow holds (lambda () (let ((x (make-host-thing))) (request 'a 1) x)))")
    with pytest.raises(UnsaveableFlow, match="cannot be saved"):
        rt.start("holds", flow_id="h")
    assert rt.ids() == []


def test_defflow_redefinition_uses_the_latest_definition_for_new_flows():
    rt = runtime("(defflow f (lambda () (request 'one 1)))")
    rt.load("(defflow f (lambda () (request 'two 2)))", "other.scm")
    assert rt.start("f", flow_id="x").kind == "two"


def test_import_replaces_the_flows_and_reports_how_many(order_rt):
    order_rt.start("order-lifecycle", 1, flow_id="a")
    order_rt.start("order-lifecycle", 2, flow_id="b")
    other = runtime(ORDER)
    other.start("order-lifecycle", 3, flow_id="c")
    assert other.import_store(order_rt.export_store()) == 2
    assert sorted(other.ids()) == ["a", "b"]
    empty = FlowRuntime().export_store()
    assert other.import_store(empty) == 0 and other.ids() == []


def test_import_of_a_suspended_flow_whose_defflow_is_missing():
    rt = FlowRuntime()
    rt.load(ORDER, "schemes/order.scm")
    rt.start("order-lifecycle", 1, flow_id="o-1")
    data = rt.export_store()
    other = FlowRuntime()
    other.start  # nothing loaded at all
    with pytest.raises(CodeNotLoaded) as e:
        other.import_store(data)
    msg = str(e.value)
    assert "'o-1'" in msg and "order-lifecycle" in msg and "schemes/order.scm" in msg
    unit = rt.defs["order-lifecycle"].unit_hash
    assert unit[:12] in msg and e.value.unit_hash == unit and e.value.filename == "schemes/order.scm"
    assert other.ids() == []
    # finished flows need no code
    rt.resume("o-1", 1), rt.resume("o-1", 1), rt.resume("o-1", "done")
    assert other.import_store(rt.export_store()) == 1
    assert other.result("o-1") == Done("o-1", "done")


def test_resume_by_key_answers_only_that_request():
    # a flow asking the same kind twice: a replayed first webhook (its key) must
    # not answer the second request
    rt = FlowRuntime()
    rt.load("(defflow legal (lambda () (list (request 'legal 1) (request 'legal 2))))")
    first = rt.start("legal", flow_id="l")
    second = rt.resume("l", "legal-ok", key=first.key)
    assert second.kind == "legal" and second.key != first.key
    replay = rt.resume("l", "legal-ok", key=first.key)
    assert replay == NotWaiting("l", "suspended", "legal")
    assert len(rt.journal("l")) == 1
    assert rt.resume("l", "second-ok", key=second.key, kind="legal").value == ["legal-ok", "second-ok"]
    assert rt.resume("l", "again", key=second.key) == NotWaiting("l", "done", None)


def test_resume_by_key_with_a_wrong_kind_or_unknown_key_changes_nothing():
    rt = FlowRuntime()
    rt.load("(defflow legal (lambda () (request 'legal 1)))")
    s = rt.start("legal", flow_id="l")
    assert rt.resume("l", 1, key="l:9") == NotWaiting("l", "suspended", "legal")
    assert rt.resume("l", 1, key=s.key, kind="other") == NotWaiting("l", "suspended", "legal")
    assert rt.resume("l", 1, key=s.key).value == 1


def test_load_file_takes_paths_relative_to_the_current_directory_and_names_the_file(tmp_path, monkeypatch):
    from pathlib import Path

    from interp.errors import SchemeError

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.scm").write_text("(defflow f (lambda () (request 'a 1)))\n")
    (tmp_path / "sub" / "bad.scm").write_text("(defflow g (lambda () 1))\n(car 5)\n")
    monkeypatch.chdir(tmp_path)
    rt = FlowRuntime()
    rt.load_file("sub/f.scm")
    rt.load_file(Path("sub") / "f.scm")
    assert rt.start("f", flow_id="x").kind == "a"
    with pytest.raises(SchemeError, match=r"cannot read sub/missing\.scm: No such file or directory"):
        rt.load_file("sub/missing.scm")
    with pytest.raises(SchemeError, match=r"cannot read sub: Is a directory"):
        rt.load_file("sub")
    with pytest.raises(SchemeError, match=r"sub/bad\.scm:2:1: car: expected a pair, got 5"):
        rt.load_file("sub/bad.scm")
