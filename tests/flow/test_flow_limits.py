"""Flow code runs inside limits and with the capabilities its host grants:
fuel, time and memory bounds per step, no global lock across a step, cancel of
a running flow, and restricted procedures refused unless granted."""

import os
import threading
import time

import pytest

from flow import FlowRuntime
from flow.runtime import Done, Failed, NotWaiting, Suspended
from interp.interpreter import Interpreter
from interp.limits import Limits

LOOPER = """
(defflow looper (lambda (n) (request 'go n) (let loop ((i 0)) (loop (+ i 1)))))
(defflow quick (lambda (n) (list n (request 'ask n))))
"""

FAST = Limits(fuel=200_000, seconds=None, memory=None)


def looping(limits, store=None, **kw):
    rt = FlowRuntime(store=store, limits=limits, **kw)
    rt.load(LOOPER, "looper.scm")
    rt.start("looper", 1, flow_id="L")
    return rt


# ------------------------------------------------------------------ limits


def test_fuel_limit_fails_the_step_and_the_flow_stays_at_its_last_commit():
    rt = looping(FAST)
    r = rt.resume("L", "x")
    assert isinstance(r, Failed)
    assert "fuel limit exceeded" in r.error.message and "200,000" in r.error.message
    assert isinstance(rt.result("L"), Suspended)  # nothing of the step was committed
    assert rt.journal("L") == []
    # the runtime carries on: other flows start and finish
    assert rt.start("quick", 5, flow_id="q").kind == "ask"
    assert rt.resume("q", 6).value == [5, 6]


def test_the_flow_can_be_answered_again_after_a_limit():
    rt = FlowRuntime(limits=FAST)
    rt.load("(defflow f (lambda () (let ((n (request 'n 0))) (let loop ((i 0)) (if (< i n) (loop (+ i 1)) i)))))")
    rt.start("f", flow_id="f")
    assert isinstance(rt.resume("f", 10**9), Failed)
    assert rt.resume("f", 1000).value == 1000


def test_a_scheme_handler_cannot_catch_a_limit():
    rt = FlowRuntime(limits=FAST)
    rt.load("(defflow g (lambda () (request 'a 1)"
            " (guard (e (#t 'caught)) (with-exception-handler (lambda (c) 'h) (lambda () (let loop () (loop)))))))")
    rt.start("g", flow_id="g")
    r = rt.resume("g", 1)
    assert isinstance(r, Failed) and "fuel limit" in r.error.message


def test_time_limit():
    rt = looping(Limits(fuel=None, seconds=0.3, memory=None))
    t = time.monotonic()
    r = rt.resume("L", "x")
    took = time.monotonic() - t
    assert isinstance(r, Failed) and "time limit exceeded" in r.error.message and "0.3 s" in r.error.message
    assert 0.3 <= took < 3


def test_memory_limit():
    rt = FlowRuntime(limits=Limits(fuel=None, seconds=20, memory=64 << 20))
    rt.load("(defflow hog (lambda () (request 'a 1)"
            " (let loop ((acc '())) (loop (cons (make-vector 64 acc) acc)))))")
    rt.start("hog", flow_id="h")
    t = time.monotonic()
    r = rt.resume("h", 1)
    assert isinstance(r, Failed) and "memory limit exceeded" in r.error.message
    assert time.monotonic() - t < 15
    assert isinstance(rt.result("h"), Suspended)


def test_a_limit_on_start_commits_nothing(store_location):
    rt = FlowRuntime(store=store_location, limits=FAST)
    rt.load("(defflow spin (lambda () (let loop () (loop))))")
    r = rt.start("spin", flow_id="s")
    assert isinstance(r, Failed) and "fuel limit" in r.error.message
    assert rt.ids() == []
    assert FlowRuntime(store=store_location).ids() == []


