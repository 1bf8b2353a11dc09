"""First-class continuations (call/cc, dynamic-wind) and the host-level capture
hook (Interpreter.suspender / run_suspendable / call_suspendable / resume) that
flows build on: the continuation is plain data and can be resumed, twice."""

import io

import pytest

from evalhelp import error, ev, interp, output
from interp import Interpreter, write_string
from interp.machine import Closure, Frame, Resumer, Suspension, continuation_frames
from interp.nodes import Node
from interp.values import sym


# ---------------------------------------------------------------- call/cc


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(+ 1 (call/cc (lambda (k) (+ 10 (k 5)))))", "6"),
        ("(call-with-current-continuation (lambda (k) 'normal))", "normal"),
        # escaping from a loop
        ("(define (find-first pred lst) (call/cc (lambda (return)"
         " (for-each (lambda (x) (when (pred x) (return x))) lst) #f)))"
         " (list (find-first even? '(1 3 4 5)) (find-first even? '(1 3)))", "(4 #f)"),
        # escaping from deep non-tail recursion
        ("(define (product lst) (call/cc (lambda (k) (let loop ((l lst))"
         " (cond ((null? l) 1) ((= (car l) 0) (k 0)) (else (* (car l) (loop (cdr l)))))))))"
         " (list (product '(1 2 3 4)) (product '(1 2 0 4)))", "(24 0)"),
        # a continuation called with several values
        ("(call-with-values (lambda () (call/cc (lambda (k) (k 1 2)))) list)", "(1 2)"),
        ("(call/cc (lambda (k) (k)))", "#<unspecified>") if False else ("(call-with-values (lambda () (call/cc (lambda (k) (k)))) list)", "()"),
        # re-entry: a continuation invoked again after its call/cc returned
        ("(define r '()) (define k #f)"
         " (set! r (cons (call/cc (lambda (c) (set! k c) 0)) r))"
         " (if (< (length r) 3) (k (length r))) (reverse r)", "(0 1 2)"),
        ("(let ((n 0) (k #f)) (call/cc (lambda (c) (set! k c))) (set! n (+ n 1)) (if (< n 5) (k 'again)) n)", "5"),
        # continuations are procedures
        ("(call/cc procedure?)", "#t"),
        ("(call/cc (lambda (k) (apply k '(7))))", "7"),
        ("(+ 1 (call/cc (lambda (k) (map k '(1 2)))))", "2"),
    ],
)
def test_call_cc(src, expected):
    assert ev(src) == expected


GENERATOR = """
(define (make-generator lst)
  (define return #f)
  (define resume #f)
  (lambda ()
    (call/cc (lambda (r)
      (set! return r)
      (if resume
          (resume #f)
          (begin
            (for-each (lambda (x) (call/cc (lambda (next) (set! resume next) (return x)))) lst)
            (set! resume (lambda (ignore) (return 'done)))
            (return 'done)))))))
(define g (make-generator '(a b c)))
(list (g) (g) (g) (g) (g))
"""

AMB = """
(define fail-stack '())
(define (fail) (if (null? fail-stack) (error "no more choices")
                   (let ((back (car fail-stack))) (set! fail-stack (cdr fail-stack)) (back back))))
(define (amb choices)
  (let ((cc (call/cc (lambda (k) k))))
    (if (null? choices) (fail)
        (let ((choice (car choices)))
          (set! choices (cdr choices))
          (set! fail-stack (cons cc fail-stack))
          choice))))
(define (require p) (if (not p) (fail)))
(let* ((a (amb '(1 2 3 4 5 6 7)))
       (b (amb '(1 2 3 4 5 6 7)))
       (c (amb '(1 2 3 4 5 6 7))))
  (require (= (* c c) (+ (* a a) (* b b))))
  (require (< a b))
  (list a b c))
"""

