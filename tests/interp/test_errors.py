"""Errors: every message names the procedure and the place (`file:line:col: ...`),
carries a Scheme backtrace, is catchable by Scheme code as an error object, and
no Python exception ever escapes the evaluator as itself."""

import io
import signal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalhelp import error, ev, interp
from interp import Interpreter
from interp.errors import ErrorObject, SchemeError, SchemeSyntaxError


PROGRAM = """\
(define (first-of x)
  (car x))
(define (total lst)
  (+ (first-of lst) 1))
(define (go) (total 5))
(display "before")
(go)
"""


def test_located_message_and_backtrace():
    it = interp()
    with pytest.raises(SchemeError) as info:
        it.eval(PROGRAM, filename="order.scm")
    e = info.value
    assert str(e) == "order.scm:2:3: car: expected a pair, got 5"
    assert e.message == "car: expected a pair, got 5"
    assert [(name, str(pos)) for name, pos in e.backtrace] == [
        ("first-of", "order.scm:2:3"),
        ("total", "order.scm:4:6"),
        ("go", "order.scm:5:14"),
        ("<toplevel>", "order.scm:7:1"),
    ] or [name for name, _ in e.backtrace][:2] == ["first-of", "total"]
    text = e.format()
    assert text.splitlines()[0] == "order.scm:2:3: car: expected a pair, got 5"
    assert "backtrace" in text and "first-of at order.scm:2:3" in text and "total at order.scm:4:6" in text
    assert it.stdout.getvalue() == "before"  # the forms before the error ran


@pytest.mark.parametrize(
    "src, located",
    [
        # unbound variable
        ("(define (f) (+ 1 undefined-var))\n(f)", "t.scm:1:18: unbound variable: undefined-var"),
        ("(display nope)", "t.scm:1:10: unbound variable: nope"),
        # wrong arity, closures and primitives, in non-tail and tail position
        ("(define (f a b) a)\n(list (f 1))", "t.scm:2:7: f: expected 2 arguments, got 1"),
        ("(define (f a b) a)\n(define (g) (f 1 2 3))\n(g)", "t.scm:2:13: f: expected 2 arguments, got 3"),
        ("(define (f a . r) a)\n(f)", "t.scm:2:1: f: expected 1 or more arguments, got 0"),
        ("((lambda (x) x))", "t.scm:1:1: anonymous procedure: expected 1 argument, got 0"),
        ("(define (g) (car 1 2))\n(g)", "t.scm:1:13: car: expected 1 argument, got 2"),
        ("(list (cons 1))", "t.scm:1:7: cons: expected 2 arguments, got 1"),
        ("(vector-ref (vector))", "t.scm:1:1: vector-ref: expected 2 arguments, got 1"),
        # wrong argument type
        ("(+ 1 \"2\")", "t.scm:1:1: +: expected a number, got \"2\""),
        ("(define (f s) (string-length s))\n(f 'sym)", "t.scm:1:15: string-length: expected a string, got sym"),
        ("(vector-ref '#(1 2) 2)", "t.scm:1:1: vector-ref: index 2 out of range for vector of length 2"),
        ("(symbol->string 5)", "t.scm:1:1: symbol->string: expected a symbol, got 5"),
        # car of a non-pair
        ("(car '())", "t.scm:1:1: car: expected a pair, got ()"),
        ("(let ((x 5))\n  (cdr x))", "t.scm:2:3: cdr: expected a pair, got 5"),
        # division by zero
        ("(/ 1 0)", "t.scm:1:1: /: division by zero"),
        ("(define (avg l) (/ (apply + l) (length l)))\n(avg '())", "t.scm:1:17: /: division by zero"),
        ("(modulo 5 0)", "t.scm:1:1: modulo: division by zero"),
        # calling a non-procedure
        ("(5 1 2)", "t.scm:1:1: not a procedure: 5"),
        ("(define (f) (\"str\"))\n(f)", "t.scm:1:13: not a procedure: \"str\""),
        ("(define x '(1))\n(x)", "t.scm:2:1: not a procedure: (1)"),
        # inside library code: located where user code called it
        ("(define (f l) (map car l))\n(f '(1 2))", "t.scm:1:15: car: expected a pair, got 1"),
        ("(define (f) (filter 5 '(1)))\n(f)", "t.scm:1:13: not a procedure: 5"),
        ("(fold + 0 '(1 x))", "t.scm:1:1: +: expected a number, got x"),
        # raise and error
        ("(error \"something bad:\" 42 'foo)", "t.scm:1:1: something bad: 42 foo"),
        ("(define (f) (raise 'oops))\n(f)", "t.scm:1:13: uncaught raise: oops"),
        ("(raise (list 1 \"two\"))", "t.scm:1:1: uncaught raise: (1 \"two\")"),
        ("(assert (= 1 2))", "t.scm:1:1: assertion failed: (= 1 2)"),
        # syntax errors (reader and analyser)
        ("(display 1)\n(car (list 1 2)", "t.scm:2:1: unclosed ( opened at 2:1"),
        ("(display 1))", "t.scm:1:12: unexpected )"),
        ("(define (f) (let ((x 1 2)) x))", "t.scm:1:19: let: bad binding (x 1 2)"),
    ],
)
def test_error_messages_name_the_procedure_and_the_place(src, located):
    e = error(src, filename="t.scm")
    assert str(e) == located


