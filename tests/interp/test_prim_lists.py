"""Pair and list primitives, called directly (no evaluator)."""

from fractions import Fraction as F

import pytest

from interp.primitives import PRIMITIVES
from interp.values import NIL, UNSPECIFIED, Pair, Vector, char, list_to_pairs, sym

from primhelp import L, err, p, py


def circular(*xs):
    lst = L(*xs)
    last = lst
    while last.cdr is not NIL:
        last = last.cdr
    last.cdr = lst
    return lst


BIG = 1_000_000


@pytest.fixture(scope="module")
def big_list():
    return list_to_pairs(list(range(BIG)))


# ---------------------------------------------------------------- pairs


def test_cons_car_cdr():
    pr = p("cons", 1, 2)
    assert type(pr) is Pair and p("car", pr) == 1 and p("cdr", pr) == 2
    assert err("car", 5) == "car: expected a pair, got 5"
    assert err("cdr", NIL) == "cdr: expected a pair, got ()"
    assert err("car", "ab") == 'car: expected a pair, got "ab"'
    assert err("car", False) == "car: expected a pair, got #f"


def test_set_car_cdr():
    pr = Pair(1, 2)
    assert p("set-car!", pr, 10) is UNSPECIFIED
    assert p("set-cdr!", pr, NIL) is UNSPECIFIED
    assert pr.car == 10 and pr.cdr is NIL
    assert err("set-car!", NIL, 1) == "set-car!: expected a pair, got ()"
    assert err("set-cdr!", 5, 1) == "set-cdr!: expected a pair, got 5"


def test_cxr_family():
    tree = L(L(1, 2), 3, 4, 5)
    assert p("caar", tree) == 1
    assert p("cadr", tree) == 3
    assert py(p("cdar", tree)) == [2]
    assert py(p("cddr", tree)) == [4, 5]
    assert p("caddr", tree) == 4
    assert p("cadddr", tree) == 5
    assert p("cddddr", tree) is NIL
    assert p("cadar", tree) == 2
    names = [n for n in PRIMITIVES if n[0] == "c" and n[-1] == "r" and set(n[1:-1]) <= {"a", "d"}]
    assert len(names) == 2 + 4 + 8 + 16
    assert err("cadr", L(1)) == "cadr: incorrect list structure (1)"
    assert err("caddr", 7) == "caddr: incorrect list structure 7"


def test_list_and_predicates():
    assert p("list") is NIL
    assert py(p("list", 1, 2, 3)) == [1, 2, 3]
    assert p("pair?", Pair(1, 2)) is True
    assert p("pair?", NIL) is False
    assert p("null?", NIL) is True
    assert p("null?", False) is False
    assert p("null?", Vector()) is False
    assert p("list?", L(1, 2)) is True
    assert p("list?", NIL) is True
    assert p("list?", Pair(1, 2)) is False
    assert p("list?", circular(1, 2, 3)) is False
    assert p("list?", 5) is False


def test_length():
    assert p("length", NIL) == 0
    assert p("length", L(1, 2, 3)) == 3
    assert err("length", Pair(1, 2)) == "length: expected a proper list, got (1 . 2)"
    assert err("length", 5) == "length: expected a proper list, got 5"
    assert err("length", circular(1, 2)) == "length: expected a proper list, got a circular list"
    assert p("length+", circular(1, 2)) is False
    assert p("length+", L(1, 2)) == 2


def test_append():
    assert p("append") is NIL
    assert p("append", 5) == 5
    assert py(p("append", L(1), L(2, 3), NIL, L(4))) == [1, 2, 3, 4]
    r = p("append", L(1), 2)
    assert r.car == 1 and r.cdr == 2
    tail = L(9)
    assert p("append", L(1), tail).cdr is tail  # last argument shared
    first = L(1, 2)
    p("append", first, L(3)).car = 100  # other arguments copied
    assert first.car == 1
    assert err("append", Pair(1, 2), L(3)) == "append: expected a proper list, got (1 . 2)"
    assert err("append", 1, L(3)) == "append: expected a proper list, got 1"


