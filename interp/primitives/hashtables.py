"""Hash tables (SRFI 69/125 names): the HashTable type and the primitives needing no callbacks.

`HashTable` wraps a Python dict from a *key image* to a `(key, value)` entry, so that the
original key object is kept (for hash-table-keys) and Python's own equality never leaks in:
the image of #f/#t is a tagged tuple (never 0/1), of a float is a tagged tuple (so 1.0 is
not 1), of a pair/vector/bytevector a tuple built from its elements' images. Entries keep
insertion order. Mutating a structured key after inserting it makes it unreachable, as in
any `equal?` hash table.

Key semantics ("kind"):
  "equal"  (the default) keys are the same when `equal?`.
  "eqv"    keys are the same when `eqv?`: numbers and chars by value, strings, pairs,
           vectors and bytevectors by identity. Chosen when `make-hash-table` /
           `alist->hash-table` get `eq?` or `eqv?` as their equality argument (`eq?` tables
           behave as `eqv?` ones, which is allowed since our `eq?` compares numbers and
           chars by value). Any other equality argument (`equal?`, `string=?`, ...) and any
           hash function argument is accepted and ignored: the table is an `equal?` table
           (so `=`/`string-ci=?` tables would not merge 1 with 1.0 or "a" with "A").

Python API for the evaluator's callback primitives (hash-table-walk, hash-table-update!,
hash-table-update!/default, hash-table-ref with a failure thunk, hash-table-fold, ...):
  table.get(key, default=None)   the value, or default when absent
  table.contains(key)            bool
  table.set(key, value)          insert or replace (the first-inserted key object is kept)
  table.delete(key)              True if an entry was removed
  table.items()                  a snapshot list of (key, value) pairs, insertion order
  table.keys(), table.values()   snapshot lists
  len(table), table.copy(), table.clear()
Keys that cannot be imaged (a circular list, absurdly deep nesting, more than MAX_KEY_SIZE
pairs and vector elements, shared parts counted at each use) raise a SchemeError from any
of these methods.
"""

import math
from fractions import Fraction

from ..complexes import ExactComplex
from ..barrier import WATCHED
from ..errors import scheme_error, type_error
from ..values import NIL, UNSPECIFIED, Char, MString, Pair, Symbol, Vector
from . import primitive
from .lists import list_items
from .numbers import written
from .predicates import eq, eqv

_TRUE_KEY = ("#t",)
_FALSE_KEY = ("#f",)
_NAN_KEY = ("nan",)
# A key is imaged in full at every lookup, so its size is bounded: without that, a
# small key with shared parts (each level a pair of the one below) would take 2**depth.
MAX_KEY_SIZE = 1 << 18

_watcher_of = WATCHED.get  # the write barrier (interp.barrier): every mutating method tells


def equal_key(x):
    """A hashable image of x such that equal_key(a) == equal_key(b) iff (equal? a b)."""
    t = type(x)
    if t is Pair or t is Vector:
        return _structure_key(x, [MAX_KEY_SIZE])
    return _atom_key(x, t)


def _float_key(x):
    """The image of a float: 0.0 and -0.0 differ, all NaNs are one (as eqv?)."""
    if x:
        return ("f", x) if x == x else _NAN_KEY
    return ("f", x, math.copysign(1.0, x))


def _atom_key(x, t):
    if t is int or t is str or t is Symbol or t is Char or t is Fraction or t is ExactComplex:
        return x
    if t is MString:  # by its characters now, like the str with the same ones
        return x.text()
    if t is bool:
        return _TRUE_KEY if x else _FALSE_KEY
    if t is float:
        return _float_key(x)
    if t is complex:
        return ("z", _float_key(x.real), _float_key(x.imag))
    if t is bytearray:
        return ("b", bytes(x))
    if x is NIL:
        return x
    return ("o", id(x))  # identity; the entry keeps x alive, so the id stays unique


