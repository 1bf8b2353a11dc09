"""Pair and list primitives: cons/car/cdr, the c[ad]r family, building, searching, alists.

Every walk along a list is a loop (lists of millions of elements are fine) and detects
circular lists (Brent's trick: remember the pair reached at each power-of-two step), so a
circular argument gives an error rather than a hang. `member`/`assoc` here are the
two-argument forms; the three-argument forms (custom equality) belong to the evaluator.
"""

from operator import attrgetter

from ..barrier import WATCHED, touch
from ..errors import scheme_error, type_error
from ..values import NIL, UNSPECIFIED, Char, Pair, equal, eqv, is_list, list_to_pairs
from . import primitive
from .numbers import add2, check_number, exact_size, mul2, written
from .sequences import MAX_LENGTH, check_index, check_length
from .predicates import eq

_watcher_of = WATCHED.get  # the write barrier (interp.barrier)


# ---------------------------------------------------------------- shared helpers


def not_a_list(name, x):
    """The error for a value that should have been a proper list."""
    if _is_circular(x):
        return scheme_error(f"{name}: expected a proper list, got a circular list")
    return type_error(name, "a proper list", x)


def _is_circular(x):
    slow = fast = x
    while type(fast) is Pair and type(fast.cdr) is Pair:
        fast = fast.cdr.cdr
        slow = slow.cdr
        if fast is slow:
            return True
    return False


def list_items(name, x):
    """The elements of the proper list x as a Python list, else a Scheme error naming `name`."""
    out = []
    append = out.append
    p = x
    mark = None
    n = 0
    limit = 2
    while type(p) is Pair:
        append(p.car)
        p = p.cdr
        if p is mark:
            raise not_a_list(name, x)
        n += 1
        if n == limit:
            mark = p
            limit <<= 1
    if p is not NIL:
        raise not_a_list(name, x)
    return out


# ---------------------------------------------------------------- pairs


@primitive("cons")
def cons(a, b):
    return Pair(a, b)


@primitive("car")
def car(x):
    try:
        return x.car
    except AttributeError:
        raise type_error("car", "a pair", x) from None


@primitive("cdr")
def cdr(x):
    try:
        return x.cdr
    except AttributeError:
        raise type_error("cdr", "a pair", x) from None


@primitive("set-car!")
def set_car(p, x):
    if type(p) is not Pair:
        raise type_error("set-car!", "a pair", p)
    p.car = x
    w = _watcher_of(id(p))
    if w is not None:
        w.touched(p)
    return UNSPECIFIED


@primitive("set-cdr!")
def set_cdr(p, x):
    if type(p) is not Pair:
        raise type_error("set-cdr!", "a pair", p)
    p.cdr = x
    w = _watcher_of(id(p))
    if w is not None:
        w.touched(p)
    return UNSPECIFIED


def _cxr(name):
    # "cadr" -> x.cdr.car: the letters between c and r apply right to left
    path = ".".join("car" if c == "a" else "cdr" for c in reversed(name[1:-1]))
    getter = attrgetter(path)

    def cxr(x):
        try:
            return getter(x)
        except AttributeError:
            raise scheme_error(f"{name}: incorrect list structure {written(x)}") from None

    cxr.__name__ = name
    return cxr


def _cxr_names():
    names = []
    for depth in (2, 3, 4):
        paths = [""]
        for _ in range(depth):
            paths = [p + c for p in paths for c in "ad"]
        names.extend(f"c{p}r" for p in paths)
    return names


for _name in _cxr_names():
    primitive(_name)(_cxr(_name))


# ---------------------------------------------------------------- predicates


@primitive("pair?")
def is_pair(x):
    return type(x) is Pair


@primitive("null?")
def is_null(x):
    return x is NIL


primitive("list?")(is_list)  # values.is_list: proper and finite (cycles detected)


# ---------------------------------------------------------------- construction


@primitive("list")
def list_(*items):
    result = NIL
    for x in reversed(items):
        result = Pair(x, result)
    return result


@primitive("cons*", "list*")
def cons_star(first, *rest):
    if not rest:
        return first
    result = rest[-1]
    for x in reversed(rest[:-1]):
        result = Pair(x, result)
    return Pair(first, result)


@primitive("make-list")
def make_list(k, fill=NIL):
    check_length("make-list", k)
    result = NIL
    for _ in range(k):
        result = Pair(fill, result)
    return result


@primitive("iota")
def iota(count, start=0, step=1):
    check_length("iota", count)
    check_number("iota", start)
    check_number("iota", step)
    # every element is a new number: with a huge start or step, count times its size
    bits = sum(exact_size(x) for x in (start, step) if type(x) is not float) + count.bit_length()
    if bits > 64 and count * bits > MAX_LENGTH * 64:
        raise scheme_error(
            f"iota: {count} numbers of up to {bits} bits are too large "
            f"(the limit is {MAX_LENGTH} numbers of 64 bits)"
        )
    if type(start) is int and type(step) is int:
        return list_to_pairs(range(start, start + count * step, step) if step else [start] * count)
    return list_to_pairs([add2("iota", start, mul2("iota", i, step)) for i in range(count)])


@primitive("append")
def append(*lists):
    if not lists:
        return NIL
    result = lists[-1]
    for i in range(len(lists) - 2, -1, -1):
        for x in reversed(list_items("append", lists[i])):
            result = Pair(x, result)
    return result