def test_errors_are_one_exception_type_with_the_payload():
    e = error("(error \"msg\" 1 2)")
    assert isinstance(e, SchemeError)
    assert isinstance(e.payload, ErrorObject)
    assert e.payload.message == "msg" and e.payload.irritants == [1, 2]
    assert e.irritants == [1, 2]
    e = error("(raise 42)")
    assert e.payload == 42
    assert isinstance(error("(if)"), SchemeSyntaxError)


def test_backtrace_is_limited_when_printed():
    e = error("(define (f n) (if (= n 0) (car 0) (+ 1 (f (- n 1)))))\n(f 50)")
    assert e.backtrace[0][0] == "f"
    assert len(e.backtrace) >= 50
    text = e.format(limit=10)
    assert "more" in text.splitlines()[-1]


def test_library_frames_are_left_out_of_backtraces():
    e = error("(define (f l) (map (lambda (x) (vector-ref x 0)) l))\n(f '(1))", filename="b.scm")
    assert all(pos is None or pos.file != "<prelude>" for _, pos in e.backtrace)
    assert str(e.pos) == "b.scm:1:32"


# ---------------------------------------------------------------- catching errors in Scheme


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(guard (e (#t (error-object-message e))) (error \"bad\" 1))", '"bad"'),
        ("(guard (e (#t (error-object-irritants e))) (error \"bad\" 1 'two \"three\"))", '(1 two "three")'),
        ("(guard (e ((error-object? e) 'eo) (else 'other)) (error \"x\"))", "eo"),
        ("(guard (e ((error-object? e) 'eo) (else (list 'other e))) (raise 5))", "(other 5)"),
        ("(guard (e ((symbol? e) (list 'sym e)) ((string? e) (list 'str e))) (raise \"boom\"))", '(str "boom")'),
        ("(guard (e ((assq 'a e) => cdr) ((assq 'b e))) (raise (list (cons 'a 42))))", "42"),
        ("(guard (e ((assq 'a e) => cdr) ((assq 'b e))) (raise (list (cons 'b 23))))", "(b . 23)"),
        # re-raise when no clause matches: an outer guard sees it
        ("(guard (outer (#t (list 'outer outer))) (guard (inner ((string? inner) 'inner)) (raise 'sym)))",
         "(outer sym)"),
        ("(guard (e (#f 'no)) 'no-error)", "no-error"),
        ("(call-with-values (lambda () (guard (e (#t 0)) (values 1 2))) list)", "(1 2)"),
        # primitive errors are error objects too
        ("(guard (e ((error-object? e) (error-object-message e))) (car 5))", '"car: expected a pair, got 5"'),
        ("(guard (e (#t (error-object-message e))) (vector-ref (vector) 1))",
         '"vector-ref: index 1 out of range for vector of length 0"'),
        ("(guard (e (#t (error-object-message e))) (/ 1 0))", '"/: division by zero"'),
        ("(guard (e (#t (error-object-message e))) (undefined-thing))", '"unbound variable: undefined-thing"'),
        ("(guard (e (#t (error-object-message e))) ((lambda (x) x)))",
         '"anonymous procedure: expected 1 argument, got 0"'),
        ("(guard (e (#t (error-object-message e))) (5 5))", '"not a procedure: 5"'),
        ("(guard (e (#t (error-object-message e))) (letrec ((a b) (b 1)) a))",
         '"b: variable used before its definition"'),
        ("(define (f) (g)) (define (g) (car '())) (guard (e (#t 'caught)) (f))", "caught"),
        ("(guard (e ((file-error? e) 'file)) (open-input-file \"/no/such/file\"))", "file"),
        ("(guard (e ((read-error? e) 'read)) (read (open-input-string \")\")))", "read"),
        ("(guard (e ((read-error? e) 'read) (else 'other)) (error \"x\"))", "other"),
        ("(guard (e ((file-error? e) 'file) (else 'other)) (car 1))", "other"),
        ("(list (error-object? 5) (file-error? 5) (read-error? 'x))", "(#f #f #f)"),
        # with-exception-handler
        ("(with-exception-handler (lambda (e) 42) (lambda () (+ (raise-continuable 'oops) 1)))", "43"),
        ("(call/cc (lambda (k) (with-exception-handler (lambda (e) (k (list 'handled e))) (lambda () (raise 'boom)))))",
         "(handled boom)"),
        ("(call/cc (lambda (k) (with-exception-handler (lambda (e) (k (error-object-message e))) (lambda () (car 1)))))",
         '"car: expected a pair, got 1"'),
        ("(with-exception-handler (lambda (e) 10) (lambda () (+ 1 (raise-continuable 5))))", "11"),
        # nested handlers: the inner handler runs with the outer one installed
        ("(with-exception-handler (lambda (e) (* e 100))"
         " (lambda () (with-exception-handler (lambda (e) (raise-continuable (+ e 1)))"
         " (lambda () (raise-continuable 1)))))", "200"),
        ("(guard (e (#t (list 'outer e))) (with-exception-handler (lambda (e) (raise (list 'wrapped e)))"
         " (lambda () (raise 'inner))))", "(outer (wrapped inner))"),
        # the handler stack is restored after a guard catches
        ("(guard (e (#t 1)) (raise 'a)) (guard (e (#t 2)) (raise 'b))", "2"),
        ("(define r '()) (guard (e (#t #f)) (dynamic-wind (lambda () (set! r (cons 'in r))) (lambda () (error \"x\"))"
         " (lambda () (set! r (cons 'out r))))) r", "(out in)"),
    ],
)
def test_catching_errors(src, expected):
    assert ev(src) == expected


def test_a_handler_returning_from_a_non_continuable_raise_is_an_error():
    e = error("(with-exception-handler (lambda (e) 'ignored) (lambda () (raise 'boom)))")
    assert "handler returned from non-continuable raise" in e.message
    e = error("(with-exception-handler (lambda (e) 'ignored) (lambda () (car 1)))")
    assert "handler returned" in e.message


def test_an_uncaught_reraise_from_guard_keeps_the_raised_object():
    e = error("(guard (e ((string? e) 'str)) (raise 'sym))")
    assert e.payload is not None and e.message == "uncaught raise: sym"


def test_host_functions_errors_become_scheme_errors():
    it = interp()

    def boom(x):
        raise ValueError(f"bad value {x}")

    it.define("boom", boom)
    e = error("(define (f) (boom 3))\n(f)", it, filename="h.scm")
    assert str(e) == "h.scm:1:13: boom: bad value 3"
    assert ev("(guard (e (#t (error-object-message e))) (boom 4))", it) == '"boom: bad value 4"'
    it.define("add2", lambda a, b: a + b)
    assert str(error("(add2 1)", it)) == "<input>:1:1: add2: expected 2 arguments, got 1"


# ---------------------------------------------------------------- no Python exception escapes


class Timeout(BaseException):
    pass


SYMBOLS = """if define lambda let let* letrec letrec* begin set! quote quasiquote unquote unquote-splicing
cond case and or when unless define-syntax syntax-rules let-syntax letrec-syntax guard parameterize delay
delay-force force make-promise case-lambda define-record-type let-values let*-values define-values receive
import cond-expand include else => ... _ car cdr cons list + - * / = < > vector vector-ref vector-set!
string-ref string-append substring apply map for-each call/cc dynamic-wind error raise raise-continuable
with-exception-handler values call-with-values string->symbol symbol->string length reverse append
exact->inexact sqrt number->string string->number list->string string->list hash-table-set! make-hash-table
hash-table-ref assoc member memv eqv? equal? not null? pair? error-object-message vector-map sort list-sort
x y z f g k eval interaction-environment make-parameter string-upcase char->integer integer->char
list-tail list-ref abs quotient remainder modulo exact inexact floor round min max gcd""".split()

atoms = st.one_of(
    st.sampled_from(SYMBOLS),
    st.integers(-20, 20).map(str),
    st.sampled_from(['"s"', '""', "#t", "#f", "#\\a", "1.5", "-0.0", "1/2", "'()", "#(1 2)"]),
)


def _combine(children):
    return st.one_of(
        st.lists(children, max_size=5).map(lambda xs: "(" + " ".join(xs) + ")"),
        st.tuples(st.lists(children, min_size=1, max_size=3), children).map(
            lambda t: "(" + " ".join(t[0]) + " . " + t[1] + ")"
        ),
        st.lists(children, max_size=3).map(lambda xs: "#(" + " ".join(xs) + ")"),
        st.tuples(st.sampled_from(["'", "`", ",", ",@"]), children).map("".join),
    )


sexprs = st.recursive(atoms, _combine, max_leaves=25)
programs = st.lists(sexprs, min_size=1, max_size=3).map("\n".join)
junk_text = st.text(alphabet="()[]'`,@#\\\";|. \nabcx01+-e/", max_size=60)

_shared = {"it": None, "uses": 0}


def _run_junk(src):
    if _shared["it"] is None or _shared["uses"] > 40:
        _shared["it"] = Interpreter(stdout=io.StringIO())
        _shared["uses"] = 0
    _shared["uses"] += 1
    it = _shared["it"]

    def on_alarm(signum, frame):
        raise Timeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    try:
        it.eval(src, filename="junk.scm")
    except SchemeError as e:
        assert isinstance(e.message, str) and e.format()
    except Timeout:
        _shared["it"] = None  # an endless loop: fine, but start afresh
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs)
def test_random_programs_only_ever_raise_scheme_errors(src):
    _run_junk(src)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(junk_text)
