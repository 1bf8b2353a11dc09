"""Vector primitives: construction, access, conversion to and from lists, fill, copy, append."""

from ..barrier import WATCHED, touch
from ..errors import scheme_error, type_error
from ..values import NIL, UNSPECIFIED, Pair, Vector
from . import primitive
from .lists import list_items
from .sequences import check_index_in, check_length, check_range, copy_into

_watcher_of = WATCHED.get  # the write barrier (interp.barrier)


def check_vector(name, v):
    if type(v) is not Vector:
        raise type_error(name, "a vector", v)
    return v


@primitive("vector?")
def is_vector(x):
    return type(x) is Vector


@primitive("vector")
def vector(*items):
    return Vector(items)


@primitive("make-vector")
def make_vector(k, fill=UNSPECIFIED):
    check_length("make-vector", k)
    return Vector([fill] * k)


@primitive("vector-length")
def vector_length(v):
    if type(v) is not Vector:
        raise type_error("vector-length", "a vector", v)
    return len(v)


@primitive("vector-ref")
def vector_ref(v, k):
    if type(v) is not Vector:
        raise type_error("vector-ref", "a vector", v)
    if type(k) is int and 0 <= k < len(v):
        return v[k]
    return v[check_index_in("vector-ref", k, len(v), "vector")]


@primitive("vector-set!")
def vector_set(v, k, x):
    if type(v) is not Vector:
        raise type_error("vector-set!", "a vector", v)
    if type(k) is int and 0 <= k < len(v):
        v[k] = x
        w = _watcher_of(id(v))
        if w is not None:
            w.touched(v)
        return UNSPECIFIED
    v[check_index_in("vector-set!", k, len(v), "vector")] = x  # (never stores: the check raises)
    return UNSPECIFIED


@primitive("vector->list")
def vector_to_list(v, start=None, end=None):
    check_vector("vector->list", v)
    start, end = check_range("vector->list", len(v), start, end)
    result = NIL
    for i in range(end - 1, start - 1, -1):
        result = Pair(v[i], result)
    return result


@primitive("list->vector")
def list_to_vector(lst):
    return Vector(list_items("list->vector", lst))


@primitive("vector-fill!")
def vector_fill(v, x, start=None, end=None):
    check_vector("vector-fill!", v)
    start, end = check_range("vector-fill!", len(v), start, end)
    v[start:end] = [x] * (end - start)
    touch(v)
    return UNSPECIFIED


@primitive("vector-copy")
def vector_copy(v, start=None, end=None):
    check_vector("vector-copy", v)
    start, end = check_range("vector-copy", len(v), start, end)
    return Vector(v[start:end])


@primitive("subvector")
def subvector(v, start, end):
    check_vector("subvector", v)
    start, end = check_range("subvector", len(v), start, end)
    return Vector(v[start:end])


@primitive("vector-copy!")
def vector_copy_into(to, at, source, start=None, end=None):
    """(vector-copy! to at from [start end]): overlapping ranges copy correctly."""
    return copy_into("vector-copy!", check_vector, to, at, source, start, end, "elements", "vector")


@primitive("vector-append")
def vector_append(*vectors):
    result = Vector()
    for v in vectors:
        result.extend(check_vector("vector-append", v))
    return result


@primitive("vector-grow")
def vector_grow(v, k):
    """A new vector of length k (>= the old length) starting with v's elements."""
    check_vector("vector-grow", v)
    check_length("vector-grow", k)
    if k < len(v):
        raise scheme_error(f"vector-grow: new length {k} is less than the length {len(v)}")
    return Vector(list(v) + [UNSPECIFIED] * (k - len(v)))