COROUTINES = """
(define out '())
(define (emit x) (set! out (cons x out)))
(define q '())
(define (enqueue! k) (set! q (append q (list k))))
(define (dequeue!) (let ((k (car q))) (set! q (cdr q)) k))
(define (yield) (call/cc (lambda (k) (enqueue! k) ((dequeue!) #f))))
(define (spawn thunk) (enqueue! (lambda (ignore) (thunk) (if (pair? q) ((dequeue!) #f)))))
(define done #f)
(call/cc (lambda (k) (set! done k)
  (spawn (lambda () (emit 'a1) (yield) (emit 'a2) (yield) (emit 'a3)))
  (spawn (lambda () (emit 'b1) (yield) (emit 'b2)))
  ((dequeue!) #f)))
(reverse out)
"""


def test_generators_amb_and_coroutines():
    assert ev(GENERATOR) == "(a b c done done)"
    assert ev(AMB) == "(3 4 5)"
    assert ev(COROUTINES) == "(a1 b1 a2 b2 a3)"


def test_reentering_a_top_level_continuation_continues_with_the_rest_of_the_file():
    src = """
    (define k #f)
    (define n 0)
    (display (list 'value (call/cc (lambda (c) (set! k c) 0))))
    (newline)
    (set! n (+ n 1))
    (if (< n 3) (k n))
    (display 'end)
    """
    assert output(src) == "(value 0)\n(value 1)\n(value 2)\nend"


def test_reentering_a_continuation_from_a_loaded_file(tmp_path):
    lib = tmp_path / "lib.scm"
    lib.write_text("(define saved #f)\n(define hits 0)\n(call/cc (lambda (k) (set! saved k)))\n(set! hits (+ hits 1))\n")
    it = interp()
    assert ev(f'(load "{lib}") (if (< hits 3) (saved #f)) hits', it) == "3"


# ---------------------------------------------------------------- dynamic-wind


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(let ((log '())) (dynamic-wind (lambda () (set! log (cons 'before log)))"
         " (lambda () (set! log (cons 'during log))) (lambda () (set! log (cons 'after log)))) (reverse log))",
         "(before during after)"),
        ("(dynamic-wind (lambda () #f) (lambda () 'value) (lambda () 'ignored))", "value"),
        ("(call-with-values (lambda () (dynamic-wind (lambda () #f) (lambda () (values 1 2)) (lambda () #f))) list)",
         "(1 2)"),
        # jumping out runs the after thunk
        ("(let ((log '())) (call/cc (lambda (k) (dynamic-wind (lambda () (set! log (cons 'in log)))"
         " (lambda () (k 'escaped)) (lambda () (set! log (cons 'out log)))))) (reverse log))", "(in out)"),
        # jumping back in runs the before thunk again
        ("(let ((log '()) (k #f) (n 0))"
         " (dynamic-wind (lambda () (set! log (cons 'in log)))"
         "   (lambda () (call/cc (lambda (c) (set! k c))) (set! n (+ n 1)))"
         "   (lambda () (set! log (cons 'out log))))"
         " (if (< n 3) (k #f))"
         " (reverse log))", "(in out in out in out)"),
        # nested winds unwind innermost first and rewind outermost first
        ("(let ((log '()) (k #f) (once #f))"
         " (define (note x) (set! log (cons x log)))"
         " (dynamic-wind (lambda () (note 'a-in))"
         "   (lambda () (dynamic-wind (lambda () (note 'b-in)) (lambda () (call/cc (lambda (c) (set! k c)))) (lambda () (note 'b-out))))"
         "   (lambda () (note 'a-out)))"
         " (unless once (set! once #t) (k #f))"
         " (reverse log))", "(a-in b-in b-out a-out a-in b-in b-out a-out)"),
        # a jump between two sibling extents leaves one and enters the other
        ("(let ((log '()) (k #f))"
         " (define (note x) (set! log (cons x log)))"
         " (dynamic-wind (lambda () (note 'a-in)) (lambda () (call/cc (lambda (c) (set! k c))) (note 'in-a)) (lambda () (note 'a-out)))"
         " (when (< (length log) 8)"
         "   (dynamic-wind (lambda () (note 'b-in)) (lambda () (k #f)) (lambda () (note 'b-out))))"
         " (reverse log))", "(a-in in-a a-out b-in b-out a-in in-a a-out)"),
        # errors escaping through dynamic-wind run the after thunk (guard catches outside)
        ("(let ((log '())) (guard (e (#t (set! log (cons 'caught log))))"
         " (dynamic-wind (lambda () (set! log (cons 'in log))) (lambda () (car 1)) (lambda () (set! log (cons 'out log)))))"
         " (reverse log))", "(in out caught)"),
    ],
)
def test_dynamic_wind(src, expected):
    assert ev(src) == expected


