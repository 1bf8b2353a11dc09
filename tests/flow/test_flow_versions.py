"""Clock and random reads inside a flow are journalled (replay sees the same
values), and several versions of a flow's code run side by side: a flow keeps
the code it started with while that code is loaded."""

from flow import FlowRuntime, NondeterminismError, NotWaiting
from flow.clock import ManualClock
import pytest

STAMPED_V1 = """
(defflow stamped
  (lambda (who)
    (let* ((t (current-second)) (n (random 1000000)))
      (list (request 'approve (list who t n)) (current-jiffy)))))
"""
STAMPED_V2 = ";; version 2: the same requests, a comment added\n" + STAMPED_V1


def runtime(*sources, clock=None, filename="stamped.scm"):
    rt = FlowRuntime(clock=clock)
    for text in sources:
        rt.load(text, filename)
    return rt


def test_clock_and_random_reads_come_from_the_runtime_and_are_journalled():
    clock = ManualClock(1_800_000_000)
    rt = runtime(STAMPED_V1, clock=clock)
    s = rt.start("stamped", "ann", flow_id="s")
    who, t, n = s.payload
    assert (who, t) == ("ann", 1_800_000_000.0) and 0 <= n < 1_000_000
    clock.advance(7.5)
    done = rt.resume("s", "ok", key=s.key)
    assert done.value == ["ok", 1_800_000_007_500_000]
    kinds = [e.kind.name for e in rt.journal("s")]
    assert kinds == ["%recorded", "%recorded", "approve", "%recorded"]


def test_replay_after_a_code_change_sees_the_recorded_values():
    clock = ManualClock(1_800_000_000)
    rt = runtime(STAMPED_V1, clock=clock)
    s = rt.start("stamped", "ann", flow_id="s")
    saved = rt.export_store()
    clock.advance(3600)  # an hour later, on the new code only
    fresh = runtime(STAMPED_V2, clock=clock)
    fresh.import_store(saved)
    done = fresh.resume("s", "ok")  # replays: no NondeterminismError
    assert done.value == ["ok", 1_800_003_600_000_000]
    assert fresh.flow("s").def_unit[0] != rt.flow("s").def_unit[0]  # now on version 2


def test_without_recording_a_changed_clock_would_diverge():
    # the same flow asking with a fresh (current-second) in its payload, replayed
    # by code that reads the clock differently, is caught as nondeterminism
    clock = ManualClock(100)
    rt = runtime("(defflow d (lambda () (request 'a (current-second))))", clock=clock)
    rt.start("d", flow_id="d")
    fresh = runtime("(defflow d (lambda () (request 'a (+ 1 (current-second)))))", clock=clock)
    fresh.import_store(rt.export_store())
    with pytest.raises(NondeterminismError, match="expected .request 'a 100.0"):
        fresh.resume("d", 1)


def test_outside_flows_the_clock_and_random_are_the_usual_ones():
    rt = runtime(STAMPED_V1, clock=ManualClock(5))
    assert rt.eval("(current-second)") > 1_000_000_000
    assert 0 <= rt.eval("(random 10)") < 10


def test_a_bad_read_is_an_error_inside_the_flow():
    rt = runtime("(defflow r (lambda () (guard (e (#t (error-object-message e))) (random -1))))")
    assert rt.start("r", flow_id="r").value == "random: expected a positive integer, got -1"


ORDER_V1 = "(defflow order (lambda (x) (list 'v1 (request 'pay x) (request 'ship x))))"
ORDER_V2 = "(defflow order (lambda (x) (list 'v2 (request 'pay x) (request 'ship x) (request 'review x))))"


def test_old_flows_finish_on_v1_while_new_flows_start_on_v2():
    rt = FlowRuntime()
    rt.load(ORDER_V1, "order-v1.scm")
    rt.start("order", 1, flow_id="old")
    rt.load(ORDER_V2, "order-v2.scm")  # both loaded: the latest defflow starts new flows
    rt.start("order", 2, flow_id="new")
    assert rt.resume("old", "paid").kind == "ship"
    assert rt.resume("old", "shipped").value == ["v1", "paid", "shipped"]
    assert rt.resume("new", "paid").kind == "ship"
    assert rt.resume("new", "shipped").kind == "review"
    assert rt.resume("new", "ok").value == ["v2", "paid", "shipped", "ok"]


