"""Numeric primitives: arithmetic, comparison, rounding, transcendental functions, complex
numbers, number<->string.

Exact integers are `int`, exact non-integer rationals `Fraction` (never with denominator 1),
inexact reals `float`, exact complex numbers `ExactComplex` (never with an exact zero
imaginary part) and inexact ones Python `complex` (see interp/complexes.py); booleans are
never numbers. Where a real result does not exist the result is complex: `(sqrt -4)` is
+2i, `(sqrt -4.0)` +2.0i, `(log -1)` +3.141592653589793i, `(expt -1 0.5)` is about +1.0i.
The ordering predicates, max, min, abs, the rounding and integer operations take reals only
and say "expected a real number" for a complex one. The common case, two fixnums or two
floats, is tested first and never reaches the general code.

The size limit of exact numbers is values.MAX_INTEGER_BITS (the exact numbers that *,
square, expt, lcm, sqrt, exact-integer-sqrt and string->number build or take,
`check_exact_size`): past it a primitive fails at once, naming itself and the limit. The
argument checks of the sequence primitives are in sequences.py.
"""

import cmath
import math
from fractions import Fraction

from ..complexes import ExactComplex, parts, rectangular, to_complex, to_float
from ..errors import scheme_error, type_error
from ..numsyntax import NumberTooLarge, format_number, parse_number
from ..values import MAX_INTEGER_BITS, MultipleValues, is_string, string_text
from . import primitive

_NO = object()  # "argument not supplied" (never a Scheme value)
_INF = math.inf
_NAN = math.nan


# ---------------------------------------------------------------- shared helpers


def written(x):
    """The `write` representation of x, for error messages."""
    from ..printer import write_string

    return write_string(x)


def is_number(x):
    t = type(x)
    return t is int or t is float or t is Fraction or t is ExactComplex or t is complex


def check_number(name, x):
    t = type(x)
    if t is int or t is float or t is Fraction or t is ExactComplex or t is complex:
        return x
    raise type_error(name, "a number", x)


def check_real(name, x):
    """x if it is a real number; else a type error ("a real number" for a complex one)."""
    t = type(x)
    if t is int or t is float or t is Fraction:
        return x
    if t is ExactComplex or t is complex:
        raise type_error(name, "a real number", x)
    raise type_error(name, "a number", x)


def exact_size(x):
    """The size in bits of an exact number: of an int, of the larger part of a Fraction, of
    the larger part of an exact complex (0 for an inexact complex)."""
    t = type(x)
    if t is int:
        return x.bit_length()
    if t is ExactComplex:
        return max(exact_size(x.real), exact_size(x.imag))
    if t is complex:
        return 0
    return max(x.numerator.bit_length(), x.denominator.bit_length())


def too_large(name):
    """The error for an exact number over values.MAX_INTEGER_BITS."""
    return scheme_error(f"{name}: exact number too large (the limit is {MAX_INTEGER_BITS} bits)")


def check_exact_size(name, x):
    """x (an exact number) if it is within values.MAX_INTEGER_BITS, else a Scheme error."""
    if exact_size(x) > MAX_INTEGER_BITS:
        raise too_large(name)
    return x


def normalize(q):
    """A Fraction with denominator 1 becomes an int."""
    if type(q) is Fraction and q.denominator == 1:
        return q.numerator
    return q


def _fdiv(a, b):
    """IEEE float division (Python raises on a zero divisor)."""
    if b == 0.0:
        if a != a or a == 0.0:
            return _NAN
        return math.copysign(_INF, a) * math.copysign(1.0, b)
    return a / b


def _add2(name, a, b):
    ta, tb = type(a), type(b)
    if not (ta is int or ta is float or ta is Fraction) or not (tb is int or tb is float or tb is Fraction):
        return _complex2(name, _ADD, a, b)
    if ta is float or tb is float:
        return to_float(a) + to_float(b)
    if ta is int and tb is int:
        return a + b
    return check_exact_size(name, normalize(a + b))  # Fractions: the denominators multiply


def _sub2(name, a, b):
    ta, tb = type(a), type(b)
    if not (ta is int or ta is float or ta is Fraction) or not (tb is int or tb is float or tb is Fraction):
        return _complex2(name, _SUB, a, b)
    if ta is float or tb is float:
        return to_float(a) - to_float(b)
    if ta is int and tb is int:
        return a - b
    return check_exact_size(name, normalize(a - b))


