"""Hot procedure bodies generated as Python functions (interp/codegen.py) behave
exactly as the node closures they replace: same values, same errors at the same
places, globals redefined mid-run honoured, limits and interrupts taken inside
generated loops, continuations captured inside them resumable (and serialisable
by flows), unbounded recursion through them."""

import io

import pytest
from hypothesis import given, settings, HealthCheck
from hypothesis import strategies as st

from interp import Interpreter, codegen, nodes, write_string
from interp.errors import SchemeError
from interp.limits import Budget, Limits
from interp.machine import Interrupted, Suspension


@pytest.fixture(autouse=True)
def generate_soon(monkeypatch):
    """Bodies are generated at their second call (the default waits longer)."""
    monkeypatch.setattr(nodes, "GENERATE_AFTER", 1)


def fresh():
    it = Interpreter(stdout=io.StringIO())
    it.define("pause", it.suspender("pause"))
    return it


def outcome(src, generate, monkeypatch):
    """('value', written value, output) or ('error', message, position) of src,
    with body generation on or off."""
    monkeypatch.setattr(nodes, "GENERATE_AFTER", 1 if generate else None)
    it = fresh()
    try:
        v = it.eval(src, filename="prog.scm")
    except SchemeError as e:
        return ("error", str(e), (e.pos.file, e.pos.line, e.pos.col) if e.pos else None)
    return ("value", write_string(v), it.stdout.getvalue())


def same_both_ways(src, monkeypatch):
    generated_before = codegen.STATS["generated"]
    on = outcome(src, True, monkeypatch)
    generated = codegen.STATS["generated"] - generated_before
    off = outcome(src, False, monkeypatch)
    assert on == off
    return on, generated


def generated(proc):
    """Is this closure's body a generated function now?"""
    return proc.lam.body.__code__.co_filename.startswith("<scheme ")


PROGRAMS = [
    "(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2))))) (fib 20)",
    "(define (tak x y z) (if (not (< y x)) z (tak (tak (- x 1) y z) (tak (- y 1) z x) (tak (- z 1) x y))))"
    " (tak 12 8 4)",
    "(define (sum-below n) (let loop ((i 0) (acc 0)) (if (= i n) acc (loop (+ i 1) (+ acc i))))) (sum-below 5000)",
    "(let loop ((i 0) (acc '())) (if (>= i 10) (reverse acc) (loop (+ i 1) (cons (* i i) acc))))",
    "(define (len l) (if (null? l) 0 (+ 1 (len (cdr l))))) (len '(1 2 3 4 5 6))",
    "(define (f x) (and (pair? x) (or (eq? (car x) 'a) (f (cdr x))))) (list (f '(b c a)) (f '(b c)) (f 5))",
    "(define (g n) (let ((a (* n 2)) (b (- n 1))) (if (zero? n) 'z (list a b (g (- n 1)))))) (g 3)",
    "(define (h n) (begin (display n) (if (> n 0) (h (- n 1)) 'done))) (h 4)",
    "(define (flt n) (let loop ((x 0.5) (i 0)) (if (= i n) x (loop (+ x 1.25) (+ i 1))))) (flt 7)",
    "(define (big n) (let loop ((x 1) (i 0)) (if (= i n) x (loop (+ x x) (+ i 1))))) (big 200)",
    "(define (rat n) (let loop ((x 1/3) (i 0)) (if (= i n) x (loop (+ x 1/7) (+ i 1))))) (rat 9)",
    "(define (cnt v i acc) (if (= i (vector-length v)) acc (cnt v (+ i 1) (+ acc (vector-ref v i)))))"
    " (cnt #(1 2 3 4) 0 0)",
    "(define (mk n) (if (= n 0) '() (cons (lambda () n) (mk (- n 1))))) (map (lambda (p) (p)) (mk 4))",
    "(define (st n) (let ((c 0)) (let loop ((i 0)) (if (< i n) (begin (set! c (+ c i)) (loop (+ i 1))) c)))) (st 10)",
    "(define (cs x) (case x ((1 2) 'low) ((3) 'three) (else 'other))) (map cs '(1 3 9))",
    "(define (in n) (define a (* n 3)) (define (b) (+ a 1)) (b)) (list (in 1) (in 2) (in 3))",
    "(define (va . xs) (if (null? xs) 0 (+ (car xs) (apply va (cdr xs))))) (va 1 2 3 4)",
    "(define (five a b c d e) (if (= a 0) (list a b c d e) (five (- a 1) b c d e))) (five 3 1 2 3 4)",
    "(define (eqs a b) (list (eq? a b) (eq? 'x 'x) (eq? 2 2))) (list (eqs '(1) '(1)) (eqs 'a 'a))",
    "(define (m x) (if (> x 1e300) x (m (* x 1e10)))) (m 1.0)",
    # * past its inline bounds (bignums), quotient and remainder of every sign
    "(define (p x n) (if (= n 0) x (p (* x 3037000499) (- n 1)))) (list (p 1 1) (p -1 3) (p 2 5))",
    "(define (qr a b) (list (quotient a b) (remainder a b) (quotient (* a a) 7) (remainder 0 b)))"
    " (map qr '(17 -17 17 -17 0) '(5 5 -5 -5 3))",
    # nested deeper than the generator nests Python blocks: the inner part stays nodes
    "(define (deep x) " + "(+ 1 " * 40 + "(car x)" + ")" * 40 + ") (list (deep '(1)) (deep '(2)) (deep '(3)))",
    "(define (deep-if x) " + "(if (> x 0) " * 30 + "x" + " 0)" * 30 + ") (map deep-if '(-1 0 1 2))",
]


