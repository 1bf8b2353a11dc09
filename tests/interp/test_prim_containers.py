"""Vector, bytevector and hash-table primitives, called directly (no evaluator)."""

import math
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interp.errors import SchemeError
from interp.primitives import PRIMITIVES
from interp.primitives.hashtables import HashTable
from interp.values import (
    NIL,
    UNSPECIFIED,
    Pair,
    Vector,
    char,
    equal,
    list_to_pairs,
    sym,
)

from primhelp import L, err, p, py


# ---------------------------------------------------------------- vectors


def test_vector_construction():
    v = p("vector", 1, 2, 3)
    assert type(v) is Vector and v == [1, 2, 3]
    assert p("vector") == []
    assert p("vector?", v) is True
    assert p("vector?", [1]) is False  # environment frames are plain lists, never vectors
    assert p("vector?", L(1)) is False
    assert p("make-vector", 2, 0) == [0, 0]
    assert p("make-vector", 2) == [UNSPECIFIED, UNSPECIFIED]
    assert type(p("make-vector", 0)) is Vector
    assert err("make-vector", -1) == "make-vector: expected an exact non-negative integer, got -1"
    assert err("make-vector", 2.0) == "make-vector: expected an exact non-negative integer, got 2.0"


def test_vector_ref_set():
    v = Vector([1, 2, 3])
    assert p("vector-ref", v, 0) == 1
    assert p("vector-length", v) == 3
    assert err("vector-ref", v, 5) == "vector-ref: index 5 out of range for vector of length 3"
    assert err("vector-ref", v, 3) == "vector-ref: index 3 out of range for vector of length 3"
    assert err("vector-ref", v, -1) == "vector-ref: expected an exact non-negative integer, got -1"
    expected = "vector-ref: expected an exact non-negative integer, got"
    assert err("vector-ref", v, True) == f"{expected} #t"
    assert err("vector-ref", v, 1.0) == f"{expected} 1.0"
    assert err("vector-ref", L(1), 0) == "vector-ref: expected a vector, got (1)"
    assert err("vector-length", "abc") == 'vector-length: expected a vector, got "abc"'
    assert p("vector-set!", v, 1, "x") is UNSPECIFIED
    assert v == [1, "x", 3]
    assert err("vector-set!", v, 3, 0) == "vector-set!: index 3 out of range for vector of length 3"
    assert err("vector-set!", v, False, 0).startswith("vector-set!: expected an exact")


def test_vector_conversions():
    v = Vector([1, 2, 3, 4])
    assert py(p("vector->list", v)) == [1, 2, 3, 4]
    assert py(p("vector->list", v, 1)) == [2, 3, 4]
    assert py(p("vector->list", v, 1, 3)) == [2, 3]
    assert p("vector->list", v, 4) is NIL
    assert err("vector->list", v, 3, 2) == "vector->list: start index 3 is greater than end index 2"
    assert err("vector->list", v, 0, 5) == "vector->list: end index 5 out of range for length 4"
    lv = p("list->vector", L(1, 2))
    assert type(lv) is Vector and lv == [1, 2]
    assert p("list->vector", NIL) == []
    assert err("list->vector", Pair(1, 2)) == "list->vector: expected a proper list, got (1 . 2)"
    big = list_to_pairs(list(range(1_000_000)))
    assert len(p("list->vector", big)) == 1_000_000
    assert p("length", p("vector->list", Vector(range(1_000_000)))) == 1_000_000


def test_vector_fill_copy_append():
    v = Vector([1, 2, 3, 4])
    assert p("vector-fill!", v, 0, 2) is UNSPECIFIED
    assert v == [1, 2, 0, 0]
    p("vector-fill!", v, 9)
    assert v == [9, 9, 9, 9]
    p("vector-fill!", v, 5, 1, 2)
    assert v == [9, 5, 9, 9]
    c = p("vector-copy", v)
    assert type(c) is Vector and c == v and c is not v
    assert p("vector-copy", v, 1, 3) == [5, 9]
    assert p("subvector", v, 0, 2) == [9, 5]
    assert err("subvector", v, 0, 9).startswith("subvector: end index 9 out of range")
    a = p("vector-append", Vector([1]), Vector(), Vector([2, 3]))
    assert type(a) is Vector and a == [1, 2, 3]
    assert err("vector-append", Vector([1]), L(2)) == "vector-append: expected a vector, got (2)"
    g = p("vector-grow", Vector([1, 2]), 4)
    assert type(g) is Vector and g[:2] == [1, 2] and len(g) == 4
    assert err("vector-grow", Vector([1, 2]), 1).startswith("vector-grow: new length 1")