def _mul2(name, a, b):
    ta, tb = type(a), type(b)
    if not (ta is int or ta is float or ta is Fraction) or not (tb is int or tb is float or tb is Fraction):
        return _complex2(name, _MUL, a, b)
    if ta is float or tb is float:
        return to_float(a) * to_float(b)
    if ta is int and tb is int and a.bit_length() + b.bit_length() > MAX_INTEGER_BITS + 1:
        raise too_large(name)  # (a Fraction product may cancel down: that one is checked after)
    return check_exact_size(name, normalize(a * b))


def _div2(name, a, b):
    ta, tb = type(a), type(b)
    if not (ta is int or ta is float or ta is Fraction) or not (tb is int or tb is float or tb is Fraction):
        return _complex2(name, _DIV, a, b)
    if tb is not float and b == 0:
        raise scheme_error(f"{name}: division by zero")
    if ta is float or tb is float:
        return _fdiv(to_float(a), to_float(b))
    if ta is int and tb is int:
        return normalize(Fraction(a, b))  # no larger than a and b
    return check_exact_size(name, normalize(Fraction(a, b)))


_ADD, _SUB, _MUL, _DIV = range(4)


def _complex2(name, op, a, b):
    """a op b when a or b is not real (both checked to be numbers)."""
    ta, tb = type(a), type(b)
    if not (ta is int or ta is float or ta is Fraction or ta is ExactComplex or ta is complex):
        raise type_error(name, "a number", a)
    if not (tb is int or tb is float or tb is Fraction or tb is ExactComplex or tb is complex):
        raise type_error(name, "a number", b)
    if ta is complex or tb is complex or ta is float or tb is float:
        if op == _DIV and tb is not complex and tb is not float and b == 0:
            raise scheme_error(f"{name}: division by zero")
        za, zb = to_complex(a), to_complex(b)
        if op == _ADD:
            return za + zb
        if op == _SUB:
            return za - zb
        if op == _MUL:
            return za * zb
        if zb == 0:  # IEEE: each part divided by a signed zero
            d = zb.real if zb.real != 0.0 or math.copysign(1.0, zb.real) < 0 else 0.0
            return complex(_fdiv(za.real, d), _fdiv(za.imag, d))
        try:
            return za / zb
        except OverflowError:
            return complex(_NAN, _NAN)
    # both exact: part by part, exactly
    ar, ai = parts(a)
    br, bi = parts(b)
    if op == _ADD:
        re, im = ar + br, ai + bi
    elif op == _SUB:
        re, im = ar - br, ai - bi
    elif op == _MUL:
        if exact_size(a) + exact_size(b) > MAX_INTEGER_BITS + 2:
            raise too_large(name)
        re, im = ar * br - ai * bi, ar * bi + ai * br
    else:
        d = br * br + bi * bi
        if d == 0:
            raise scheme_error(f"{name}: division by zero")
        re, im = Fraction(ar * br + ai * bi, d), Fraction(ai * br - ar * bi, d)
    return check_exact_size(name, rectangular(normalize(re), normalize(im)))


def _negate(name, x):
    t = type(x)
    if t is ExactComplex:
        return ExactComplex(-x.real, -x.imag)
    return -check_number(name, x)  # -0.0 for 0.0, as guile


# exported for other primitive modules (iota, ...)
add2 = _add2
mul2 = _mul2


# ---------------------------------------------------------------- arithmetic