@pytest.mark.parametrize("src", PROGRAMS)
def test_generated_bodies_give_the_node_paths_values(src, monkeypatch):
    result, n = same_both_ways(src, monkeypatch)
    assert result[0] == "value"
    assert n >= 1  # something was generated in the first run


def test_hot_procedures_are_generated_and_not_before(monkeypatch):
    monkeypatch.setattr(nodes, "GENERATE_AFTER", 3)
    it = fresh()
    it.eval("(define (sq x) (* x x))")
    sq = it.lookup("sq")
    it.eval("(sq 2)")
    it.eval("(sq 3)")
    it.eval("(sq 4)")
    assert not generated(sq)
    assert write_string(it.eval("(sq 5)")) == "25"
    assert generated(sq)
    assert write_string(it.eval("(sq 6)")) == "36"


def test_generation_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(codegen, "ENABLED", False)
    it = fresh()
    it.eval("(define (sq x) (* x x)) (sq 1) (sq 2) (sq 3)")
    assert not generated(it.lookup("sq"))


ERRORS = [
    ("(define (f l) (let loop ((l l) (n 0)) (if (= n 3) (car l) (loop (cdr l) (+ n 1)))))\n(f '(1 2 3))",
     "car"),
    ("(define (f n) (if (= n 0) (+ 'a 1) (f (- n 1))))\n(f 5)", "+"),
    ("(define (f n) (if (= n 0) (undefined-thing n) (f (- n 1))))\n(f 5)", "unbound variable: undefined-thing"),
    ("(define (f n) (if (= n 0) (quotient 1 n) (+ 1 (f (- n 1)))))\n(f 5)", "division by zero"),
    ("(define (f n) (if (= n 0) ((car (list 5)) 1) (f (- n 1))))\n(f 5)", "not a procedure"),
    ("(define (g a b) a)\n(define (f n) (if (= n 0) (g 1) (f (- n 1))))\n(f 5)", "expected 2 arguments"),
    ("(define (f n) (let loop ((i 0)) (if (< i n) (loop (+ i 1)) (vector-ref (vector) i))))\n(f 5)",
     "vector-ref"),
    ("(define (f n) (letrec ((a (lambda () b)) (b (a))) b))\n(f 1)\n(f 2)", None),
]


@pytest.mark.parametrize("src,words", ERRORS)
def test_errors_keep_their_messages_and_positions(src, words, monkeypatch):
    result, _ = same_both_ways(src, monkeypatch)
    assert result[0] == "error"
    message, pos = result[1], result[2]
    assert pos is not None and pos[0] == "prog.scm"
    assert "prog.scm:" in message
    if words:
        assert words in message


def test_an_error_is_located_in_the_generated_procedure(monkeypatch):
    src = "(define (f l)\n  (let loop ((l l))\n    (if (null? (cdr l)) (car 5) (loop (cdr l)))))\n(f '(1 2 3 4))"
    result, _ = same_both_ways(src, monkeypatch)
    assert result[0] == "error"
    assert result[2] == ("prog.scm", 3, 25)


