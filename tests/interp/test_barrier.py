"""The write barrier (interp.barrier): every in-place change of a saveable Scheme
object tells the object's watcher, reads tell nobody, and a mutator added later
cannot be forgotten (the completeness tests list every global whose name has a `!`)."""

import io

import pytest

from interp import Interpreter, write_string
from interp import barrier
from interp.graph import KINDS
from interp.machine import Suspension
from interp.nodes import Let, Letrec, LocalSet, Seq
from interp.primitives import PRIMITIVES, load_all
from interp.primitives.hashtables import HashTable
from interp.primitives.records import Record, RecordProcedure
from interp.procedures import Closure, Parameter
from interp.values import MString, Pair, Vector


class Recorder:
    """A watcher that records what it was told, with a copy of each object's
    contents at that moment (so a test can tell which store a touch followed)."""

    def __init__(self):
        self.seen = []
        self.snapshots = []

    def touched(self, obj):
        self.seen.append(obj)
        self.snapshots.append(list(obj) if type(obj) in (list, Vector) else None)


@pytest.fixture
def watch():
    """watch(obj) -> a Recorder watching obj (unwatched when the test ends)."""
    watched = []

    def start(obj):
        rec = Recorder()
        barrier.watch(obj, rec)
        watched.append(obj)
        return rec

    yield start
    for obj in watched:
        barrier.unwatch(obj)


def interp():
    it = Interpreter(stdout=io.StringIO())
    it.define("pause", it.suspender("pause"))
    return it


def ev(it, src):
    return write_string(it.eval(src))


def target(it, expr):
    """The object expr evaluates to, as Scheme holds it (a mutable string stays an MString)."""
    it.eval(f"(define %target {expr})")
    return it.lookup("%target")


# ---------------------------------------------------------------- the API


def test_touch_tells_the_watcher_of_that_object_only():
    a, b = Vector([1]), Vector([1])
    rec = Recorder()
    barrier.watch(a, rec)
    try:
        barrier.touch(b)
        assert rec.seen == []
        barrier.touch(a)
        assert rec.seen == [a] and rec.seen[0] is a
    finally:
        barrier.unwatch(a)
    barrier.touch(a)
    assert len(rec.seen) == 1
    barrier.unwatch(a)  # unwatching twice is harmless


def test_watched_is_one_dict_for_good():
    # hot paths bind WATCHED.get once: the dict written by watch must be the one they read
    from interp import nodes, values
    from interp.primitives import hashtables, lists, vectors

    for module in (nodes, values, hashtables, lists, vectors):
        assert module._watcher_of.__self__ is barrier.WATCHED, module.__name__
    obj = Pair(1, 2)
    barrier.WATCHED[id(obj)] = rec = Recorder()  # the flow layer writes it directly
    try:
        PRIMITIVES["set-car!"].fn(obj, 5)
    finally:
        del barrier.WATCHED[id(obj)]
    assert rec.seen == [obj] and obj.car == 5


# ---------------------------------------------------------------- every mutator
# (names: the globals with a `!` the case exercises; setup defines the objects;
# watched: the expression for the object whose watcher must hear of the change;
# then the mutation, its written result, and an expression showing the new state.)

U = "#<unspecified>"  # what most mutators return
RECORD = "(define-record-type point (make-point x y) point? (x point-x set-point-x!) (y point-y))"