def test_reverse_and_copy():
    assert py(p("reverse", L(1, 2, 3))) == [3, 2, 1]
    assert p("reverse", NIL) is NIL
    assert err("reverse", Pair(1, 2)) == "reverse: expected a proper list, got (1 . 2)"
    orig = L(1, 2, 3)
    copy = p("list-copy", orig)
    assert copy is not orig and py(copy) == [1, 2, 3]
    improper = p("list-copy", Pair(1, Pair(2, 3)))
    assert improper.car == 1 and improper.cdr.cdr == 3
    assert p("list-copy", 5) == 5
    assert p("list-copy", NIL) is NIL


def test_list_tail_ref_set():
    lst = L(0, 1, 2)
    assert p("list-tail", lst, 0) is lst
    assert py(p("list-tail", lst, 2)) == [2]
    assert p("list-tail", lst, 3) is NIL
    assert p("list-ref", lst, 2) == 2
    assert err("list-ref", lst, 3) == "list-ref: index 3 out of range for list of length 3"
    assert err("list-tail", lst, 4) == "list-tail: index 4 out of range for list of length 3"
    assert err("list-ref", lst, -1) == "list-ref: expected an exact non-negative integer, got -1"
    assert err("list-ref", lst, 1.0) == "list-ref: expected an exact non-negative integer, got 1.0"
    assert err("list-ref", lst, True) == "list-ref: expected an exact non-negative integer, got #t"
    assert p("list-set!", lst, 1, "x") is UNSPECIFIED
    assert py(lst) == [0, "x", 2]
    assert err("list-set!", lst, 3, 0) == "list-set!: index 3 out of range for list of length 3"
    assert err("list-ref", Pair(1, 2), 1) == "list-ref: index 1 out of range for list of length 1"


def test_last_pair_and_last():
    lst = L(1, 2, 3)
    assert p("last-pair", lst).car == 3
    assert p("last", lst) == 3
    assert p("last-pair", Pair(1, 2)).cdr == 2
    assert err("last-pair", NIL) == "last-pair: expected a pair, got ()"
    assert err("last", NIL) == "last: expected a non-empty list, got ()"


def test_make_list_iota_cons_star():
    assert py(p("make-list", 3, "x")) == ["x", "x", "x"]
    assert p("make-list", 0) is NIL
    assert py(p("make-list", 2)) == [NIL, NIL]  # guile's default fill
    assert err("make-list", -1) == "make-list: expected an exact non-negative integer, got -1"
    assert py(p("iota", 5)) == [0, 1, 2, 3, 4]
    assert py(p("iota", 3, 1)) == [1, 2, 3]
    assert py(p("iota", 3, 0, -2)) == [0, -2, -4]
    assert py(p("iota", 3, 7, 0)) == [7, 7, 7]
    r = py(p("iota", 5, 1, 0.5))
    assert r == [1.0, 1.5, 2.0, 2.5, 3.0] and all(type(x) is float for x in r)
    assert py(p("iota", 2, F(1, 2))) == [F(1, 2), F(3, 2)]
    assert p("iota", 0) is NIL
    assert err("iota", 2.0) == "iota: expected an exact non-negative integer, got 2.0"
    assert err("iota", 2, True) == "iota: expected a number, got #t"
    assert p("cons*", 1) == 1
    r = p("cons*", 1, 2, L(3))
    assert py(r) == [1, 2, 3]
    r = p("cons*", 1, 2)
    assert r.car == 1 and r.cdr == 2


# ---------------------------------------------------------------- searching


def test_memq_memv_member():
    s = sym("b")
    lst = L(sym("a"), s, sym("c"))
    assert p("memq", s, lst).car is s
    assert p("memq", sym("z"), lst) is False
    assert py(p("memq", 3, L(1, 2, 3, 4))) == [3, 4]
    assert py(p("memq", char("b"), L(char("a"), char("b")))) == [char("b")]
    assert py(p("memv", 1.5, L(1, 1.5, 2))) == [1.5, 2]
    assert py(p("memv", F(1, 2), L(F(1, 2)))) == [F(1, 2)]
    assert p("memv", L(1), L(L(1))) is False
    assert p("member", L(1), L(2, L(1))).car.car == 1
    assert py(p("member", "b", L("a", "b"))) == ["b"]
    assert err("memq", 1, Pair(2, 3)) == "memq: expected a proper list, got (2 . 3)"
    assert err("member", 1, 5) == "member: expected a proper list, got 5"
    assert err("memv", 1, circular(2, 3)) == "memv: expected a proper list, got a circular list"
    assert p("memv", 3, circular(2, 3)).car == 3


