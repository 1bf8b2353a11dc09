"""Durable timers and deadlines, skipped through with a ManualClock: sleep,
sleep-until, a deadline won by the answer or by the timer, a late answer, a
timer that came due while every process was down, a 30-day sleep; and handler
retries with backoff, then a condition the flow can catch."""

import os
import time

import pytest

from flow import FlowRuntime
from flow.clock import ManualClock
from flow.errors import StoreWriteError
from flow.retry import RetryPolicy
from flow.runtime import Done, Failed, NotWaiting, Sleeping, Suspended
from flow.store import MemoryStore
from flow.worker import Worker

from flowhelp import stored_state

T0 = 1_800_000_000.0
DAY = 86400

FLOWS = """
(defflow napper (lambda (s) (list 'before (sleep s) 'after (current-second))))
(defflow alarm (lambda (t) (sleep-until t) (request 'ring t)))
(defflow pay (lambda (oid)
  (let ((answer (request/timeout 'payment oid 1800)))
    (if (timeout? answer)
        (list 'expired (timeout-kind answer) (timeout-seconds answer))
        (list 'paid answer)))))
(defflow month (lambda () (sleep (* 30 86400)) 'rested))
"""


def runtime(clock, store=None, **kw):
    rt = FlowRuntime(store=store, clock=clock, **kw)
    rt.load(FLOWS, "timers.scm")
    return rt


def test_sleep_suspends_until_the_clock_passes_the_wake_up_time():
    clock = ManualClock(T0)
    rt = runtime(clock)
    assert rt.start("napper", 60, flow_id="n") == Sleeping("n", T0 + 60)
    assert rt.status("n") == "sleeping"
    assert rt.fire_due() == []
    clock.advance(59.9)
    assert rt.due() == [] and rt.fire_due() == []
    clock.advance(0.1)
    assert rt.due() == [(T0 + 60, "n")]
    [(fid, r)] = rt.fire_due()
    assert fid == "n" and r == Done("n", ["before", True, "after", T0 + 60])
    assert rt.fire_due() == []  # fired once


def test_a_sleeping_flow_is_not_answered_by_resume_and_can_be_cancelled():
    clock = ManualClock(T0)
    rt = runtime(clock)
    rt.start("napper", 60, flow_id="n")
    assert rt.resume("n", "wake up") == NotWaiting("n", "sleeping", None)
    assert rt.cancel("n") == "cancelled"
    clock.advance(120)
    assert rt.due() == [] and rt.fire_due() == []


def test_sleep_until_an_epoch_time():
    clock = ManualClock(T0)
    rt = runtime(clock)
    assert rt.start("alarm", T0 + 3600, flow_id="a") == Sleeping("a", T0 + 3600)
    clock.set(T0 + 3600)
    [(_, r)] = rt.fire_due()
    assert r.kind == "ring"
    assert rt.start("alarm", T0 - 5, flow_id="past").until == T0 - 5  # already due
    assert rt.fire_due()[0][1].kind == "ring"


def test_a_deadline_won_by_the_answer():
    clock = ManualClock(T0)
    rt = runtime(clock)
    s = rt.start("pay", "o-1", flow_id="p")
    assert s.kind == "payment" and rt.flow("p", data=False).wake == T0 + 1800
    clock.advance(1799)
    assert rt.resume("p", "pay-1", key=s.key) == Done("p", ["paid", "pay-1"])
    clock.advance(10)
    assert rt.fire_due() == []  # the deadline went with the request


def test_a_deadline_won_by_the_timer_and_a_late_answer():
    clock = ManualClock(T0)
    rt = runtime(clock)
    s = rt.start("pay", "o-1", flow_id="p")
    clock.advance(1800)
    [(_, r)] = rt.fire_due()
    assert r == Done("p", ["expired", "payment", 1800])
    assert rt.resume("p", "pay-1", key=s.key) == NotWaiting("p", "done", None)


def test_an_answer_after_the_deadline_loses_even_before_the_worker_fires():
    clock = ManualClock(T0)
    rt = runtime(clock)
    s = rt.start("pay", "o-1", flow_id="p")
    clock.advance(1800.5)  # due, not fired yet
    assert rt.resume("p", "pay-1", key=s.key) == NotWaiting("p", "done", None)
    assert rt.result("p") == Done("p", ["expired", "payment", 1800])
    assert [e.answer for e in rt.journal("p")][-1] is not None