# ---------------------------------------------------------------- the host capture hook


def suspending_interp():
    it = Interpreter(stdout=io.StringIO())
    it.define("pause", it.suspender("pause"))
    return it


def drive(it, result, answers):
    """Resume `result` with answers[i] at the i-th suspension; (payloads, value)."""
    payloads = []
    i = 0
    while type(result) is Suspension:
        payloads.append(write_string(result.payload[0]) if result.payload else None)
        result = it.resume(result, answers[i] if i < len(answers) else answers[-1])
        i += 1
    return payloads, write_string(result)


CAPTURE_CASES = [
    ("nested non-tail calls",
     "(define (f n) (if (= n 0) (pause 'bottom) (+ 1 (f (- n 1))))) (* 2 (f 5))", [100], ["bottom"], "210"),
    ("inside a loop",
     "(let loop ((i 0) (acc '())) (if (= i 5) (reverse acc) (loop (+ i 1) (cons (if (= i 2) (pause i) i) acc))))",
     ["x"], ["2"], "(0 1 x 3 4)"),
    ("map callback", "(map (lambda (x) (if (even? x) (pause x) (* x 10))) '(1 2 3 4))", [7, 8], ["2", "4"],
     "(10 7 30 8)"),
    ("map over two lists", "(map (lambda (x y) (if (= x 2) (pause y) (+ x y))) '(1 2 3) '(10 20 30))", [0],
     ["20"], "(11 0 33)"),
    ("for-each callback",
     "(let ((acc '())) (for-each (lambda (x) (set! acc (cons (if (= x 2) (pause x) x) acc))) '(1 2 3)) acc)",
     ["two"], ["2"], "(3 two 1)"),
    ("vector-map callback", "(vector-map (lambda (x) (if (= x 2) (pause x) x)) #(1 2 3))", [9], ["2"], "#(1 9 3)"),
    ("sort comparator", "(sort '(3 1 2) (lambda (a b) (pause (list a b))))", [False], None, "(3 1 2)"),
    ("dynamic-wind",
     "(let ((log '())) (dynamic-wind (lambda () (set! log (cons 'in log))) (lambda () (set! log (cons (pause 'x) log)))"
     " (lambda () (set! log (cons 'out log)))) (reverse log))", ["mid"], ["x"], "(in mid out)"),
    ("guard body", "(guard (e ((symbol? e) (list 'caught e))) (raise (pause 'g)))", ["boom"], ["g"], "(caught boom)"),
    ("guard clause", "(guard (e (#t (list 'handled (pause e)))) (raise 'oops))", ["ok"], ["oops"], "(handled ok)"),
    ("parameterize", "(define p (make-parameter 1)) (list (parameterize ((p 2)) (list (pause (p)) (p))) (p))", ["z"],
     ["2"], "((z 2) 1)"),
    ("with-exception-handler",
     "(with-exception-handler (lambda (e) (* e 2)) (lambda () (+ 1 (raise-continuable (pause 'w)))))", [7], ["w"],
     "15"),
    ("apply", "(apply (lambda (x) (list x (pause x))) '(5))", ["y"], ["5"], "(5 y)"),
    ("call-with-values", "(call-with-values (lambda () (values 1 (pause 'v))) list)", [2], ["v"], "(1 2)"),
    ("hash-table-walk",
     "(define h (make-hash-table)) (hash-table-set! h 'a 1) (let ((r '())) (hash-table-walk h (lambda (k v) (set! r (cons (pause k) r)))) r)",
     ["A"], ["a"], "(A)"),
    ("string-for-each", "(let ((r '())) (string-for-each (lambda (c) (set! r (cons (pause c) r))) \"ab\") r)",
     [1, 2], ["#\\a", "#\\b"], "(2 1)"),
    ("case-lambda", "(define f (case-lambda ((x) (pause x)) ((x y) y))) (list (f 1))", ["one"], ["1"], "(one)"),
    ("promise", "(define pr (delay (pause 'd))) (list (force pr) (force pr))", [4], ["d"], "(4 4)"),
    ("fold", "(fold (lambda (x acc) (+ acc (pause x))) 0 '(1 2))", [10, 20], ["1", "2"], "30"),
    ("eval", "(eval '(+ 1 (pause 'e)) (interaction-environment))", [41], ["e"], "42"),
    ("top level", "(define a (pause 'first)) (define b (+ a 1)) (list a b)", [7], ["first"], "(7 8)"),
    ("named let in a let body", "(let ((x 1)) (let loop ((i 0)) (if (< i 3) (loop (+ i (pause i))) (+ x i))))", [1],
     ["0", "1", "2"], "4"),
    ("cond =>", "(cond ((pause 'test) => (lambda (v) (list v))) (else 'no))", [5], ["test"], "(5)"),
    ("case =>", "(case (pause 'key) ((1) => (lambda (v) (* v 100))) (else 'no))", [1], ["key"], "100"),
    ("and/or/when", "(list (and 1 (pause 'a)) (or #f (pause 'b)) (when #t (pause 'c)))", [1, 2, 3],
     ["a", "b", "c"], "(1 2 3)"),
    ("do loop", "(do ((i 0 (+ i 1)) (acc '() (cons (pause i) acc))) ((= i 2) acc))", ["p", "q"], ["0", "1"],
     "(q p)"),
    ("letrec", "(letrec ((a (pause 'a)) (b (lambda () a))) (b))", [3], ["a"], "3"),
]