def test_a_limit_leaves_the_durable_store_unchanged(store_location, store_kind):
    from flowhelp import stored_state

    rt = looping(FAST, store=store_location)
    log = os.path.join(store_location, "flows.log")
    before = (stored_state(store_location), open(log, "rb").read() if store_kind == "file" else None)
    assert isinstance(rt.resume("L", 1), Failed)
    assert (stored_state(store_location), open(log, "rb").read() if store_kind == "file" else None) == before
    again = FlowRuntime(store=store_location)
    again.load(LOOPER, "looper.scm")
    assert again.result("L").kind == "go"


def test_limits_can_be_switched_off():
    rt = FlowRuntime(limits=Limits(None, None, None))
    rt.load("(defflow count (lambda (n) (let loop ((i 0)) (if (< i n) (loop (+ i 1)) (request 'done i)))))")
    assert rt.start("count", 300_000, flow_id="c").payload == 300_000


def test_default_limits_let_ordinary_work_through():
    rt = FlowRuntime()
    rt.load("(defflow count (lambda (n) (let loop ((i 0)) (if (< i n) (loop (+ i 1)) (request 'done i)))))")
    assert rt.start("count", 200_000, flow_id="c").payload == 200_000


# ------------------------------------------------------------------ no lock across a step


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # pragma: no cover - reported by the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def _wait_running(rt, flow_id, timeout=5):
    deadline = time.monotonic() + timeout
    while flow_id not in rt._budgets:
        assert time.monotonic() < deadline, "the flow never started its step"
        time.sleep(0.005)


@pytest.mark.parametrize("pause", [0, 0.05])
def test_other_flows_progress_while_one_loops(pause):
    # pause: the looper takes its turn back between the quick flow's steps
    # (so resuming it must ask the looper to give way: a busy machine's order)
    rt = looping(Limits(fuel=None, seconds=60, memory=None))  # far beyond the test: it is cancelled
    t, out = _in_thread(lambda: rt.resume("L", "x"))
    _wait_running(rt, "L")
    for i in range(5):
        assert rt.start("quick", i, flow_id=f"q{i}").kind == "ask"
        time.sleep(pause)
        assert rt.resume(f"q{i}", "yes").value == [i, "yes"]
    assert t.is_alive(), out  # all done while the looper still loops
    assert rt.cancel("L") == "cancelled"
    t.join(5)
    assert not t.is_alive()
    assert rt.status("L") == "cancelled"


def test_host_code_gets_its_turn_while_a_flow_loops():
    # the host evaluates Scheme outside any flow (waiting for the machine's lock,
    # not the runtime's): the looper gives way and lets it have that lock
    rt = looping(Limits(fuel=None, seconds=60, memory=None))
    t, out = _in_thread(lambda: rt.resume("L", "x"))
    _wait_running(rt, "L")
    t0 = time.monotonic()
    for i in range(20):
        assert rt.interp.eval(f"(* {i} 2)") == i * 2
    assert time.monotonic() - t0 < 10
    assert t.is_alive(), out
    assert rt.cancel("L") == "cancelled"
    t.join(5)
    assert not t.is_alive()


def test_cancel_of_a_looping_flow_takes_effect_at_its_next_check():
    rt = looping(Limits(fuel=None, seconds=60, memory=None))
    t, out = _in_thread(lambda: rt.resume("L", "x"))
    _wait_running(rt, "L")
    t0 = time.monotonic()
    assert rt.cancel("L") == "cancelled"
    assert time.monotonic() - t0 < 2
    t.join(5)
    assert isinstance(out["value"], NotWaiting) and out["value"].status == "cancelled"
    assert rt.status("L") == "cancelled"
    assert rt.resume("L", 1) == NotWaiting("L", "cancelled", None)