def _structure_key(x, budget):
    """equal_key of a pair or vector; budget[0]: how many more elements may be imaged
    (charged before going down into an element, so shared parts cannot run away)."""
    if type(x) is Vector:
        budget[0] -= len(x)
        if budget[0] < 0:
            raise _key_too_large()
        return ("v", tuple([_structure_key(e, budget) if type(e) is Pair or type(e) is Vector
                            else _atom_key(e, type(e)) for e in x]))
    items = []
    p = x
    mark = None
    n = 0
    limit = 2
    while type(p) is Pair:
        c = p.car
        tc = type(c)
        if tc is Pair or tc is Vector:
            budget[0] -= 1
            if budget[0] < 0:
                raise _key_too_large()
            items.append(_structure_key(c, budget))
        else:
            items.append(_atom_key(c, tc))
        p = p.cdr
        if p is mark:
            raise scheme_error("hash table: a circular list cannot be a key")
        n += 1
        if n == limit:
            mark = p
            limit <<= 1
    budget[0] -= n
    if budget[0] < 0:
        raise _key_too_large()
    tail = _structure_key(p, budget) if type(p) is Vector else _atom_key(p, type(p))
    return ("l", tuple(items), tail)


def _key_too_large():
    return scheme_error(
        f"hash table: key too large (more than {MAX_KEY_SIZE} pairs and vector elements)"
    )


def eqv_key(x):
    """A hashable image of x such that eqv_key(a) == eqv_key(b) iff (eqv? a b)."""
    t = type(x)
    if t is int or t is Symbol or t is Char or t is Fraction or t is ExactComplex:
        return x
    if t is bool:
        return _TRUE_KEY if x else _FALSE_KEY
    if t is float:
        return _float_key(x)
    if t is complex:
        return ("z", _float_key(x.real), _float_key(x.imag))
    if x is NIL:
        return x
    return ("o", id(x))


class HashTable:
    """A Scheme hash table: insertion-ordered, with equal? (default) or eqv? keys."""

    __slots__ = ("_entries", "_image", "kind")
    type_name = "hash-table"

    def __init__(self, kind="equal"):
        if kind not in ("equal", "eqv"):
            raise ValueError(f"unknown hash table kind {kind!r}")
        self.kind = kind
        self._image = equal_key if kind == "equal" else eqv_key
        self._entries = {}

    def _key(self, key):
        try:
            return self._image(key)
        except RecursionError:
            raise scheme_error("hash table: key is nested too deeply") from None

    def get(self, key, default=None):
        entry = self._entries.get(self._key(key))
        return default if entry is None else entry[1]

    def contains(self, key):
        return self._key(key) in self._entries

    def set(self, key, value):
        k = self._key(key)
        entry = self._entries.get(k)
        self._entries[k] = (key if entry is None else entry[0], value)
        w = _watcher_of(id(self))
        if w is not None:
            w.touched(self)

    def delete(self, key):
        if self._entries.pop(self._key(key), None) is None:
            return False
        w = _watcher_of(id(self))
        if w is not None:
            w.touched(self)
        return True

    def items(self):
        return list(self._entries.values())

    def keys(self):
        return [k for k, _ in self._entries.values()]

    def values(self):
        return [v for _, v in self._entries.values()]

    def __len__(self):
        return len(self._entries)

    def copy(self):
        other = HashTable(self.kind)
        other._entries = dict(self._entries)
        return other

    def clear(self):
        self._entries.clear()
        w = _watcher_of(id(self))
        if w is not None:
            w.touched(self)

    def __repr__(self):
        return f"#<hash-table {len(self._entries)}>"

    def __scheme_write__(self):
        """`#<hash-table 2 (a . 1) ("b" 1 2)>`: the size, then the first entries
        (a table inside itself is written by its size only)."""
        if self in _BEING_WRITTEN:
            return repr(self)
        from ..printer import write_string

        _BEING_WRITTEN.add(self)
        try:
            shown = [write_string(Pair(k, v)) for k, v in list(self._entries.values())[:SHOWN_ENTRIES]]
        finally:
            _BEING_WRITTEN.discard(self)
        more = " ..." if len(self._entries) > SHOWN_ENTRIES else ""
        return f"#<hash-table {len(self._entries)}{''.join(' ' + e for e in shown)}{more}>"


SHOWN_ENTRIES = 10  # entries a written hash table shows
_BEING_WRITTEN = set()  # tables whose entries are being written (a table inside itself)


