"""Booleans and equivalence: not, boolean?, boolean=?, eq?, eqv?, equal?.

`eq?` is identity, except that exact integers and characters are compared by value
(as fixnums and chars are in guile): `(eq? 100 100)` is #t whatever Python does with
int identity. It never says #f is 0 or #t is 1.
"""

from ..errors import type_error
from ..values import Char, equal as _equal, eqv as _eqv
from . import primitive


@primitive("not")
def not_(x):
    return x is False


@primitive("boolean?")
def is_boolean(x):
    return x is True or x is False


@primitive("boolean=?")
def boolean_eq(a, b, *rest):
    for x in (a, b) + rest:
        if x is not True and x is not False:
            raise type_error("boolean=?", "a boolean", x)
    if a is not b:
        return False
    for x in rest:
        if x is not a:
            return False
    return True


@primitive("eq?")
def eq(a, b):
    if a is b:
        return True
    t = type(a)
    return (t is int or t is Char) and type(b) is t and a == b


@primitive("eqv?")
def eqv(a, b):
    return a is b or _eqv(a, b)


@primitive("equal?")
def equal(a, b):
    return a is b or _equal(a, b)