def test_random_text_only_ever_raises_scheme_errors(src):
    _run_junk(src)


@pytest.mark.parametrize(
    "src",
    [
        "(define (f) (f)) 1",
        "(vector-ref (vector 1) 1.5)",
        "(string-ref \"abc\" -1)",
        "(list-tail '(1 2) 5)",
        "(substring \"abc\" 2 1)",
        "(integer->char -1)",
        "(exact (/ 1. 0))",
        "(sqrt 'x)",
        "(apply car '(1 2))",
        "(make-vector -1)",
        "(string->symbol 5)",
        "(hash-table-ref (make-hash-table) 'missing)",
        "(let loop ((i 0)) (if (< i 10) (loop (+ i 1)) (vector-ref #() i)))",
        "(" * 3000 + ")" * 3000,
        "(+ 1 " * 30000 + ")" * 30000,
        "(define-record-type p (mk x) p? (x px)) (px 5)",
        "(call-with-values (lambda () (values 1 2)) car)",
        "(dynamic-wind 1 2 3)",
        "(with-exception-handler 5 (lambda () 1))",
        "(parameterize ((5 1)) 1)",
        "(force (delay (car 1)))",
        "(map car 5)",
        "(for-each car '(1) '(2))",
        "(sort '(1 2) 5)",
        "(eval '(if) (interaction-environment))",
        "(eval 5 6)",
        "(length (let ((l (list 1))) (set-cdr! l l) l))",
    ],
    ids=lambda src: src if len(src) < 60 else src[:20] + f"...({len(src)} chars)",
)
def test_edge_cases_raise_scheme_errors_only(src):
    it = interp()
    try:
        it.eval(src)
    except SchemeError:
        pass


@pytest.mark.parametrize("text, where", [
    ("(define x 1)\nfoo\n", "t.scm:2:1"),        # a bare symbol: it cannot carry a position itself
    ("(define x 1)\n   42 nope", "t.scm:2:7"),
    ("#;(skipped) \n  nope", "t.scm:2:3"),       # a datum comment before it does not shift it
    ("'a\n(list 1 nope)", "t.scm:2:9"),
])
def test_an_error_in_a_top_level_atom_names_its_place(text, where):
    it = interp()
    with pytest.raises(SchemeError) as info:
        it.eval(text, "t.scm")
    assert str(info.value.pos) == where
    assert info.value.format().startswith(f"{where}: unbound variable: nope"
                                          if "nope" in text else f"{where}: unbound variable: foo")
