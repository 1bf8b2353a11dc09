"""Numeric primitives: arithmetic, comparison, rounding, transcendental functions, number<->string.

Exact integers are `int`, exact non-integer rationals `Fraction` (never with denominator 1),
inexact reals `float`; booleans are never numbers. Complex numbers are not supported: where
a real result does not exist (`(sqrt -4)`, `(log -1)`, `(asin 2)`, `(expt -8 1/3)`) the
primitive raises a Scheme error instead. Also home of the index/range argument checks the
sequence primitives share (`check_index`, `check_range`), and of the two size limits: MAX_LENGTH
(elements a make-... primitive allocates, `check_length`) and values.MAX_INTEGER_BITS (the
exact numbers that *, square, expt, lcm, sqrt, exact-integer-sqrt and string->number build or
take, `check_exact_size`): past them a primitive fails at once, naming itself and the limit.
"""

import math
from fractions import Fraction

from ..errors import scheme_error, type_error
from ..values import MAX_INTEGER_BITS, UNSPECIFIED, MultipleValues
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
    return t is int or t is float or t is Fraction


def check_number(name, x):
    t = type(x)
    if t is int or t is float or t is Fraction:
        return x
    raise type_error(name, "a number", x)


def check_index(name, k):
    """k as an exact non-negative integer, else a type error."""
    if type(k) is int and k >= 0:
        return k
    raise type_error(name, "an exact non-negative integer", k)


def check_index_in(name, k, length, kind):
    """k as an index into a `kind` (vector, string, ...) of `length` elements."""
    check_index(name, k)
    if k >= length:
        raise scheme_error(f"{name}: index {k} out of range for {kind} of length {length}")
    return k


# The most elements a primitive that makes a sequence from a count (make-list, make-vector,
# make-string, make-bytevector, iota, string-pad, vector-grow) allocates: 4M, a 32 MB vector
# or a list of about 256 MB, well inside the default step memory limit (interp/limits.py),
# which cannot stop a primitive halfway.
MAX_LENGTH = 1 << 22


def check_length(name, k):
    """k as the size of a new string/vector/list/bytevector, else a Scheme error."""
    if type(k) is not int or k < 0:
        raise type_error(name, "an exact non-negative integer", k)
    if k > MAX_LENGTH:
        raise scheme_error(f"{name}: length {k} is too large")
    return k


def exact_size(x):
    """The size in bits of an exact number: of an int, or of the larger part of a Fraction."""
    if type(x) is int:
        return x.bit_length()
    return max(x.numerator.bit_length(), x.denominator.bit_length())


def too_large(name):
    """The error for an exact number over values.MAX_INTEGER_BITS."""
    return scheme_error(f"{name}: exact number too large (the limit is {MAX_INTEGER_BITS} bits)")


def check_exact_size(name, x):
    """x (an exact number) if it is within values.MAX_INTEGER_BITS, else a Scheme error."""
    if exact_size(x) > MAX_INTEGER_BITS:
        raise too_large(name)
    return x


def copy_into(name, check, to, at, source, start, end, items, kind):
    """(name to at from [start end]) for a mutable sequence (vector, bytevector):
    `check` validates to and from; overlapping ranges copy correctly. The error
    for a range that does not fit speaks of `items` in a `kind`."""
    check(name, to)
    check_index(name, at)
    check(name, source)
    start, end = check_range(name, len(source), start, end)
    if at > len(to) or len(to) - at < end - start:
        raise scheme_error(f"{name}: {end - start} {items} do not fit at index {at} in a {kind} of length {len(to)}")
    to[at : at + end - start] = source[start:end]
    return UNSPECIFIED


def check_range(name, length, start, end):
    """Validate optional (start end) arguments against a sequence length; -> (start, end).

    `start`/`end` are None when not supplied."""
    if start is None:
        start = 0
    elif type(start) is not int or start < 0:
        raise type_error(name, "an exact non-negative integer", start)
    if end is None:
        end = length
    elif type(end) is not int or end < 0:
        raise type_error(name, "an exact non-negative integer", end)
    if end > length:
        raise scheme_error(f"{name}: end index {end} out of range for length {length}")
    if start > length:
        raise scheme_error(f"{name}: start index {start} out of range for length {length}")
    if start > end:
        raise scheme_error(f"{name}: start index {start} is greater than end index {end}")
    return start, end


def to_float(x):
    """An int/Fraction/float as a float, overflowing to +/-inf instead of raising."""
    try:
        return float(x)
    except OverflowError:
        return _INF if x > 0 else -_INF


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
    if not (ta is int or ta is float or ta is Fraction):
        raise type_error(name, "a number", a)
    if not (tb is int or tb is float or tb is Fraction):
        raise type_error(name, "a number", b)
    if ta is float or tb is float:
        return to_float(a) + to_float(b)
    if ta is int and tb is int:
        return a + b
    return check_exact_size(name, normalize(a + b))  # Fractions: the denominators multiply


