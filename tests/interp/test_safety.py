"""Safety against cycles, heavy sharing and small inputs that ask for huge work: equal?
and flow's same_data on circular data, quoted literals with datum labels, and the
size limits of the primitives (each refusal fast, naming the primitive and the limit).

"Fast" below is CPU time of this process (so a busy machine does not make a test
flaky), checked against a limit far below what the unguarded code takes (hours, or
gigabytes): a hang detector, not a benchmark. An alarm stops a case that runs away."""

import contextlib
import signal
import threading
import time

import pytest

from flow.runtime import same_data
from interp.analyzer import Alias, strip
from interp.datum_cache import Uncacheable, encode
from interp.errors import SchemeError
from interp.primitives.hashtables import MAX_KEY_SIZE, HashTable
from interp.primitives.sequences import MAX_LENGTH
from interp.reader import parse_number, read_all
from interp.values import MAX_INTEGER_BITS, NIL, Pair, Vector, equal, list_to_pairs, sym

from evalhelp import error, ev, interp, output
from primhelp import err, p


class _RanAway(BaseException):
    """Raised by the alarm (BaseException: the evaluator's `except Exception` cannot eat it)."""


@contextlib.contextmanager
def fast(cpu_seconds=30.0, wall_seconds=120):
    """A hang detector: the body must use under `cpu_seconds` of CPU (what it guards
    against takes minutes or never ends); an alarm stops it after `wall_seconds`."""
    use_alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if use_alarm:

        def on_alarm(signum, frame):
            raise _RanAway()

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, wall_seconds)
    start = time.thread_time()  # this thread's: other threads of the test process do not count
    try:
        yield
    except _RanAway:
        pytest.fail(f"still running after {wall_seconds} s")
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    used = time.thread_time() - start
    assert used < cpu_seconds, f"took {used:.2f} s of CPU (limit {cpu_seconds} s)"


def circular(*items):
    """A circular list of items (the last pair points back to the first)."""
    head = list_to_pairs(list(items))
    p_ = head
    while p_.cdr is not NIL:
        p_ = p_.cdr
    p_.cdr = head
    return head


def doubling(n, leaf):
    """A pair of a pair of ... (n levels), each level's car and cdr the same object:
    n + 1 objects, 2**n leaves when walked as a tree."""
    x = leaf
    for _ in range(n):
        x = Pair(x, x)
    return x


# ---------------------------------------------------------------- equal? on cycles


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("'#0=(a . #0#)", "'#1=(a a . #1#)", "#t"),
        ("'#0=(1 . #0#)", "'#1=(1 1 . #1#)", "#t"),
        ("'#0=(1 2 . #0#)", "'#1=(1 2 1 2 1 2 . #1#)", "#t"),
        ("'#0=(1 2 . #0#)", "'#1=(1 2 1 . #1#)", "#f"),
        ("'(0 . #0=(1 2 . #0#))", "'(0 1 2 . #1=(1 2 . #1#))", "#t"),
        ("'#0=(1 . #0#)", "'(1 1 1 1)", "#f"),
        ("'(1 1 1 1)", "'#0=(1 . #0#)", "#f"),
        ("'#0=(#0#)", "'#1=((#1#))", "#t"),  # cycles through the car
        ("'#0=(#0# . #0#)", "'#1=(#1# #1# . #1#)", "#t"),
        ("'#0=(#0# . 1)", "'#1=(#1# . 2)", "#f"),
        ("'#0=#(1 #0#)", "'#1=#(1 #1#)", "#t"),  # vectors containing themselves
        ("'#0=#(1 #0#)", "'#1=#(1 #(1 #1#))", "#t"),
        ("'#0=#(1 #0#)", "'#1=#(1 #(2 #1#))", "#f"),
        ("'#0=#(1 #0#)", "'#1=#(1 #1# 3)", "#f"),
        ("'#0=(a #(b #0#))", "'#1=(a #(b (a #(b #1#))))", "#t"),  # pair <-> vector cycle
        ("'#0=(#f . #0#)", "'#1=(0 . #1#)", "#f"),  # never #f = 0 ...
        ("'#0=#(#t #0#)", "'#1=#(1 #1#)", "#f"),  # ... or #t = 1
        ("'#0=(1.0 . #0#)", "'#1=(1 . #1#)", "#f"),
        ("'#0=(\"s\" . #0#)", "'#1=(\"s\" \"s\" . #1#)", "#t"),
    ],
)
def test_equal_terminates_on_cyclic_data(a, b, expected):
    with fast():
        assert ev(f"(equal? {a} {b})") == expected
        assert ev(f"(equal? {b} {a})") == expected


