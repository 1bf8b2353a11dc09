"""Complex numbers: the ExactComplex type, and building/splitting any Scheme number by parts.

The numeric tower's non-real numbers (values.py lists the reals):

  exact complex    ExactComplex(real, imag): int/Fraction parts, imag never 0 -- an exact
                   zero imaginary part makes a real instead (`rectangular`), so an
                   ExactComplex is never `real?`
  inexact complex  Python `complex` (both parts float), kept complex even when its
                   imaginary part is 0.0: (real? 1.0+0.0i) is #f, as R7RS allows

This module imports nothing else of the interpreter, so values, the number syntax
(numsyntax), the printer and the primitives can all use it.
"""

import math
from fractions import Fraction

__all__ = ["ExactComplex", "rectangular", "parts", "to_float", "to_complex"]


class ExactComplex:
    """An exact non-real complex number. Python `==` and `hash` are by value among
    ExactComplex only (never equal to a Python complex: that would be eqv?-wrong);
    numeric equality across types is the `=` primitive's job."""

    __slots__ = ("real", "imag")

    def __init__(self, real, imag):
        self.real = real
        self.imag = imag

    def __eq__(self, other):
        return type(other) is ExactComplex and self.real == other.real and self.imag == other.imag

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((ExactComplex, self.real, self.imag))

    def __complex__(self):
        return complex(to_float(self.real), to_float(self.imag))

    def __repr__(self):
        return f"ExactComplex({self.real!r}, {self.imag!r})"


def to_float(x):
    """An int/Fraction/float as a float, overflowing to +/-inf instead of raising."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def to_complex(x):
    """Any Scheme number as a Python complex (its inexact value)."""
    t = type(x)
    if t is complex:
        return x
    if t is ExactComplex:
        return complex(to_float(x.real), to_float(x.imag))
    return complex(to_float(x), 0.0)


def parts(x):
    """(real part, imaginary part) of any Scheme number: a real's imaginary part is exact 0."""
    t = type(x)
    if t is ExactComplex or t is complex:
        return x.real, x.imag
    return x, 0


def rectangular(re, im):
    """The number re + im*i for real parts (int, Fraction or float).

    An exact-zero imaginary part gives `re` itself; two exact parts an ExactComplex;
    otherwise an inexact complex (both parts made inexact)."""
    ti = type(im)
    if ti is not float:
        if im == 0:
            return re
        if type(re) is not float:
            if ti is Fraction and im.denominator == 1:
                im = im.numerator
            if type(re) is Fraction and re.denominator == 1:
                re = re.numerator
            return ExactComplex(re, im)
    return complex(to_float(re), to_float(im))
