"""The numeric tower's operations (interp/primitives/numbers.py) on complex numbers,
exactness, rationalize, eqv?/equal? on numbers, and the errors for bad arguments."""

import math
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalhelp import error, ev, interp
from interp.complexes import ExactComplex as EC
from interp.complexes import rectangular


@pytest.mark.parametrize(
    "src, written",
    [
        # predicates
        ("(map complex? '(1+2i 1.0+2.0i 3 1/2 x))", "(#t #t #t #t #f)"),
        ("(map real? (list 1+2i 1.0+0.0i (make-rectangular 3 0) 1.5))", "(#f #f #t #t)"),
        ("(map rational? (list +i 1/2 +inf.0))", "(#f #t #f)"),
        ("(map integer? (list 2+0i 2.0+0.0i +i))", "(#t #f #f)"),
        ("(map exact? (list 1+2i 1/2-i 1.0+2.0i))", "(#t #t #f)"),
        ("(map inexact? (list 1+2i 1.0+2.0i))", "(#f #t)"),
        ("(map nan? (list +nan.0+i 1+nan.0i 1.0+2.0i 1+i))", "(#t #t #f #f)"),
        ("(map infinite? (list +inf.0+i 1-inf.0i +nan.0+i 1+i))", "(#t #t #f #f)"),
        ("(map finite? (list 1.0+2.0i +inf.0+i 1+i))", "(#t #f #t)"),
        ("(map zero? (list 0.0+0.0i -0.0-0.0i +i 0.0+1.0i))", "(#t #t #f #f)"),
        # arithmetic: exact stays exact, an exact zero imaginary part gives a real
        ("(+ 1+2i 3-i)", "4+i"),
        ("(+ 1/2+i 1/2-i)", "1"),
        ("(exact-integer? (+ 1/2+i 1/2-i))", "#t"),
        ("(- 1+i 1+i)", "0"),
        ("(- +i)", "-i"),
        ("(- 1/2-3i)", "-1/2+3i"),
        ("(* +i +i)", "-1"),
        ("(* 2 1/2+i)", "1+2i"),
        ("(* 1+2i 3-4i)", "11+2i"),
        ("(/ 1 1+i)", "1/2-1/2i"),
        ("(/ 11+2i 3-4i)", "1+2i"),
        ("(/ +i)", "-i"),
        ("(square 1+i)", "+2i"),
        ("(+ 1 2 3+i 4)", "10+i"),
        ("(* 1 2 +i +i)", "-2"),
        # mixed exactness: inexact complex
        ("(+ 1+i 0.5)", "1.5+1.0i"),
        ("(* 2.0 +i)", "+2.0i"),
        ("(- 1.0+2.0i 1.0+2.0i)", "+0.0i"),
        ("(/ 1+2i 0.0)", "+inf.0+inf.0i"),
        ("(exact 1.5-0.25i)", "3/2-1/4i"),
        ("(exact 2.0+0.0i)", "2"),
        ("(inexact 1/2+i)", "0.5+1.0i"),
        ("(exact->inexact -i)", "-1.0i"),
        # comparison
        ("(= 1+2i 1+2i)", "#t"),
        ("(= 1+i 1.0+1.0i 1+i)", "#t"),
        ("(= 1+i 1-i)", "#f"),
        ("(= 3 3+0i 3.0)", "#t"),
        ("(= 1 +i)", "#f"),
        # parts
        ("(make-rectangular 1 2)", "1+2i"),
        ("(make-rectangular 1.5 0)", "1.5"),
        ("(make-rectangular 1 0.0)", "1.0+0.0i"),
        ("(make-rectangular 1/2 -3/4)", "1/2-3/4i"),
        ("(make-polar 2 0)", "2"),
        ("(make-polar 0 2)", "0"),
        ("(list (real-part 3-4i) (imag-part 3-4i))", "(3 -4)"),
        ("(list (real-part 1.5) (imag-part 1.5) (imag-part 2))", "(1.5 0 0)"),
        ("(list (real-part +2.0i) (imag-part +2.0i))", "(0.0 2.0)"),
        ("(magnitude 3+4i)", "5"),
        ("(magnitude -5/3)", "5/3"),
        ("(magnitude -3.0-4.0i)", "5.0"),
        ("(magnitude 1+i)", "1.4142135623730951"),
        ("(magnitude +inf.0+nan.0i)", "+inf.0"),
        ("(list (angle 1) (angle 2.0))", "(0 0.0)"),
        ("(angle -1)", "3.141592653589793"),
        ("(angle +i)", "1.5707963267948966"),
        ("(angle -1-i)", "-2.356194490192345"),
        # roots and powers: exact where they can be
        ("(sqrt -4)", "+2i"),
        ("(sqrt -4.0)", "+2.0i"),
        ("(sqrt -1/9)", "+1/3i"),
        ("(sqrt -2)", "+1.4142135623730951i"),
        ("(sqrt -inf.0)", "+inf.0i"),
        ("(sqrt -3-4i)", "1-2i"),
        ("(sqrt 3+4i)", "2+i"),
        ("(sqrt -0.0)", "-0.0"),
        ("(sqrt +i)", "0.7071067811865476+0.7071067811865475i"),
        ("(expt +i 2)", "-1"),
        ("(expt 1+i 4)", "-4"),
        ("(expt 1+i -2)", "-1/2i"),
        ("(expt 1/2+i 2)", "-3/4+i"),
        ("(expt +i 0)", "1"),
        ("(expt 0 1+i)", "0"),
        ("(expt 0 0+0.0i)", "1.0"),
        ("(exact? (expt 2 1/2))", "#f"),
        ("(real? (expt -8 1/3))", "#f"),
        ("(exact-integer-sqrt 17)", None),
        # transcendental functions: complex where no real result exists
        ("(log -1)", "+3.141592653589793i"),
        ("(log -1.0)", "+3.141592653589793i"),
        ("(log +i)", "+1.5707963267948966i"),
        ("(asin 2)", "1.5707963267948966-1.3169578969248166i"),
        ("(asin -2)", "-1.5707963267948966+1.3169578969248166i"),
        ("(acos 2)", "+1.3169578969248166i"),
        ("(exp 1000+i)", "+inf.0+inf.0i"),
        ("(exp 0+0.0i)", "1.0+0.0i"),
    ],
)
def test_values(src, written):
    if written is not None:
        assert ev(src) == written


