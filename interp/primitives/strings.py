"""String primitives: building, access, mutation, comparison, case, search, split/join, pad, trim.

A Scheme string is a Python `str` (literals, symbol names: immutable) or an `MString`
(see interp/values.py): every procedure here that makes a string makes a new MString,
which string-set!, string-fill! and string-copy! change in place; mutating a `str` is an
error naming it. Every procedure accepts both kinds.
Searching and trimming take characters (or strings), never predicates: procedures that
call back into Scheme belong to the evaluator. Trimming follows MIT naming:
`string-trim` trims both ends (like SRFI 13's `string-trim-both`, also provided), whereas
guile's SRFI 13 `string-trim` trims only the left.
"""

from ..errors import scheme_error, type_error
from ..values import NIL, UNSPECIFIED, Char, MString, Pair, Vector, char
from . import primitive
from .chars import COMPARISONS, is_whitespace
from .lists import list_items
from .numbers import written
from .sequences import check_index, check_index_in, check_length, check_range


def check_string(name, s):
    """The characters of the Scheme string s as a str; a type error naming `name` otherwise."""
    t = type(s)
    if t is str:
        return s
    if t is MString:
        return s.text()
    raise type_error(name, "a string", s)


def check_mutable_string(name, s):
    """s if it is a mutable string; an error naming `name` and s otherwise."""
    t = type(s)
    if t is MString:
        return s
    if t is str:
        raise scheme_error(
            f"{name}: cannot change the immutable string {written(s)} (a literal or a symbol's "
            "name; string-copy makes a mutable copy)"
        )
    raise type_error(name, "a string", s)


def _check_char(name, c):
    if type(c) is not Char:
        raise type_error(name, "a char", c)
    return chr(c.code)


# ---------------------------------------------------------------- construction & access


@primitive("string?")
def is_string(x):
    t = type(x)
    return t is str or t is MString


@primitive("make-string")
def make_string(k, fill=char(" ")):
    check_length("make-string", k)
    return MString(_check_char("make-string", fill) * k)


@primitive("string")
def string(*chars):
    return MString("".join([_check_char("string", c) for c in chars]))


@primitive("string-length")
def string_length(s):
    if type(s) is str:
        return len(s)
    if type(s) is MString:
        text = s._s
        return len(text) if text is not None else len(s._l)
    raise type_error("string-length", "a string", s)


@primitive("string-ref")
def string_ref(s, k):
    t = type(s)
    if t is MString:
        s = s.chars()
    elif t is not str:
        raise type_error("string-ref", "a string", s)
    if type(k) is int and 0 <= k < len(s):
        return char(s[k])
    return char(s[check_index_in("string-ref", k, len(s), "string")])


@primitive("string-set!")
def string_set(s, k, c):
    m = check_mutable_string("string-set!", s)
    n = len(m)
    if not (type(k) is int and 0 <= k < n):
        check_index_in("string-set!", k, n, "string")
    if type(c) is not Char:
        raise type_error("string-set!", "a char", c)
    m.mutable_chars()[k] = chr(c.code)
    return UNSPECIFIED


@primitive("string-fill!")
def string_fill(s, c, start=None, end=None):
    """(string-fill! string char [start [end]])"""
    m = check_mutable_string("string-fill!", s)
    ch = _check_char("string-fill!", c)
    n = len(m)
    start, end = check_range("string-fill!", n, start, end)
    if start == 0 and end == n:
        m.set_text(ch * n)
    elif start < end:
        m.mutable_chars()[start:end] = ch * (end - start)
    return UNSPECIFIED


@primitive("string-copy!")
def string_copy_into(to, at, source, start=None, end=None):
    """(string-copy! to at from [start [end]]): overlapping ranges of one string copy
    correctly (the characters are taken before any is written)."""
    m = check_mutable_string("string-copy!", to)
    check_index("string-copy!", at)
    text = check_string("string-copy!", source)
    start, end = check_range("string-copy!", len(text), start, end)
    n = len(m)
    if at > n or n - at < end - start:
        raise scheme_error(
            f"string-copy!: {end - start} characters do not fit at index {at} in a string of length {n}"
        )
    if end - start == n:
        m.set_text(text[start:end])
    elif start < end:
        m.mutable_chars()[at : at + end - start] = text[start:end]
    return UNSPECIFIED


@primitive("substring")
def substring(s, start, end=None):
    text = check_string("substring", s)
    start, end = check_range("substring", len(text), start, end)
    return MString(text[start:end])


