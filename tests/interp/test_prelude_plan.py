"""The prelude's load plan (interp/prelude_plan.py): an interpreter started by plan,
whose prelude procedures are analysed on first use, behaves exactly as one that
loaded the prelude eagerly (output, errors with their positions and backtraces,
node indices, library bindings), and a missing, stale, damaged or wrong plan, or an
unwritable cache, only means the eager load."""

import io
import json
import sys
import threading

import pytest

from interp import datum_cache, prelude_plan
from interp.errors import SchemeError, SchemeExit
from interp.interpreter import Interpreter, _prelude_text
from interp.prelude_plan import LazyCell
from interp.values import NIL

PRELUDE = "<prelude>"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache directory (the XDG one only); returns the prelude entry's path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    key = datum_cache.cache_key(_prelude_text(), PRELUDE)
    return tmp_path / "flowscheme" / f"datums.{key}.json"


def pending(it):
    return sum(type(c) is LazyCell for c in it.genv.cells.values())


def eager_interpreter(monkeypatch, tmp_path):
    """An interpreter that loads the prelude eagerly (its cache home cannot be made)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with monkeypatch.context() as m:
        m.setenv("XDG_CACHE_HOME", str(blocker))
        m.setattr(sys, "dont_write_bytecode", True)
        out = io.StringIO()
        it = Interpreter(stdout=out)
    assert pending(it) == 0
    return it, out


def planned_interpreter(cache):
    """An interpreter started by plan (the first start in `cache` writes the plan)."""
    Interpreter(stdout=io.StringIO())
    assert "plans" in json.loads(cache.read_text())
    out = io.StringIO()
    it = Interpreter(stdout=out)
    assert pending(it) > 30  # most of the prelude's procedures wait for their first use
    return it, out


def outcome(it, out, program):
    """What running program shows: its output and value, or its error as printed."""
    try:
        value = it.eval(program, filename="prog.scm")
        return ("value", out.getvalue(), repr(value))
    except SchemeExit as e:
        return ("exit", out.getvalue(), e.code)
    except SchemeError as e:
        return ("error", out.getvalue(), e.format())


def prelude_unit(it):
    (unit,) = [u for u in it.units.values() if u.filename == PRELUDE]
    return unit


PROGRAMS = [
    "(display (filter odd? '(1 2 3 4 5)))",
    "(fold + 0 '(1 2 a))",  # an error inside a prelude procedure: where, and the backtrace
    "(define (f x) (fold-left + 0 x)) (f '(1 2 x))",
    "(guard (e (#t (display (condition/report-string e)))) (raise 'boom))",
    "(guard (e ((symbol? e) (display e))) (raise-continuable 'again))",
    "(with-exception-handler (lambda (e) 42) (lambda () (+ 1 (raise-continuable 'c))))",
    "(let-values (((a b) (partition odd? '(1 2 3 4)))) (display (list a b)))",
    "(display (call/cc (lambda (k) (dynamic-wind (lambda () (display 'in)) (lambda () (k 'out)) (lambda () (display 'after))))))",
    "(define (filter p l) 'mine) (display (filter odd? '(1 2)))",
    "(define-syntax reverse (syntax-rules () ((_ x) 'macro))) (display (filter odd? '(1 2 3)))",
    "(define reverse 5) (filter odd? '(1 2 3))",
    "(define-syntax let (syntax-rules () ((_ . r) 'mine))) (display (take-while odd? '(1 3 4)))",
    "(define lambda 5) (display (take-while odd? '(1 3 4)))",
    "(define-syntax lambda (syntax-rules () ((_ . r) 'mine))) (display (first '(1 2)))",
    "(define-syntax swap! (syntax-rules () ((_ a b) (let ((t a)) (set! a b) (set! b t))))) (define x 1) (define y 2) (swap! x y) (display (list x y (drop-while odd? '(1 2 3))))",
    "(set! filter (lambda (p l) 'set)) (display (filter odd? '(1)))",
    "(display (eval '(filter odd? (list 1 2 3)) (environment '(srfi 1))))",
    "(define (filter p l) 'mine) (display (eval '(filter odd? (list 1 2 3)) (environment '(srfi 1))))",
    "(import (scheme base)) (display (list-tail '(1 2 3) 1))",
    "(display (force (delay (+ 1 2))))",
    "(define p (make-parameter 1)) (parameterize ((p 2)) (display (p)))",
    "(display (assoc 2.0 '((1 . a) (2 . b)) =))",
    "(display (string-count \"banana\" (lambda (c) (char=? c #\\a))))",
    "(display (list-tabulate 4 (lambda (i) (* i i))))",
    "(exit 3)",
    "(vector-map car '#(1))",
    "(display (map (lambda (x) (* x x)) (iota 4)))",
]


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_planned_start_behaves_as_an_eager_one(program, cache, monkeypatch, tmp_path):
    planned = planned_interpreter(cache)
    eager = eager_interpreter(monkeypatch, tmp_path)
    assert outcome(*planned, program) == outcome(*eager, program)


def test_every_node_gets_the_index_and_position_of_the_eager_load(cache, monkeypatch, tmp_path):
    planned, _ = planned_interpreter(cache)
    eager, _ = eager_interpreter(monkeypatch, tmp_path)
    planned.eval("(filter odd? '(1 2 3))")  # some analysed on use, the rest by reading .nodes
    a, b = prelude_unit(eager), prelude_unit(planned)
    assert a.hash == b.hash
    assert len(a.nodes) == len(b.nodes) and None not in b.nodes
    for x, y in zip(a.nodes, b.nodes):
        assert (type(x), x.nid, x.pos, x.owner) == (type(y), y.nid, y.pos, y.owner)
    assert pending(planned) > 0  # reading .nodes analyses; it evaluates nothing
    fold = planned.lookup("fold")
    assert fold.lam.node is b.nodes[eager.lookup("fold").lam.node.nid]


def test_the_libraries_see_the_same_builtins(cache, monkeypatch, tmp_path):
    planned, _ = planned_interpreter(cache)
    eager, _ = eager_interpreter(monkeypatch, tmp_path)
    assert list(planned.genv.builtins) == list(eager.genv.builtins)
    assert list(planned.genv.cells) == list(eager.genv.cells)
    assert planned.genv.defined == eager.genv.defined
    assert planned.genv.builtin_macros.keys() == eager.genv.builtin_macros.keys()
    fold = planned.genv.builtins[sym("fold")]
    assert fold is planned.lookup("fold")  # one closure, whichever reads it first


def sym(name):
    from interp.values import sym as intern

    return intern(name)


def test_a_pending_global_is_a_plain_cell_once_read(cache):
    it, _ = planned_interpreter(cache)
    cell = it.genv.cells[sym("partition")]
    assert type(cell) is LazyCell
    assert hasattr(cell, "value")
    assert type(cell) is not LazyCell
    assert cell.value is it.lookup("partition")


def test_concurrent_first_reads_make_one_closure(cache):
    it, _ = planned_interpreter(cache)
    cell = it.genv.cells[sym("take-while")]
    got = []
    barrier = threading.Barrier(4)

    def read():
        barrier.wait()
        got.append(cell.value)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(got) == 4 and all(v is got[0] for v in got)


def test_no_cache_entry_means_an_eager_load_that_writes_the_plan(cache):
    it = Interpreter(stdout=io.StringIO())
    assert pending(it) == 0
    blob = json.loads(cache.read_text())
    (plan,) = blob["plans"].values()
    assert prelude_plan.valid_plan(plan, len(blob["datums"]))
    assert any(name for _, _, name in plan["forms"]) and any(name is None for _, _, name in plan["forms"])


def assert_eager_load_rewrites_the_plan(cache, blob):
    """With blob (a damaged plan, re-checksummed) in the cache, a start loads the
    prelude eagerly and works, and writes a good plan for the next start."""
    blob["check"] = datum_cache._checksum(blob)
    cache.write_text(json.dumps(blob))
    out = io.StringIO()
    it = Interpreter(stdout=out)
    assert pending(it) == 0
    assert outcome(it, out, "(display (filter odd? '(1 2 3)))")[1] == "(1 3)"
    assert pending(Interpreter(stdout=io.StringIO())) > 0  # rewritten with a good plan


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob.update(plans={k: {"format": 1, "total": "x"} for k in blob["plans"]}),
        lambda blob: blob.update(plans={k: dict(p, forms=p["forms"][:-1]) for k, p in blob["plans"].items()}),
        lambda blob: blob.update(plans={k: dict(p, format=99) for k, p in blob["plans"].items()}),
        lambda blob: blob.update(plans={"another signature": next(iter(blob["plans"].values()))}),
        lambda blob: blob.update(plans=[1, 2]),
    ],
)
def test_a_malformed_or_foreign_plan_means_the_eager_load(cache, damage):
    planned_interpreter(cache)
    blob = json.loads(cache.read_text())
    blob.pop("check")
    damage(blob)
    assert_eager_load_rewrites_the_plan(cache, blob)


def test_a_damaged_entry_fails_its_checksum(cache):
    planned_interpreter(cache)
    text = cache.read_text()
    # a changed literal inside a prelude procedure is still valid JSON with the right key
    damaged = text.replace('"reverse"', '"revers_"', 1)
    assert damaged != text
    cache.write_text(damaged)
    out = io.StringIO()
    it = Interpreter(stdout=out)
    assert pending(it) == 0  # not used: read afresh, eagerly
    assert outcome(it, out, "(display (filter odd? '(1 2 3)))")[1] == "(1 3)"
    assert cache.read_text() == text  # rewritten


def test_a_stale_entry_is_never_used(cache):
    planned_interpreter(cache)
    blob = json.loads(cache.read_text())
    blob.pop("check")
    blob["key"] = "0" * 24
    blob["check"] = datum_cache._checksum(blob)
    cache.write_text(json.dumps(blob))
    it = Interpreter(stdout=io.StringIO())
    assert pending(it) == 0
    assert json.loads(cache.read_text())["key"] == datum_cache.cache_key(_prelude_text(), PRELUDE)


def test_a_plan_an_eagerly_run_form_contradicts_means_the_eager_load(cache):
    planned_interpreter(cache)
    blob = json.loads(cache.read_text())
    blob.pop("check")
    (sig,) = blob["plans"]
    forms = blob["plans"][sig]["forms"]
    # move a node from a form run at start-up to the form before it
    i = next(i for i in range(len(forms) - 1) if forms[i + 1][2] is None and forms[i + 1][1] >= 2)
    forms[i][1] += 1
    forms[i + 1][0] += 1
    forms[i + 1][1] -= 1
    assert_eager_load_rewrites_the_plan(cache, blob)


def test_a_plan_a_pending_form_contradicts_is_reported_and_discarded(cache):
    planned_interpreter(cache)
    blob = json.loads(cache.read_text())
    blob.pop("check")
    (sig,) = blob["plans"]
    forms = blob["plans"][sig]["forms"]
    i = next(i for i in range(len(forms) - 1) if forms[i][2] and forms[i + 1][2] and forms[i + 1][1] >= 2)
    forms[i][1] += 1
    forms[i + 1][0] += 1
    forms[i + 1][1] -= 1
    blob["check"] = datum_cache._checksum(blob)
    cache.write_text(json.dumps(blob))
    it = Interpreter(stdout=io.StringIO())
    with pytest.raises(Exception, match="load plan is wrong"):
        it.genv.cells[sym(forms[i][2])].value
    assert not cache.exists()  # the next start loads eagerly (and writes a good plan)
    assert pending(Interpreter(stdout=io.StringIO())) == 0
    assert pending(Interpreter(stdout=io.StringIO())) > 0


def test_an_undecodable_pending_datum_is_read_from_the_text(cache):
    planned_interpreter(cache)
    blob = json.loads(cache.read_text())
    blob.pop("check")
    (plan,) = blob["plans"].values()
    i = next(i for i, f in enumerate(plan["forms"]) if f[2] == "filter")
    blob["datums"][i] = "[not json"
    blob["check"] = datum_cache._checksum(blob)
    cache.write_text(json.dumps(blob))
    out = io.StringIO()
    it = Interpreter(stdout=out)
    assert pending(it) > 0
    assert outcome(it, out, "(display (filter odd? '(1 2 3)))")[1] == "(1 3)"


def test_an_unwritable_cache_still_starts(monkeypatch, tmp_path):
    it, out = eager_interpreter(monkeypatch, tmp_path)
    assert outcome(it, out, "(display (fold + 0 '(1 2 3)))")[1] == "6"
    assert (tmp_path / "blocker").read_text() == "x"


def frames(suspension):
    """Where a suspension's continuation stands: (file, node kind, nid) per frame."""
    out = []
    f = suspension.k
    while f is not None and f is not NIL:
        node = f.node
        unit = getattr(node, "unit", None)
        out.append((getattr(unit, "filename", None), type(node).__name__, getattr(node, "nid", None)))
        f = f.next
    return out


