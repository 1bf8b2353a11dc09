"""String primitives: building, access, comparison, case, search, split/join, pad, trim.

Strings are immutable Python `str`s, so there is no string-set! or string-fill! here.
Searching and trimming take characters (or strings), never predicates: procedures that
call back into Scheme belong to the evaluator. Trimming follows MIT naming:
`string-trim` trims both ends (like SRFI 13's `string-trim-both`, also provided), whereas
guile's SRFI 13 `string-trim` trims only the left.
"""

from ..errors import type_error
from ..values import NIL, Char, Pair, Vector, char
from . import primitive
from .chars import COMPARISONS, comparison, is_whitespace
from .lists import list_items
from .numbers import check_index_in, check_length, check_range


def check_string(name, s):
    if type(s) is not str:
        raise type_error(name, "a string", s)
    return s


def fresh(s):
    """A new str object equal to s, as R7RS wants from string-copy, substring, string-append.

    CPython shares one object for the empty string and for each one-character string,
    so those can still be `eq?` to an equal literal (see corpus/KNOWN_DIFFERENCES.md)."""
    return s[:1] + s[1:] if len(s) > 1 else s


def _check_char(name, c):
    if type(c) is not Char:
        raise type_error(name, "a char", c)
    return chr(c.code)


# ---------------------------------------------------------------- construction & access


@primitive("string?")
def is_string(x):
    return type(x) is str


@primitive("make-string")
def make_string(k, fill=char(" ")):
    check_length("make-string", k)
    return _check_char("make-string", fill) * k


@primitive("string")
def string(*chars):
    return "".join([_check_char("string", c) for c in chars])


@primitive("string-length")
def string_length(s):
    if type(s) is not str:
        raise type_error("string-length", "a string", s)
    return len(s)


@primitive("string-ref")
def string_ref(s, k):
    if type(s) is not str:
        raise type_error("string-ref", "a string", s)
    return char(s[check_index_in("string-ref", k, len(s), "string")])


@primitive("substring")
def substring(s, start, end=None):
    check_string("substring", s)
    start, end = check_range("substring", len(s), start, end)
    return fresh(s[start:end])


@primitive("string-copy")
def string_copy(s, start=None, end=None):
    check_string("string-copy", s)
    start, end = check_range("string-copy", len(s), start, end)
    return fresh(s[start:end])


@primitive("string-append")
def string_append(*strings):
    for s in strings:
        if type(s) is not str:
            raise type_error("string-append", "a string", s)
    return fresh(strings[0]) if len(strings) == 1 else "".join(strings)


@primitive("string-null?")
def is_string_null(s):
    return check_string("string-null?", s) == ""


# ---------------------------------------------------------------- conversion


@primitive("string->list")
def string_to_list(s, start=None, end=None):
    check_string("string->list", s)
    start, end = check_range("string->list", len(s), start, end)
    result = NIL
    for i in range(end - 1, start - 1, -1):
        result = Pair(char(s[i]), result)
    return result


@primitive("list->string")
def list_to_string(lst):
    return "".join([_check_char("list->string", c) for c in list_items("list->string", lst)])


@primitive("string->vector")
def string_to_vector(s, start=None, end=None):
    check_string("string->vector", s)
    start, end = check_range("string->vector", len(s), start, end)
    return Vector(char(c) for c in s[start:end])


@primitive("vector->string")
def vector_to_string(v, start=None, end=None):
    if type(v) is not Vector:
        raise type_error("vector->string", "a vector", v)
    start, end = check_range("vector->string", len(v), start, end)
    return "".join([_check_char("vector->string", c) for c in v[start:end]])


# ---------------------------------------------------------------- comparison & case


for _suffix, _op in COMPARISONS:
    primitive(f"string{_suffix}")(comparison(f"string{_suffix}", _op, None, str, "a string"))
    primitive(f"string-ci{_suffix}")(comparison(f"string-ci{_suffix}", _op, str.casefold, str, "a string"))


@primitive("string-upcase")
def string_upcase(s):
    return check_string("string-upcase", s).upper()


@primitive("string-downcase")
def string_downcase(s):
    return check_string("string-downcase", s).lower()


@primitive("string-foldcase")
def string_foldcase(s):
    return check_string("string-foldcase", s).casefold()


@primitive("string-reverse")
def string_reverse(s):
    return check_string("string-reverse", s)[::-1]


# ---------------------------------------------------------------- searching