def test_equal_on_mutual_cycles_built_with_set_cdr():
    src = """
    (define x (list 'a 'b))
    (define y (list 'b 'a))
    (set-cdr! (cdr x) y)      ; x = a b b a b b a ...: (a b . y), y = (b a . x)
    (set-cdr! (cdr y) x)
    (define z (list 'a 'b 'b 'a))
    (set-cdr! (cdddr z) z)    ; z = a b b a a b b a ...
    (define w (list 'a 'b 'b 'a 'a 'b 'b 'a))
    (set-cdr! (list-tail w 7) w)
    (list (equal? x z) (equal? z w) (equal? x w) (equal? y z) (equal? x x))
    """
    with fast():
        assert ev(src) == "(#t #t #t #f #t)"


@pytest.mark.parametrize("n", [1, 7, 401, 5000])
def test_equal_on_long_cycles_beyond_the_plain_walk(n):
    a = circular(*range(n))
    b = circular(*range(n), *range(n))
    c = circular(*range(n - 1), "x")
    with fast():
        assert equal(a, b) is True
        assert equal(b, a) is True
        assert equal(a, c) is False
        assert equal(c, b) is False


def test_equal_keeps_its_atoms_apart():
    assert equal(False, 0) is False
    assert equal(True, 1) is False
    assert equal(1, 1.0) is False
    assert equal(list_to_pairs([False]), list_to_pairs([0])) is False
    assert equal(Vector([True]), Vector([1])) is False
    assert equal(float("nan"), float("nan")) is True
    assert equal("ab", "ab") is True
    assert equal(bytearray(b"ab"), bytearray(b"ab")) is True
    assert equal(bytearray(b"ab"), "ab") is False
    assert equal(Vector([1, 2]), Vector([1, 2, 3])) is False
    assert equal(NIL, Vector()) is False
    assert equal(list_to_pairs([1, 2], 3), list_to_pairs([1, 2], 3)) is True
    assert equal(list_to_pairs([1, 2], 3), list_to_pairs([1, 2])) is False


def test_equal_compares_other_objects_by_identity():
    t1, t2 = HashTable(), HashTable()
    assert equal(t1, t1) is True
    assert equal(t1, t2) is False  # equal? on tables is eqv? (same_data differs: below)
    assert ev("(equal? car car)") == "#t"
    assert ev("(equal? (lambda () 1) (lambda () 1))") == "#f"


def test_equal_on_heavily_shared_dags_is_fast():
    # walked as trees these are 2**60 leaves: only the union-find makes them cheap
    with fast():
        assert equal(doubling(60, 1), doubling(60, 1)) is True
        assert equal(doubling(60, 1), doubling(60, 2)) is False
        v1, v2 = 1, 1
        for _ in range(60):
            v1, v2 = Vector([v1, v1, v1]), Vector([v2, v2, v2])
        assert equal(v1, v2) is True


def test_equal_on_a_dag_built_in_scheme_is_fast():
    src = """
    (define (dag n leaf) (if (= n 0) leaf (let ((d (dag (- n 1) leaf))) (cons d d))))
    (list (equal? (dag 60 'x) (dag 60 'x)) (equal? (dag 60 'x) (dag 60 'y))
          (equal? (dag 60 'x) (dag 59 'x)))
    """
    with fast():
        assert ev(src) == "(#t #f #f)"


def test_equal_on_deep_nesting_needs_no_python_stack():
    depth = 200_000
    a = b = NIL
    for _ in range(depth):
        a, b = Pair(a, NIL), Pair(b, NIL)
    assert equal(a, b) is True
    b2 = NIL
    for _ in range(depth):
        b2 = Pair(b2, NIL)
    b2.car.car = 1  # differs deep down
    assert equal(a, b2) is False


