"""How values cross between Python and Scheme (payloads, answers, results).

    Python                      Scheme
    None                   <->  the unspecified value
    bool                   <->  #t / #f
    int, float, Fraction   <->  exact integer, inexact real, exact rational
    str                    <->  string      (symbols and chars also become str)
    list, tuple            ->   proper list (a proper list or a vector -> list)
    dict                   <->  hash table (keys converted the same way)
    bytes                  <->  bytevector
    anything else          ->   TypeError;  Scheme procedures etc. -> SchemeObject
"""

from fractions import Fraction

from interp.primitives.hashtables import HashTable
from interp.printer import write_string
from interp.values import NIL, UNSPECIFIED, Char, Pair, Symbol, Vector, list_to_pairs


class SchemeObject:
    """A Scheme value with no Python counterpart, shown by its `write` form."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"SchemeObject({write_string(self.value)})"

    def __eq__(self, other):
        return isinstance(other, SchemeObject) and other.value is self.value

    __hash__ = object.__hash__


def to_scheme(x):
    t = type(x)
    if x is None:
        return UNSPECIFIED
    if t is bool or t is int or t is float or t is str:
        return x
    if t is Fraction:
        return x.numerator if x.denominator == 1 else x
    if t is list or t is tuple:
        return list_to_pairs([to_scheme(v) for v in x])
    if t is dict:
        table = HashTable("equal")
        for k, v in x.items():
            table.set(to_scheme(k), to_scheme(v))
        return table
    if t is bytes or t is bytearray:
        return bytearray(x)
    if t is SchemeObject:
        return x.value
    raise TypeError(f"cannot pass a {t.__name__} to Scheme (see flow.convert for the mapping)")


def to_python(x):
    t = type(x)
    if x is UNSPECIFIED:
        return None
    if t is bool or t is int or t is float or t is str or t is Fraction:
        return x
    if t is Symbol:
        return x.name
    if t is Char:
        return chr(x.code)
    if x is NIL:
        return []
    if t is Pair:
        out = []
        p = x
        while type(p) is Pair:
            out.append(to_python(p.car))
            p = p.cdr
        if p is not NIL:
            return SchemeObject(x)
        return out
    if t is Vector:
        return [to_python(v) for v in x]
    if t is HashTable:
        out = {}
        for k, v in x.items():
            key = to_python(k)
            try:
                hash(key)
            except TypeError:
                return SchemeObject(x)
            out[key] = to_python(v)
        return out
    if t is bytearray:
        return bytes(x)
    return SchemeObject(x)
