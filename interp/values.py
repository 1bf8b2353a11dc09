"""Scheme data as Python objects: symbols, pairs, the empty list, chars, vectors.

Representation (the contract every other module relies on):

  booleans      Python True / False (never compare with ==: use `is`)
  integers      int (exact, bignums free up to MAX_INTEGER_BITS, which arithmetic that
                could exceed it checks); rationals fractions.Fraction; reals float;
                complex numbers complexes.ExactComplex (exact) and complex (inexact)
  strings       str for literals and other immutable strings (symbol names,
                number->string); MString for the strings R7RS calls "newly allocated"
                (make-string, string, string-copy, string-append, ...), which
                string-set!, string-fill! and string-copy! mutate. is_string(x) and
                string_text(x) accept both: never test `type(x) is str` for a Scheme string
  symbols       Symbol, interned: `sym("car") is sym("car")`
  pairs         Pair(car, cdr); a list ends in the single NIL object
  characters    Char, interned by code point
  vectors       Vector (a list subclass); bytevectors: bytearray
  unspecified   UNSPECIFIED (what set!, display, ... return); EOF is EOF_OBJECT
  multiple values  MultipleValues (only ever from `values` with n != 1)

Environment frames are plain Python `list`s (never `Vector`), so the two never mix.
"""

import math
import random
from fractions import Fraction

from .barrier import WATCHED
from .complexes import ExactComplex

_watcher_of = WATCHED.get  # the write barrier (interp.barrier), bound once for the hot paths


# The largest exact number (in bits: of an integer, or of a rational's numerator or
# denominator) that the primitives which can make one much larger than their arguments
# (*, square, expt, lcm, exact-integer-sqrt, sqrt, string->number, the reader's
# #e1e... exponents) will build or take. Python's big-integer division and gcd
# are quadratic: at this size one of them takes about a second, and writing such a
# number in decimal (~315,000 digits) well under one.
MAX_INTEGER_BITS = 1 << 20


class Symbol:
    __slots__ = ("name", "__weakref__")

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name

    def __reduce__(self):  # pickling is never used, but copy/deepcopy keep identity
        return (sym, (self.name,))


_symbols = {}


def sym(name):
    """The interned symbol called `name`."""
    s = _symbols.get(name)
    if s is None:
        s = _symbols[name] = Symbol(name)
    return s


_gensym_counter = [0]


def gensym(prefix="g"):
    """A fresh, uninterned symbol (never `eq?` to a read one)."""
    _gensym_counter[0] += 1
    return Symbol(f"{prefix}{_gensym_counter[0]}")


class Nil:
    __slots__ = ()

    def __repr__(self):
        return "()"

    def __iter__(self):
        return iter(())

    def __bool__(self):  # the empty list is TRUE in Scheme; guard Python code against misuse
        return True

    def __reduce__(self):
        return "NIL"


NIL = Nil()


class Pair:
    """A cons cell. `pos` (a SourcePos) is set only on pairs the reader made."""

    __slots__ = ("car", "cdr", "pos")

    def __init__(self, car, cdr):
        self.car = car
        self.cdr = cdr

    def __iter__(self):
        """Iterate the cars of a proper list (stops at the first non-pair tail)."""
        p = self
        while type(p) is Pair:
            yield p.car
            p = p.cdr

    def __repr__(self):
        from .printer import write_string

        return write_string(self)


class SourcePos:
    """Where a datum was read: file name, 1-based line and column."""

    __slots__ = ("file", "line", "col")

    def __init__(self, file, line, col):
        self.file = file
        self.line = line
        self.col = col

    def __str__(self):
        return f"{self.file or '<input>'}:{self.line}:{self.col}"

    __repr__ = __str__

    def __eq__(self, other):
        return (
            isinstance(other, SourcePos)
            and (self.file, self.line, self.col) == (other.file, other.line, other.col)
        )

    def __hash__(self):
        return hash((self.file, self.line, self.col))


class Char:
    __slots__ = ("code",)

    def __init__(self, code):
        self.code = code

    def __repr__(self):
        return f"Char({chr(self.code)!r})"

    def __eq__(self, other):
        return type(other) is Char and other.code == self.code

    def __hash__(self):
        return hash(("char", self.code))

    def __reduce__(self):
        return (char, (chr(self.code),))


_chars = {}


def char(c):
    """The Char for a one-character str."""
    code = ord(c)
    ch = _chars.get(code)
    if ch is None:
        ch = _chars[code] = Char(code)
    return ch