def test_a_suspension_inside_a_prelude_procedure_refers_to_the_same_nodes(cache, monkeypatch, tmp_path):
    program = "(fold (lambda (x acc) (+ acc (ask x))) 0 '(1 2 3))"
    got = []
    for it, _ in (planned_interpreter(cache), eager_interpreter(monkeypatch, tmp_path)):
        it.define("ask", it.suspender("ask"))
        s = it.run_suspendable(program, filename="prog.scm")
        where = frames(s)
        assert any(file == PRELUDE for file, _, _ in where)  # fold's own frame is among them
        got.append(where)
        assert it.resume(s, 10) is not None
    assert got[0] == got[1]


def test_a_new_macro_analyses_only_the_pending_forms_that_can_meet_its_name(cache):
    it, out = planned_interpreter(cache)
    loader = prelude_unit(it).loader
    before = loader.pending
    it.eval("(define-syntax swap! (syntax-rules () ((_ a b) (let ((t a)) (set! a b) (set! b t)))))")
    assert loader.pending == before  # no prelude form mentions swap!
    it.eval("(define-syntax reverse (syntax-rules () ((_ x) 'macro)))")
    assert 0 < loader.pending < before  # those that mention reverse were analysed first
    assert outcome(it, out, "(display (filter odd? '(1 2 3)))")[1] == "(1 3)"
    it.eval("(define-syntax let (syntax-rules () ((_ . r) 'mine)))")
    assert loader.pending == 0  # a special form's name: any form can meet it