@pytest.mark.parametrize("name, src, answers, payloads, expected", CAPTURE_CASES, ids=[c[0] for c in CAPTURE_CASES])
def test_capture_and_resume(name, src, answers, payloads, expected):
    it = suspending_interp()
    answers = [sym(a) if type(a) is str else a for a in answers]  # strings stand for symbols
    got_payloads, value = drive(it, it.run_suspendable(src), answers)
    if payloads is not None:
        assert got_payloads == payloads
    assert value == expected


def test_a_suspension_is_plain_data():
    it = suspending_interp()
    s = it.run_suspendable("(define (f n) (if (= n 0) (pause 'x) (+ 1 (f (- n 1))))) (f 3)")
    assert type(s) is Suspension
    frames = continuation_frames(s.k)
    assert frames
    for fr in frames:
        assert type(fr) is Frame
        node = fr.node
        assert isinstance(node, Resumer) or (isinstance(node, Node) and node.unit is not None and node.nid >= 0)
        assert fr.env is None or type(fr.env) is list


def test_resume_the_same_capture_twice_gives_independent_results():
    it = suspending_interp()
    s = it.run_suspendable(
        "(define (f n) (if (= n 0) (list (pause 'x)) (cons n (f (- n 1)))))"
        " (let ((v (vector 0))) (vector-set! v 0 (f 3)) (vector->list v))"
    )
    assert write_string(it.resume(s, "first")) == '((3 2 1 "first"))'
    assert write_string(it.resume(s, "second")) == '((3 2 1 "second"))'
    assert write_string(it.resume(s, 3)) == "((3 2 1 3))"


def test_resuming_twice_with_mutation_in_the_continuation():
    it = suspending_interp()
    s = it.run_suspendable("(let loop ((i 0) (acc '())) (if (= i 3) (reverse acc) (loop (+ i 1) (cons (if (= i 1) (pause) i) acc))))")
    assert write_string(it.resume(s, sym("a"))) == "(0 a 2)"
    assert write_string(it.resume(s, sym("b"))) == "(0 b 2)"


def test_a_suspension_can_suspend_again_and_each_step_resumes_independently():
    it = suspending_interp()
    s1 = it.run_suspendable("(list (pause 1) (pause 2))")
    s2a = it.resume(s1, "a")
    s2b = it.resume(s1, "b")
    assert type(s2a) is Suspension and type(s2b) is Suspension
    assert write_string(it.resume(s2b, "y")) == '("b" "y")'
    assert write_string(it.resume(s2a, "x")) == '("a" "x")'