def close(z, w):
    return abs(complex(z) - complex(w)) <= 1e-12 * max(1.0, abs(complex(w)))


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(exp (* +i (acos -1)))", -1),
        ("(expt -1 0.5)", 1j),
        ("(expt -8 1/3)", 1 + 1.7320508075688772j),
        ("(expt 2 +i)", 2**1j),
        ("(make-polar 2.0 (acos -1))", -2),
        ("(sin +i)", 1.1752011936438014j),
        ("(cos +i)", 1.5430806348152437),
        ("(tan 1+i)", 0.2717525853195117 + 1.0839233273386946j),
        ("(atan 1+i)", 1.0172219678978514 + 0.4023594781085251j),
        ("(log 8 -2)", 0.1392609706362244 - 0.6311808726237906j),
        ("(log 100 10)", 2.0),
        ("(* (sqrt -2) (sqrt -2))", -2),
    ],
)
def test_approximate_values(src, expected):
    it = interp()
    assert close(it.eval(src), expected)


def test_rationalize_r7rs_examples():
    assert ev("(rationalize (exact .3) 1/10)") == "1/3"
    assert ev("(rationalize .3 1/10)") == "0.3333333333333333"


@pytest.mark.parametrize(
    "src, written",
    [
        ("(rationalize 3/10 1/10)", "1/3"),
        ("(rationalize -3/10 1/10)", "-1/3"),
        ("(rationalize 1/3 0)", "1/3"),
        ("(rationalize 5 2)", "3"),
        ("(rationalize 13/4 1/8)", "10/3"),
        ("(rationalize 1/4 1/4)", "0"),
        ("(rationalize -1/4 1/2)", "0"),
        ("(rationalize 0.3 -1/10)", "0.3333333333333333"),
        ("(rationalize 3 0.5)", "3.0"),
        ("(rationalize +inf.0 3)", "+inf.0"),
        ("(rationalize -inf.0 3)", "-inf.0"),
        ("(rationalize 3 +inf.0)", "0.0"),
        ("(rationalize +inf.0 +inf.0)", "+nan.0"),
        ("(rationalize +nan.0 1)", "+nan.0"),
        ("(rationalize (/ 314159 100000) 1/1000)", "201/64"),
        ("(rationalize (/ 314159 100000) 1/500)", "22/7"),
    ],
)
def test_rationalize(src, written):
    assert ev(src) == written


