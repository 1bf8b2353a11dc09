"""Character primitives: char?, char<->integer, comparisons (plain and -ci), case mapping, classes.

Case mapping is Unicode simple case mapping: when Python's full mapping of a character
is more than one character (`#\ß` upcases to "SS"), the character is left unchanged.
"""

import operator
import unicodedata

from ..errors import scheme_error, type_error
from ..values import Char, char
from . import primitive


def check_char(name, c):
    if type(c) is not Char:
        raise type_error(name, "a char", c)
    return c


@primitive("char?")
def is_char(x):
    return type(x) is Char


@primitive("char->integer")
def char_to_integer(c):
    if type(c) is not Char:
        raise type_error("char->integer", "a char", c)
    return c.code


@primitive("integer->char")
def integer_to_char(n):
    if type(n) is not int:
        raise type_error("integer->char", "an exact integer", n)
    if not (0 <= n <= 0x10FFFF) or 0xD800 <= n <= 0xDFFF:
        raise scheme_error(f"integer->char: {n} is not a Unicode scalar value")
    return char(chr(n))


def _single(mapped, original):
    return mapped if len(mapped) == 1 else original


def upcase(s):
    """Simple upper-case mapping of a one-character str."""
    return _single(s.upper(), s)


def downcase(s):
    """Simple lower-case mapping of a one-character str."""
    return _single(s.lower(), s)


def foldcase(s):
    """Simple case folding of a one-character str."""
    folded = s.casefold()
    if len(folded) == 1:
        return folded
    return _single(s.lower(), s)


@primitive("char-upcase")
def char_upcase(c):
    check_char("char-upcase", c)
    return char(upcase(chr(c.code)))


@primitive("char-downcase")
def char_downcase(c):
    check_char("char-downcase", c)
    return char(downcase(chr(c.code)))


@primitive("char-foldcase")
def char_foldcase(c):
    check_char("char-foldcase", c)
    return char(foldcase(chr(c.code)))


#: The comparison suffixes of char=? char<? ... and string=? string<? ...
COMPARISONS = (("=?", operator.eq), ("<?", operator.lt), (">?", operator.gt),
               ("<=?", operator.le), (">=?", operator.ge))


def comparison(name, op, key, kind, what):
    """(name a b c ...): every argument a `kind` (else a type error naming `what`),
    and op holds between each one's key (key None: the argument) and the next's."""
    def compare(a, b, *rest):
        args = (a, b) + rest
        for x in args:
            if type(x) is not kind:
                raise type_error(name, what, x)
        keys = [key(x) for x in args] if key else args
        for i in range(len(keys) - 1):
            if not op(keys[i], keys[i + 1]):
                return False
        return True

    compare.__name__ = name
    return compare


def _code(c):
    return c.code


def _folded_code(c):
    return ord(foldcase(chr(c.code)))


for _suffix, _op in COMPARISONS:
    primitive(f"char{_suffix}")(comparison(f"char{_suffix}", _op, _code, Char, "a char"))
    primitive(f"char-ci{_suffix}")(comparison(f"char-ci{_suffix}", _op, _folded_code, Char, "a char"))


@primitive("char-alphabetic?")
def is_char_alphabetic(c):
    check_char("char-alphabetic?", c)
    return chr(c.code).isalpha()


@primitive("char-numeric?")
def is_char_numeric(c):
    check_char("char-numeric?", c)
    return chr(c.code).isdecimal()


def is_whitespace(s):
    """Unicode White_Space for a one-character str (Python's isspace also counts \\x1c-\\x1f)."""
    return s.isspace() and not "\x1c" <= s <= "\x1f"


@primitive("char-whitespace?")
def is_char_whitespace(c):
    check_char("char-whitespace?", c)
    return is_whitespace(chr(c.code))


@primitive("char-upper-case?")
def is_char_upper_case(c):
    check_char("char-upper-case?", c)
    return chr(c.code).isupper()


@primitive("char-lower-case?")
def is_char_lower_case(c):
    check_char("char-lower-case?", c)
    return chr(c.code).islower()


@primitive("digit-value")
def digit_value(c):
    check_char("digit-value", c)
    s = chr(c.code)
    if s.isdecimal():
        return unicodedata.decimal(s)
    return False
