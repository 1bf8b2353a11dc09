"""How values cross between Python and Scheme (payloads, answers, results).

    Python                      Scheme
    None                   <->  the unspecified value
    bool                   <->  #t / #f
    int, float, Fraction   <->  exact integer, inexact real, exact rational
    str                    <->  string      (mutable strings, symbols and chars also become str)
    list, tuple            ->   proper list (a proper list or a vector -> list)
    dict                   <->  hash table (keys converted the same way)
    bytes                  <->  bytevector
    anything else          ->   TypeError;  Scheme procedures etc. -> SchemeObject
    Scheme data that contains itself, is nested too deep for Python, or is a
    hash table whose keys would merge in a dict (#f and 0)  -> SchemeObject (whole)
"""

from fractions import Fraction

from interp.primitives.hashtables import HashTable
from interp.printer import write_string
from interp.values import NIL, UNSPECIFIED, Char, MString, Pair, Symbol, Vector, list_to_pairs


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


class _Cyclic(Exception):
    """A container met again inside itself; `head` is its id."""

    def __init__(self, head):
        self.head = head


def to_python(x):
    """The Python value of Scheme value x (see the table above). A list, vector or
    hash table that contains itself, or one nested too deeply for Python, and a
    hash table whose keys collide once converted (#f and 0, #t and 1) come back
    whole as a SchemeObject: a Python value must never lose or loop over data."""
    try:
        return _to_python(x, set())
    except (_Cyclic, RecursionError):
        return SchemeObject(x)


def _to_python(x, active):
    t = type(x)
    if x is UNSPECIFIED:
        return None
    if t is bool or t is int or t is float or t is str or t is Fraction:
        return x
    if t is MString:
        return x.text()
    if t is Symbol:
        return x.name
    if t is Char:
        return chr(x.code)
    if x is NIL:
        return []
    if t is Pair:
        if id(x) in active:
            raise _Cyclic(id(x))
        seen = []
        out = []
        p = x
        try:
            while type(p) is Pair:
                if id(p) in active:
                    raise _Cyclic(id(p))
                active.add(id(p))
                seen.append(id(p))
                out.append(_to_python(p.car, active))
                p = p.cdr
        except _Cyclic as c:
            if c.head in seen:  # the cycle runs through this list: keep it whole
                return SchemeObject(x)
            raise
        finally:
            active.difference_update(seen)
        if p is not NIL:
            return SchemeObject(x)
        return out
    if t is Vector or t is HashTable:
        if id(x) in active:
            raise _Cyclic(id(x))
        active.add(id(x))
        try:
            if t is Vector:
                return [_to_python(v, active) for v in x]
            out = {}
            items = x.items()
            for k, v in items:
                key = _to_python(k, active)
                try:
                    hash(key)
                except TypeError:
                    return SchemeObject(x)
                out[key] = _to_python(v, active)
            if len(out) != len(items):  # keys that differ in Scheme but not in Python
                return SchemeObject(x)
            return out
        except _Cyclic as c:
            if c.head == id(x):
                return SchemeObject(x)
            raise
        finally:
            active.discard(id(x))
    if t is bytearray:
        return bytes(x)
    return SchemeObject(x)
