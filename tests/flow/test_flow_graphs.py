"""Export/import keeps a suspended flow's data exactly: shared structure, cycles,
closures over their own environment, records, hash tables, odd atoms."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest

from flow import FlowError, FlowRuntime

from flowhelp import runtime

PRELUDE = r"""
(define-record-type node (make-node a b) node? (a node-a set-node-a!) (b node-b set-node-b!))
(define (box-closure) (let ((v #f)) (lambda args (if (null? args) v (set! v (car args))))))
(define (->string x) (call-with-output-string (lambda (p) (write x p))))
(define (describe nodes)
  ;; each node as (kind field ...), a field (ref i) when it is node i (by eq?), else (atom x)
  (define (idx x)
    (let loop ((i 0))
      (cond ((= i (vector-length nodes)) #f) ((eq? (vector-ref nodes i) x) i) (else (loop (+ i 1))))))
  (define (field x) (let ((i (idx x))) (if i (list 'ref i) (list 'atom x))))
  (map (lambda (n)
         (cond ((pair? n) (list 'pair (field (car n)) (field (cdr n))))
               ((vector? n) (cons 'vec (map field (vector->list n))))
               ((node? n) (list 'rec (field (node-a n)) (field (node-b n))))
               ((hash-table? n)
                (cons 'table (map (lambda (kv) (list (field (car kv)) (field (cdr kv)))) (hash-table->alist n))))
               ((procedure? n) (list 'closure (field (n))))
               (else (list 'other n))))
       (vector->list nodes)))
"""

# atoms: written as Scheme literals; #f next to 0, #t next to 1, exact next to inexact
ATOMS = [
    "0", "#f", "1", "#t", "1.0", "-0.0", "'()", "\"\"", "#\\a", "#\\x0", "#\\x3bb", "#\\space",
    "12345678901234567890123456789012345678901234567890", "-98765432109876543210987654321",
    "1/3", "-22/7", "(/ (expt 3 200) (expt 2 190))", "(expt 2 64)", "(- (expt 2 63))",
    "\"h\\xe9;llo \\x2603; \\x1d11e;\"", "\"\\xD800;lone surrogate\"", "\"nul\\x0;inside\"", "\"line\\nbreak\\ttab\"",
    "'sym", "'|odd symbol \\x3bb;|", "(string->symbol \"\")", "1e300", "(bytevector 0 255 7)",
    "1+2i", "-1/2+3/4i", "(make-rectangular (expt 2 70) -1/3)", "1.5-0.0i", "+inf.0-nan.0i", "(sqrt -2)",
]

KINDS = ["pair", "vec", "rec", "table", "closure"]


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 8))
    kinds = [draw(st.sampled_from(KINDS)) for _ in range(n)]
    field = st.one_of(st.builds(lambda i: ("ref", i), st.integers(0, n - 1)),
                      st.builds(lambda a: ("atom", a), st.sampled_from(ATOMS)))
    fields = []
    for k in kinds:
        if k in ("pair", "rec"):
            fields.append([draw(field), draw(field)])
        elif k == "vec":
            fields.append(draw(st.lists(field, max_size=4)))
        elif k == "closure":
            fields.append([draw(field)])
        else:  # table: atom keys (incl. #f and 0), any values
            ks = draw(st.lists(st.sampled_from(["0", "#f", "1", "#t", "\"a\"", "#\\a", "'a", "1/3", "(expt 2 70)",
                                                "0.0", "-0.0", "+i", "0.0+1.0i"]),
                               unique=True, max_size=5))
            fields.append([(k_, draw(field)) for k_ in ks])
    return kinds, fields


def scheme_of(kinds, fields):
    """Scheme code building the graph into the vector `nodes`."""
    make = {"pair": "(cons #f #f)", "rec": "(make-node #f #f)", "table": "(make-eqv-hash-table)",
            "closure": "(box-closure)"}

    def f(x):
        return f"(vector-ref nodes {x[1]})" if x[0] == "ref" else x[1]

    out = [f"(define nodes (vector {' '.join(make.get(k) or f'(make-vector {len(fs)} #f)' for k, fs in zip(kinds, fields))}))"]
    for i, (k, fs) in enumerate(zip(kinds, fields)):
        me = f"(vector-ref nodes {i})"
        if k == "pair":
            out.append(f"(set-car! {me} {f(fs[0])}) (set-cdr! {me} {f(fs[1])})")
        elif k == "rec":
            out.append(f"(set-node-a! {me} {f(fs[0])}) (set-node-b! {me} {f(fs[1])})")
        elif k == "vec":
            out.extend(f"(vector-set! {me} {j} {f(x)})" for j, x in enumerate(fs))
        elif k == "closure":
            out.append(f"({me} {f(fs[0])})")
        else:
            out.extend(f"(hash-table-set! {me} {key} {f(x)})" for key, x in fs)
    return "\n".join(out)


SOURCE = runtime(PRELUDE)
TARGET = runtime(PRELUDE)
EMPTY = FlowRuntime().export_store()
_n = iter(range(10**9))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs())
def test_random_graphs_survive_export_and_import(graph):
    kinds, fields = graph
    i = next(_n)
    code = (
        f"(defflow graph-{i} (lambda () {scheme_of(kinds, fields)}\n"
        "  (let ((before (->string (describe nodes))))\n"
        "    (request 'hold (length (describe nodes)))\n"
        "    (list before (->string (describe nodes))))))"
    )
    for rt in (SOURCE, TARGET):
        rt.import_store(EMPTY)
        rt.load(code, "graphs.scm")
    s = SOURCE.start(f"graph-{i}", flow_id="g")
    assert s.payload == len(kinds)
    TARGET.import_store(SOURCE.export_store())
    before, after = TARGET.resume("g", 0).value
    assert before == after
    # the description is not vacuous: refs where the model has refs
    for j, (k, fs) in enumerate(zip(kinds, fields)):
        refs = [x[1] for x in (v for _, v in fs) if x[0] == "ref"] if k == "table" else [x[1] for x in fs if x[0] == "ref"]
        for r in refs:
            assert f"(ref {r})" in after


GRAPH_FLOW = PRELUDE + r"""
(defflow keeps-graph (lambda ()
  (let* ((shared (list 'shared 1/3))
         (cyc (list 1 2 3))
         (vec (make-vector 3 #f))
         (table (make-equal-hash-table))
         (rec (make-node #f #f))
         (counter (let ((n 0)) (lambda () (set! n (+ n 1)) n)))
         (count-down (letrec ((loop (lambda (n) (if (= n 0) 'landed (loop (- n 1)))))) loop)))
    (set-cdr! (cddr cyc) cyc)                ; a cycle through set-cdr!
    (vector-set! vec 0 vec)                  ; a vector containing itself
    (vector-set! vec 1 shared)
    (vector-set! vec 2 shared)
    (hash-table-set! table #f 'false)
    (hash-table-set! table 0 'zero)
    (hash-table-set! table shared 'by-list)
    (set-node-a! rec rec)
    (set-node-b! rec counter)
    (counter) (counter)
    (request 'hold "\x3bb;\xD800;")
    (list (eq? (vector-ref vec 0) vec)
          (eq? (vector-ref vec 1) (vector-ref vec 2))
          (eq? (vector-ref vec 1) shared)
          (eq? (cdddr cyc) cyc)
          (list (car cyc) (cadr cyc) (caddr cyc) (cadddr cyc))
          (hash-table-ref/default table #f 'missing)
          (hash-table-ref/default table 0 'missing)
          (hash-table-ref/default table (list 'shared 1/3) 'missing)
          (hash-table-count table)
          (eq? (node-a rec) rec)
          ((node-b rec))
          (counter)
          (count-down 5000)
          (eq? (node-b rec) counter)))))
"""


def test_shared_structure_cycles_closures_records_and_tables_keep_identity():
    src = runtime(GRAPH_FLOW)
    s = src.start("keeps-graph", flow_id="k")
    assert s.payload == "\u03bb\ud800"
    dst = runtime(GRAPH_FLOW)
    dst.import_store(src.export_store())
    assert dst.resume("k", 0).value == [
        True, True, True, True, [1, 2, 3, 1], "false", "zero", "by-list", 3, True, 3, 4, "landed", True]
    # the same flow resumed in its own runtime gives the same answer
    assert src.resume("k", 0).value == dst.result("k").value


def test_two_flows_do_not_share_data_after_import():
    code = "(defflow holder (lambda (xs) (request 'a 0) (set-car! xs 'mine) (request 'b 0) (car xs)))"
    src = runtime(code)
    shared = src.eval("(list 'orig)")
    from flow import SchemeObject

    src.start("holder", SchemeObject(shared), flow_id="a")
    src.start("holder", SchemeObject(shared), flow_id="b")
    dst = runtime(code)
    dst.import_store(src.export_store())
    dst.resume("a", 0)
    assert dst.resume("b", 0).kind == "b"
    assert dst.resume("b", 0).value == "mine"  # its own copy, mutated by itself only
    assert dst.resume("a", 0).value == "mine"


def test_huge_numbers_survive():
    code = ("(defflow nums (lambda () (let ((big (expt 3 20000)) (ratio (/ (expt 3 10001) (expt 2 10000)))"
            " (neg (- (expt 7 5000)))) (request 'hold 0) (list (= big (expt 3 20000))"
            " (= ratio (/ (expt 3 10001) (expt 2 10000))) (= neg (- (expt 7 5000))) (exact? ratio)))))")
    src = runtime(code)
    src.start("nums", flow_id="n")  # the ratio's digits are past Python's int<->str limit
    dst = runtime(code)
    dst.import_store(src.export_store())
    assert dst.resume("n", 0).value == [True, True, True, True]


def test_complex_numbers_survive():
    code = ("(defflow zs (lambda () (let ((zs (list 1+2i -1/2+3/4i (make-rectangular (expt 3 200) 1/7)"
            " 1.5-0.0i -0.0+inf.0i +nan.0+1.0i (sqrt -2)))) (request 'hold 0)"
            " (list (->string zs) (map exact? zs) (eqv? (car zs) 1+2i) (eqv? (list-ref zs 3) 1.5-0.0i)"
            " (eqv? (list-ref zs 3) 1.5+0.0i) (real? (list-ref zs 3))))))")
    src = runtime(PRELUDE + code)
    src.start("zs", flow_id="z")
    dst = runtime(PRELUDE + code)
    dst.import_store(src.export_store())
    written, exactness, *checks = dst.resume("z", 0).value
    assert written == ("(1+2i -1/2+3/4i " + str(3**200) + "+1/7i 1.5-0.0i -0.0+inf.0i +nan.0+1.0i"
                       " +1.4142135623730951i)")
    assert exactness == [True, True, True, False, False, False, False]
    assert checks == [True, True, False, False]


def test_global_parameters_and_record_types_keep_their_identity():
    first = "(define p1 (make-parameter 1)) (defflow f1 (lambda () (let ((pp p1)) (request 'a 0) (eq? pp p1))))"
    later = ("(define q (make-parameter 5)) (define-record-type thing (make-thing x) thing? (x thing-x))"
             " (defflow f2 (lambda () (let ((pp q) (t (make-thing 1))) (request 'a 0)"
             " (list (eq? pp q) (thing? t) (thing-x t)))))")
    rt = runtime(first)
    rt.start("f1", flow_id="a")  # the saver learns the globals as they are now...
    rt.load(later, "flows.scm")  # ...and must see the ones defined after
    rt.start("f2", flow_id="b")
    assert rt.resume("b", 0).value == [True, True, 1]
    rt.start("f2", flow_id="c")
    dst = runtime(first, later)
    dst.import_store(rt.export_store())
    assert dst.resume("a", 0).value is True
    assert dst.resume("c", 0).value == [True, True, 1]


def test_record_types_and_procedures_are_found_again_after_a_global_changes():
    """Decoding binds a flow's record types and record procedures to the loaded ones;
    where they were found is remembered, and checked again every time."""
    src = ("(define-record-type thing (make-thing x) thing? (x thing-x))"
           " (defflow g (lambda () (let ((t (make-thing 1)) (get thing-x)) (request 'a 0)"
           " (list (thing? t) (get t)))))")
    rt = runtime(src)
    for flow_id in "abcde":
        rt.start("g", flow_id=flow_id)
    assert rt.resume("a", 0).value == [True, 1]  # found, and remembered
    assert rt.resume("b", 0).value == [True, 1]  # (remembered)
    # the record type defined again: its flows decode against the new one
    rt.load("(define-record-type thing (make-thing x) thing? (x thing-x))", "again.scm")
    assert rt.resume("c", 0).value == [True, 1]
    # thing-x no longer holds an accessor: no loaded code defines the one flow d holds
    rt.eval("(set! thing-x car)")
    with pytest.raises(FlowError, match="accessor of record type thing that no loaded code defines"):
        rt.resume("d", 0)
    # and no global holds the type: flow e's record is of a type of its own, which
    # the loaded predicate does not know (its own accessor still reads it)
    rt.eval("(set! thing 'gone)")
    assert rt.resume("e", 0).value == [False, 1]