MUTATORS = [
    # pairs
    (("set-car!",), "(define t (list 1 2 3))", "t", "(set-car! t 9)", U, "t", "(9 2 3)"),
    (("set-cdr!",), "(define t (list 1 2 3))", "t", "(set-cdr! t '(8))", U, "t", "(1 8)"),
    (("list-set!",), "(define t (list 1 2 3))", "(cddr t)", "(list-set! t 2 'z)", U, "t", "(1 2 z)"),
    # vectors
    (("vector-set!",), "(define t (vector 1 2 3))", "t", "(vector-set! t 1 'x)", U, "t", "#(1 x 3)"),
    (("vector-fill!",), "(define t (vector 1 2 3 4))", "t", "(vector-fill! t 0 1 3)", U, "t", "#(1 0 0 4)"),
    (("vector-copy!",), "(define t (vector 1 2 3 4 5))", "t", "(vector-copy! t 1 t 0 3)", U, "t",
     "#(1 1 2 3 5)"),
    (("vector-sort!", "vector-copy!"), "(define t (vector 3 1 2))", "t", "(vector-sort! t <)", U, "t",
     "#(1 2 3)"),
    # mutable strings: each path of MString (set_text, mutable_chars)
    (("string-set!",), "(define t (make-string 3 #\\a))", "t", "(string-set! t 1 #\\b)", U, "t",
     '"aba"'),
    (("string-fill!",), "(define t (string-copy \"abcd\"))", "t", "(string-fill! t #\\z)", U, "t",
     '"zzzz"'),
    (("string-fill!",), "(define t (string-copy \"abcd\"))", "t", "(string-fill! t #\\z 1 3)", U, "t",
     '"azzd"'),
    (("string-copy!",), "(define t (string-copy \"abcd\"))", "t", "(string-copy! t 0 \"wxyz\")", U, "t",
     '"wxyz"'),
    (("string-copy!",), "(define t (string-copy \"abcd\"))", "t", "(string-copy! t 1 \"xy\")", U, "t",
     '"axyd"'),
    # bytevectors
    (("bytevector-u8-set!",), "(define t (bytevector 1 2 3))", "t", "(bytevector-u8-set! t 0 255)", U, "t",
     "#u8(255 2 3)"),
    (("bytevector-copy!",), "(define t (bytevector 1 2 3 4))", "t", "(bytevector-copy! t 2 (bytevector 9 8))",
     U, "t", "#u8(1 2 9 8)"),
    (("read-bytevector!",), "(define t (make-bytevector 4 0))", "t",
     "(read-bytevector! t (open-input-bytevector (bytevector 7 8 9)))", "3", "t", "#u8(7 8 9 0)"),
    # hash tables
    (("hash-table-set!",), "(define t (make-equal-hash-table))", "t", "(hash-table-set! t 'a 1 'b 2)", U,
     "(hash-table->alist t)", "((a . 1) (b . 2))"),
    (("hash-table-delete!",), "(define t (make-equal-hash-table)) (hash-table-set! t 'a 1 'b 2)", "t",
     "(hash-table-delete! t 'a 'zz)", "1", "(hash-table->alist t)", "((b . 2))"),
    (("hash-table-clear!",), "(define t (make-equal-hash-table)) (hash-table-set! t 'a 1)", "t",
     "(hash-table-clear! t)", U, "(hash-table-count t)", "0"),
    (("hash-table-update!", "hash-table-set!"), "(define t (make-equal-hash-table)) (hash-table-set! t 'a 1)",
     "t", "(hash-table-update! t 'a (lambda (v) (+ v 10)))", U, "(hash-table-ref t 'a)", "11"),
    (("hash-table-update!",), "(define t (make-equal-hash-table))", "t",
     "(hash-table-update! t 'a (lambda (v) (+ v 10)) (lambda () 0))", U, "(hash-table-ref t 'a)", "10"),
    (("hash-table-update!/default",), "(define t (make-eqv-hash-table))", "t",
     "(hash-table-update!/default t 3 (lambda (v) (cons 'x v)) '())", U, "(hash-table-ref t 3)", "(x)"),
    # records: a user-defined modifier, and the prelude's promise box
    ((), RECORD + " (define t (make-point 1 2))", "t", "(set-point-x! t 5)", U, "(point-x t)", "5"),
    (("%promise-set-box!",), "(define t (delay 1))", "t", "(%promise-set-box! t (cons #t 7))", U,
     "(force t)", "7"),
    # force memoises by changing the promise's box pair in place (set-car!, set-cdr!)
    ((), "(define t (delay (+ 1 2)))", "(%promise-box t)", "(force t)", "3", "(%promise-box t)", "(#t . 3)"),
    # parameters
    (("%parameter-set!",), "(define t (make-parameter 1))", "t", "(%parameter-set! t 5)", U, "(t)", "5"),
    ((), "(define t (make-parameter 1))", "t", "(parameterize ((t 2)) (t))", "2", "(t)", "1"),
]