@primitive("+")
def add(a=0, b=0, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a + b
    if type(a) is float and type(b) is float and not rest:
        return a + b
    r = _add2("+", a, b)
    for x in rest:
        r = _add2("+", r, x)
    return r


@primitive("-")
def sub(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a - b
    if type(a) is float and type(b) is float and not rest:
        return a - b
    if b is _NO:
        return _negate("-", a)
    r = _sub2("-", a, b)
    for x in rest:
        r = _sub2("-", r, x)
    return r


@primitive("*")
def mul(a=1, b=1, *rest):
    if type(a) is int and type(b) is int and not rest:
        r = a * b  # at most twice the limit when a and b are within it: checked after
        if r.bit_length() <= MAX_INTEGER_BITS:
            return r
        raise too_large("*")
    if type(a) is float and type(b) is float and not rest:
        return a * b
    r = _mul2("*", a, b)
    for x in rest:
        r = _mul2("*", r, x)
    return r


@primitive("/")
def div(a, b=_NO, *rest):
    if type(a) is float and type(b) is float and not rest:
        return a / b if b else _fdiv(a, b)
    if b is _NO:
        return _div2("/", 1, a)
    r = _div2("/", a, b)
    for x in rest:
        r = _div2("/", r, x)
    return r


@primitive("abs")
def abs_(x):
    t = type(x)
    if t is int or t is float or t is Fraction:
        return abs(x)
    return abs(check_real("abs", x))


@primitive("magnitude")
def magnitude(z):
    t = type(z)
    if t is int or t is float or t is Fraction:
        return abs(z)
    if t is complex:
        return abs(z)  # hypot: inf when a part is infinite, even with a NaN part
    if t is ExactComplex:  # exact when the sum of squares is a perfect square
        return _exact_sqrt_or_float("magnitude", z.real * z.real + z.imag * z.imag)
    raise type_error("magnitude", "a number", z)


@primitive("square")
def square(x):
    if type(x) is int:
        r = x * x
        if r.bit_length() <= MAX_INTEGER_BITS:
            return r
        raise too_large("square")
    return _mul2("square", x, x)


def _extremum(name, first, rest, better):
    check_real(name, first)
    for x in rest:
        check_real(name, x)
    result = first
    inexact = type(first) is float
    nan = first != first
    for x in rest:
        if type(x) is float:
            inexact = True
            if x != x:
                nan = True
        if better(x, result):
            result = x
    if nan:
        return _NAN
    return to_float(result) if inexact else result


@primitive("max")
def max_(a, *rest):
    if len(rest) == 1 and type(a) is int and type(rest[0]) is int:
        b = rest[0]
        return a if a >= b else b
    return _extremum("max", a, rest, lambda x, r: x > r)


@primitive("min")
def min_(a, *rest):
    if len(rest) == 1 and type(a) is int and type(rest[0]) is int:
        b = rest[0]
        return a if a <= b else b
    return _extremum("min", a, rest, lambda x, r: x < r)


# ---------------------------------------------------------------- comparison


def _compare(name, op, args):
    for x in args:
        t = type(x)
        if not (t is int or t is float or t is Fraction):
            if name == "=" and (t is ExactComplex or t is complex):
                return _complex_equal(args)
            check_real(name, x)  # raises: not a number, or not real
    for i in range(len(args) - 1):
        if not op(args[i], args[i + 1]):
            return False
    return True


def _collect(a, b, rest):
    if b is _NO:
        return (a,)
    return (a, b) + rest


def _complex_equal(args):
    """= over numbers some of which are not real: the parts compare exactly."""
    for x in args:
        check_number("=", x)
    for i in range(len(args) - 1):
        ar, ai = parts(args[i])
        br, bi = parts(args[i + 1])
        if not (ar == br and ai == bi):
            return False
    return True


@primitive("=")
def num_eq(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a == b
    if type(a) is float and type(b) is float and not rest:
        return a == b
    return _compare("=", lambda x, y: x == y, _collect(a, b, rest))


@primitive("<")
def num_lt(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a < b
    if type(a) is float and type(b) is float and not rest:
        return a < b
    return _compare("<", lambda x, y: x < y, _collect(a, b, rest))


@primitive(">")
def num_gt(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a > b
    if type(a) is float and type(b) is float and not rest:
        return a > b
    return _compare(">", lambda x, y: x > y, _collect(a, b, rest))


@primitive("<=")
def num_le(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a <= b
    if type(a) is float and type(b) is float and not rest:
        return a <= b
    return _compare("<=", lambda x, y: x <= y, _collect(a, b, rest))


@primitive(">=")
def num_ge(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a >= b
    if type(a) is float and type(b) is float and not rest:
        return a >= b
    return _compare(">=", lambda x, y: x >= y, _collect(a, b, rest))


# ---------------------------------------------------------------- integer division


def _integer_operand(name, x):
    """(python int value, inexact?) for an integer argument (exact or integral float)."""
    t = type(x)
    if t is int:
        return x, False
    if t is float and x.is_integer():
        return int(x), True
    raise type_error(name, "an integer", x)


def _int_pair(name, a, b):
    ia, fa = _integer_operand(name, a)
    ib, fb = _integer_operand(name, b)
    if ib == 0:
        raise scheme_error(f"{name}: division by zero")
    return ia, ib, fa or fb


def _result(n, inexact):
    return to_float(n) if inexact else n


def _trunc_div(a, b):
    q = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        q = -q
    return q, a - b * q


@primitive("quotient", "truncate-quotient")
def quotient(a, b):
    if type(a) is int and type(b) is int and b:
        q = abs(a) // abs(b)
        return q if (a < 0) == (b < 0) else -q
    a, b, inexact = _int_pair("quotient", a, b)
    return _result(_trunc_div(a, b)[0], inexact)


@primitive("remainder", "truncate-remainder")
def remainder(a, b):
    if type(a) is int and type(b) is int and b:
        r = a % b
        if r and (a < 0) != (b < 0):
            r -= b
        return r
    a, b, inexact = _int_pair("remainder", a, b)
    return _result(_trunc_div(a, b)[1], inexact)


@primitive("modulo", "floor-remainder")
def modulo(a, b):
    if type(a) is int and type(b) is int and b:
        return a % b
    a, b, inexact = _int_pair("modulo", a, b)
    return _result(a % b, inexact)


@primitive("floor-quotient")
def floor_quotient(a, b):
    a, b, inexact = _int_pair("floor-quotient", a, b)
    return _result(a // b, inexact)


@primitive("floor/")
def floor_div(a, b):
    a, b, inexact = _int_pair("floor/", a, b)
    q, r = divmod(a, b)
    return MultipleValues([_result(q, inexact), _result(r, inexact)])


@primitive("truncate/")
def truncate_div(a, b):
    a, b, inexact = _int_pair("truncate/", a, b)
    q, r = _trunc_div(a, b)
    return MultipleValues([_result(q, inexact), _result(r, inexact)])


def _of_integers(name, fn, args):
    """fn over integer operands (inexact integers too: then so is the result)."""
    ints = []
    inexact = False
    for x in args:
        n, f = _integer_operand(name, x)
        ints.append(n)
        inexact = inexact or f
    return _result(fn(*ints), inexact)


@primitive("gcd")
def gcd(*args):
    return _of_integers("gcd", math.gcd, args)


def _lcm(*ints):
    r = 1
    for n in ints:  # a step at a time: each result is checked before it grows further
        r = check_exact_size("lcm", math.lcm(r, n))
    return r


@primitive("lcm")
def lcm(*args):
    return _of_integers("lcm", _lcm, args)


@primitive("exact-integer-sqrt")
def exact_integer_sqrt(n):
    if type(n) is not int or n < 0:
        raise type_error("exact-integer-sqrt", "an exact non-negative integer", n)
    check_exact_size("exact-integer-sqrt", n)
    s = math.isqrt(n)
    return MultipleValues([s, n - s * s])


# ---------------------------------------------------------------- rationals & rounding


def _rational_part(name, x):
    """x's numerator or denominator (name), in lowest terms; inexact for a float."""
    t = type(x)
    if t is int or t is Fraction:
        return getattr(x, name)
    if t is float and math.isfinite(x):
        return float(getattr(Fraction(x), name))
    raise type_error(name, "a rational number", x)


@primitive("numerator")
def numerator(x):
    return _rational_part("numerator", x)


@primitive("denominator")
def denominator(x):
    return _rational_part("denominator", x)


def _rounder(name, int_fn, keep_sign):
    def rounding(x):
        t = type(x)
        if t is int:
            return x
        if t is Fraction:
            return int_fn(x)
        if t is float:
            if not math.isfinite(x):
                return x
            r = float(int_fn(x))
            if keep_sign and r == 0.0:
                return math.copysign(0.0, x)
            return r
        return check_real(name, x)  # raises: not a number, or not real

    rounding.__name__ = name
    return rounding


floor = primitive("floor")(_rounder("floor", math.floor, True))
ceiling = primitive("ceiling")(_rounder("ceiling", math.ceil, True))
truncate = primitive("truncate")(_rounder("truncate", math.trunc, True))
# Python's round() on floats and Fractions rounds half to even, as Scheme's `round` must.
round_ = primitive("round")(_rounder("round", round, False))


@primitive("exact", "inexact->exact")
def exact(x):
    t = type(x)
    if t is int or t is Fraction or t is ExactComplex:
        return x
    if t is float:
        if not math.isfinite(x):
            raise scheme_error(f"exact: {written(x)} has no exact representation")
        if x.is_integer():
            return int(x)
        return Fraction(x)
    if t is complex:
        if not (math.isfinite(x.real) and math.isfinite(x.imag)):
            raise scheme_error(f"exact: {written(x)} has no exact representation")
        return rectangular(exact(x.real), exact(x.imag))
    raise type_error("exact", "a number", x)


@primitive("inexact", "exact->inexact")
def inexact(x):
    t = type(x)
    if t is float or t is complex:
        return x
    if t is int or t is Fraction:
        return to_float(x)
    if t is ExactComplex:
        return to_complex(x)
    raise type_error("inexact", "a number", x)


# ---------------------------------------------------------------- powers, roots, transcendental


def _sqrt_nonneg_int(n):
    """A float close to sqrt(n) for a possibly huge non-negative int."""
    try:
        return math.sqrt(n)
    except OverflowError:
        return to_float(math.isqrt(n))


def _exact_sqrt(q):
    """The exact square root of a non-negative int/Fraction if it has one, else None."""
    if type(q) is int:
        s = math.isqrt(q)
        return s if s * s == q else None
    n, d = q.numerator, q.denominator
    sn, sd = math.isqrt(n), math.isqrt(d)
    if sn * sn == n and sd * sd == d:
        return Fraction(sn, sd)
    return None


def _inexact_sqrt(q):
    """sqrt of a non-negative int/Fraction as a float (huge or tiny ones too)."""
    if type(q) is int:
        return _sqrt_nonneg_int(q)
    f = to_float(q)
    if 0.0 < f < _INF and f >= 1e-300:
        return math.sqrt(f)
    return _fdiv(_sqrt_nonneg_int(q.numerator), _sqrt_nonneg_int(q.denominator))


def _exact_sqrt_or_float(name, q):
    """sqrt of a non-negative int/Fraction: exact when it can be, else a float."""
    check_exact_size(name, q)
    r = _exact_sqrt(q)
    return _inexact_sqrt(q) if r is None else r


@primitive("sqrt")
def sqrt(x):
    t = type(x)
    if t is float:
        if not x < 0.0:  # includes -0.0 and nan
            return math.sqrt(x)
        return complex(0.0, math.sqrt(-x))  # (sqrt -4.0) => +2.0i
    if t is int or t is Fraction:
        if x >= 0:
            return _exact_sqrt_or_float("sqrt", x)
        return rectangular(0, _exact_sqrt_or_float("sqrt", -x))  # (sqrt -4) => +2i
    if t is ExactComplex:
        # exact when |z| and sqrt((|z| +/- re)/2) are all exact: (sqrt -3-4i) => 1-2i
        check_exact_size("sqrt", x)
        m = _exact_sqrt(x.real * x.real + x.imag * x.imag)
        if m is not None:
            a = _exact_sqrt(normalize(Fraction(m + x.real, 2)))
            b = _exact_sqrt(normalize(Fraction(m - x.real, 2)))
            if a is not None and b is not None:
                return rectangular(normalize(a), normalize(-b if x.imag < 0 else b))
        return cmath.sqrt(to_complex(x))
    if t is complex:
        return cmath.sqrt(x)
    raise type_error("sqrt", "a number", x)


@primitive("expt")
def expt(base, power):
    tb, tp = type(base), type(power)
    if not (tb is int or tb is float or tb is Fraction) or not (tp is int or tp is float or tp is Fraction):
        return _complex_expt(base, power)
    if tp is int and tb is not float:
        # exact ** exact integer: an exact result
        if power >= 0:
            if tb is int:
                if abs(base) > 1 and (base.bit_length() - 1) * power > MAX_INTEGER_BITS:
                    raise too_large("expt")
                return check_exact_size("expt", base**power)
            if (exact_size(base) - 1) * power > MAX_INTEGER_BITS:
                raise too_large("expt")
            return check_exact_size("expt", normalize(base**power))
        if base == 0:
            raise scheme_error("expt: division by zero")
        if exact_size(base) > 1 and (exact_size(base) - 1) * -power > MAX_INTEGER_BITS:
            raise too_large("expt")
        return check_exact_size("expt", normalize(Fraction(base) ** power))
    # an inexact result: (expt 4 1/2) => 2.0, like guile
    b = to_float(base)
    if tp is int and -(1 << 53) < power < (1 << 53):
        p = power
    else:
        p = to_float(power)
        if b < 0 and math.isfinite(p) and not p.is_integer():
            return _cpow("expt", complex(b, 0.0), complex(p, 0.0))  # (expt -1 0.5) => ~+1.0i
    try:
        return b**p
    except ZeroDivisionError:  # 0.0 ** negative
        return math.copysign(_INF, b) if _is_odd_integer(p) else _INF
    except OverflowError:
        return -_INF if (b < 0 and _is_odd_integer(p)) else _INF


def _complex_expt(base, power):
    """expt when the base or the power is not real."""
    check_number("expt", base)
    check_number("expt", power)
    tb, tp = type(base), type(power)
    if tp is int and tb is ExactComplex:  # exact: by repeated squaring
        if power < 0:
            return _complex2("expt", _DIV, 1, _complex_expt(base, -power))
        result, square = 1, base
        while power:
            if power & 1:
                result = _complex2("expt", _MUL, result, square)
            power >>= 1
            if power:
                square = _complex2("expt", _MUL, square, square)
        return result
    zb, zp = to_complex(base), to_complex(power)
    if zb == 0:
        if zp == 0:
            return 1 if tb is not complex and tb is not float and tp is not complex else 1.0
        if zp.real > 0:
            return 0 if tb is not complex and tb is not float else 0.0
        raise scheme_error(f"expt: {written(base)} to the power {written(power)} is undefined")
    return _cpow("expt", zb, zp)


def _cpow(name, zb, zp):
    try:
        return zb**zp
    except (OverflowError, ZeroDivisionError):
        raise scheme_error(f"{name}: result out of range for {written(zb)} to the power {written(zp)}") from None


def _is_odd_integer(p):
    if type(p) is int:
        return p & 1 == 1
    return math.isfinite(p) and p.is_integer() and int(p) & 1 == 1


def _complex_fn(name, fn, x):
    """fn (a cmath function) of the number x as a complex; a Scheme error where it has no value."""
    try:
        return fn(to_complex(x))
    except (OverflowError, ValueError):
        raise scheme_error(f"{name}: no finite result for {written(x)}") from None


def _real_fn(name, fn, cfn):
    def real_fn(x):
        t = type(x)
        if t is int or t is float or t is Fraction:
            try:
                return fn(to_float(x))
            except OverflowError:
                return _INF
            except ValueError:
                return _NAN  # sin/cos/tan of an infinity
        if t is ExactComplex or t is complex:
            return _complex_fn(name, cfn, x)
        raise type_error(name, "a number", x)

    real_fn.__name__ = name
    return real_fn


def _cexp(z):
    try:
        return cmath.exp(z)
    except OverflowError:  # e**re overflows: inf in the direction of the angle
        return complex(_INF * math.cos(z.imag), _INF * math.sin(z.imag))


exp = primitive("exp")(_real_fn("exp", math.exp, _cexp))
sin = primitive("sin")(_real_fn("sin", math.sin, cmath.sin))
cos = primitive("cos")(_real_fn("cos", math.cos, cmath.cos))
tan = primitive("tan")(_real_fn("tan", math.tan, cmath.tan))


def _unit_fn(name, fn, cfn):
    def unit_fn(x):
        t = type(x)
        if t is int or t is float or t is Fraction:
            f = to_float(x)
            if f != f or -1.0 <= f <= 1.0:
                return fn(f)
            # outside [-1, 1]: complex, on the sides of the branch cuts R7RS's
            # definitions give ((asin 2) => 1.57...-1.31...i, (asin -2) => -1.57...+1.31...i)
            return _complex_fn(name, cfn, complex(f, -0.0 if f > 0 else 0.0))
        if t is ExactComplex or t is complex:
            return _complex_fn(name, cfn, x)
        raise type_error(name, "a number", x)

    unit_fn.__name__ = name
    return unit_fn


asin = primitive("asin")(_unit_fn("asin", math.asin, cmath.asin))
acos = primitive("acos")(_unit_fn("acos", math.acos, cmath.acos))


@primitive("atan")
def atan(y, x=_NO):
    if x is _NO:
        t = type(y)
        if t is ExactComplex or t is complex:
            return _complex_fn("atan", cmath.atan, y)
        return math.atan(to_float(check_number("atan", y)))
    check_real("atan", y)
    check_real("atan", x)
    return math.atan2(to_float(y), to_float(x))


def _ln(x):
    t = type(x)
    if t is ExactComplex or t is complex:
        z = to_complex(x)
        if z == 0:
            return complex(-_INF, math.atan2(z.imag, z.real))
        return _complex_fn("log", cmath.log, x)
    if not (t is int or t is float or t is Fraction):
        raise type_error("log", "a number", x)
    if x != x:
        return x
    if x < 0:  # (log -1) => +3.141592653589793i
        return complex(_ln(-x), math.pi)
    if x == 0:
        return -_INF
    if t is Fraction:
        return math.log(x.numerator) - math.log(x.denominator)
    return math.log(x)  # exact for huge ints too; inf stays inf


@primitive("log")
def log(z, base=_NO):
    if base is _NO:
        return _ln(z)
    a, b = _ln(z), _ln(base)
    if type(a) is float and type(b) is float:
        return _fdiv(a, b)
    return _complex2("log", _DIV, a, b)


# ---------------------------------------------------------------- complex numbers


@primitive("make-rectangular")
def make_rectangular(re, im):
    return rectangular(check_real("make-rectangular", re), check_real("make-rectangular", im))


@primitive("make-polar")
def make_polar(magnitude, angle):
    check_real("make-polar", magnitude)
    check_real("make-polar", angle)
    if type(angle) is not float and angle == 0:
        return magnitude
    if type(magnitude) is not float and magnitude == 0:
        return 0
    m, a = to_float(magnitude), to_float(angle)
    return complex(m * math.cos(a), m * math.sin(a))


@primitive("real-part")
def real_part(z):
    t = type(z)
    if t is ExactComplex or t is complex:
        return z.real
    return check_number("real-part", z)


@primitive("imag-part")
def imag_part(z):
    t = type(z)
    if t is ExactComplex or t is complex:
        return z.imag
    check_number("imag-part", z)
    return 0  # of a real: exact 0, as chibi


@primitive("angle")
def angle(z):
    t = type(z)
    if t is int or t is Fraction:
        return 0 if z >= 0 else math.pi
    if t is float:
        return math.atan2(0.0, z)  # pi for -1.0 and -0.0, nan for nan
    if t is ExactComplex or t is complex:
        return math.atan2(to_float(z.imag), to_float(z.real))
    raise type_error("angle", "a number", z)


# ---------------------------------------------------------------- rationalize


def _simplest_rational(lo, hi):
    """The simplest rational in [lo, hi] (exact, lo <= hi): the one with the smallest
    denominator (and numerator), by continued fractions, iteratively."""
    if lo <= 0 <= hi:
        return 0
    if hi < 0:
        return -_simplest_rational(-hi, -lo)
    terms = []
    while True:
        fl = math.floor(lo)
        if fl == lo:
            terms.append(fl)
            break
        if fl < math.floor(hi):  # an integer in (lo, hi]
            terms.append(fl + 1)
            break
        terms.append(fl)  # the same integer part: go on with the reciprocals of the rest
        lo, hi = 1 / Fraction(hi - fl), 1 / Fraction(lo - fl)
    result = Fraction(terms.pop())
    while terms:
        result = terms.pop() + 1 / result
    return normalize(result)


@primitive("rationalize")
def rationalize(x, y):
    check_real("rationalize", x)
    check_real("rationalize", y)
    inexact = type(x) is float or type(y) is float
    if inexact:
        fx, fy = to_float(x), abs(to_float(y))
        if fx != fx or fy != fy:
            return _NAN
        if math.isinf(fy):
            return _NAN if math.isinf(fx) else 0.0
        if math.isinf(fx):
            return fx
        x, y = exact(fx) if type(x) is float else x, exact(fy) if type(y) is float else abs(y)
    else:
        y = abs(y)
    check_exact_size("rationalize", x)
    check_exact_size("rationalize", y)
    r = _simplest_rational(x - y, x + y)
    return to_float(r) if inexact else r


# ---------------------------------------------------------------- predicates


@primitive("number?", "complex?")
def is_number_p(x):
    t = type(x)
    return t is int or t is float or t is Fraction or t is ExactComplex or t is complex


@primitive("real?")
def is_real_p(x):
    t = type(x)
    return t is int or t is float or t is Fraction


@primitive("rational?")
def is_rational(x):
    t = type(x)
    return t is int or t is Fraction or (t is float and math.isfinite(x))


@primitive("integer?")
def is_integer(x):
    t = type(x)
    return t is int or (t is float and x.is_integer())


@primitive("exact?")
def is_exact(x):
    t = type(x)
    if t is int or t is Fraction or t is ExactComplex:
        return True
    if t is float or t is complex:
        return False
    raise type_error("exact?", "a number", x)


@primitive("inexact?")
def is_inexact(x):
    t = type(x)
    if t is float or t is complex:
        return True
    if t is int or t is Fraction or t is ExactComplex:
        return False
    raise type_error("inexact?", "a number", x)


@primitive("exact-integer?")
def is_exact_integer(x):
    return type(x) is int


@primitive("exact-rational?")
def is_exact_rational(x):
    t = type(x)
    return t is int or t is Fraction


@primitive("exact-nonnegative-integer?")
def is_exact_nonnegative_integer(x):
    return type(x) is int and x >= 0


@primitive("nan?")
def is_nan(x):
    check_number("nan?", x)
    if type(x) is complex:
        return x.real != x.real or x.imag != x.imag
    return x != x


@primitive("infinite?")
def is_infinite(x):
    check_number("infinite?", x)
    t = type(x)
    if t is complex:
        return math.isinf(x.real) or math.isinf(x.imag)
    return t is float and math.isinf(x)


@primitive("finite?")
def is_finite(x):
    check_number("finite?", x)
    t = type(x)
    if t is complex:
        return math.isfinite(x.real) and math.isfinite(x.imag)
    return t is not float or math.isfinite(x)


@primitive("zero?")
def is_zero(x):
    if type(x) is int:
        return x == 0
    check_number("zero?", x)
    return type(x) is not ExactComplex and x == 0  # an ExactComplex is never 0


@primitive("positive?")
def is_positive(x):
    if type(x) is int:
        return x > 0
    check_real("positive?", x)
    return x > 0


@primitive("negative?")
def is_negative(x):
    if type(x) is int:
        return x < 0
    check_real("negative?", x)
    return x < 0


@primitive("odd?")
def is_odd(x):
    if type(x) is int:
        return x & 1 == 1
    return _integer_operand("odd?", x)[0] & 1 == 1


@primitive("even?")
def is_even(x):
    if type(x) is int:
        return x & 1 == 0
    return _integer_operand("even?", x)[0] & 1 == 0


# ---------------------------------------------------------------- number <-> string


def _check_radix(name, radix):
    if type(radix) is int and radix in (2, 8, 10, 16):
        return radix
    raise type_error(name, "a radix of 2, 8, 10 or 16", radix)


@primitive("number->string")
def number_to_string(n, radix=10):
    if type(n) is int and radix == 10 and -10**18 < n < 10**18:  # (the common case: what format_number gives)
        return str(n)
    check_number("number->string", n)
    return format_number(n, _check_radix("number->string", radix))


@primitive("string->number")
def string_to_number(text, radix=10):
    if not is_string(text):
        raise type_error("string->number", "a string", text)
    try:
        result = parse_number(string_text(text), _check_radix("string->number", radix), strict=True)
    except NumberTooLarge:
        raise too_large("string->number") from None
    return result if is_number(result) else False