def test_a_timer_that_came_due_while_every_process_was_down(store_location):
    clock = ManualClock(T0)
    rt = runtime(clock, store=store_location)
    rt.start("napper", 600, flow_id="n")
    rt.start("pay", "o-9", flow_id="p")
    rt.close()
    clock.advance(DAY)  # everything is down for a day
    again = runtime(clock, store=store_location)
    assert [fid for _, fid in again.due()] == ["n", "p"]
    results = dict(again.fire_due())
    assert results["n"].value[:3] == ["before", True, "after"]
    assert results["p"].value[0] == "expired"
    again.close()
    third = runtime(clock, store=store_location)
    assert third.due() == [] and third.fire_due() == []  # nothing fires twice


def test_a_thirty_day_sleep_costs_nothing_while_it_waits(store_location, store_kind):
    clock = ManualClock(T0)
    rt = runtime(clock, store=store_location)
    assert rt.start("month", flow_id="m").until == T0 + 30 * DAY
    before = stored_state(store_location)
    size = os.path.getsize(os.path.join(store_location, "flows.log")) if store_kind == "file" else None
    for _ in range(29):
        clock.advance(DAY)
        assert rt.fire_due() == []
    assert stored_state(store_location) == before  # no writes while it waits
    if store_kind == "file":
        assert os.path.getsize(os.path.join(store_location, "flows.log")) == size
    clock.advance(DAY)
    assert rt.fire_due() == [("m", Done("m", "rested"))]


def test_request_timeout_and_sleep_check_their_arguments():
    rt = runtime(ManualClock(T0))
    rt.load("""
      (defflow bad1 (lambda () (sleep -1)))
      (defflow bad2 (lambda () (request/timeout 'x 1 "soon")))
      (defflow bad3 (lambda () (request '%sleep 5)))
      (defflow bad4 (lambda () (sleep-until 'tomorrow)))
    """)
    assert "sleep: expected a finite number of seconds" in rt.start("bad1").error.message
    assert "request/timeout: expected a finite number of seconds" in rt.start("bad2").error.message
    assert "kinds starting with % are the runtime's own" in rt.start("bad3").error.message
    assert "sleep-until: expected a time in epoch seconds" in rt.start("bad4").error.message
    with pytest.raises(Exception, match="sleep: called outside a flow"):
        rt.eval("(sleep 1)")


# ------------------------------------------------------------------ retries

RESERVE = "(defflow order (lambda (oid) (list (request 'reserve oid) (request 'payment oid))))"
GUARDED = """(defflow careful (lambda (oid)
  (guard (e ((error-object? e) (list 'compensated (error-object-message e))))
    (request 'reserve oid))))"""


class Flaky:
    def __init__(self, failures):
        self.failures = failures
        self.calls = []

    def __call__(self, req):
        self.calls.append(req.key)
        if len(self.calls) <= self.failures:
            raise ConnectionError(f"stock service down ({len(self.calls)})")
        return "reserved"


def test_a_failing_handler_is_retried_with_backoff_by_the_worker():
    clock = ManualClock(T0)
    rt = FlowRuntime(clock=clock, retry=RetryPolicy(max_attempts=5, initial=1, backoff=2, max_interval=3))
    rt.load(RESERVE)
    flaky = Flaky(3)
    with pytest.raises(ConnectionError):
        rt.start("order", "o-1", flow_id="o", serve={"reserve": flaky})
    f = rt.flow("o", data=False)
    assert (f.attempts, f.wake, str(f.timer)) == (1, T0 + 1, "retry")
    w = Worker(rt, handlers={"reserve": flaky})
    assert w.run_once() == []  # not due yet: a waiting retry is not serviced early
    waits = []
    for expected_wait in (1, 2, 3):  # 1 s, 2 s, then capped at 3 s
        waits.append(rt.flow("o", data=False).wake - clock.now())
        clock.advance(expected_wait)
        w.run_once()
    assert waits == [1, 2, 3]
    assert rt.result("o").kind == "payment"
    assert flaky.calls == ["o:1"] * 4  # every attempt under the same key
    assert rt.flow("o", data=False).attempts == 0


