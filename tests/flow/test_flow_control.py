"""Control state a suspended flow holds survives export/import: deep recursion,
loops, call/cc, dynamic-wind, guard, parameterize, callbacks of map & co."""

import pytest

from flow import Done, Suspended
from flow.live import PIECES_MIN

from flowhelp import runtime, transfer


def drive(code, name, answers, *args, hop=True):
    """Start flow `name`, answer each request (moving the flow to the other of two
    runtimes by export/import before every answer when hop), return the results."""
    here, there = runtime(code), runtime(code)
    results = [here.start(name, *args, flow_id="f")]
    for a in answers:
        if hop:
            there.import_store(here.export_store())
            here, there = there, here
        results.append(here.resume("f", a))
    return results


DEEP = """
(define (deep n) (if (= n 0) (request 'bottom 'reached) (+ 1 (deep (- n 1)))))
(defflow deep-flow (lambda (n) (deep n)))
"""


def test_a_request_twenty_thousand_frames_deep():
    rt = runtime(DEEP)
    assert rt.start("deep-flow", 20000, flow_id="f") == Suspended("f", "bottom", "reached", "f:1")
    data = rt.export_store()
    assert len(data) < 20000 * 100  # frames are small: no code, no duplication
    for answer in (100, 1):  # the same saved continuation can be imported and resumed again
        fresh = runtime(DEEP)
        fresh.import_store(data)
        assert fresh.resume("f", answer) == Done("f", 20000 + answer)


LOOPS = """
(defflow tally (lambda (n)
  (let loop ((i 0) (total 0))
    (if (= i n) total (loop (+ i 1) (+ total (request 'next i)))))))
(defflow do-loop (lambda ()
  (do ((i 0 (+ i 1)) (acc '() (cons (request 'item i) acc))) ((= i 3) (reverse acc)))))
"""


def test_loops_with_a_request_per_iteration():
    rs = drive(LOOPS, "tally", [1, 2, 3, 4], 4)
    assert [r.payload for r in rs[:-1]] == [0, 1, 2, 3]
    assert rs[-1] == Done("f", 10)
    rs = drive(LOOPS, "do-loop", ["a", "b", "c"])
    assert rs[-1].value == ["a", "b", "c"]


def test_a_long_loop_keeps_a_small_constant_snapshot():
    rt = runtime(LOOPS)
    rt.start("tally", 10**9, flow_id="f")
    bases, held = [], []
    for i in range(300):
        rt.resume("f", 1)
        stored = rt.store.get("f")
        bases.append(len(stored.base))
        held.append(len(stored.base) + sum(len(p) for p in stored.pieces))
    # whole snapshots: the counter's digits, nothing that grows with history
    assert max(bases) - min(bases) <= 16
    # (pieces in between, if any, until they would outgrow the whole snapshot: flow.live)
    assert max(held) <= max(bases) + max(max(bases), PIECES_MIN)
    assert max(held[150:]) <= max(held[:150]) + 3 * 16  # (the base and its pieces: each has the digits)


CALLCC = """
(defflow re-enter (lambda ()
  (let* ((k #f)
         (n (call/cc (lambda (c) (set! k c) 0)))
         (answer (request 'at n)))
    (if (< n 3) (k (+ n 1)) (list n answer)))))
(defflow escape (lambda (xs)
  (call/cc (lambda (return)
    (for-each (lambda (x) (if (equal? (request 'check x) "stop") (return (list 'stopped-at x)))) xs)
    'all-checked))))
(define (make-generator lst)
  (define return #f)
  (define resume-point #f)
  (lambda ()
    (call/cc (lambda (r)
      (set! return r)
      (if resume-point
          (resume-point #f)
          (begin
            (for-each (lambda (x) (call/cc (lambda (next) (set! resume-point next) (return x)))) lst)
            (return 'done)))))))
(defflow generator (lambda ()
  (let ((g (make-generator '(a b c))))
    (let loop ((acc '()))
      (let ((x (g)))
        (if (eq? x 'done) (reverse acc) (loop (cons (request 'got x) acc))))))))
"""


def test_a_saved_continuation_is_re_entered_after_resume():
    rs = drive(CALLCC, "re-enter", ["a", "b", "c", "d"])
    assert [r.payload for r in rs[:-1]] == [0, 1, 2, 3]
    assert rs[-1] == Done("f", [3, "d"])


def test_escaping_continuation_across_a_resume():
    rs = drive(CALLCC, "escape", ["ok", "stop"], [1, 2, 3])
    assert rs[-1] == Done("f", ["stopped-at", 2])
    rs = drive(CALLCC, "escape", ["ok", "ok", "ok"], [1, 2, 3])
    assert rs[-1] == Done("f", "all-checked")


def test_a_generator_made_of_continuations():
    rs = drive(CALLCC, "generator", [1, 2, 3])
    assert [r.payload for r in rs[:-1]] == ["a", "b", "c"]
    assert rs[-1] == Done("f", [1, 2, 3])


def test_continuations_work_whichever_side_resumes():
    # started from Python, resumed from Scheme (flow/resume), and the other way round
    rt = runtime(CALLCC)
    rt.start("re-enter", flow_id="py")
    rt.eval('(flow/start-with-id "scm" (quote re-enter))')
    for i in range(1, 4):
        assert rt.eval('(flow/resume "py" 0)').cdr.cdr.cdr.car == i
        assert rt.resume("scm", 0).payload == i
    assert rt.resume("py", "x").value == [3, "x"]
    assert rt.eval('(cadr (cdr (flow/resume "scm" "y")))').car == 3


