"""Bytevector primitives (bytearray): construction, u8 access, copy, append, UTF-8 conversion."""

from ..barrier import touch
from ..errors import scheme_error, type_error
from ..values import UNSPECIFIED, MString, is_string, string_text
from . import primitive
from .sequences import check_index_in, check_length, check_range, copy_into


def check_bytevector(name, b):
    if type(b) is not bytearray:
        raise type_error(name, "a bytevector", b)
    return b


def check_byte(name, x):
    if type(x) is int and 0 <= x <= 255:
        return x
    raise type_error(name, "a byte (an exact integer from 0 to 255)", x)


@primitive("bytevector?")
def is_bytevector(x):
    return type(x) is bytearray


@primitive("bytevector")
def bytevector(*items):
    return bytearray([check_byte("bytevector", x) for x in items])


@primitive("make-bytevector")
def make_bytevector(k, fill=0):
    check_length("make-bytevector", k)
    return bytearray([check_byte("make-bytevector", fill)]) * k


@primitive("bytevector-length")
def bytevector_length(b):
    return len(check_bytevector("bytevector-length", b))


@primitive("bytevector-u8-ref")
def bytevector_u8_ref(b, k):
    check_bytevector("bytevector-u8-ref", b)
    return b[check_index_in("bytevector-u8-ref", k, len(b), "bytevector")]


@primitive("bytevector-u8-set!")
def bytevector_u8_set(b, k, x):
    check_bytevector("bytevector-u8-set!", b)
    b[check_index_in("bytevector-u8-set!", k, len(b), "bytevector")] = check_byte("bytevector-u8-set!", x)
    touch(b)
    return UNSPECIFIED


@primitive("bytevector-copy")
def bytevector_copy(b, start=None, end=None):
    check_bytevector("bytevector-copy", b)
    start, end = check_range("bytevector-copy", len(b), start, end)
    return bytearray(b[start:end])


@primitive("bytevector-copy!")
def bytevector_copy_into(to, at, source, start=None, end=None):
    """(bytevector-copy! to at from [start end]): overlapping ranges copy correctly."""
    return copy_into("bytevector-copy!", check_bytevector, to, at, source, start, end, "bytes", "bytevector")


@primitive("bytevector-append")
def bytevector_append(*bytevectors):
    result = bytearray()
    for b in bytevectors:
        result += check_bytevector("bytevector-append", b)
    return result


@primitive("utf8->string")
def utf8_to_string(b, start=None, end=None):
    check_bytevector("utf8->string", b)
    start, end = check_range("utf8->string", len(b), start, end)
    try:
        return MString(b[start:end].decode("utf-8"))
    except UnicodeDecodeError as e:
        raise scheme_error(f"utf8->string: invalid UTF-8 at byte {start + e.start}") from None


@primitive("string->utf8")
def string_to_utf8(s, start=None, end=None):
    if not is_string(s):
        raise type_error("string->utf8", "a string", s)
    s = string_text(s)
    start, end = check_range("string->utf8", len(s), start, end)
    try:
        return bytearray(s[start:end].encode("utf-8"))
    except UnicodeEncodeError as e:
        raise scheme_error(
            f"string->utf8: the string contains a lone surrogate at index {start + e.start}"
        ) from None