def _sub2(name, a, b):
    ta, tb = type(a), type(b)
    if not (ta is int or ta is float or ta is Fraction):
        raise type_error(name, "a number", a)
    if not (tb is int or tb is float or tb is Fraction):
        raise type_error(name, "a number", b)
    if ta is float or tb is float:
        return to_float(a) - to_float(b)
    if ta is int and tb is int:
        return a - b
    return check_exact_size(name, normalize(a - b))


def _mul2(name, a, b):
    ta, tb = type(a), type(b)
    if not (ta is int or ta is float or ta is Fraction):
        raise type_error(name, "a number", a)
    if not (tb is int or tb is float or tb is Fraction):
        raise type_error(name, "a number", b)
    if ta is float or tb is float:
        return to_float(a) * to_float(b)
    if ta is int and tb is int and a.bit_length() + b.bit_length() > MAX_INTEGER_BITS + 1:
        raise too_large(name)  # (a Fraction product may cancel down: that one is checked after)
    return check_exact_size(name, normalize(a * b))


def _div2(name, a, b):
    ta, tb = type(a), type(b)
    if not (ta is int or ta is float or ta is Fraction):
        raise type_error(name, "a number", a)
    if not (tb is int or tb is float or tb is Fraction):
        raise type_error(name, "a number", b)
    if tb is not float and b == 0:
        raise scheme_error(f"{name}: division by zero")
    if ta is float or tb is float:
        return _fdiv(to_float(a), to_float(b))
    if ta is int and tb is int:
        return normalize(Fraction(a, b))  # no larger than a and b
    return check_exact_size(name, normalize(Fraction(a, b)))


# exported for other primitive modules (iota, ...)
add2 = _add2
mul2 = _mul2


# ---------------------------------------------------------------- arithmetic