def test_vector_copy_into():
    to = Vector([0, 0, 0, 0, 0])
    assert p("vector-copy!", to, 1, Vector([1, 2, 3])) is UNSPECIFIED
    assert to == [0, 1, 2, 3, 0]
    p("vector-copy!", to, 0, Vector([7, 8, 9]), 1, 3)
    assert to == [8, 9, 2, 3, 0]
    v = Vector([1, 2, 3, 4, 5])
    p("vector-copy!", v, 1, v, 0, 3)  # overlapping, moving right
    assert v == [1, 1, 2, 3, 5]
    v = Vector([1, 2, 3, 4, 5])
    p("vector-copy!", v, 0, v, 2)  # overlapping, moving left
    assert v == [3, 4, 5, 4, 5]
    assert err("vector-copy!", Vector([0, 0]), 1, Vector([1, 2])) == (
        "vector-copy!: 2 elements do not fit at index 1 in a vector of length 2"
    )
    assert err("vector-copy!", Vector([0]), 3, Vector()).startswith("vector-copy!: 0 elements")


# ---------------------------------------------------------------- bytevectors


def test_bytevectors():
    b = p("bytevector", 1, 2, 255)
    assert type(b) is bytearray and list(b) == [1, 2, 255]
    assert p("bytevector?", b) is True
    assert p("bytevector?", b"ab") is False
    assert p("bytevector?", Vector([1])) is False
    assert p("make-bytevector", 3, 7) == bytearray([7, 7, 7])
    assert p("make-bytevector", 2) == bytearray(2)
    assert p("bytevector-length", b) == 3
    assert p("bytevector-u8-ref", b, 2) == 255
    assert p("bytevector-u8-set!", b, 0, 42) is UNSPECIFIED
    assert b[0] == 42
    assert err("bytevector", 256) == (
        "bytevector: expected a byte (an exact integer from 0 to 255), got 256"
    )
    assert err("bytevector", -1).startswith("bytevector: expected a byte")
    assert err("bytevector", True) == (
        "bytevector: expected a byte (an exact integer from 0 to 255), got #t"
    )
    assert err("bytevector-u8-set!", b, 0, False).startswith("bytevector-u8-set!: expected a byte")
    assert err("bytevector-u8-set!", b, 0, 1.0).startswith("bytevector-u8-set!: expected a byte")
    assert err("make-bytevector", 2, 300).startswith("make-bytevector: expected a byte")
    assert err("bytevector-u8-ref", b, 3) == (
        "bytevector-u8-ref: index 3 out of range for bytevector of length 3"
    )
    assert err("bytevector-length", Vector()) == "bytevector-length: expected a bytevector, got #()"


def test_bytevector_copy_append():
    b = bytearray([1, 2, 3, 4])
    c = p("bytevector-copy", b)
    assert c == b and c is not b
    assert p("bytevector-copy", b, 1, 3) == bytearray([2, 3])
    p("bytevector-copy!", b, 1, b, 0, 2)
    assert b == bytearray([1, 1, 2, 4])
    assert err("bytevector-copy!", bytearray(1), 0, bytearray(2)).startswith(
        "bytevector-copy!: 2 bytes do not fit"
    )
    assert p("bytevector-append", bytearray([1]), bytearray(), bytearray([2])) == bytearray([1, 2])
    assert err("bytevector-append", bytearray(), "x").startswith("bytevector-append: expected")


def test_utf8():
    assert p("string->utf8", "λx") == bytearray("λx".encode())
    assert type(p("string->utf8", "a")) is bytearray
    assert p("string->utf8", "abc", 1) == bytearray(b"bc")
    assert p("utf8->string", bytearray("λx".encode())) == "λx"
    assert p("utf8->string", bytearray(b"abc"), 1, 2) == "b"
    assert err("utf8->string", bytearray(b"A\xff")) == "utf8->string: invalid UTF-8 at byte 1"
    assert err("utf8->string", "abc").startswith("utf8->string: expected a bytevector")
    assert err("string->utf8", bytearray()).startswith("string->utf8: expected a string")
    assert err("string->utf8", "a\ud800").startswith("string->utf8: the string contains a lone")


# ---------------------------------------------------------------- hash tables