def test_redefining_a_called_global_mid_loop_is_honoured(monkeypatch):
    src = """
    (define old+ +)
    (define count 0)
    (define (run n)
      (let loop ((i 0) (acc 0))
        (if (= i n) acc
            (begin
              (if (= i 5) (set! + (lambda (a b) (set! count (old+ count 1)) (old+ a b))))
              (if (= i 8) (set! car (lambda (p) 1000)))
              (loop (+ i 1) (+ acc (car (list i))))))))
    (list (run 10) count)
    """
    result, _ = same_both_ways(src, monkeypatch)
    # car answers 1000 from i = 8; + counts its calls from i = 5 (two an iteration)
    assert result[:2] == ("value", "(2028 10)")


def test_redefining_a_primitive_used_inline_between_calls(monkeypatch):
    it = fresh()
    it.eval("(define (f n) (let loop ((i 0) (acc 0)) (if (= i n) acc (loop (+ i 1) (+ acc i)))))")
    before = codegen.STATS["generated"]
    assert write_string(it.eval("(f 100)")) == "4950"
    assert codegen.STATS["generated"] == before + 1  # the loop's body
    it.eval("(define old+ +) (set! + (lambda (a b) (old+ a (old+ b 1000))))")
    # the loop's own (+ i 1) also changed: i grows by 1001
    assert write_string(it.eval("(f 3003)")) == write_string(it.eval("(let loop ((i 0) (acc 0))"
                                                                  " (if (= i 3003) acc (loop (+ i 1) (+ acc i))))"))
    it.eval("(set! + old+)")
    assert write_string(it.eval("(f 100)")) == "4950"


def interrupted_within(fn, seconds=120):
    """The Interrupted that fn() raises, run in a thread (a generous hang detector:
    a loop that takes no interrupt fails the test instead of hanging it)."""
    import threading

    out = []

    def run():
        try:
            fn()
        except BaseException as e:  # noqa: B036 - Interrupted is a BaseException
            out.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the generated loop was not stopped"
    assert out and isinstance(out[0], Interrupted), out
    return out[0]


def test_a_fuel_limit_stops_a_generated_infinite_loop():
    it = fresh()
    it.eval("(define (spin) (let loop ((i 0)) (loop (+ i 1))))")
    before = codegen.STATS["generated"]
    budget = Budget(Limits(fuel=100_000, seconds=60, memory=None))  # (the time: a hang detector)
    stopped = interrupted_within(lambda: budget.run(lambda: it.call_suspendable(it.lookup("spin"), [],
                                                                                check=budget.check)))
    assert stopped.reason == "fuel"
    # the loop's body (the named let's lambda) was generated, and counted fuel
    assert codegen.STATS["generated"] == before + 1


def test_a_time_limit_stops_a_generated_loop_that_spends_no_fuel_elsewhere():
    it = fresh()
    it.eval("(define (spin) (let loop ((i 0) (acc 0)) (if (< i 0) acc (loop (+ i 1) (+ acc 1)))))")
    budget = Budget(Limits(fuel=None, seconds=0.2, memory=None))
    stopped = interrupted_within(lambda: budget.run(lambda: it.call_suspendable(it.lookup("spin"), [],
                                                                                check=budget.check)))
    assert stopped.reason == "time"


def test_a_generated_loop_gives_way_and_carries_on():
    from interp import machine

    it = fresh()
    it.eval("(define (count n) (let loop ((i 0)) (if (= i n) i (loop (+ i 1)))))")
    checks = []

    def check():
        checks.append(1)
        return machine.PREEMPT if len(checks) <= 3 else None

    import threading

    stop = threading.Event()

    def poker():
        while not stop.wait(0.002):
            machine.interrupt()

    t = threading.Thread(target=poker, daemon=True)
    t.start()
    try:
        r = it.call_suspendable(it.lookup("count"), [300_000], check=check)
        gave_way = 0
        while isinstance(r, Suspension):
            assert r.payload == machine.PREEMPTED
            gave_way += 1
            r = it.resume(r, None, check=check)
    finally:
        stop.set()
        t.join()
    assert r == 300_000
    assert gave_way == 3