def test_member_assoc_are_two_argument_forms():
    for name in ("member", "assoc"):
        assert PRIMITIVES[name].min_args == 2 and PRIMITIVES[name].max_args == 2


@pytest.mark.parametrize("name", ["memq", "memv", "member"])
def test_member_never_confuses_false_and_zero(name):
    assert py(p(name, 0, L(False, 0))) == [0]
    assert p(name, 0, L(False)) is False
    assert p(name, False, L(0)) is False
    assert p(name, True, L(1)) is False
    assert p(name, 1, L(True)) is False
    if name != "memq":
        assert p(name, 1, L(1.0)) is False
        assert p(name, 1.0, L(1)) is False


@pytest.mark.parametrize("name", ["assq", "assv", "assoc"])
def test_assoc_never_confuses_false_and_zero(name):
    alist = L(Pair(False, "f"), Pair(0, "zero"), Pair(True, "t"), Pair(1, "one"))
    assert p(name, 0, alist).cdr == "zero"
    assert p(name, False, alist).cdr == "f"
    assert p(name, 1, alist).cdr == "one"
    assert p(name, True, alist).cdr == "t"
    assert p(name, 2, alist) is False


def test_assq_assv_assoc():
    a = sym("a")
    alist = L(Pair(a, 1), Pair(2.5, 2), Pair(L(1, 2), 3), Pair("s", 4))
    assert p("assq", a, alist).cdr == 1
    assert p("assv", 2.5, alist).cdr == 2
    assert p("assv", L(1, 2), alist) is False
    assert p("assoc", L(1, 2), alist).cdr == 3
    assert p("assoc", "s", alist).cdr == 4
    assert p("assoc", 1.0, L(Pair(1, "a"), Pair(1.0, "b"))).cdr == "b"
    assert err("assq", 1, L(1)) == (
        "assq: expected an association list, found the non-pair element 1"
    )
    assert err("assoc", 1, Pair(Pair(2, 3), 4)) == (
        "assoc: expected a proper list, got ((2 . 3) . 4)"
    )


# ---------------------------------------------------------------- a million elements


def test_long_lists_do_not_recurse(big_list):
    assert p("length", big_list) == BIG
    assert p("list?", big_list) is True
    assert p("reverse", big_list).car == BIG - 1
    assert p("append", big_list, L("end")) is not big_list
    assert p("last", big_list) == BIG - 1
    assert p("list-ref", big_list, BIG - 1) == BIG - 1
    assert p("memv", BIG - 1, big_list).car == BIG - 1
    assert p("member", -1, big_list) is False
    assert p("memq", BIG - 1, big_list).car == BIG - 1
    assert p("length", p("list-copy", big_list)) == BIG
    assert p("length", p("iota", BIG)) == BIG
    assert p("length", p("make-list", BIG, 0)) == BIG
    alist = list_to_pairs([Pair(i, i) for i in range(BIG)])
    assert p("assv", BIG - 1, alist).cdr == BIG - 1
    assert p("assoc", -1, alist) is False
    assert p("length+", big_list) == BIG


def test_long_circular_lists_are_detected():
    lst = list_to_pairs(list(range(100_000)))
    last = p("last-pair", lst)
    last.cdr = p("list-tail", lst, 50_000)
    for name in ("length", "reverse", "list-copy"):
        assert err(name, lst).endswith("a circular list")
    assert err("memq", -1, lst).endswith("a circular list")
    assert err("assq", -1, list_to_pairs([Pair(1, 1)] * 3, lst)).startswith("assq: expected")
    assert err("last-pair", lst).endswith("a circular list")
    assert p("length+", lst) is False
    assert p("list?", lst) is False