def check_table(name, t):
    if type(t) is not HashTable:
        raise type_error(name, "a hash table", t)
    return t


def _kind_from_args(args):
    """"eqv" when the first optional argument is eq? or eqv?, else "equal"."""
    if args:
        fn = getattr(args[0], "fn", None)
        if fn is eq or fn is eqv:
            return "eqv"
    return "equal"


# ---------------------------------------------------------------- construction


@primitive("make-hash-table")
def make_hash_table(*args):
    """(make-hash-table [equality [hash]] ...): see the module docstring for what is honoured."""
    return HashTable(_kind_from_args(args))


@primitive("make-equal-hash-table", "make-string-hash-table")
def make_equal_hash_table(size=None):
    return HashTable("equal")


@primitive("make-eqv-hash-table", "make-eq-hash-table", "make-strong-eqv-hash-table")
def make_eqv_hash_table(size=None):
    return HashTable("eqv")


@primitive("alist->hash-table")
def alist_to_hash_table(alist, *args):
    """A table of alist's associations; when a key repeats, the first association wins."""
    table = HashTable(_kind_from_args(args))
    for entry in list_items("alist->hash-table", alist):
        if type(entry) is not Pair:
            raise scheme_error(
                "alist->hash-table: expected an association list, "
                f"found the non-pair element {written(entry)}"
            )
        if not table.contains(entry.car):
            table.set(entry.car, entry.cdr)
    return table


@primitive("hash-table?")
def is_hash_table(x):
    return type(x) is HashTable


@primitive("hash-table-copy")
def hash_table_copy(table, mutable=False):
    """A copy of table (always mutable: immutable tables are not supported)."""
    return check_table("hash-table-copy", table).copy()


# ---------------------------------------------------------------- access


_ABSENT = object()


@primitive("hash-table-ref")
def hash_table_ref(table, key):
    """(hash-table-ref table key): the 3-argument form (failure thunk) is the evaluator's."""
    check_table("hash-table-ref", table)
    value = table.get(key, _ABSENT)
    if value is _ABSENT:
        raise scheme_error(f"hash-table-ref: no value for key {written(key)}")
    return value


@primitive("hash-table-ref/default")
def hash_table_ref_default(table, key, default):
    check_table("hash-table-ref/default", table)
    return table.get(key, default)


@primitive("hash-table-set!")
def hash_table_set(table, key, value, *more):
    """(hash-table-set! table key value [key value] ...)."""
    check_table("hash-table-set!", table)
    if len(more) % 2:
        raise scheme_error("hash-table-set!: expected alternating keys and values")
    table.set(key, value)
    for i in range(0, len(more), 2):
        table.set(more[i], more[i + 1])
    return UNSPECIFIED


@primitive("hash-table-delete!")
def hash_table_delete(table, *keys):
    """(hash-table-delete! table key ...): the number of entries removed (SRFI 125)."""
    check_table("hash-table-delete!", table)
    return sum(1 for key in keys if table.delete(key))


@primitive("hash-table-contains?", "hash-table-exists?")
def hash_table_contains(table, key):
    return check_table("hash-table-contains?", table).contains(key)


@primitive("hash-table-count", "hash-table-size")
def hash_table_count(table):
    """The number of entries (the old SRFI 69 / MIT meaning, not SRFI 125's predicate count)."""
    return len(check_table("hash-table-count", table))


@primitive("hash-table-empty?")
def is_hash_table_empty(table):
    return len(check_table("hash-table-empty?", table)) == 0


def _to_list(items):
    result = NIL
    for x in reversed(items):
        result = Pair(x, result)
    return result


@primitive("hash-table-keys")
def hash_table_keys(table):
    return _to_list(check_table("hash-table-keys", table).keys())


@primitive("hash-table-values")
def hash_table_values(table):
    return _to_list(check_table("hash-table-values", table).values())


@primitive("hash-table->alist")
def hash_table_to_alist(table):
    check_table("hash-table->alist", table)
    return _to_list([Pair(k, v) for k, v in table.items()])


@primitive("hash-table-clear!")
def hash_table_clear(table):
    check_table("hash-table-clear!", table).clear()
    return UNSPECIFIED