def test_a_suspension_inside_a_generated_loop_resumes(monkeypatch):
    src = ("(define (collect n) (let loop ((i 0) (acc '()))"
           " (if (= i n) (reverse acc) (loop (+ i 1) (cons (if (= (remainder i 4) 3) (pause i) (* i 10)) acc)))))"
           " (collect 10)")
    for generate in (True, False):
        monkeypatch.setattr(nodes, "GENERATE_AFTER", 1 if generate else None)
        it = fresh()
        r = it.run_suspendable(src)
        asked = []
        while isinstance(r, Suspension):
            asked.append(r.payload[0])
            r = it.resume(r, f"a{r.payload[0]}")
        assert asked == [3, 7]
        assert write_string(r) == '(0 10 20 "a3" 40 50 60 "a7" 80 90)'


def test_a_suspension_can_be_resumed_twice(monkeypatch):
    it = fresh()
    r = it.run_suspendable("(define (f n acc) (if (= n 0) acc (f (- n 1) (+ acc (if (= n 2) (pause n) n))))) (f 5 0)")
    assert isinstance(r, Suspension)
    assert write_string(it.resume(r, 100)) == "113"
    assert write_string(it.resume(r, 0)) == "13"


def test_call_cc_inside_a_generated_loop_reenters(monkeypatch):
    src = """
    (define k #f)
    (define n 0)
    (define (run)
      (let loop ((i 0) (acc '()))
        (if (= i 5) (reverse acc)
            (loop (+ i 1) (cons (if (= i 2) (call/cc (lambda (c) (set! k c) i)) i) acc)))))
    (define r (run))
    (set! n (+ n 1))
    (if (< n 3) (k (* n 100)) (list r n))
    """
    result, n = same_both_ways(src, monkeypatch)
    assert result[:2] == ("value", "((0 1 200 3 4) 3)")


def test_call_cc_escape_from_deep_generated_recursion(monkeypatch):
    src = """
    (define (find-first pred l)
      (call/cc (lambda (return)
        (let walk ((l l))
          (cond ((null? l) #f) ((pred (car l)) (return (car l))) (else (walk (cdr l))))))))
    (define (search n) (if (= n 0) '() (cons n (search (- n 1)))))
    (list (find-first (lambda (x) (< x 10)) (search 5000)) (find-first zero? '(1 2)))
    """
    result, _ = same_both_ways(src, monkeypatch)
    assert result[:2] == ("value", "(9 #f)")