def test_cancel_of_a_flow_looping_in_its_first_step(store_location):
    rt = FlowRuntime(store=store_location, limits=Limits(fuel=None, seconds=60, memory=None))
    rt.load("(defflow spin (lambda () (let loop () (loop))))")
    t, out = _in_thread(lambda: rt.start("spin", flow_id="s"))
    _wait_running(rt, "s")
    assert rt.cancel("s") == "cancelled"
    t.join(5)
    assert FlowRuntime(store=store_location).status("s") == "cancelled"


def test_parameters_stay_each_flows_own_across_slices():
    # two flows parameterize the same global parameter and run long enough to be
    # sliced against each other: each must only ever see its own value
    rt = FlowRuntime(limits=Limits(fuel=None, seconds=30, memory=None))
    rt.load("""
      (define p (make-parameter 'none))
      (defflow own (lambda (me n)
        (parameterize ((p me))
          (let loop ((i 0) (bad 0))
            (if (< i n)
                (loop (+ i 1) (if (eq? (p) me) bad (+ bad 1)))
                (list (request 'done bad) (p)))))))
    """)
    results = {}

    def run(me):
        results[me] = rt.start("own", me, 400_000, flow_id=me)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["a"].payload == 0 and results["b"].payload == 0
    assert rt.resume("a", "ok").value == ["ok", "a"]
    assert rt.interp.eval("(p)").name == "none"


# ------------------------------------------------------------------ capabilities


@pytest.mark.parametrize("call, name", [
    ('(delete-file "/nonexistent-flowscheme")', "delete-file"),
    ('(open-output-file "/tmp/x")', "open-output-file"),
    ('(with-output-to-file "/tmp/x" (lambda () 1))', "open-output-file"),
    ("(eval '(+ 1 2))", "eval"),
    ('(load "x.scm")', "load"),
    ("(exit 0)", "exit"),
    ('(get-environment-variable "HOME")', "get-environment-variable"),
    ("(flow-host-requests)", "flow-host-requests"),
    ("(flow-reset!)", "flow-reset!"),
    ("(flow/status \"other\")", "flow/status"),
])
def test_flow_code_is_refused_what_it_was_not_granted(call, name):
    rt = FlowRuntime()
    rt.load(f"(defflow f (lambda () (request 'a 1) {call}))")
    rt.start("f", flow_id="f")
    rt.start("f", flow_id="other")
    r = rt.resume("f", 1)
    assert isinstance(r, Failed)
    assert r.error.message.startswith(f"{name}: not granted")
    assert "FlowRuntime(allow=" in r.error.message
    assert rt.status("other") == "suspended"  # flow-reset! did nothing


def test_granted_by_name_and_by_category(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("x")
    for allow in (["delete-file"], ["file"], "all"):
        target.write_text("x")
        rt = FlowRuntime(allow=allow)
        rt.load(f"(defflow f (lambda () (delete-file {str(target)!r}) (file-exists? {str(target)!r})))".replace("'", '"'))
        r = rt.start("f", flow_id="f")
        assert isinstance(r, Done) if allow != ["delete-file"] else isinstance(r, Failed), (allow, r)
        assert not target.exists()


def test_an_unknown_grant_is_an_error():
    with pytest.raises(ValueError, match="delete-fil"):
        FlowRuntime(allow=["delete-fil"])


def test_the_host_and_the_repl_keep_the_full_environment(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("x")
    rt = FlowRuntime()
    rt.load(f'(delete-file "{target}")')  # top-level code the host loads is not flow code
    assert not target.exists()
    assert Interpreter().eval("(eval '(+ 1 2))") == 3
    rt.load("(defflow f (lambda () (request 'a 1)))")
    rt.start("f", flow_id="f")
    assert rt.eval("(map car (flow-host-requests))").car == "f"


def test_a_grant_does_not_leak_out_of_a_step():
    rt = FlowRuntime()
    rt.load("(defflow f (lambda () (request 'a 1)))")
    rt.start("f", flow_id="f")
    assert rt.eval("(eval '(* 6 7))") == 42  # after a restricted step: unrestricted again