@given(st.fractions(max_denominator=2000), st.fractions(min_value=0, max_value=10, max_denominator=100))
def test_rationalize_is_within_the_bound_and_simplest(x, y):
    from interp.primitives.numbers import rationalize

    r = F(rationalize(x, y))
    assert abs(r - x) <= y
    # no rational with a smaller denominator lies in the interval
    for d in range(1, r.denominator):
        n = math.ceil((x - y) * d)
        assert not (F(n, d) <= x + y)


@pytest.mark.parametrize(
    "src, written",
    [
        ("(eqv? 0.0 -0.0)", "#f"),
        ("(eqv? -0.0 -0.0)", "#t"),
        ("(eqv? +nan.0 (/ 0.0 0.0))", "#t"),
        ("(equal? 0.0 -0.0)", "#f"),
        ("(equal? (vector 0.0) (vector -0.0))", "#f"),
        ("(equal? (list 1 +nan.0) (list 1 +nan.0))", "#t"),
        ("(eqv? 1+2i (make-rectangular 1 2))", "#t"),
        ("(eqv? 1+2i 1.0+2.0i)", "#f"),
        ("(eqv? 1.0+0.0i 1.0-0.0i)", "#f"),
        ("(equal? '(1+2i 3.0-i) (list 1+2i 3.0-1.0i))", "#t"),
        ("(eqv? 2 2.0)", "#f"),
        ("(list (eqv? #t 1) (eqv? 1 #t) (eqv? #f 0) (equal? 0 #f))", "(#f #f #f #f)"),
        ("(memv -0.0 '(0.0))", "#f"),
        ("(memv 1+i (list 2 1+i))", "(1+i)"),
        ("(assv -0.0 '((0.0 . a) (-0.0 . b)))", "(-0.0 . b)"),
        ("(case -0.0 ((0.0) 'pos) ((-0.0) 'neg) (else 'none))", "neg"),
        ("(case 1+i ((1+i) 'yes) (else 'no))", "yes"),
        ("""(let ((h (make-equal-hash-table)))
              (hash-table-set! h 0.0 'pos) (hash-table-set! h -0.0 'neg)
              (hash-table-set! h 1+2i 'exact) (hash-table-set! h 1.0+2.0i 'inexact)
              (hash-table-set! h (list +nan.0) 'nan)
              (list (hash-table-ref/default h 0.0 #f) (hash-table-ref/default h -0.0 #f)
                    (hash-table-ref/default h (+ 1 +2i) #f) (hash-table-ref/default h (* 1.0 1+2i) #f)
                    (hash-table-ref/default h (list (/ 0. 0.)) #f)))""", "(pos neg exact inexact nan)"),
        ("""(let ((h (make-eqv-hash-table)))
              (hash-table-set! h -0.0 'neg) (hash-table-set! h +i 'i)
              (list (hash-table-ref/default h 0.0 #f) (hash-table-ref/default h -0.0 #f)
                    (hash-table-ref/default h (sqrt -1) #f)))""", "(#f neg i)"),
    ],
)
def test_equivalence(src, written):
    assert ev(src) == written