def test_deep_non_tail_recursion_through_generated_bodies_spills(monkeypatch):
    src = ("(define (build n) (if (= n 0) '() (cons n (build (- n 1)))))"
           " (define (sum l) (if (null? l) 0 (+ (car l) (sum (cdr l)))))"
           " (sum (build 60000))")
    result, _ = same_both_ways(src, monkeypatch)
    assert result[:2] == ("value", str(60000 * 60001 // 2))


def test_exception_handlers_see_errors_from_generated_code(monkeypatch):
    src = """
    (define (f n) (if (= n 0) (+ 'x 1) (f (- n 1))))
    (list (guard (e (#t (list 'caught (error-object-message e)))) (f 10))
          (with-exception-handler (lambda (e) 42) (lambda () (+ 1 (raise-continuable 'c)))))
    """
    result, _ = same_both_ways(src, monkeypatch)
    assert result[0] == "value" and "caught" in result[1] and "43" in result[1]


def test_a_flow_suspended_inside_a_generated_loop_survives_a_restart():
    from flow import FlowRuntime
    from flow.store import MemoryStore

    code = ("(defflow tally (lambda (n) (let loop ((i 0) (acc 0))"
            " (if (= i n) acc (loop (+ i 1) (+ acc (if (= (remainder i 3) 2) (request 'more i) i)))))))")
    store = MemoryStore()
    rt = FlowRuntime(store=store)
    rt.load(code, "tally.scm")
    first = rt.start("tally", 9, flow_id="t")
    assert first.kind == "more"
    answers = 0
    r = first
    rounds = 0
    while hasattr(r, "kind") and rounds < 10:
        rounds += 1
        rt = FlowRuntime(store=store)  # a new runtime: the continuation comes back from bytes
        rt.load(code, "tally.scm")
        r = rt.resume("t", 1000)
        answers += 1
    assert answers == 3
    assert r.value == 0 + 1 + 3 + 4 + 6 + 7 + 3000


# ------------------------------------------------------------------ property-based

VARS = ["i", "acc", "n"]


def exprs():
    leaf = st.one_of(st.sampled_from(VARS), st.integers(-5, 5).map(str))
    return st.recursive(
        leaf,
        lambda sub: st.one_of(
            st.tuples(st.sampled_from(["+", "-", "*"]), sub, sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(["<", "=", ">="]), sub, sub, sub, sub).map(
                lambda t: f"(if ({t[0]} {t[1]} {t[2]}) {t[3]} {t[4]})"),
            st.tuples(sub, sub).map(lambda t: f"(quotient {t[0]} {t[1]})"),
            st.tuples(sub).map(lambda t: f"(let ((i (+ {t[0]} 1))) (* i 2))"),
        ),
        max_leaves=8,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=exprs(), update=exprs(), n=st.integers(0, 30))
def test_random_arithmetic_loops_agree(step, update, n, monkeypatch):
    src = (f"(define (run n) (let loop ((i 0) (acc 0))"
           f" (if (>= i n) acc (loop (+ i 1) (remainder (+ acc {update} {step}) 1000003)))))"
           f" (list (run {n}) (run {n // 2}))")
    same_both_ways(src, monkeypatch)


# a pause at every kind of step a generated body makes a frame for (an if's test,
# a begin's effect, a let's init, and / or, an operator, an argument), in a loop
# called often enough to be generated; each position answered in turn
PAUSE_POSITIONS = [
    "(if (pause i) (* i 2) 'no)",
    "(begin (pause i) (+ i 1))",
    "(begin (+ i 1) (pause i) (- i 1) (+ i 1))",
    "(let ((a (pause i)) (b (+ i 1))) (list a b))",
    "(let ((a (+ i 1)) (b (pause i)) (c (- i 1))) (list a b c))",
    "(and (< i 100) (pause i) (list i))",
    "(or (> i 100) (pause i) 'never)",
    "((if (pause i) list vector) i (+ i 1))",
    "(list (+ i 1) (pause i) (- i 1))",
    "(+ (* 2 (let ((x (pause i))) (if x 1 0))) i)",
]


@pytest.mark.parametrize("inline", [False, True])
@pytest.mark.parametrize("expr", PAUSE_POSITIONS)
def test_suspensions_at_every_kind_of_step_resume_as_on_the_node_path(expr, inline, monkeypatch):
    # inline: the pause is in the self-loop's own body (which keeps its frame in
    # Python locals: each capture there makes the one frame list its frames share)
    step = f"(let ((j (+ i 0))) (list j {expr}))" if inline else "(step i)"
    src = (f"(define (step i) {expr})"
           f"(define (run n) (let loop ((i 0) (acc '())) (if (= i n) (reverse acc) (loop (+ i 1) (cons {step} acc)))))"
           "(run 12)")
    seen = {}
    for generate in (True, False):
        monkeypatch.setattr(nodes, "GENERATE_AFTER", 1 if generate else None)
        it = fresh()
        r = it.run_suspendable(src, "prog.scm")
        answers = []
        while isinstance(r, Suspension):
            answer = False if r.payload[0] % 3 == 0 else r.payload[0] * 10
            answers.append(answer)
            r = it.resume(r, answer)
        seen[generate] = (answers, write_string(r))
        if generate and not inline:
            assert generated(it.lookup("step"))
    assert seen[True] == seen[False]
    assert len(seen[True][0]) == 12


def test_a_self_loop_keeps_its_frame_in_locals_unless_a_node_needs_the_list(monkeypatch):
    monkeypatch.setattr(nodes, "GENERATE_AFTER", 1)
    monkeypatch.setattr(codegen, "_CODE", {})  # (this test's sources only)
    it = fresh()
    it.eval("(define (sum n) (let loop ((i 0) (acc 0)) (if (= i n) acc (loop (+ i 1) (+ acc i)))))"
            "(define (count n) (let ((c 0)) (let loop ((i 0)) (if (< i n) (begin (set! c (+ c 1)) (loop (+ i 1))) c))))")
    assert write_string(it.eval("(list (sum 100) (sum 100) (count 50) (count 50))")) == "(4950 4950 50 50)"
    lazy = [src for src in codegen._CODE if "penv = env[" in src]
    assert any("env = None" in src for src in lazy)
    # a loop whose body has a node left to its own closure (set!) keeps the frame list
    assert any("continue" in src and "env = [" in src for src in codegen._CODE if "penv" not in src)