DYNAMIC = r"""
(define trail '())
(define (note x) (set! trail (cons x trail)))
(define p (make-parameter 'outer))
(define q (make-parameter 1 (lambda (x) (* x 10))))
(defflow winding (lambda ()
  (let ((log '()))
    (dynamic-wind
      (lambda () (set! log (cons 'before log)))
      (lambda () (set! log (cons (request 'inside 1) log)))
      (lambda () (set! log (cons 'after log))))
    (reverse log))))
(defflow guarded (lambda ()
  (guard (e ((string? e) (list 'caught e (request 'after-catch 2)))
            ((error-object? e) (list 'error (error-object-message e))))
    (request 'first 1)
    (raise "thrown after resume"))))
(defflow handler (lambda ()
  (with-exception-handler
    (lambda (c) (* c (request 'handle c)))
    (lambda () (+ 1 (raise-continuable 5))))))
(defflow params (lambda ()
  (list (p)
        (parameterize ((p 'inner) (q 2))
          (let ((seen (request 'in (list (p) (q)))))
            (list seen (p) (q))))
        (p) (q))))
(defflow callbacks (lambda (xs)
  (list (map (lambda (x) (request 'map x)) xs)
        (let ((acc '())) (for-each (lambda (x y) (set! acc (cons (request 'each (list x y)) acc))) xs xs) acc)
        (vector-map (lambda (x) (request 'vmap x)) (list->vector xs))
        (apply + (map (lambda (x) (request 'apply x)) xs))
        (call-with-values (lambda () (values (request 'cwv 1) 2)) list)
        (sort xs (lambda (a b) (request 'cmp (list a b)))))))
"""


def test_dynamic_wind_around_a_request():
    rs = drive(DYNAMIC, "winding", ["answer"])
    assert rs[-1] == Done("f", ["before", "answer", "after"])


def test_guard_around_a_request():
    rs = drive(DYNAMIC, "guarded", ["one", "two"])
    assert rs[1].kind == "after-catch"
    assert rs[-1] == Done("f", ["caught", "thrown after resume", "two"])


def test_an_exception_handler_that_requests():
    rs = drive(DYNAMIC, "handler", [7])
    assert rs[0].payload == 5 and rs[-1] == Done("f", 36)


def test_parameterize_around_a_request():
    rs = drive(DYNAMIC, "params", ["seen"])
    assert rs[0].payload == ["inner", 20]
    assert rs[-1] == Done("f", ["outer", ["seen", "inner", 20], "outer", 10])


def test_a_flows_parameterize_stays_its_own():
    rt = runtime(DYNAMIC)
    rt.start("params", flow_id="a")
    # while the flow waits inside its parameterize, the host and other flows see the outer values
    assert rt.eval("(list (p) (q))").car.name == "outer"
    assert rt.eval("(q)") == 10
    rt.start("params", flow_id="b")
    assert rt.resume("b", 0).value == ["outer", [0, "inner", 20], "outer", 10]
    assert rt.resume("a", 0).value == ["outer", [0, "inner", 20], "outer", 10]
    assert rt.eval("(p)").name == "outer"


def test_a_flow_failing_inside_parameterize_leaves_the_parameter_alone():
    code = DYNAMIC + "(defflow dies (lambda () (parameterize ((p 'doomed)) (request 'a 1) (car '()))))"
    rt = runtime(code)
    rt.start("dies", flow_id="d")
    assert rt.resume("d", 0).error.message.startswith("car:")
    assert rt.eval("(p)").name == "outer"


def test_a_flow_failing_inside_dynamic_wind_runs_the_after_thunk_once_resumed():
    """The wind was entered before the request, on another step (and the flow saved
    and restored in between): failing after the resume leaves it, so `after` runs."""
    code = DYNAMIC + """(defflow wound (lambda ()
      (dynamic-wind (lambda () (note 'before))
                    (lambda () (request 'a 1) (car '()))
                    (lambda () (note 'after)))))"""
    rt = runtime(code)
    rt.start("wound", flow_id="w")
    other = transfer(rt, code)
    assert other.resume("w", 0).error.message.startswith("car:")
    assert [s.name for s in other.eval("(reverse trail)")] == ["after"]  # `before` ran in rt


@pytest.mark.parametrize("hop", [False, True])
def test_callbacks_of_map_for_each_vector_map_apply_call_with_values_sort(hop):
    code = DYNAMIC
    rt, other = runtime(code), runtime(code)
    r = rt.start("callbacks", [3, 1, 2], flow_id="f")
    answers = {"map": lambda x: x * 10, "each": lambda xy: xy[0] + xy[1], "vmap": lambda x: -x,
               "apply": lambda x: x, "cwv": lambda x: "v", "cmp": lambda ab: ab[0] < ab[1]}
    seen = []
    while isinstance(r, Suspended):
        seen.append(r.kind)
        if hop:
            other.import_store(rt.export_store())
            rt, other = other, rt
        r = rt.resume("f", answers[r.kind](r.payload))
    assert r.value == [[30, 10, 20], [4, 2, 6], [-3, -1, -2], 6, ["v", 2], [1, 2, 3]]
    assert seen[:9] == ["map"] * 3 + ["each"] * 3 + ["vmap"] * 3


def test_side_effects_before_a_request_are_not_repeated_on_resume():
    code = DYNAMIC + "(defflow noisy (lambda () (note 'started) (request 'a 1) (note 'resumed) (request 'b 2) 'ok))"
    rt = runtime(code)
    rt.start("noisy", flow_id="n")
    assert rt.eval("trail").car.name == "started"
    rt.resume("n", 0)
    assert [s.name for s in iter_list(rt.eval("trail"))] == ["resumed", "started"]


def iter_list(p):
    from interp.values import NIL

    while p is not NIL:
        yield p.car
        p = p.cdr