@primitive("reverse")
def reverse(lst):
    result = NIL
    for x in list_items("reverse", lst):
        result = Pair(x, result)
    return result


@primitive("list-copy")
def list_copy(lst):
    if type(lst) is not Pair:
        return lst
    items = []
    p = lst
    mark = None
    n = 0
    limit = 2
    while type(p) is Pair:
        items.append(p.car)
        p = p.cdr
        if p is mark:
            raise not_a_list("list-copy", lst)
        n += 1
        if n == limit:
            mark = p
            limit <<= 1
    return list_to_pairs(items, p)


# ---------------------------------------------------------------- access


@primitive("length")
def length(lst):
    n = 0
    p = lst
    mark = None
    limit = 2
    while type(p) is Pair:
        p = p.cdr
        n += 1
        if p is mark:
            raise not_a_list("length", lst)
        if n == limit:
            mark = p
            limit <<= 1
    if p is not NIL:
        raise not_a_list("length", lst)
    return n


@primitive("length+")
def length_plus(lst):
    """The number of pairs in lst, or #f when it is circular."""
    n = 0
    p = lst
    mark = None
    limit = 2
    while type(p) is Pair:
        p = p.cdr
        n += 1
        if p is mark:
            return False
        if n == limit:
            mark = p
            limit <<= 1
    return n


def _walk(name, lst, k):
    """The pair (or tail) reached after k cdrs, with a clear error when the list is too short.

    On a circular list (allowed: R7RS only asks for k elements) a huge k costs one lap:
    once Brent's check finds the cycle, the steps left are taken modulo its length."""
    check_index(name, k)
    p = lst
    mark = None
    since = 0  # steps since `mark` was set
    limit = 2
    i = 0
    while i < k:
        if type(p) is not Pair:
            raise scheme_error(f"{name}: index {k} out of range for list of length {i}")
        p = p.cdr
        i += 1
        since += 1
        if p is mark:  # a cycle of `since` pairs
            for _ in range((k - i) % since):
                p = p.cdr
            return p
        if since == limit:
            mark = p
            since = 0
            limit <<= 1
    return p


@primitive("list-tail")
def list_tail(lst, k):
    return _walk("list-tail", lst, k)


@primitive("list-ref")
def list_ref(lst, k):
    p = _walk("list-ref", lst, k)
    if type(p) is not Pair:
        raise scheme_error(f"list-ref: index {k} out of range for list of length {k}")
    return p.car


@primitive("list-set!")
def list_set(lst, k, x):
    p = _walk("list-set!", lst, k)
    if type(p) is not Pair:
        raise scheme_error(f"list-set!: index {k} out of range for list of length {k}")
    p.car = x
    touch(p)
    return UNSPECIFIED


@primitive("last-pair")
def last_pair(lst):
    if type(lst) is not Pair:
        raise type_error("last-pair", "a pair", lst)
    p = lst
    mark = None
    n = 0
    limit = 2
    while type(p.cdr) is Pair:
        p = p.cdr
        if p is mark:
            raise not_a_list("last-pair", lst)
        n += 1
        if n == limit:
            mark = p
            limit <<= 1
    return p


@primitive("last")
def last(lst):
    if type(lst) is not Pair:
        raise type_error("last", "a non-empty list", lst)
    return last_pair(lst).car


# ---------------------------------------------------------------- searching


def _member(name, same, x, lst):
    p = lst
    mark = None
    n = 0
    limit = 2
    while type(p) is Pair:
        if same(x, p.car):
            return p
        p = p.cdr
        if p is mark:
            raise not_a_list(name, lst)
        n += 1
        if n == limit:
            mark = p
            limit <<= 1
    if p is not NIL:
        raise not_a_list(name, lst)
    return False


@primitive("memq")
def memq(x, lst):
    tx = type(x)
    by_value = tx is int or tx is Char  # eq? compares these by value (see predicates.eq)
    p = lst
    mark = None
    n = 0
    limit = 2
    while type(p) is Pair:
        c = p.car
        if c is x or (by_value and type(c) is tx and c == x):
            return p
        p = p.cdr
        if p is mark:
            raise not_a_list("memq", lst)
        n += 1
        if n == limit:
            mark = p
            limit <<= 1
    if p is not NIL:
        raise not_a_list("memq", lst)
    return False


@primitive("memv")
def memv(x, lst):
    return _member("memv", eqv, x, lst)


@primitive("member")
def member(x, lst):
    return _member("member", equal, x, lst)


def _assoc(name, same, x, alist):
    p = alist
    mark = None
    n = 0
    limit = 2
    while type(p) is Pair:
        entry = p.car
        if type(entry) is not Pair:
            raise scheme_error(
                f"{name}: expected an association list, found the non-pair element {written(entry)}"
            )
        if same(x, entry.car):
            return entry
        p = p.cdr
        if p is mark:
            raise not_a_list(name, alist)
        n += 1
        if n == limit:
            mark = p
            limit <<= 1
    if p is not NIL:
        raise not_a_list(name, alist)
    return False


@primitive("assq")
def assq(x, alist):
    return _assoc("assq", eq, x, alist)


@primitive("assv")
def assv(x, alist):
    return _assoc("assv", eqv, x, alist)


@primitive("assoc")
def assoc(x, alist):
    return _assoc("assoc", equal, x, alist)