@primitive("+")
def add(a=0, b=0, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a + b
    r = _add2("+", a, b)
    for x in rest:
        r = _add2("+", r, x)
    return r


@primitive("-")
def sub(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a - b
    if b is _NO:
        return -check_number("-", a)  # -0.0 for 0.0, as guile
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
    r = _mul2("*", a, b)
    for x in rest:
        r = _mul2("*", r, x)
    return r


@primitive("/")
def div(a, b=_NO, *rest):
    if b is _NO:
        return _div2("/", 1, a)
    r = _div2("/", a, b)
    for x in rest:
        r = _div2("/", r, x)
    return r


@primitive("abs", "magnitude")
def abs_(x):
    t = type(x)
    if t is int or t is float or t is Fraction:
        return abs(x)
    raise type_error("abs", "a number", x)


@primitive("square")
def square(x):
    if type(x) is int:
        r = x * x
        if r.bit_length() <= MAX_INTEGER_BITS:
            return r
        raise too_large("square")
    return _mul2("square", x, x)


def _extremum(name, first, rest, better):
    check_number(name, first)
    for x in rest:
        check_number(name, x)
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
            raise type_error(name, "a number", x)
    for i in range(len(args) - 1):
        if not op(args[i], args[i + 1]):
            return False
    return True


def _collect(a, b, rest):
    if b is _NO:
        return (a,)
    return (a, b) + rest


@primitive("=")
def num_eq(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a == b
    return _compare("=", lambda x, y: x == y, _collect(a, b, rest))


@primitive("<")
def num_lt(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a < b
    return _compare("<", lambda x, y: x < y, _collect(a, b, rest))


@primitive(">")
def num_gt(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a > b
    return _compare(">", lambda x, y: x > y, _collect(a, b, rest))


@primitive("<=")
def num_le(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
        return a <= b
    return _compare("<=", lambda x, y: x <= y, _collect(a, b, rest))


@primitive(">=")
def num_ge(a, b=_NO, *rest):
    if type(a) is int and type(b) is int and not rest:
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
        raise type_error(name, "a number", x)

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
    if t is int or t is Fraction:
        return x
    if t is float:
        if not math.isfinite(x):
            raise scheme_error(f"exact: {written(x)} has no exact representation")
        if x.is_integer():
            return int(x)
        return Fraction(x)
    raise type_error("exact", "a number", x)


@primitive("inexact", "exact->inexact")
def inexact(x):
    t = type(x)
    if t is float:
        return x
    if t is int or t is Fraction:
        return to_float(x)
    raise type_error("inexact", "a number", x)


# ---------------------------------------------------------------- powers, roots, transcendental


def _sqrt_nonneg_int(n):
    """A float close to sqrt(n) for a possibly huge non-negative int."""
    try:
        return math.sqrt(n)
    except OverflowError:
        return to_float(math.isqrt(n))


@primitive("sqrt")
def sqrt(x):
    t = type(x)
    if t is int:
        if x >= 0:
            check_exact_size("sqrt", x)
            s = math.isqrt(x)
            if s * s == x:
                return s
            return _sqrt_nonneg_int(x)
    elif t is Fraction:
        if x > 0:
            check_exact_size("sqrt", x)
            n, d = x.numerator, x.denominator
            sn, sd = math.isqrt(n), math.isqrt(d)
            if sn * sn == n and sd * sd == d:
                return Fraction(sn, sd)
            f = to_float(x)
            if 0.0 < f < _INF and f >= 1e-300:
                return math.sqrt(f)
            return _fdiv(_sqrt_nonneg_int(n), _sqrt_nonneg_int(d))
    elif t is float:
        if not x < 0.0:  # includes -0.0 and nan
            return math.sqrt(x)
    else:
        raise type_error("sqrt", "a number", x)
    raise type_error("sqrt", "a non-negative number (complex numbers are not supported)", x)


@primitive("expt")
def expt(base, power):
    tb, tp = type(base), type(power)
    if not (tb is int or tb is float or tb is Fraction):
        raise type_error("expt", "a number", base)
    if not (tp is int or tp is float or tp is Fraction):
        raise type_error("expt", "a number", power)
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
            raise scheme_error(
                f"expt: complex result for (expt {written(base)} {written(power)}) "
                "is not supported"
            )
    try:
        return b**p
    except ZeroDivisionError:  # 0.0 ** negative
        return math.copysign(_INF, b) if _is_odd_integer(p) else _INF
    except OverflowError:
        return -_INF if (b < 0 and _is_odd_integer(p)) else _INF


def _is_odd_integer(p):
    if type(p) is int:
        return p & 1 == 1
    return math.isfinite(p) and p.is_integer() and int(p) & 1 == 1


def _real_fn(name, fn):
    def real_fn(x):
        t = type(x)
        if not (t is int or t is float or t is Fraction):
            raise type_error(name, "a number", x)
        try:
            return fn(to_float(x))
        except OverflowError:
            return _INF
        except ValueError:
            return _NAN  # sin/cos/tan of an infinity

    real_fn.__name__ = name
    return real_fn


exp = primitive("exp")(_real_fn("exp", math.exp))
sin = primitive("sin")(_real_fn("sin", math.sin))
cos = primitive("cos")(_real_fn("cos", math.cos))
tan = primitive("tan")(_real_fn("tan", math.tan))


def _unit_fn(name, fn):
    def unit_fn(x):
        t = type(x)
        if not (t is int or t is float or t is Fraction):
            raise type_error(name, "a number", x)
        f = to_float(x)
        if f != f:
            return f
        if not -1.0 <= f <= 1.0:
            raise type_error(
                name, "a number between -1 and 1 (complex numbers are not supported)", x
            )
        return fn(f)

    unit_fn.__name__ = name
    return unit_fn


asin = primitive("asin")(_unit_fn("asin", math.asin))
acos = primitive("acos")(_unit_fn("acos", math.acos))


@primitive("atan")
def atan(y, x=_NO):
    check_number("atan", y)
    if x is _NO:
        return math.atan(to_float(y))
    check_number("atan", x)
    return math.atan2(to_float(y), to_float(x))


def _ln(x):
    t = type(x)
    if not (t is int or t is float or t is Fraction):
        raise type_error("log", "a number", x)
    if x != x:
        return x
    if x < 0:
        raise type_error("log", "a non-negative number (complex numbers are not supported)", x)
    if x == 0:
        return -_INF
    if t is Fraction:
        return math.log(x.numerator) - math.log(x.denominator)
    return math.log(x)  # exact for huge ints too; inf stays inf


@primitive("log")
def log(z, base=_NO):
    if base is _NO:
        return _ln(z)
    return _fdiv(_ln(z), _ln(base))


# ---------------------------------------------------------------- predicates


@primitive("number?", "complex?", "real?")
def is_number_p(x):
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
    if t is int or t is Fraction:
        return True
    if t is float:
        return False
    raise type_error("exact?", "a number", x)


@primitive("inexact?")
def is_inexact(x):
    t = type(x)
    if t is float:
        return True
    if t is int or t is Fraction:
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
    return x != x


@primitive("infinite?")
def is_infinite(x):
    check_number("infinite?", x)
    return type(x) is float and math.isinf(x)


@primitive("finite?")
def is_finite(x):
    check_number("finite?", x)
    return type(x) is not float or math.isfinite(x)


@primitive("zero?")
def is_zero(x):
    if type(x) is int:
        return x == 0
    check_number("zero?", x)
    return x == 0


@primitive("positive?")
def is_positive(x):
    if type(x) is int:
        return x > 0
    check_number("positive?", x)
    return x > 0


@primitive("negative?")
def is_negative(x):
    if type(x) is int:
        return x < 0
    check_number("negative?", x)
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
    from ..printer import format_number

    check_number("number->string", n)
    return format_number(n, _check_radix("number->string", radix))


@primitive("string->number")
def string_to_number(text, radix=10):
    from ..reader import NumberTooLarge, parse_number

    if type(text) is not str:
        raise type_error("string->number", "a string", text)
    try:
        result = parse_number(text, _check_radix("string->number", radix), strict=True)
    except NumberTooLarge:
        raise too_large("string->number") from None
    return result if is_number(result) else False