@primitive("string-copy")
def string_copy(s, start=None, end=None):
    text = check_string("string-copy", s)
    if start is None and end is None:
        return MString(text)
    start, end = check_range("string-copy", len(text), start, end)
    return MString(text[start:end])


_new = object.__new__  # MString(text) without the cost of calling its __init__
_ABSENT = object()  # a string-append argument not given


def _appended_text(s):
    """The characters of a string-append argument that is not a str ("" for none)."""
    if type(s) is MString:
        return s.text()
    if s is _ABSENT:
        return ""
    raise type_error("string-append", "a string", s)


@primitive("string-append")
def string_append(a=_ABSENT, b=_ABSENT, c=_ABSENT, *rest):
    # string-append is the hot string primitive, and its (mutable) result must cost about
    # what an immutable one did: the first three arguments are parameters of their own
    # (no argument tuple), checked inline, a str as it is.
    if type(a) is not str:
        a = a._s if type(a) is MString and a._s is not None else _appended_text(a)
    if type(b) is not str:
        b = b._s if type(b) is MString and b._s is not None else _appended_text(b)
    if type(c) is not str:
        c = c._s if type(c) is MString and c._s is not None else _appended_text(c)
    if rest:
        text = "".join([a, b, c] + [s if type(s) is str else _appended_text(s) for s in rest])
    else:
        text = "".join((a, b, c))
    m = _new(MString)
    m._s = text
    m._l = None
    return m


@primitive("string-null?")
def is_string_null(s):
    t = type(s)
    if t is str or t is MString:
        return len(s) == 0
    raise type_error("string-null?", "a string", s)


# ---------------------------------------------------------------- conversion


@primitive("string->list")
def string_to_list(s, start=None, end=None):
    t = type(s)
    if t is MString:
        s = s.chars()
    elif t is not str:
        raise type_error("string->list", "a string", s)
    start, end = check_range("string->list", len(s), start, end)
    result = NIL
    for i in range(end - 1, start - 1, -1):
        result = Pair(char(s[i]), result)
    return result


@primitive("list->string")
def list_to_string(lst):
    return MString("".join([_check_char("list->string", c) for c in list_items("list->string", lst)]))


@primitive("string->vector")
def string_to_vector(s, start=None, end=None):
    text = check_string("string->vector", s)
    start, end = check_range("string->vector", len(text), start, end)
    return Vector(char(c) for c in text[start:end])


@primitive("vector->string")
def vector_to_string(v, start=None, end=None):
    if type(v) is not Vector:
        raise type_error("vector->string", "a vector", v)
    start, end = check_range("vector->string", len(v), start, end)
    return MString("".join([_check_char("vector->string", c) for c in v[start:end]]))


# ---------------------------------------------------------------- comparison & case


def _comparison(name, op, fold):
    """(name a b c ...): every argument a string; op holds between each one's
    characters (case-folded when `fold`) and the next one's."""

    def compare(a, b, *rest):
        if rest:
            keys = [check_string(name, x) for x in (a, b) + rest]
        else:
            keys = [check_string(name, a), check_string(name, b)]
        if fold:
            keys = [k.casefold() for k in keys]
        for i in range(len(keys) - 1):
            if not op(keys[i], keys[i + 1]):
                return False
        return True

    compare.__name__ = name
    return compare


for _suffix, _op in COMPARISONS:
    if _suffix != "=?":  # string=? is below
        primitive(f"string{_suffix}")(_comparison(f"string{_suffix}", _op, False))
    primitive(f"string-ci{_suffix}")(_comparison(f"string-ci{_suffix}", _op, True))


@primitive("string=?")
def string_eq(a, b, *rest):
    """string=? (the common two-argument case without building a key list)."""
    x = check_string("string=?", a)
    y = check_string("string=?", b)
    if not rest:
        return x == y
    return x == y and all(check_string("string=?", z) == x for z in rest)


@primitive("string-upcase")
def string_upcase(s):
    return MString(check_string("string-upcase", s).upper())


@primitive("string-downcase")
def string_downcase(s):
    return MString(check_string("string-downcase", s).lower())


@primitive("string-foldcase")
def string_foldcase(s):
    return MString(check_string("string-foldcase", s).casefold())


@primitive("string-reverse")
def string_reverse(s):
    return MString(check_string("string-reverse", s)[::-1])


# ---------------------------------------------------------------- searching


@primitive("string-index")
def string_index(s, c, start=None, end=None):
    """The index of the first c (a char) in s[start:end], or #f."""
    text = check_string("string-index", s)
    ch = _check_char("string-index", c)
    start, end = check_range("string-index", len(text), start, end)
    i = text.find(ch, start, end)
    return i if i >= 0 else False