def test_member_and_assoc_use_the_cycle_safe_equal():
    assert ev("(member '#0=(1 . #0#) '(2 #1=(1 1 . #1#) 3))") == "(#0=(1 1 . #0#) 3)"
    assert ev("(car (assoc '#0=#(a #0#) '((x . 1) (#1=#(a #1#) . 2))))") == "#0=#(a #0#)"


# ---------------------------------------------------------------- same_data (flow replay)


def table(kind="equal", **entries):
    t = HashTable(kind)
    for k, v in entries.items():
        t.set(sym(k), v)
    return t


def test_same_data_terminates_on_cyclic_payloads():
    with fast():
        assert same_data(circular(1, 2), circular(1, 2, 1, 2)) is True
        assert same_data(circular(1, 2), circular(1, 2, 1)) is False
        v = Vector([1, None])
        v[1] = v
        w = Vector([1, Vector([1, None])])
        w[1][1] = w
        assert same_data(v, w) is True
        assert same_data(list_to_pairs([sym("order"), v]), list_to_pairs([sym("order"), w])) is True


def test_same_data_compares_tables_by_content_even_in_cycles():
    a = table(items=circular(1), n=3)
    b = table(items=circular(1, 1), n=3)
    assert same_data(a, b) is True
    assert equal(a, b) is False  # equal? itself keeps comparing tables by identity
    a.set(sym("self"), a)  # tables that contain themselves
    b.set(sym("self"), b)
    with fast():
        assert same_data(a, b) is True
        assert same_data(list_to_pairs([a, a]), list_to_pairs([b, b])) is True
    b.set(sym("n"), 4)
    assert same_data(a, b) is False


def test_same_data_on_tables_that_differ():
    assert same_data(table(x=1), table(x=1, y=2)) is False
    assert same_data(table(x=1), table(y=1)) is False
    assert same_data(table(x=1), table("eqv", x=1)) is False
    assert same_data(table(x=False), table(x=0)) is False
    assert same_data(table(x=list_to_pairs([1])), table(x=list_to_pairs([1]))) is True
    assert same_data(table(), Vector()) is False


def test_same_data_on_dags_is_fast():
    with fast():
        assert same_data(doubling(60, table(x=1)), doubling(60, table(x=1))) is True
        assert same_data(doubling(60, table(x=1)), doubling(60, table(x=2))) is False