class MString:
    """A mutable Scheme string (see the representation table above).

    `_s` is the text as a str, or None after a mutation until the whole text is next
    asked for; `_l` is a list of one-character strs, made by the first mutation and
    kept (so alternating string-set! and string-ref or string-append costs no
    re-splitting). At least one of the two is always set.
    Python `==` and hash() compare the characters, with a str as with an MString (so
    equal?-keyed tables and host code see the text); Scheme's eq?/eqv? use identity.
    Mutating a string that is a key of an equal? hash table makes the key unreachable,
    as with a mutated list key."""

    __slots__ = ("_s", "_l")

    def __init__(self, text):
        self._s = text
        self._l = None

    def text(self):
        """The characters as a str."""
        s = self._s
        if s is None:
            s = self._s = "".join(self._l)
        return s

    def chars(self):
        """The characters, indexable: the str, or the list once mutated (read only)."""
        s = self._s
        return s if s is not None else self._l

    def mutable_chars(self):
        """The list of one-character strs to mutate in place (the cached text is dropped;
        the caller is about to change the string: its watcher is told, interp.barrier)."""
        w = _watcher_of(id(self))
        if w is not None:
            w.touched(self)
        chars = self._l
        if chars is None:
            chars = self._l = list(self._s)
        self._s = None
        return chars

    def set_text(self, text):
        """Replace all the characters by those of the str `text` (its watcher is told,
        interp.barrier)."""
        w = _watcher_of(id(self))
        if w is not None:
            w.touched(self)
        self._s = text
        self._l = None

    def __len__(self):
        s = self._s
        return len(s) if s is not None else len(self._l)

    def __eq__(self, other):
        t = type(other)
        if t is MString:
            return self is other or self.text() == other.text()
        if t is str:
            return self.text() == other
        return NotImplemented

    def __hash__(self):
        return hash(self.text())

    def __str__(self):
        return self.text()

    def __repr__(self):
        return f"MString({self.text()!r})"

    def __reduce__(self):  # copy/deepcopy make a new string with the same characters
        return (MString, (self.text(),))


def is_string(x):
    """Is x a Scheme string (a str or an MString)?"""
    t = type(x)
    return t is str or t is MString


def string_text(x):
    """The characters of the Scheme string x (a str or an MString) as a str."""
    if type(x) is str:
        return x
    s = x._s
    return s if s is not None else x.text()


def _strings_equal(a, b):
    """equal? for a string a and a value b of another type: true only for a str and an
    MString with the same characters."""
    tb = type(b)
    return (tb is str or tb is MString) and a == b


class Vector(list):
    """A Scheme vector."""

    __slots__ = ()


class Unspecified:
    __slots__ = ()

    def __repr__(self):
        return "#<unspecified>"

    def __reduce__(self):
        return "UNSPECIFIED"


UNSPECIFIED = Unspecified()


class EofObject:
    __slots__ = ()

    def __repr__(self):
        return "#<eof>"

    def __reduce__(self):
        return "EOF_OBJECT"


EOF_OBJECT = EofObject()


class DefaultObject:
    """Marker for an optional argument that was not supplied."""

    __slots__ = ()

    def __reduce__(self):
        return "DEFAULT"


DEFAULT = DefaultObject()


class MultipleValues:
    """The result of (values a b ...) with other than one value."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items


# ---------------------------------------------------------------- list helpers


def list_to_pairs(items, tail=NIL):
    """Build a Scheme list from a Python sequence (optionally improper)."""
    result = tail
    for x in reversed(items):
        result = Pair(x, result)
    return result


def pairs_to_list(x):
    """The elements of a proper Scheme list as a Python list; ValueError otherwise."""
    out = []
    while type(x) is Pair:
        out.append(x.car)
        x = x.cdr
    if x is not NIL:
        raise ValueError("not a proper list")
    return out


def is_list(x):
    """True for a proper (finite, NIL-terminated) list; cycles are detected."""
    slow = x
    while True:
        if x is NIL:
            return True
        if type(x) is not Pair:
            return False
        x = x.cdr
        if x is NIL:
            return True
        if type(x) is not Pair:
            return False
        x = x.cdr
        slow = slow.cdr
        if x is slow:
            return False


def is_number(x):
    t = type(x)
    return t is int or t is float or t is Fraction or t is ExactComplex or t is complex


def is_true(x):
    return x is not False


# ---------------------------------------------------------------- equivalence


def eqv(a, b):
    """Scheme eqv?: identity, plus same-type numbers and chars by value.

    Never says #f is 0 or #t is 1 (Python's False == 0 trap)."""
    if a is b:
        return True
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is int or ta is Fraction or ta is Char or ta is ExactComplex:
        return a == b
    if ta is float:
        return _float_eqv(a, b)
    if ta is complex:
        return _float_eqv(a.real, b.real) and _float_eqv(a.imag, b.imag)
    return False


def _float_eqv(a, b):
    """eqv? of two floats: 0.0 and -0.0 differ, every NaN is eqv? to every NaN."""
    if a == b:
        return a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b)
    return a != a and b != b