@primitive("string-rindex", "string-index-right")
def string_rindex(s, c, start=None, end=None):
    """The index of the last c (a char) in s[start:end], or #f."""
    text = check_string("string-rindex", s)
    ch = _check_char("string-rindex", c)
    start, end = check_range("string-rindex", len(text), start, end)
    i = text.rfind(ch, start, end)
    return i if i >= 0 else False


@primitive("string-contains")
def string_contains(s, pattern, start=None, end=None):
    """The index in s where pattern first occurs (within s[start:end]), or #f."""
    text = check_string("string-contains", s)
    pattern = check_string("string-contains", pattern)
    start, end = check_range("string-contains", len(text), start, end)
    i = text.find(pattern, start, end)
    return i if i >= 0 else False


@primitive("string-search-forward")
def string_search_forward(pattern, s, start=0):
    """MIT: the index of the first occurrence of pattern in s at or after start, or #f."""
    pattern = check_string("string-search-forward", pattern)
    text = check_string("string-search-forward", s)
    start, _ = check_range("string-search-forward", len(text), start, None)
    i = text.find(pattern, start)
    return i if i >= 0 else False


@primitive("string-prefix?")
def is_string_prefix(prefix, s):
    prefix = check_string("string-prefix?", prefix)
    return check_string("string-prefix?", s).startswith(prefix)


@primitive("string-suffix?")
def is_string_suffix(suffix, s):
    suffix = check_string("string-suffix?", suffix)
    return check_string("string-suffix?", s).endswith(suffix)


@primitive("string-count")
def string_count(s, c, start=None, end=None):
    """How many times the char c occurs in s[start:end]."""
    text = check_string("string-count", s)
    ch = _check_char("string-count", c)
    start, end = check_range("string-count", len(text), start, end)
    return text.count(ch, start, end)


# ---------------------------------------------------------------- joining & splitting


@primitive("string-join")
def string_join(lst, delimiter=" "):
    delimiter = check_string("string-join", delimiter)
    parts = list_items("string-join", lst)
    texts = []
    for s in parts:
        t = type(s)
        if t is str:
            texts.append(s)
        elif t is MString:
            texts.append(s.text())
        else:
            raise type_error("string-join", "a string in the list", s)
    return MString(delimiter.join(texts))


@primitive("string-split")
def string_split(s, separator):
    """(string-split "a,,b" #\\,) => ("a" "" "b"); the separator is a char or a one-char string."""
    text = check_string("string-split", s)
    t = type(separator)
    if t is Char:
        sep = chr(separator.code)
    elif (t is str or t is MString) and len(separator) == 1:
        sep = check_string("string-split", separator)
    else:
        raise type_error("string-split", "a char or a one-character string", separator)
    result = NIL
    for part in reversed(text.split(sep)):
        result = Pair(MString(part), result)
    return result


# ---------------------------------------------------------------- padding & trimming


@primitive("string-pad", "string-pad-left")
def string_pad(s, n, c=char(" ")):
    """Pad on the left to length n, or keep the rightmost n characters (SRFI 13)."""
    text = check_string("string-pad", s)
    check_length("string-pad", n)
    ch = _check_char("string-pad", c)
    if len(text) >= n:
        return MString(text[len(text) - n :])
    return MString(ch * (n - len(text)) + text)


@primitive("string-pad-right")
def string_pad_right(s, n, c=char(" ")):
    """Pad on the right to length n, or keep the leftmost n characters (SRFI 13)."""
    text = check_string("string-pad-right", s)
    check_length("string-pad-right", n)
    ch = _check_char("string-pad-right", c)
    if len(text) >= n:
        return MString(text[:n])
    return MString(text + ch * (n - len(text)))


def _trimmer(name, left, right):
    def trim(s, c=None):
        text = check_string(name, s)
        if c is None:
            drop = is_whitespace
        else:
            ch = _check_char(name, c)

            def drop(x):
                return x == ch

        i, j = 0, len(text)
        if left:
            while i < j and drop(text[i]):
                i += 1
        if right:
            while j > i and drop(text[j - 1]):
                j -= 1
        return MString(text[i:j])

    trim.__name__ = name
    return trim


string_trim = primitive("string-trim", "string-trim-both")(_trimmer("string-trim", True, True))
string_trim_left = primitive("string-trim-left")(_trimmer("string-trim-left", True, False))
string_trim_right = primitive("string-trim-right")(_trimmer("string-trim-right", False, True))