# Globals with a `!` that change no object a flow saves (interp.graph's kinds):
EXCLUDED = {
    # rebind the driver's dynamic state (D.winders / D.handlers) to fresh lists;
    # a suspension copies the state it stops in, and no pair of it is ever changed
    "%wind-push!": "dynamic state",
    "%wind-pop!": "dynamic state",
    "%set-handlers!": "dynamic state",
    "%handlers-push!": "dynamic state",
    # the random generator's state (host state, not a Scheme object)
    "random-seed!": "host state",
    "set-random-seed!": "host state",
    # linear-update procedures written without mutation (SRFI 1/132 allow both);
    # test_linear_update_procedures_change_nothing holds them to it
    "append-reverse!": "no mutation",
    "delete!": "no mutation",
    "sort!": "no mutation",
}


def _ids(case):
    return case[3]  # the mutation


@pytest.mark.parametrize("case", MUTATORS, ids=_ids)
def test_mutator_tells_the_watcher(case, watch):
    names, setup, watched, mutation, result, after, expected = case
    it = interp()
    it.eval(setup)
    obj = target(it, watched)
    rec = watch(obj)
    assert ev(it, mutation) == result
    assert rec.seen, f"{mutation}: the watcher of {watched} was not told"
    assert all(x is obj for x in rec.seen)
    assert ev(it, after) == expected


@pytest.mark.parametrize("case", MUTATORS, ids=_ids)
def test_mutator_result_unchanged_when_nothing_watches(case):
    names, setup, watched, mutation, result, after, expected = case
    it = interp()
    it.eval(setup)
    assert id(target(it, watched)) not in barrier.WATCHED
    assert ev(it, mutation) == result
    assert ev(it, after) == expected


def test_a_mutator_of_another_object_tells_nobody(watch):
    it = interp()
    it.eval("(define a (vector 1 2)) (define b (vector 1 2))")
    rec = watch(it.lookup("a"))
    it.eval("(vector-set! b 0 'x) (vector-fill! b 0) (vector-copy! b 0 a)")
    assert rec.seen == []


def test_no_touch_when_nothing_changes(watch):
    it = interp()
    it.eval("(define t (make-equal-hash-table)) (hash-table-set! t 'a 1)")
    rec = watch(it.lookup("t"))
    assert ev(it, "(hash-table-delete! t 'missing)") == "0"
    assert rec.seen == []


@pytest.mark.parametrize("call, arg, before", [
    ("(append-reverse! t '(9))", "(list 1 2 3)", "(1 2 3)"),
    ("(delete! 2 t)", "(list 1 2 3)", "(1 2 3)"),
    ("(sort! t <)", "(list 3 1 2)", "(3 1 2)"),
    ("(sort! t <)", "(vector 3 1 2)", "#(3 1 2)"),
])
def test_linear_update_procedures_change_nothing(call, arg, before, watch):
    # they are EXCLUDED above because they build new structure: if one is ever
    # made to reuse its argument's cells, it must go through a barriered primitive
    it = interp()
    it.eval(f"(define t {arg})")
    t = it.lookup("t")
    recs = [watch(t)]
    while type(t) is Pair:
        t = t.cdr
        if type(t) is Pair:
            recs.append(watch(t))
    it.eval(call)
    assert ev(it, "t") == before
    assert all(r.seen == [] for r in recs)