def test_hash_table_basics():
    t = p("make-hash-table")
    assert p("hash-table?", t) is True
    assert p("hash-table?", L()) is False
    assert p("hash-table-set!", t, sym("a"), 1) is UNSPECIFIED
    assert p("hash-table-ref", t, sym("a")) == 1
    assert p("hash-table-ref/default", t, sym("b"), "none") == "none"
    assert err("hash-table-ref", t, sym("foo")) == "hash-table-ref: no value for key foo"
    assert PRIMITIVES["hash-table-ref"].max_args == 2  # the 3-argument form is the evaluator's
    assert p("hash-table-contains?", t, sym("a")) is True
    assert p("hash-table-exists?", t, sym("b")) is False
    assert p("hash-table-count", t) == 1
    assert p("hash-table-size", t) == 1
    p("hash-table-set!", t, sym("a"), 2)
    assert p("hash-table-ref", t, sym("a")) == 2 and p("hash-table-count", t) == 1
    assert p("hash-table-delete!", t, sym("a")) == 1
    assert p("hash-table-delete!", t, sym("a")) == 0
    assert p("hash-table-count", t) == 0
    assert p("hash-table-empty?", t) is True
    p("hash-table-set!", t, 1, "one", 2, "two")
    assert p("hash-table-count", t) == 2
    assert err("hash-table-set!", t, 1, 2, 3) == (
        "hash-table-set!: expected alternating keys and values"
    )
    assert err("hash-table-ref", L(), 1) == "hash-table-ref: expected a hash table, got ()"
    assert err("hash-table-set!", Vector(), 1, 2).startswith("hash-table-set!: expected a hash")


def test_hash_table_keys_never_confuse_false_zero_true_one():
    t = p("make-hash-table")
    keys = [False, 0, True, 1, 1.0, 0.0, F(1, 2), 0.5, "1", char("1"), sym("1"), NIL, L(), Vector()]
    for i, k in enumerate(keys):
        p("hash-table-set!", t, k, i)
    # NIL and L() are the same object; every other key is distinct
    assert p("hash-table-count", t) == len(keys) - 1
    assert p("hash-table-ref", t, False) == 0
    assert p("hash-table-ref", t, 0) == 1
    assert p("hash-table-ref", t, True) == 2
    assert p("hash-table-ref", t, 1) == 3
    assert p("hash-table-ref", t, 1.0) == 4
    assert p("hash-table-ref", t, 0.0) == 5
    assert p("hash-table-ref", t, F(1, 2)) == 6
    assert p("hash-table-ref", t, 0.5) == 7
    assert p("hash-table-ref/default", t, 2, "no") == "no"


def test_hash_table_equal_keys():
    t = p("make-hash-table")
    p("hash-table-set!", t, L(1, 2), "list")
    p("hash-table-set!", t, "str", "string")
    p("hash-table-set!", t, Vector([1, L(2)]), "vector")
    p("hash-table-set!", t, bytearray(b"ab"), "bytes")
    p("hash-table-set!", t, Pair(1, 2), "pair")
    p("hash-table-set!", t, math.nan, "nan")
    assert p("hash-table-ref", t, L(1, 2)) == "list"
    assert p("hash-table-ref", t, "str") == "string"
    assert p("hash-table-ref", t, Vector([1, L(2)])) == "vector"
    assert p("hash-table-ref", t, bytearray(b"ab")) == "bytes"
    assert p("hash-table-ref", t, Pair(1, 2)) == "pair"
    assert p("hash-table-ref", t, float("nan")) == "nan"
    assert p("hash-table-ref/default", t, L(1, 2.0), None) is None
    assert p("hash-table-ref/default", t, L(1, 2, 3), None) is None
    assert p("hash-table-ref/default", t, Pair(L(1), 2), None) is None
    assert p("hash-table-ref", t, Pair(1, L(2))) == "list"  # the same datum as (1 2)
    assert p("hash-table-ref/default", t, L(L(1, 2)), None) is None
    # procedures and other opaque objects are keyed by identity
    car = PRIMITIVES["car"]
    p("hash-table-set!", t, car, "car")
    assert p("hash-table-ref", t, car) == "car"
    assert p("hash-table-ref/default", t, PRIMITIVES["cdr"], None) is None


def test_hash_table_long_and_circular_keys():
    t = p("make-hash-table")
    big = list_to_pairs(list(range(200_000)))
    p("hash-table-set!", t, big, "big")
    assert p("hash-table-ref", t, list_to_pairs(list(range(200_000)))) == "big"
    cyc = L(1, 2)
    cyc.cdr.cdr = cyc
    with pytest.raises(SchemeError):
        p("hash-table-set!", t, cyc, 1)