def test_a_flow_whose_version_is_not_loaded_replays_onto_the_latest():
    rt = FlowRuntime()
    rt.load(ORDER_V1, "order-v1.scm")
    rt.start("order", 1, flow_id="old")
    rt.resume("old", "paid")
    fresh = FlowRuntime()
    fresh.load(ORDER_V2, "order-v2.scm")
    fresh.import_store(rt.export_store())
    assert fresh.resume("old", "shipped").kind == "review"  # replayed onto v2


BUGGY = "(defflow calc (lambda (x) (let ((n (request 'n x))) (list n (car n)))))"
FIXED = "(defflow calc (lambda (x) (let ((n (request 'n x))) (list n (if (pair? n) (car n) n)))))"


def test_retry_runs_a_failed_flow_again_on_the_fixed_code():
    rt = FlowRuntime()
    rt.load(BUGGY, "calc.scm")
    rt.start("calc", 1, flow_id="c")
    failed = rt.resume("c", 5)
    assert "car: expected a pair" in failed.error.message
    assert rt.retry("c").error.message == failed.error.message  # same code: same failure
    rt.load(FIXED, "calc-fixed.scm")
    assert rt.retry("c").value == [5, 5]
    assert [e.answer for e in rt.journal("c")] == [5]  # nothing asked twice
    assert rt.retry("c") == NotWaiting("c", "done", None)


def test_retry_refuses_a_flow_that_has_not_failed_and_an_unknown_one():
    rt = FlowRuntime()
    rt.load(FIXED, "calc.scm")
    rt.start("calc", 1, flow_id="c")
    assert rt.retry("c") == NotWaiting("c", "suspended", None)
    from flow import FlowNotFound

    with pytest.raises(FlowNotFound):
        rt.retry("nope")


def test_upgrade_dry_run_names_the_divergent_flows_and_changes_nothing():
    rt = FlowRuntime()
    rt.load(ORDER_V1, "order-v1.scm")
    rt.start("order", 1, flow_id="early")  # waits on pay: v2 asks the same
    rt.start("order", 2, flow_id="late")
    rt.resume("late", "paid")
    rt.resume("late", "shipped")  # done
    rt.start("order", 3, flow_id="diverging")
    rt.load("(defflow order (lambda (x) (list 'v3 (request 'charge x))))", "order-v3.scm")
    before = rt.export_store()
    reports = {r.flow_id: r for r in (rt.upgrade(i, dry_run=True) for i in ("early", "late", "diverging"))}
    assert reports["late"].outcome == "not waiting"
    assert reports["early"].outcome == "diverges" and "expected (request 'pay 1)" in reports["early"].detail
    assert "got (request 'charge 1)" in reports["early"].detail
    assert rt.export_store() == before


def test_upgrade_moves_a_flow_onto_the_new_code():
    rt = FlowRuntime()
    rt.load(ORDER_V1, "order-v1.scm")
    rt.start("order", 1, flow_id="o")
    rt.resume("o", "paid")
    rt.load(ORDER_V2, "order-v2.scm")
    assert rt.upgrade("o", dry_run=True).outcome == "would upgrade"
    assert rt.resume("o", "shipped").value == ["v1", "paid", "shipped"]  # still pinned to v1
    rt2 = FlowRuntime()
    rt2.load(ORDER_V1, "order-v1.scm")
    rt2.start("order", 1, flow_id="o")
    rt2.resume("o", "paid")
    rt2.load(ORDER_V2, "order-v2.scm")
    assert rt2.upgrade("o").outcome == "upgraded"
    assert rt2.upgrade("o").outcome == "current"
    assert rt2.resume("o", "shipped").kind == "review"  # now on v2


def test_a_flow_waiting_with_a_cyclic_payload_replays_after_a_code_change():
    code = "(defflow cyc (lambda () (let ((l (list 1 2))) (set-cdr! (cdr l) l) (list 'got (request 'cyc l)))))"
    rt = FlowRuntime()
    rt.load(code, "cyc.scm")
    rt.start("cyc", flow_id="c")
    fresh = FlowRuntime()
    fresh.load(";; one comment added\n" + code, "cyc.scm")
    fresh.import_store(rt.export_store())
    assert fresh.resume("c", "ok").value == ["got", "ok"]  # the replay compared the cyclic payloads