# ---------------------------------------------------------------- completeness


def _is_flow_layers(name):
    """The flow layer's own procedures (flow/scheme_api.py: flow-reset!, flow-store-import!,
    registered once a FlowRuntime is made in the process) act on the flow store, not on
    Scheme objects."""
    return name.startswith(("flow-", "flow/"))


def _bang_globals(it):
    return {s.name for s, cell in it.genv.cells.items()
            if "!" in s.name and hasattr(cell, "value") and not _is_flow_layers(s.name)}


def test_every_global_with_a_bang_is_tested_or_excluded():
    it = interp()
    covered = {n for case in MUTATORS for n in case[0]}
    bang = _bang_globals(it)
    missing = bang - covered - set(EXCLUDED)
    assert not missing, f"mutators with no barrier test (add to MUTATORS, or to EXCLUDED with why): {sorted(missing)}"
    stale = (covered | set(EXCLUDED)) - bang
    assert not stale, f"no longer globals: {sorted(stale)}"
    assert not covered & set(EXCLUDED)


def test_every_primitive_with_a_bang_is_tested_or_excluded():
    covered = {n for case in MUTATORS for n in case[0]}
    missing = {n for n in load_all() if "!" in n and not _is_flow_layers(n)} - covered - set(EXCLUDED)
    assert not missing, sorted(missing)


def test_every_mutable_kind_has_a_mutator_test():
    """Every type interp.graph marks mutable is the target of some case above."""
    mutable = [k.type for k in KINDS.values() if getattr(k, "mutable", False)]
    if not mutable:
        pytest.skip("interp.graph marks no kind mutable")
    tested = set()
    for case in MUTATORS:
        it = interp()
        it.eval(case[1])
        tested.add(type(target(it, case[2])))
    tested.add(list)  # environment frames: the tests below
    assert set(mutable) <= tested, set(mutable) - tested
    assert {Pair, Vector, MString, bytearray, HashTable, Record, Parameter} <= tested


def test_record_modifiers_are_record_procedures():
    # user record modifiers are not globals of a fresh interpreter: every one is
    # made by record_procedure(kind "modifier"), which the record cases test
    it = interp()
    it.eval(RECORD)
    p = it.lookup("set-point-x!")
    assert type(p) is RecordProcedure and p.kind == "modifier"


# ---------------------------------------------------------------- reads tell nobody

READS = [
    ("(define t (list 1 2))", "(list (car t) (cdr t) (length t) (list-ref t 1) (list-copy t) (equal? t t))"),
    ("(define t (vector 1 2))", "(list (vector-ref t 0) (vector-length t) (vector->list t) (vector-copy t))"),
    ("(define t (string-copy \"ab\"))",
     "(list (string-ref t 0) (string-length t) (string-append t t) (substring t 0 1) (string->list t))"),
    ("(define t (bytevector 1 2))", "(list (bytevector-u8-ref t 0) (bytevector-length t) (bytevector-copy t))"),
    ("(define t (make-equal-hash-table)) (hash-table-set! t 'a 1)",
     "(list (hash-table-ref t 'a) (hash-table-ref/default t 'b 0) (hash-table-ref t 'b (lambda () 0))"
     " (hash-table-contains? t 'a) (hash-table-count t) (hash-table-keys t) (hash-table->alist t)"
     " (hash-table-copy t))"),
    (RECORD + " (define t (make-point 1 2))", "(list (point-x t) (point-y t) (point? t))"),
    ("(define t (make-parameter 1))", "(list (t) (t))"),
]


@pytest.mark.parametrize("setup, reads", READS)
def test_reads_tell_nobody(setup, reads, watch):
    it = interp()
    it.eval(setup)
    rec = watch(it.lookup("t"))
    it.eval(f"(write {reads})")
    assert rec.seen == []


