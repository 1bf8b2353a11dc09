"""Argument checks the sequence primitives share (strings, vectors, bytevectors, lists,
ports): an index, an index into a sequence, optional (start end) ranges, the length of a
new sequence, and copying a range between mutable sequences.

MAX_LENGTH bounds the elements a make-... primitive allocates (`check_length`): past it a
primitive fails at once, naming itself and the limit.
"""

from ..barrier import touch
from ..errors import scheme_error, type_error
from ..values import UNSPECIFIED


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
    touch(to)
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