def test_when_attempts_are_spent_the_flow_gets_a_condition_it_can_catch():
    clock = ManualClock(T0)
    rt = FlowRuntime(clock=clock, retry=RetryPolicy(max_attempts=2, initial=5))
    rt.load(RESERVE + GUARDED)
    w = Worker(rt, handlers={"reserve": Flaky(10)})
    rt.start("careful", "o-1", flow_id="c")
    rt.start("order", "o-2", flow_id="u")
    w.run_once()
    clock.advance(5)
    w.run_once()
    r = rt.result("c")
    assert isinstance(r, Done) and r.value[0] == "compensated"
    assert "request reserve failed after 2 attempts: ConnectionError: stock service down" in r.value[1]
    u = rt.result("u")
    assert isinstance(u, Failed) and "request reserve failed after 2 attempts" in u.error.message


def test_retry_state_is_durable(store_location):
    clock = ManualClock(T0)
    again = FlowRuntime(store=store_location, clock=clock, retry=RetryPolicy(max_attempts=3, initial=10))
    again.load(RESERVE)
    again.start("order", "o-1", flow_id="o")
    w = Worker(again, handlers={"reserve": Flaky(1)})
    w.run_once()
    again.close()
    third = FlowRuntime(store=store_location, clock=clock, retry=RetryPolicy(max_attempts=3, initial=10))
    third.load(RESERVE)
    f = third.flow("o", data=False)
    assert (f.attempts, f.wake) == (1, T0 + 10)  # a restart does not reset them
    clock.advance(10)
    assert [t.what for t in Worker(third, handlers={"reserve": lambda r: "ok"}).run_once()] == ["fired"]
    assert third.result("o").kind == "payment"


def test_a_replay_re_raises_a_recorded_condition():
    clock = ManualClock(T0)
    wrap = """(define (reserve-or-compensate oid)
      (guard (e ((error-object? e) (list 'compensated (error-object-message e))))
        (request 'reserve oid)))
      (defflow wrap (lambda (o) (list (reserve-or-compensate o) (request 'next o))))"""
    rt = FlowRuntime(clock=clock, retry=RetryPolicy(max_attempts=1))
    rt.load(wrap, "v1.scm")
    rt.start("wrap", "o", flow_id="w")
    Worker(rt, handlers={"reserve": Flaky(5)}).run_once()
    assert rt.result("w").kind == "next"
    assert [e.raised for e in rt.journal("w")] == [True]
    fresh = FlowRuntime(clock=clock)
    fresh.load(";; v2\n" + wrap, "v2.scm")
    fresh.import_store(rt.export_store())
    r = fresh.resume("w", "fine")  # replayed onto v2: the condition is raised again, caught again
    assert r.value[0][0] == "compensated" and r.value[1] == "fine"


def test_the_worker_services_waiting_requests_once():
    clock = ManualClock(T0)
    rt = FlowRuntime(clock=clock)
    rt.load(RESERVE)
    for i in range(5):
        rt.start("order", i, flow_id=f"o{i}")
    calls = []
    w = Worker(rt, handlers={"reserve": lambda r: calls.append(r.key) or "ok"})
    did = w.run_once()
    assert sorted(t.flow_id for t in did) == [f"o{i}" for i in range(5)]
    assert all(t.what == "served reserve" and isinstance(t.result, Suspended) for t in did)
    assert w.run_once() == []
    assert sorted(calls) == [f"o{i}:1" for i in range(5)]


@pytest.mark.parametrize("policy, message", [
    (RetryPolicy(max_attempts=0), "max_attempts must be a whole number >= 1"),
    (RetryPolicy(initial=-1), "initial must be a number >= 0"),
    (RetryPolicy(backoff=float("nan")), "backoff must be a number >= 0"),
    (RetryPolicy(initial=90), "initial .90. is longer than max_interval"),
])
def test_a_bad_retry_policy_is_refused(policy, message):
    with pytest.raises(ValueError, match=message):
        FlowRuntime(retry=policy)


def test_a_worker_reports_a_flow_it_cannot_move_and_carries_on_with_the_others():
    clock = ManualClock(T0)
    rt = runtime(clock)
    rt.start("napper", 10, flow_id="a")
    rt.start("napper", 10, flow_id="b")
    rt.start("alarm", T0 + 10, flow_id="c")
    other = FlowRuntime(clock=clock)  # napper's code changed so that its flows diverge
    other.load(FLOWS.replace("(sleep s)", "(request 'other s)", 1), "other.scm")
    other.import_store(rt.export_store())
    clock.advance(10)
    seen = []
    w = Worker(other, on_transition=seen.append)
    did = w.run_once()
    assert [t.flow_id for t in did] == ["c"] and did[0].result.kind == "ring"  # the others carry on
    errors = [t for t in seen if t.what == "error"]
    assert {t.flow_id for t in errors} == {"a", "b"}
    assert "diverged from its journal" in str(errors[0].result)
    assert w.run_once() == [] and len(seen) == 3  # not tried again while unchanged