# ---------------------------------------------------------------- cyclic and shared literals


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(let ((x '#0=(a . #0#))) (eq? x (cdr x)))", "#t"),
        ("(let ((v '#0=#(1 #0#))) (eq? v (vector-ref v 1)))", "#t"),
        ("(let ((x '(#0=(1 2) #0#))) (eq? (car x) (cadr x)))", "#t"),
        ("(let ((x '(#0=#(1 2) #0#))) (eq? (car x) (cadr x)))", "#t"),
        ("(let ((x '#0=(a #1=(b . #0#) . #1#))) (list (eq? x (cdr (cadr x))) (eq? (cadr x) (cddr x))))", "(#t #t)"),
        ("(let ((x '#0=(a b c . #0#))) (list (list-ref x 4) (length+ x) (list? x)))", "(b #f #f)"),
        ("(define (f) '#0=(1 . #0#)) (eq? (f) (f))", "#t"),  # one literal, not a copy per call
        ("(case 'q ((#0=(a . #0#)) 1) (else 2))", "2"),
    ],
)
def test_cyclic_and_shared_literals_evaluate_to_their_structure(src, expected):
    with fast():
        assert ev(src) == expected


@pytest.mark.parametrize(
    "literal, written",
    [
        ("#0=(a . #0#)", "#0=(a . #0#)"),
        ("#0=#(1 #0#)", "#0=#(1 #0#)"),
        ("#0=(a #(b #0#))", "#0=(a #(b #0#))"),
        ("(x . #0=(y . #0#))", "(x . #0=(y . #0#))"),
    ],
)
def test_writing_a_cyclic_literal_gives_datum_labels(literal, written):
    assert output(f"(write '{literal})") == written
    assert ev(f"'{literal}") == written


def test_strip_keeps_cycles_and_sharing_and_copies_only_what_changes():
    a = Alias(sym("a"), None)
    x = circular(a, 2)  # (a 2 a 2 ...) with an alias in it
    y = strip(x)
    assert y is not x
    assert y.car is sym("a") and y.cdr.car == 2 and y.cdr.cdr is y
    shared = list_to_pairs([1, 2])
    tree = list_to_pairs([shared, shared, Vector([Alias(sym("b"), None), shared])])
    out = strip(tree)
    assert out.car is shared and out.cdr.car is shared  # alias-free parts are not copied
    assert out.cdr.cdr.car[0] is sym("b") and out.cdr.cdr.car[1] is shared
    plain = circular(1, 2, 3)
    assert strip(plain) is plain
    v = Vector([1, None])
    v[1] = v
    assert strip(v) is v
    w = Vector([Alias(sym("c"), None), None])
    w[1] = w
    w2 = strip(w)
    assert w2[0] is sym("c") and w2[1] is w2


def test_macro_template_vectors_hold_symbols_not_aliases():
    src = "(define-syntax f (syntax-rules () ((_) #(a (b c))))) (list (f) (symbol? (vector-ref (f) 0)))"
    assert ev(src) == "(#(a (b c)) #t)"


@pytest.mark.parametrize(
    "src, message",
    [
        ("#0=(begin 1 . #0#)", "begin: circular list"),
        ("#0=(display . #0#)", "procedure call: circular list"),
        ("(list . #0=(1 . #0#))", "procedure call: circular list"),
        ("(quote . #0=(1 . #0#))", "quote: circular list"),
        ("(let #0=((x 1) . #0#) x)", "let: circular list"),
        ("(if . #0=(#t . #0#))", "if: circular list"),
        ("(define #0=(#0#) 1)", "define: circular name"),
        ("`#0=(a . #0#)", "quasiquote: circular template"),
        ("`(1 #0=(2 #0#))", "quasiquote: circular template"),
        ("`#0=#(1 #0#)", "quasiquote: circular template"),
    ],
)
def test_circular_code_is_a_syntax_error_not_a_hang(src, message):
    with fast():
        e = error(src)
    assert message in e.message


def test_shared_quasiquote_templates_are_fine_until_too_large():
    assert ev("`(#0=(a b) #0# ,(+ 1 2))") == "((a b) (a b) 3)"
    nested = "#0=(1 ,(+ 1 1))"
    for k in range(1, 40):  # 40 levels, each a pair of the one below: 2**40 when built
        nested = f"#{k}=({nested} . #{k - 1}#)"
    with fast():
        e = error(f"`{nested}")
    assert "quasiquote: template too large" in e.message


def test_long_calls_analyse_in_linear_time():
    n = 40_000  # quadratic analysis took ~25 s here
    with fast(cpu_seconds=5.0):
        assert ev("(length (list" + " 1" * n + "))") == str(n)


def test_long_templates_with_unquotes():
    assert ev("(length `(" + " 1" * 3000 + " ,(+ 1 2) ,@(list 4 5)))") == "3003"
    assert ev("`(1 ,@(list 2 3) . ,(+ 2 2))") == "(1 2 3 . 4)"
    assert ev("`(1 `(2 ,(3 ,(+ 1 3))))") == "(1 (quasiquote (2 (unquote (3 4)))))"
    assert ev("`#(1 ,(+ 1 1) ,@(list 3 4))") == "#(1 2 3 4)"
    assert ev("`(a unquote (+ 1 2))") == "(a . 3)"


def test_include_ci_folds_long_and_cyclic_data(tmp_path):
    f = tmp_path / "data.scm"
    f.write_text("(define long '(" + " A" * 50_000 + "))\n(define cyc '#0=(X Y . #0#))\n")
    it = interp()
    it.eval(f'(include-ci "{f}")')
    assert ev("(list (length long) (car long) (car cyc) (eq? cyc (cddr cyc)))", it) == "(50000 a x #t)"


def test_the_datum_cache_refuses_shared_and_circular_data():
    for text in ["#0=(a . #0#)", "(#0=(a) #0#)", "(#0=#(1) #0#)", "#0=#(1 #0#)", "(#0=#u8(1) #0#)", "(a #0=(b . #0#))"]:
        with fast(), pytest.raises(Uncacheable):
            encode(read_all(text)[0])
    assert encode(read_all("(#(1) #(1) (a) (a))")[0])  # equal but not shared: fine


# ---------------------------------------------------------------- size limits: exact numbers


BIG = 1 << (MAX_INTEGER_BITS - 10)  # within the limit; its square is not


def too_large(name):
    return f"{name}: exact number too large (the limit is {MAX_INTEGER_BITS} bits)"


@pytest.mark.parametrize(
    "name, args",
    [
        ("*", (BIG, BIG)),
        ("*", (3, BIG, BIG)),
        ("*", (BIG, BIG, 0)),  # refused before the 0 is reached, as the product grows
        ("*", (BIG + 1, (BIG + 1) * 2)),
        ("square", (BIG,)),
        ("expt", (2, MAX_INTEGER_BITS)),
        ("expt", (3, 10**12)),
        ("expt", (BIG, 2)),
        ("expt", (2, -(10**12))),
        ("lcm", (BIG + 1, BIG - 1)),
        ("lcm", (3, 5, BIG + 1, BIG - 1, 7)),
        ("exact-integer-sqrt", (BIG**2,)),
        ("sqrt", (BIG**2,)),
        ("string->number", ("#e1e999999999",)),
        ("string->number", ("#e1e400000",)),
        ("string->number", ("#e1.5e-999999",)),
        ("string->number", ("7" * 400_000,)),
        ("string->number", ("#x" + "f" * 300_000,)),
        ("string->number", ("1/" + "7" * 400_000,)),
    ],
)
def test_huge_exact_results_are_refused_fast(name, args):
    with fast():
        assert err(name, *args) == too_large(name)


def test_the_same_expressions_in_scheme():
    it = interp()
    it.eval("(define big (expt 2 1000000))")
    for src, name in [
        ("(* big big)", "*"),
        ("(let loop ((x 3)) (loop (* x x)))", "*"),  # repeated squaring stops at the limit
        ("(square big)", "square"),
        ("(expt 2 (expt 10 9))", "expt"),
        ("(expt 10 (expt 10 100))", "expt"),
        ("(expt 1/3 (expt 10 9))", "expt"),
        ("(string->number \"#e1e999999\")", "string->number"),
        ("(- (/ 1 big) (/ 1 (+ big 1)))", "-"),
    ]:
        with fast():
            e = error(src, it)
        assert e.message == too_large(name), src


def test_exact_numbers_within_the_limit_still_work():
    assert ev("(exact-integer? (expt 2 1000000))") == "#t"
    assert ev("(= (* (expt 2 500000) (expt 2 500000)) (expt 2 1000000))") == "#t"
    assert ev("(expt -1 (expt 10 100))") == "1"
    assert ev("(expt 1 (expt 10 100))") == "1"
    assert ev("(expt 0 (expt 10 100))") == "0"
    assert ev("(expt 2.0 (expt 10 100))") == "+inf.0"
    assert ev("(expt 2 -3)") == "1/8"
    assert ev("(exact-integer? (lcm (expt 2 1000000) (expt 2 1000000)))") == "#t"
    assert ev("(call-with-values (lambda () (exact-integer-sqrt 17)) list)") == "(4 1)"
    assert ev("(string->number \"1e999999999\")") == "+inf.0"  # inexact: just infinity
    assert ev("(string->number \"#e0e999999999\")") == "0"
    assert ev("(exact 1e308)").startswith("1000000000000000010979")
    assert p("*", 99999999999999999999, 99999999999999999999) == 9999999999999999999800000000000000000001
    assert p("*", 1 << 600_000, 1 << 400_000) == 1 << 1_000_000


def test_the_reader_refuses_huge_exact_literals():
    assert parse_number("#e1e999999999") is None  # parse_number itself: just "not a number"
    for text in ["#e1e999999", "#x" + "f" * 300_000, "9" * 400_000]:
        with fast():
            e = error(text)
        assert "is too large (the limit is" in e.message
        assert e.message.startswith("number ")


# ---------------------------------------------------------------- size limits: sequences


@pytest.mark.parametrize(
    "name, args, size",
    [
        ("make-list", (MAX_LENGTH + 1,), MAX_LENGTH + 1),
        ("make-list", (10**9,), 10**9),
        ("make-vector", (10**9, 0), 10**9),
        ("make-string", (10**9,), 10**9),
        ("make-bytevector", (10**9, 0), 10**9),
        ("iota", (10**9,), 10**9),
        ("string-pad", ("a", 10**9), 10**9),
        ("string-pad-right", ("a", 10**9), 10**9),
        ("vector-grow", (Vector(), 10**9), 10**9),
    ],
)
def test_absurd_lengths_are_refused_fast(name, args, size):
    with fast():
        assert err(name, *args) == f"{name}: length {size} is too large"


def test_make_list_of_a_float_count_fails_fast():
    with fast():
        e = error("(make-list 1e9)")
    assert e.message.startswith("make-list: expected an exact non-negative integer")


def test_lengths_at_the_limit_are_allowed():
    assert len(p("make-string", MAX_LENGTH)) == MAX_LENGTH
    assert len(p("make-bytevector", MAX_LENGTH, 0)) == MAX_LENGTH


def test_iota_of_huge_numbers_is_refused():
    with fast():
        message = err("iota", 100_000, 0, 1 << 100_000)
    assert message.startswith("iota: 100000 numbers of up to")
    assert f"the limit is {MAX_LENGTH} numbers of 64 bits" in message
    assert ev("(length (iota 5 0 (expt 2 100000)))") == "5"
    assert ev("(iota 3 1/2 1/3)") == "(1/2 5/6 7/6)"


# ---------------------------------------------------------------- other unbounded work


def test_list_ref_on_a_circular_list_with_a_huge_index_is_one_lap():
    src = """
    (define c (list 0 1 2 3 4))
    (set-cdr! (cddddr c) c)
    (define t (list 'a 'b 'c 'd 'e 'f 'g))
    (set-cdr! (list-tail t 6) (list-tail t 3))   ; a b c [d e f g] d e f g ...
    (list (list-ref c 7) (list-ref c (expt 10 18)) (list-ref c (+ 3 (* 5 (expt 10 30))))
          (car (list-tail c 1000001)) (list-ref t 2) (list-ref t (+ 3 (* 4 (expt 10 40)))))
    """
    with fast():
        assert ev(src) == "(2 0 3 1 c d)"
    assert error("(list-ref (list 1 2 3) 3)").message == "list-ref: index 3 out of range for list of length 3"
    assert error("(list-tail (list 1 2) (expt 10 18))").message == (
        f"list-tail: index {10**18} out of range for list of length 2"
    )


def test_hash_table_keys_with_heavy_sharing_are_refused():
    t = HashTable()
    with fast():
        with pytest.raises(SchemeError) as info:
            t.set(doubling(60, 1), "x")
    assert info.value.message == (
        f"hash table: key too large (more than {MAX_KEY_SIZE} pairs and vector elements)"
    )
    with fast():
        e = error(
            "(define (dag n) (if (= n 0) 'x (let ((d (dag (- n 1)))) (cons d d))))"
            "(hash-table-set! (make-equal-hash-table) (dag 50) 1)"
        )
    assert "key too large" in e.message
    small = doubling(8, 1)  # 256 leaves: fine
    t.set(small, "ok")
    assert t.get(doubling(8, 1)) == "ok"
    v = Vector([1, None])
    v[1] = v
    with pytest.raises(SchemeError):
        t.set(v, 1)
    with pytest.raises(SchemeError):
        t.set(circular(1, 2), 1)


@pytest.mark.parametrize("src", [
    "(let () (begin))", "((lambda () (begin)))", "(define (f) (begin)) (f)", "(let* () (begin (begin)))",
    "(parameterize () (begin))", "(let-values () (begin))",
])
def test_a_body_of_only_empty_begins_is_a_syntax_error(src):
    from interp import Interpreter
    from interp.errors import SchemeSyntaxError

    with pytest.raises(SchemeSyntaxError, match="empty body"):
        Interpreter().eval(src)