def test_eqv_tables():
    for make in (
        lambda: p("make-hash-table", PRIMITIVES["eq?"]),
        lambda: p("make-hash-table", PRIMITIVES["eqv?"]),
        lambda: p("make-eqv-hash-table"),
        lambda: p("make-eq-hash-table"),
    ):
        t = make()
        key = L(1, 2)
        p("hash-table-set!", t, key, "identity")
        assert p("hash-table-ref", t, key) == "identity"
        assert p("hash-table-ref/default", t, L(1, 2), None) is None
        s = "".join(["a", "b"])
        p("hash-table-set!", t, s, "s")
        assert p("hash-table-ref/default", t, "".join(["a", "b"]), None) is None
        p("hash-table-set!", t, 10**20, "big")
        assert p("hash-table-ref", t, 10**20) == "big"
        p("hash-table-set!", t, 0, "zero")
        assert p("hash-table-ref/default", t, False, None) is None
        p("hash-table-set!", t, char("a"), "char")
        assert p("hash-table-ref", t, char("a")) == "char"
    t = p("make-hash-table", PRIMITIVES["equal?"], PRIMITIVES["car"])
    p("hash-table-set!", t, L(1), 1)
    assert p("hash-table-ref", t, L(1)) == 1
    t = p("make-equal-hash-table")
    p("hash-table-set!", t, "ab", 1)
    assert p("hash-table-ref", t, "".join(["a", "b"])) == 1


def test_hash_table_listing_keeps_insertion_order():
    t = p("make-hash-table")
    for k in ["c", "a", "b"]:
        p("hash-table-set!", t, k, k.upper())
    p("hash-table-set!", t, "c", "C2")  # updating keeps the position
    assert py(p("hash-table-keys", t)) == ["c", "a", "b"]
    assert py(p("hash-table-values", t)) == ["C2", "A", "B"]
    alist = py(p("hash-table->alist", t))
    assert [(e.car, e.cdr) for e in alist] == [("c", "C2"), ("a", "A"), ("b", "B")]
    key = L(1)
    p("hash-table-set!", t, key, 1)
    p("hash-table-set!", t, L(1), 2)
    assert py(p("hash-table-keys", t))[-1] is key  # the first key object is kept


def test_hash_table_copy_clear_alist():
    t = p("alist->hash-table", L(Pair("a", 1), Pair("b", 2), Pair("a", 3)))
    assert p("hash-table-ref", t, "a") == 1  # first association wins
    assert p("hash-table-count", t) == 2
    c = p("hash-table-copy", t)
    p("hash-table-set!", c, "z", 26)
    assert p("hash-table-contains?", t, "z") is False
    assert p("hash-table-ref", c, "a") == 1
    assert p("hash-table-copy", t, True) is not t
    assert p("hash-table-clear!", t) is UNSPECIFIED
    assert p("hash-table-count", t) == 0 and p("hash-table-keys", t) is NIL
    assert err("alist->hash-table", L(1)) == (
        "alist->hash-table: expected an association list, found the non-pair element 1"
    )
    assert err("alist->hash-table", 5).startswith("alist->hash-table: expected a proper list")
    e = p("alist->hash-table", L(Pair(L(1), "x")), PRIMITIVES["eqv?"])
    assert p("hash-table-ref/default", e, L(1), None) is None


def test_hash_table_python_api():
    t = HashTable()
    t.set(False, "f")
    t.set(0, "zero")
    assert t.get(False) == "f" and t.get(0) == "zero" and t.get(1, "d") == "d"
    assert t.contains(0) and not t.contains(True)
    assert t.items() == [(False, "f"), (0, "zero")]
    assert t.keys() == [False, 0] and t.values() == ["f", "zero"]
    assert len(t) == 2
    assert t.delete(0) is True and t.delete(0) is False
    u = t.copy()
    t.clear()
    assert len(t) == 0 and len(u) == 1


SCALARS = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, -1.0, 0.5, math.inf]),
    st.sampled_from([F(1, 2), F(-1, 3)]),
    st.sampled_from(["", "a", "1"]),
    st.sampled_from([sym("a"), char("a"), NIL]),
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: list_to_pairs(xs)),
        st.tuples(inner, inner).map(lambda t: Pair(*t)),
        st.lists(inner, max_size=3).map(Vector),
    ),
    max_leaves=8,
)


@given(DATA, DATA)
def test_hash_table_keys_agree_with_equal(a, b):
    t = HashTable()
    t.set(a, "a")
    assert t.contains(b) is equal(a, b)


@pytest.mark.parametrize(
    "name, args",
    [
        ("make-vector", (10**20,)),
        ("make-bytevector", (10**20, 0)),
        ("make-string", (10**20,)),
        ("make-list", (10**20,)),
        ("iota", (10**20,)),
        ("string-pad", ("a", 10**20)),
        ("vector-grow", (Vector(), 10**20)),
    ],
)
def test_absurd_sizes_are_scheme_errors(name, args):
    assert err(name, *args) == f"{name}: length {10**20} is too large"