# ------------------------------------------------------------------ cancel with unwind

COMPENSATING = """
(defflow careful (lambda (o)
  (guard (c ((flow-cancellation? c) (request 'release (flow-cancellation-flow-id c)) 'compensated))
    (request 'payment o))))
(define undone '())
(defflow winding (lambda (o)
  (dynamic-wind (lambda () #f) (lambda () (request 'payment o)) (lambda () (set! undone (cons o undone))))))
(defflow napping (lambda () (guard (c (#t 'woken-to-cancel)) (sleep 3600))))
"""


def test_cancel_with_unwind_lets_the_flow_compensate():
    rt = FlowRuntime()
    rt.load(COMPENSATING)
    rt.start("careful", "o1", flow_id="a")
    assert rt.cancel("a", unwind=True) == "suspended"  # compensating: waits on its release
    assert rt.result("a").kind == "release" and rt.result("a").payload == "a"
    assert [(e.kind.name, e.raised) for e in rt.journal("a")] == [("payment", True)]
    assert rt.resume("a", "released").value == "compensated"
    rt.start("careful", "o2", flow_id="b")
    assert rt.cancel("b", unwind=True, serve={"release": lambda r: "ok"}) == "done"
    assert rt.result("b").value == "compensated"


def test_cancel_with_unwind_of_a_flow_that_does_not_handle_it_cancels_it():
    rt = FlowRuntime()
    rt.load(COMPENSATING)
    rt.start("winding", "o", flow_id="w")
    assert rt.cancel("w", unwind=True) == "cancelled"  # not caught: cancelled where it stood,
    assert rt.eval("undone") is not None and rt.eval("(car undone)") == "o"  # its after thunk run
    rt.load("(defflow bare (lambda () (request 'payment 1)))")
    rt.start("bare", flow_id="x")
    assert rt.cancel("x", unwind=True) == "cancelled"
    assert rt.resume("x", 1) == NotWaiting("x", "cancelled", None)


def test_cancel_with_unwind_wakes_a_sleeping_flow_and_survives_a_replay():
    clock = ManualClock(T0)
    rt = FlowRuntime(clock=clock)
    rt.load(COMPENSATING, "v1.scm")
    rt.start("napping", flow_id="n")
    assert rt.cancel("n", unwind=True) == "done" and rt.result("n").value == "woken-to-cancel"
    assert rt.due() == []
    rt.start("careful", "o", flow_id="a")
    rt.cancel("a", unwind=True)
    fresh = FlowRuntime(clock=clock)
    fresh.load(";; v2\n" + COMPENSATING, "v2.scm")
    fresh.import_store(rt.export_store())
    assert fresh.resume("a", "released").value == "compensated"  # replay raised it again


# ------------------------------------------------------------------ a store that fails to write


class _FailingWrites(MemoryStore):
    """A memory store whose next `failures` commits fail as a cut connection would."""

    def __init__(self):
        super().__init__()
        self.failures = 0

    def commit(self, flow_id, snapshot, new_entries=(), index=None, piece=False):
        if self.failures:
            self.failures -= 1
            raise StoreWriteError("test-store", OSError("connection cut"))
        return super().commit(flow_id, snapshot, new_entries, index, piece)


def test_a_worker_tries_again_after_the_store_failed_to_write(monkeypatch):
    import flow.worker as worker_module

    monkeypatch.setattr(worker_module, "PAUSE", 0.05)
    clock = ManualClock(T0)
    store = _FailingWrites()
    rt = runtime(clock, store=store)
    rt.start("napper", 10, flow_id="a")
    clock.advance(10)
    seen = []
    w = Worker(rt, on_transition=seen.append)
    store.failures = 2
    assert w.run_once() == [] and [t.what for t in seen] == ["error"]
    assert "connection cut" in str(seen[0].result) and rt.status("a") == "sleeping"
    assert w.run_once() == []  # paused: not tried again at once
    time.sleep(0.06)
    assert w.run_once() == [] and [t.what for t in seen] == ["error", "error"]  # failed again
    time.sleep(0.06)
    assert w.run_once() == []  # the pause doubled
    time.sleep(0.06)
    did = w.run_once()
    assert [t.flow_id for t in did] == ["a"] and isinstance(did[0].result, Done)
    assert rt.status("a") == "done" and len(seen) == 3