def test_call_suspendable():
    it = suspending_interp()
    it.eval("(define (ask a b) (+ (pause a) (pause b)))")
    s = it.call_suspendable(it.lookup("ask"), [1, 2])
    assert s.payload == (1,)
    s = it.resume(s, 10)
    assert s.payload == (2,)
    assert it.resume(s, 20) == 30


def test_capture_with_twenty_thousand_nested_non_tail_frames():
    it = suspending_interp()
    s = it.run_suspendable("(define (deep n) (if (= n 0) (pause 'bottom) (+ 1 (deep (- n 1))))) (deep 20000)")
    assert type(s) is Suspension
    assert len(continuation_frames(s.k)) >= 20000
    assert it.resume(s, 5) == 20005
    assert it.resume(s, 0) == 20000


def test_suspending_outside_a_suspendable_run_is_an_error():
    it = suspending_interp()
    e = error("(+ 1 (pause 'x))", it)
    assert "pause: cannot suspend here" in e.message


def test_call_cc_continuation_captured_before_a_suspension_works_after_resume():
    it = suspending_interp()
    s = it.run_suspendable(
        "(define k #f) (define n 0)"
        " (define v (call/cc (lambda (c) (set! k c) 0)))"
        " (set! n (+ n (pause v)))"
        " (if (< n 3) (k (+ v 1)))"
        " n"
    )
    payloads = []
    while type(s) is Suspension:
        payloads.append(s.payload[0])
        s = it.resume(s, 1)
    assert payloads == [0, 1, 2]
    assert s == 3


def test_closures_refer_to_their_lambda_node():
    it = interp()
    f = it.eval("(define (f x) x) f")
    assert type(f) is Closure
    assert f.lam.node is not None and f.lam.node.info is f.lam
    assert it.units[f.lam.node.unit.hash] is f.lam.node.unit


# --------------------------------------------------------------- errors leaving dynamic-winds

WINDS = """
(define p (make-parameter 1))
(define (show . xs) (for-each display xs) (newline))
(define (nested thunk)
  (dynamic-wind
    (lambda () (show "before"))
    (lambda () (parameterize ((p 2))
                 (dynamic-wind (lambda () #f) thunk (lambda () (show "inner after, p=" (p))))))
    (lambda () (show "outer after, p=" (p)))))
"""


def test_an_error_escaping_to_the_host_runs_the_after_thunks_it_leaves():
    """As in Guile: innermost first, each outside its own extent (the parameterize
    between them is undone in between), and the interpreter is left as it was."""
    from interp.errors import SchemeError
    from interp.machine import D
    from interp.values import NIL

    it = interp()
    it.eval(WINDS)
    with pytest.raises(SchemeError, match="car: expected a pair"):
        it.eval("(nested (lambda () (car 1)))")
    assert it.stdout.getvalue() == "before\ninner after, p=2\nouter after, p=1\n"
    assert ev("(p)", it) == "1" and D.winders is NIL


def test_an_error_in_an_after_thunk_replaces_the_escaping_one_and_unwinding_goes_on():
    from interp.errors import SchemeError

    it = interp()
    it.eval(WINDS)
    with pytest.raises(SchemeError, match="vector-ref"):
        it.eval("""(dynamic-wind (lambda () #f)
                     (lambda () (nested (lambda () (car 1))))
                     (lambda () (vector-ref (vector) 0)))""")
    assert it.stdout.getvalue() == "before\ninner after, p=2\nouter after, p=1\n"


def test_exit_runs_the_after_thunks_it_leaves():
    """R7RS: exit runs all outstanding dynamic-wind after procedures."""
    from interp.primitives.io import SchemeExit

    it = interp()
    it.eval(WINDS)
    with pytest.raises(SchemeExit):
        it.eval("(nested (lambda () (exit 3)))")
    assert it.stdout.getvalue() == "before\ninner after, p=2\nouter after, p=1\n"


def test_a_handled_error_runs_each_after_thunk_once():
    """guard catches the error outside both winds: the after thunks run once, on the
    way out to the guard, not again when the guard's body returns."""
    it = interp()
    it.eval(WINDS)
    assert ev("(guard (e (#t 'caught)) (nested (lambda () (car 1))))", it) == "caught"
    assert it.stdout.getvalue() == "before\ninner after, p=2\nouter after, p=1\n"