@pytest.mark.parametrize(
    "src, message",
    [
        ("(< 1+i 2)", "<: expected a real number, got 1+i"),
        ("(> 1 2 +i)", ">: expected a real number, got +i"),
        ("(<= 1.0+2.0i 3)", "<=: expected a real number, got 1.0+2.0i"),
        ("(max +i 1)", "max: expected a real number, got +i"),
        ("(min 1 +i)", "min: expected a real number, got +i"),
        ("(abs -1+i)", "abs: expected a real number, got -1+i"),
        ("(floor 1/2+i)", "floor: expected a real number, got 1/2+i"),
        ("(round 1.5+0.0i)", "round: expected a real number, got 1.5+0.0i"),
        ("(positive? +i)", "positive?: expected a real number, got +i"),
        ("(negative? -i)", "negative?: expected a real number, got -i"),
        ("(make-rectangular +i 1)", "make-rectangular: expected a real number, got +i"),
        ("(make-polar 1 +i)", "make-polar: expected a real number, got +i"),
        ("(atan +i 1)", "atan: expected a real number, got +i"),
        ("(rationalize +i 1)", "rationalize: expected a real number, got +i"),
        ("(numerator 1+i)", "numerator: expected a rational number, got 1+i"),
        ("(odd? 1+i)", "odd?: expected an integer, got 1+i"),
        ("(exact-integer-sqrt +i)", "exact-integer-sqrt: expected an exact non-negative integer, got +i"),
        ("(+ 1+i 'a)", "+: expected a number, got a"),
        ("(* 'a +i)", "*: expected a number, got a"),
        ("(= +i #t)", "=: expected a number, got #t"),
        ("(real-part 'a)", "real-part: expected a number, got a"),
        ("(imag-part \"1\")", 'imag-part: expected a number, got "1"'),
        ("(magnitude #f)", "magnitude: expected a number, got #f"),
        ("(angle #t)", "angle: expected a number, got #t"),
        ("(/ 1+i 0)", "/: division by zero"),
        ("(/ 1.0+1.0i 0)", "/: division by zero"),
        ("(/ 0 0+0i)", "/: division by zero"),
        ("(expt 0 -i)", "expt: 0 to the power -i is undefined"),
        ("(expt 0 -1+i)", "expt: 0 to the power -1+i is undefined"),
        ("(atan +i)", "atan: no finite result for +i"),
        ("(exact +inf.0+i)", "exact: +inf.0+1.0i has no exact representation"),
        ("(exact 1+nan.0i)", "exact: 1.0+nan.0i has no exact representation"),
    ],
)
def test_errors(src, message):
    assert error(src).message == message


def test_exact_complex_size_limit():
    assert "exact number too large" in error("(expt 1+i 10000000)").message
    assert "exact number too large" in error("(* (expt 2 600000) (make-rectangular (expt 2 600000) 1))").message


# ---------------------------------------------------------------- properties

_exact = st.integers(-(10**6), 10**6) | st.fractions(max_denominator=1000)
_exact_complex = st.builds(lambda a, b: rectangular(_norm(a), _norm(b)), _exact, _exact)


def _norm(q):
    return q.numerator if type(q) is F and q.denominator == 1 else q


def _call(name, *args):
    from primhelp import p

    return p(name, *args)


@given(_exact_complex, _exact_complex)
def test_exact_field_laws(z, w):
    assert _call("-", _call("+", z, w), w) == z or _call("=", _call("-", _call("+", z, w), w), z)
    if _call("zero?", w) is False:
        assert _call("=", _call("/", _call("*", z, w), w), z)
    assert _call("=", _call("*", z, w), _call("*", w, z))
    # results are normalised: never an ExactComplex with a zero imaginary part
    for r in (_call("+", z, w), _call("*", z, w)):
        assert type(r) is not EC or r.imag != 0


@given(_exact_complex, _exact_complex)
def test_exact_arithmetic_agrees_with_inexact(z, w):
    assume_ok = _call("zero?", w) is False
    for op in ("+", "-", "*") + (("/",) if assume_ok else ()):
        exact = complex(_call("inexact", _call(op, z, w)))
        inexact = complex(_call(op, _call("inexact", z), _call("inexact", w)))
        assert abs(exact - inexact) <= 1e-9 * max(1.0, abs(exact))


@given(_exact_complex)
def test_sqrt_squares_back(z):
    r = _call("sqrt", z)
    back = _call("*", r, r)
    assert abs(complex(back) - complex(z)) <= 1e-9 * max(1.0, abs(complex(z)))
    if type(r) is int or type(r) is F or type(r) is EC:  # exact roots are exact
        assert back == z or _call("=", back, z)