def test_variable_reads_tell_nobody(watch):
    it = interp()
    c = target(it, "(let ((n 1)) (lambda () (+ n n)))")
    rec = watch(c.env)
    assert ev(it, "(%target)") == "2"
    assert rec.seen == []


# ---------------------------------------------------------------- environment frames


def test_set_of_a_captured_variable_tells_the_closures_frame(watch):
    it = interp()
    c = target(it, "(let ((n 0)) (lambda () (set! n (+ n 1)) n))")
    assert type(c) is Closure
    rec = watch(c.env)
    assert ev(it, "(%target)") == "1"
    assert ev(it, "(%target)") == "2"
    assert len(rec.seen) == 2 and all(x is c.env for x in rec.seen)
    assert rec.snapshots[-1][0] == 2


def test_set_of_a_procedure_argument_resumed_tells_its_frame(watch):
    it = interp()
    it.eval("(define (f x) (pause) (set! x (* x 2)) x)")
    s = it.run_suspendable("(f 21)")
    assert type(s) is Suspension
    env = _frame_env(s, Seq)  # the body waits in f's frame
    rec = watch(env)
    assert write_string(it.resume(s, 0)) == "42"
    assert rec.seen == [env] and rec.snapshots[0][0] == 42


def _frame_env(s, node_type):
    """The env of the innermost frame of suspension s waiting in a node of node_type."""
    k = s.k
    while k is not None:
        if type(k.node) is node_type:
            return k.env
        k = k.next
    raise AssertionError(f"no {node_type.__name__} frame in the continuation")


def test_internal_define_resumed_tells_the_frame(watch):
    it = interp()
    it.eval("(define (f) (define x (pause 'x)) (define y 2) (+ x y))")
    s = it.run_suspendable("(f)")
    env = _frame_env(s, LocalSet)
    rec = watch(env)
    assert write_string(it.resume(s, 40)) == "42"
    # two stores into the saved frame: x on resume, then y
    assert len(rec.seen) == 2 and all(x is env for x in rec.seen)
    assert rec.snapshots[0][0] == 40 and rec.snapshots[1][:2] == [40, 2]


def test_letrec_resumed_tells_the_frame_at_each_store(watch):
    it = interp()
    src = "(letrec ((a (lambda () b)) (b (pause 'b)) (c 3)) (list (a) b c))"
    s = it.run_suspendable(src)
    env = _frame_env(s, Letrec)
    rec = watch(env)
    assert write_string(it.resume(s, "x")) == '("x" "x" 3)'
    # b stored on resume, then c by the init loop: one touch after each
    assert len(rec.seen) == 2 and all(x is env for x in rec.seen)
    assert rec.snapshots[0][1] == "x" and rec.snapshots[1][2] == 3
    # the same continuation resumed again writes the same frame again
    assert write_string(it.resume(s, "y")) == '("y" "y" 3)'
    assert len(rec.seen) == 4


def test_named_let_loop_resumed_tells_its_frame(watch):
    # a named let is a letrec of one lambda: a capture in a loop iteration resumes
    # into the loop's frames; the stores there (set!) must tell
    it = interp()
    src = "(let loop ((i 0) (acc 0)) (if (= i 3) acc (begin (set! acc (+ acc (pause i))) (loop (+ i 1) acc))))"
    s = it.run_suspendable(src)
    env = _frame_env(s, LocalSet)
    rec = watch(env)
    r = it.resume(s, 10)
    while type(r) is Suspension:
        r = it.resume(r, 10)
    assert write_string(r) == "30"
    assert rec.seen == [env]


def test_let_resumed_writes_no_existing_frame(watch):
    # Let builds its frame on resume from the frame's saved values: the enclosing
    # frame it was captured in is not written
    it = interp()
    it.eval("(define (f x) (let ((a (pause)) (b x)) (+ a b)))")
    s = it.run_suspendable("(f 2)")
    rec = watch(_frame_env(s, Let))
    assert write_string(it.resume(s, 40)) == "42"
    assert rec.seen == []