def equal(a, b, table_type=None):
    """Scheme equal?: structural over pairs, vectors, strings, bytevectors.

    Terminates on cyclic data and stays fast on data with heavy sharing (see the
    note below). With `table_type` (flow replay passes the HashTable class), two
    tables of that type are equal when they have the same `kind` and the same keys
    (by the table's own key test) with equal values; without it tables, like records
    and procedures, are equal only when they are the same object."""
    if a is b:
        return True
    ta = type(a)
    if ta is not type(b):
        return (ta is str or ta is MString) and _strings_equal(a, b)
    if ta is not Pair and ta is not Vector and ta is not table_type:  # two atoms
        if ta is str or ta is MString or ta is bytearray or ta is int or ta is Fraction or ta is Char:
            return a == b
        return (ta is float or ta is complex or ta is ExactComplex) and eqv(a, b)
    k = _FAST_STEPS
    classes = None  # id(node) -> union-find box: [size] at a root, [parent box] below
    stack = None  # pending (a, b) comparisons, flattened: ... b, a
    while True:
        if a is not b:
            ta = type(a)
            if ta is not type(b):
                if not ((ta is str or ta is MString) and _strings_equal(a, b)):
                    return False  # (else a str and an MString with the same characters)
            elif ta is Pair or ta is Vector or ta is table_type:
                if k > 0:
                    k -= 1
                else:
                    if classes is None:
                        classes = {}
                    if _assumed_equal(classes, a, b):
                        k = 0
                        ta = None  # nothing more to compare under this pair
                    else:
                        k -= 1
                        if k <= _SLOW_STEPS:
                            k = _rng.randrange(2 * _FAST_STEPS)
                if ta is Pair:
                    x = a.car
                    y = b.car
                    if x is not y:
                        tx = type(x)
                        if tx is not type(y):
                            if not ((tx is str or tx is MString) and _strings_equal(x, y)):
                                return False
                        elif tx is int or tx is str or tx is Char or tx is MString:
                            if x != y:
                                return False
                        else:
                            if stack is None:
                                stack = []
                            stack.append(b.cdr)
                            stack.append(a.cdr)
                            a = x
                            b = y
                            continue
                    a = a.cdr
                    b = b.cdr
                    continue
                if ta is Vector:
                    if len(a) != len(b):
                        return False
                    if stack is None:
                        stack = []
                    for x, y in zip(a, b):
                        if x is not y:
                            tx = type(x)
                            if tx is not type(y):
                                if not ((tx is str or tx is MString) and _strings_equal(x, y)):
                                    return False
                            elif tx is int or tx is str or tx is Char or tx is MString:
                                if x != y:
                                    return False
                            else:
                                stack.append(y)
                                stack.append(x)
                elif ta is not None:  # two tables of table_type
                    if a.kind != b.kind or len(a) != len(b):
                        return False
                    if stack is None:
                        stack = []
                    for key, value in a.items():
                        if not b.contains(key):
                            return False
                        stack.append(b.get(key))
                        stack.append(value)
            elif ta is str or ta is MString or ta is bytearray or ta is int or ta is Fraction or ta is Char:
                if a != b:
                    return False
            elif ta is float or ta is complex or ta is ExactComplex:
                if not eqv(a, b):
                    return False
            else:
                return False
        if not stack:
            return True
        a = stack.pop()
        b = stack.pop()


# equal? on pairs, vectors (and tables) is Adams & Dybvig's "Efficient nondestructive
# equality checking for trees and graphs" (ICFP 2008): a plain walk with a budget of
# _FAST_STEPS containers, then alternating stretches of checking with union-find
# (node pairs already assumed equal are not compared again: this ends cycles and
# makes shared sub-structure cost once) and of plain walking. The walk keeps its own
# stack, so deep nesting does not need Python's.
_FAST_STEPS = 400  # containers compared plainly first; also the mean of later stretches
_SLOW_STEPS = -40  # then this many (negated) with union-find before walking plainly again
_rng = random.Random(0x5EED)  # private: never disturbs the random module's global state


def _assumed_equal(classes, a, b):
    """True if a and b are already in one class; else merge their classes, False."""
    ba = classes.get(id(a))
    bb = classes.get(id(b))
    if ba is None:
        if bb is None:
            box = [1]
            classes[id(a)] = box
            classes[id(b)] = box
        else:
            classes[id(a)] = _find(bb)
        return False
    if bb is None:
        classes[id(b)] = _find(ba)
        return False
    ra = _find(ba)
    rb = _find(bb)
    if ra is rb:
        return True
    na = ra[0]
    nb = rb[0]
    if na > nb:
        rb[0] = ra
        ra[0] = na + nb
    else:
        ra[0] = rb
        rb[0] = na + nb
    return False


def _find(box):
    """The root box of box's class (compressing the path to it)."""
    root = box
    while type(root[0]) is list:
        root = root[0]
    while box is not root:
        up = box[0]
        box[0] = root
        box = up
    return root


def scheme_type_name(x):
    """A short name for the type of a value, for error messages."""
    t = type(x)
    if t is bool:
        return "boolean"
    if t is int or t is Fraction or t is float or t is ExactComplex or t is complex:
        return "number"
    names = {
        str: "string",
        MString: "string",
        Symbol: "symbol",
        Pair: "pair",
        Nil: "empty list",
        Char: "char",
        Vector: "vector",
        bytearray: "bytevector",
        Unspecified: "unspecified",
        EofObject: "eof",
    }
    return names.get(t) or getattr(x, "type_name", None) or t.__name__
