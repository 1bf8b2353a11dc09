"""How values cross between Python and Scheme, both ways, through real flows."""

import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow import FlowRuntime, SchemeObject, to_python, to_scheme
from interp.printer import write_string

from flowhelp import runtime

ECHO = "(defflow echo (lambda (x) (request 'echo x)))"
RT = runtime(ECHO)  # shared: each example uses its own flow id
TARGET = runtime(ECHO)
_counter = iter(range(10**9))


def same(a, b):
    """Equal and of the same Python types all the way down (tuples come back as lists)."""
    if isinstance(a, tuple):
        a = list(a)
    if isinstance(a, bytearray):
        a = bytes(a)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and same(v, b[k]) for k, v in a.items())
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=True)
    | st.fractions().filter(lambda f: f.denominator != 1)
    | st.text()
    | st.binary()
)
keys = st.none() | st.integers() | st.text() | st.floats(allow_nan=False) | st.fractions()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_python_values_round_trip_through_a_flow_and_an_export(x):
    fid = f"v{next(_counter)}"
    s = RT.start("echo", x, flow_id=fid)
    assert same(x, s.payload)
    TARGET.import_store(_single(fid))
    d = TARGET.resume(fid, x)
    assert same(x, d.value)
    assert same(x, to_python(TARGET.journal(fid)[0].answer))


EXPORTER = FlowRuntime()


def _single(fid):
    """An export holding only flow fid (keeps the shared runtime's exports small)."""
    stored = RT.store.get(fid)
    EXPORTER.store.replace_all({fid: stored})
    return EXPORTER.export_store()


@pytest.mark.parametrize("x", [None, True, False, 0, 1, -1, 2**64, -(2**200), 1.5, -0.0, float("inf"),
                               Fraction(1, 3), Fraction(-7, 2**70), "", "héllo ☃ 𝄞", "\ud800lone", b"", b"\x00\xff",
                               [], [None, [True, [0]]], {}, {"a": {"b": [1, 2]}}, {None: 1, 2: "x", 1.5: b"y"}])
def test_python_to_scheme_and_back(x):
    assert same(x, to_python(to_scheme(x)))


@pytest.mark.parametrize("x, written", [(True, "#t"), (False, "#f"), (0, "0"), (1, "1")])
def test_booleans_and_small_integers_stay_apart_in_scheme(x, written):
    rt = runtime(ECHO)
    assert write_string(to_scheme(x)) == written
    s = rt.start("echo", x, flow_id="b")
    assert type(s.payload) is type(x) and s.payload == x


def test_python_side_types_seen_by_scheme():
    rt = runtime("(defflow kinds (lambda (x) (request 'k (map (lambda (v) (cond ((eq? v #t) 'true) ((eq? v #f) 'false)"
                 " ((exact-integer? v) 'int) ((and (number? v) (exact? v)) 'ratio) ((number? v) 'float)"
                 " ((string? v) 'string) ((bytevector? v) 'bytes) ((hash-table? v) 'table) ((null? v) 'null)"
                 " ((pair? v) 'list) (else 'other))) x))))")
    s = rt.start("kinds", [True, False, 3, Fraction(1, 2), 2.0, "s", b"b", {"k": 1}, [], [1], (1,), None], flow_id="t")
    assert s.payload == ["true", "false", "int", "ratio", "float", "string", "bytes", "table", "null", "list", "list",
                         "other"]


def test_scheme_values_seen_from_python():
    rt = FlowRuntime()
    cases = {
        "'sym": "sym",
        "#\\x": "x",
        "#\\x3bb": "\u03bb",
        "(vector 1 #(2) \"s\")": [1, [2], "s"],
        "(list 1 (list 2 3) '())": [1, [2, 3], []],
        "(bytevector 1 2 255)": b"\x01\x02\xff",
        "(if #f #f)": None,
        "3/4": Fraction(3, 4),
        "6/3": 2,
        "#t": True,
        "(let ((h (make-equal-hash-table))) (hash-table-set! h 'a 1) (hash-table-set! h \"b\" '(2)) h)": {"a": 1, "b": [2]},
    }
    for text, expected in cases.items():
        assert same(expected, to_python(rt.eval(text))), text


@pytest.mark.parametrize("text", [
    "(cons 1 2)",
    "(list 1 (cons 2 3))",
    "(lambda (x) x)",
    "car",
    "(let ((x (list 1 2))) (set-cdr! (cdr x) x) x)",
    "(let ((v (make-vector 2 0))) (vector-set! v 1 v) v)",
    "(let ((h (make-equal-hash-table))) (hash-table-set! h 'me h) h)",
    # keys that are different in Scheme but one key in Python: never merged silently
    "(let ((h (make-equal-hash-table))) (hash-table-set! h #f 'false) (hash-table-set! h 0 'zero) h)",
    "(let ((h (make-equal-hash-table))) (hash-table-set! h 'a 1) (hash-table-set! h \"a\" 2) h)",
    "(let ((h (make-equal-hash-table))) (hash-table-set! h (list 1) 1) h)",
])
def test_scheme_values_without_a_python_counterpart_stay_whole(text):
    rt = FlowRuntime()
    v = rt.eval(text)
    got = to_python(v)
    inner = got if isinstance(got, SchemeObject) else None
    if inner is None:  # a list holding the odd part: the part is kept whole
        inner = got[-1]
    assert isinstance(inner, SchemeObject)
    assert to_scheme(got if isinstance(got, SchemeObject) else inner) is (v if isinstance(got, SchemeObject) else inner.value)
    assert isinstance(repr(inner), str)


def test_a_cyclic_part_inside_a_list_becomes_a_scheme_object_by_itself():
    rt = FlowRuntime()
    v = rt.eval("(let ((x (list 1 2))) (set-cdr! (cdr x) x) (list 'a x (vector 'b)))")
    got = to_python(v)
    assert got[0] == "a" and got[2] == ["b"] and isinstance(got[1], SchemeObject)


def test_deeply_nested_scheme_data_does_not_break_conversion():
    rt = FlowRuntime()
    v = rt.eval("(let loop ((i 0) (acc '())) (if (= i 25000) acc (loop (+ i 1) (list acc))))")
    assert isinstance(to_python(v), SchemeObject)
    long = rt.eval("(iota 50000)")
    assert to_python(long) == list(range(50000))


def test_scheme_objects_pass_back_into_scheme_unchanged():
    rt = runtime("(defflow apply-it (lambda (f) (f (request 'arg 0))))")
    proc = to_python(rt.eval("(lambda (x) (* x 10))"))
    assert isinstance(proc, SchemeObject)
    rt.start("apply-it", proc, flow_id="p")
    assert rt.resume("p", 4).value == 40
    # and across an export, a procedure argument is saved with the flow
    rt.start("apply-it", proc, flow_id="q")
    fresh = runtime("(defflow apply-it (lambda (f) (f (request 'arg 0))))")
    fresh.load("(lambda (x) (* x 10))", "<input>")  # the unit the closure came from
    fresh.import_store(rt.export_store())
    assert fresh.resume("q", 5).value == 50


@pytest.mark.parametrize("bad", [object(), {1, 2}, frozenset(), complex(1, 2), range(3), print])
def test_python_values_without_a_scheme_counterpart_are_a_type_error(bad):
    with pytest.raises(TypeError, match="flow.convert"):
        to_scheme(bad)
    with pytest.raises(TypeError):
        to_scheme([1, {"k": bad}])