@primitive("string-index")
def string_index(s, c, start=None, end=None):
    """The index of the first c (a char) in s[start:end], or #f."""
    check_string("string-index", s)
    ch = _check_char("string-index", c)
    start, end = check_range("string-index", len(s), start, end)
    i = s.find(ch, start, end)
    return i if i >= 0 else False


@primitive("string-rindex", "string-index-right")
def string_rindex(s, c, start=None, end=None):
    """The index of the last c (a char) in s[start:end], or #f."""
    check_string("string-rindex", s)
    ch = _check_char("string-rindex", c)
    start, end = check_range("string-rindex", len(s), start, end)
    i = s.rfind(ch, start, end)
    return i if i >= 0 else False


@primitive("string-contains")
def string_contains(s, pattern, start=None, end=None):
    """The index in s where pattern first occurs (within s[start:end]), or #f."""
    check_string("string-contains", s)
    check_string("string-contains", pattern)
    start, end = check_range("string-contains", len(s), start, end)
    i = s.find(pattern, start, end)
    return i if i >= 0 else False


@primitive("string-search-forward")
def string_search_forward(pattern, s, start=0):
    """MIT: the index of the first occurrence of pattern in s at or after start, or #f."""
    check_string("string-search-forward", pattern)
    check_string("string-search-forward", s)
    start, _ = check_range("string-search-forward", len(s), start, None)
    i = s.find(pattern, start)
    return i if i >= 0 else False


@primitive("string-prefix?")
def is_string_prefix(prefix, s):
    check_string("string-prefix?", prefix)
    return check_string("string-prefix?", s).startswith(prefix)


@primitive("string-suffix?")
def is_string_suffix(suffix, s):
    check_string("string-suffix?", suffix)
    return check_string("string-suffix?", s).endswith(suffix)


@primitive("string-count")
def string_count(s, c, start=None, end=None):
    """How many times the char c occurs in s[start:end]."""
    check_string("string-count", s)
    ch = _check_char("string-count", c)
    start, end = check_range("string-count", len(s), start, end)
    return s.count(ch, start, end)


# ---------------------------------------------------------------- joining & splitting


@primitive("string-join")
def string_join(lst, delimiter=" "):
    check_string("string-join", delimiter)
    parts = list_items("string-join", lst)
    for s in parts:
        if type(s) is not str:
            raise type_error("string-join", "a string in the list", s)
    return delimiter.join(parts)


@primitive("string-split")
def string_split(s, separator):
    """(string-split "a,,b" #\\,) => ("a" "" "b"); the separator is a char or a one-char string."""
    check_string("string-split", s)
    if type(separator) is Char:
        sep = chr(separator.code)
    elif type(separator) is str and len(separator) == 1:
        sep = separator
    else:
        raise type_error("string-split", "a char or a one-character string", separator)
    result = NIL
    for part in reversed(s.split(sep)):
        result = Pair(part, result)
    return result


# ---------------------------------------------------------------- padding & trimming


@primitive("string-pad", "string-pad-left")
def string_pad(s, n, c=char(" ")):
    """Pad on the left to length n, or keep the rightmost n characters (SRFI 13)."""
    check_string("string-pad", s)
    check_length("string-pad", n)
    ch = _check_char("string-pad", c)
    if len(s) >= n:
        return s[len(s) - n :]
    return ch * (n - len(s)) + s


@primitive("string-pad-right")
def string_pad_right(s, n, c=char(" ")):
    """Pad on the right to length n, or keep the leftmost n characters (SRFI 13)."""
    check_string("string-pad-right", s)
    check_length("string-pad-right", n)
    ch = _check_char("string-pad-right", c)
    if len(s) >= n:
        return s[:n]
    return s + ch * (n - len(s))


def _trimmer(name, left, right):
    def trim(s, c=None):
        check_string(name, s)
        if c is None:
            drop = is_whitespace
        else:
            ch = _check_char(name, c)

            def drop(x):
                return x == ch

        i, j = 0, len(s)
        if left:
            while i < j and drop(s[i]):
                i += 1
        if right:
            while j > i and drop(s[j - 1]):
                j -= 1
        return s[i:j]

    trim.__name__ = name
    return trim


string_trim = primitive("string-trim", "string-trim-both")(_trimmer("string-trim", True, True))
string_trim_left = primitive("string-trim-left")(_trimmer("string-trim-left", True, False))
string_trim_right = primitive("string-trim-right")(_trimmer("string-trim-right", False, True))
