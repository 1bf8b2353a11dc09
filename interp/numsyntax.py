"""Number syntax: reading numeric literals and writing numbers (R7RS 7.1.1, 6.2.5, 6.2.7).

One home for both directions, used by the reader (literals), the printer (`write`,
and whether a symbol needs |bars|) and number->string / string->number:

  parse_number(text, radix=10)  the number `text` denotes, or None: integers,
      rationals, decimals with exponent markers e (and s f d l, as in R5RS: `1d2` is
      100.0), +inf.0 -inf.0 +nan.0 -nan.0, complex numbers `1+2i` `-i` `+inf.0i`
      `1.5e3-2i` and polar `1@2`, the prefixes #x #o #b #d #e #i in either order.
  format_number(x, radix=10)    the text of a number; reading it back gives the same
      number (floats as the shortest text that reads back exactly).

Numbers are the values.py / complexes.py types: int, Fraction, float, ExactComplex,
complex. Nothing here imports the printer, the reader or the errors module.
"""

import math
import re
from fractions import Fraction

from .complexes import ExactComplex, rectangular, to_float
from .values import MAX_INTEGER_BITS

__all__ = ["parse_number", "format_number", "NumberTooLarge"]


class NumberTooLarge(ValueError):
    """Number syntax whose exact value would be over values.MAX_INTEGER_BITS bits."""


# ---------------------------------------------------------------- digits

_INT_STR_SAFE = 4000  # below Python's default cap on int <-> decimal str conversion
_DIGIT_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"
_RADIX_FORMAT = {2: "b", 8: "o", 16: "x"}


def decimal_int(digits):
    """int() of an ASCII digit string of any length (Python caps int(str) at 4300 digits)."""
    if len(digits) <= _INT_STR_SAFE:
        return int(digits)
    k = len(digits) // 2
    return decimal_int(digits[:-k]) * 10**k + decimal_int(digits[-k:])


def _to_int(digits, radix):
    """int() of a digit string in radix 2..36 of any length (the cap applies to every
    radix that is not a power of two)."""
    if radix == 10:
        return decimal_int(digits)
    if len(digits) <= _INT_STR_SAFE or radix & (radix - 1) == 0:
        return int(digits, radix)
    k = len(digits) // 2
    return _to_int(digits[:-k], radix) * radix**k + _to_int(digits[-k:], radix)


def _big_decimal(n):
    """Decimal digits of a non-negative int too long for str() (Python's 4300-digit cap)."""
    if n.bit_length() <= 12000:  # < 3700 digits: under the cap
        return str(n)
    k = int(n.bit_length() * 0.30102999566398120) // 2
    hi, lo = divmod(n, 10**k)
    return _big_decimal(hi) + _big_decimal(lo).zfill(k)


def _radix_digits(n, radix):
    """Digits of a non-negative int in any radix 2..36."""
    if radix == 10:
        try:
            return str(n)
        except ValueError:  # more digits than sys.get_int_max_str_digits() allows
            return _big_decimal(n)
    f = _RADIX_FORMAT.get(radix)
    if f is not None:
        return format(n, f)
    out = []
    while n:
        n, d = divmod(n, radix)
        out.append(_DIGIT_CHARS[d])
    return "".join(reversed(out)) or "0"


def _check_digits(digits, radix):
    """NumberTooLarge if the integer `digits` (radix `radix`) has over MAX_INTEGER_BITS bits,
    found without converting it (converting a huge digit string is itself slow)."""
    significant = len(digits.lstrip("0"))
    if significant and (significant - 1) * math.log2(radix) >= MAX_INTEGER_BITS:
        raise NumberTooLarge(digits)


# ---------------------------------------------------------------- reading

_INFNAN = r"[+-](?:inf|nan)\.0"
_UREAL10 = r"(?:[0-9]+/[0-9]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[esfdl][+-]?[0-9]+)?)"
# sign, integer part, denominator, decimal (with point and/or exponent), exponent marker, exponent
_REAL10 = re.compile(
    r"([+-]?)(?:([0-9]+)(?:/([0-9]+))?|([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:([esfdl])([+-]?[0-9]+))?)\Z",
    re.IGNORECASE,
)
_SPECIAL = re.compile(r"([+-])(inf|nan)\.0\Z", re.IGNORECASE)
_MAX_EXACT_EXPONENT = int(MAX_INTEGER_BITS * math.log10(2))  # #e1e999999999: too large

_radix_syntax = {}  # radix -> (real pattern, complex pattern)


def _syntax(radix):
    """(real, complex) patterns for a radix: integers and rationals in any radix, decimals
    (with exponents) in radix 10 only, as in R7RS. The complex pattern's groups: a real
    alone (1), polar magnitude and angle (2, 3), rectangular real and imaginary (4, 5)."""
    found = _radix_syntax.get(radix)
    if found is not None:
        return found
    if radix == 10:
        real, ureal = _REAL10, _UREAL10
    else:
        if radix <= 10:
            d = "[0-%d]" % (radix - 1)
        else:
            d = "[0-9a-%s]" % _DIGIT_CHARS[radix - 1]
        real = re.compile(r"([+-]?)(%s+)(?:/(%s+))?\Z" % (d, d), re.IGNORECASE)
        ureal = r"%s+(?:/%s+)?" % (d, d)
    r = r"(?:[+-]?%s|%s)" % (ureal, _INFNAN)
    cplx = re.compile(
        r"(?:(%s)|(%s)@(%s)|(%s)?([+-](?:%s|(?:inf|nan)\.0)?)i)\Z" % (r, r, r, r, ureal),
        re.IGNORECASE,
    )
    found = _radix_syntax[radix] = (real, cplx)
    return found


def _exact_decimal(sign, text, exponent):
    """The exact value of the decimal `text` ("12.5", ".5", "3.") times 10**exponent."""
    whole, _, frac = text.partition(".")
    digits = (whole + frac).lstrip("0") or "0"
    scale = exponent - len(frac)
    if digits == "0":
        return 0
    if abs(scale) > _MAX_EXACT_EXPONENT or len(digits) + max(scale, 0) > _MAX_EXACT_EXPONENT + 1:
        raise NumberTooLarge(text)
    m = decimal_int(digits)
    if sign == "-":
        m = -m
    if scale >= 0:
        return _exact_value(m * 10**scale)
    q = Fraction(m, 10**-scale)
    return _exact_value(q.numerator if q.denominator == 1 else q)


def _exact_value(x):
    """x (an int or Fraction), or NumberTooLarge if it is over MAX_INTEGER_BITS bits."""
    if type(x) is int:
        if x.bit_length() > MAX_INTEGER_BITS:
            raise NumberTooLarge(x.bit_length())
    elif max(x.numerator.bit_length(), x.denominator.bit_length()) > MAX_INTEGER_BITS:
        raise NumberTooLarge(x.denominator.bit_length())
    return x


def _exact_of_float(x):
    """The exact value of a finite float (an int when integral)."""
    if x.is_integer():
        return int(x)
    return Fraction(x)


def parse_number(token, radix=10, strict=False):
    """The number written as `token` (R7RS number syntax), or None if it is not one.

    Integers, rationals (`1/3` -> Fraction, `4/2` -> 2), decimals with exponent markers
    (`1.5e-2`, `1d2`; radix 10 only), `+inf.0 -inf.0 +nan.0 -nan.0`, complex numbers
    (`1+2i`, `-i`, `1.5-2.5i`, `+inf.0i`, polar `1@2`) and the prefixes #x #b #o #d #e #i
    in either order (`#e1.5` -> 3/2, `#x-1F` -> -31, `#i1/3`). `radix` (2 to 36, like
    Guile) applies when the token has no radix prefix. An exact value over
    values.MAX_INTEGER_BITS bits (`#e1e999999`, 400,000 digits) is None too, or with
    `strict` raises NumberTooLarge.
    """
    try:
        return _parse_number(token, radix)
    except NumberTooLarge:
        if strict:
            raise
        return None


def _parse_number(token, radix):
    if not isinstance(token, str) or type(radix) is not int or not 2 <= radix <= 36:
        return None
    exactness = None
    radix_given = False
    i = 0
    while token.startswith("#", i):
        c = token[i + 1 : i + 2].lower()
        if c in ("x", "b", "o", "d") and not radix_given:
            radix = {"x": 16, "b": 2, "o": 8, "d": 10}[c]
            radix_given = True
        elif c in ("e", "i") and exactness is None:
            exactness = c
        else:
            return None
        i += 2
    body = token[i:] if i else token
    real, cplx = _radix_syntax.get(radix) or _syntax(radix)
    m = real.match(body)
    if m is not None:
        return _real_value(m, body, radix, exactness)
    last = body[-1:]
    if last != "i" and last != "I" and "@" not in body:
        return _special(body, exactness)
    m = cplx.match(body)
    if m is None:
        return None
    if m.group(1) is not None:  # +inf.0, -nan.0
        return _special(body, exactness)
    if m.group(2) is not None:  # polar
        mag = _real(m.group(2), real, radix, exactness)
        ang = _real(m.group(3), real, radix, exactness)
        if mag is None or ang is None:
            return None
        if type(ang) is not float and ang == 0:
            return mag
        fm, fa = to_float(mag), to_float(ang)
        if fm == 0.0 and type(mag) is not float:  # an exact 0 magnitude: exact 0
            return 0
        z = complex(fm * math.cos(fa), fm * math.sin(fa))
        if exactness == "e":
            if not (math.isfinite(z.real) and math.isfinite(z.imag)):
                return None
            return rectangular(_exact_of_float(z.real), _exact_of_float(z.imag))
        return z
    re_text, im_text = m.group(4), m.group(5)
    if re_text is None:
        re_part = 0 if exactness != "i" else 0.0
    else:
        re_part = _real(re_text, real, radix, exactness)
    if len(im_text) == 1:  # +i, -i
        im_part = 1 if im_text == "+" else -1
        if exactness == "i":
            im_part = float(im_part)
    else:
        im_part = _real(im_text, real, radix, exactness)
    if re_part is None or im_part is None:
        return None
    return rectangular(re_part, im_part)


def _special(body, exactness):
    """+inf.0, -inf.0, +nan.0, -nan.0 (never exact), else None."""
    m = _SPECIAL.match(body)
    if m is None or exactness == "e":
        return None
    if m.group(2).lower() == "nan":
        return math.nan
    return math.inf if m.group(1) == "+" else -math.inf


def _real(text, real, radix, exactness):
    """The value of a real part of a complex number (None if it is not one)."""
    m = real.match(text)
    if m is None:
        return _special(text, exactness)
    return _real_value(m, text, radix, exactness)


def _real_value(m, body, radix, exactness):
    sign, whole, den = m.group(1), m.group(2), m.group(3)
    if whole is not None:
        _check_digits(whole, radix)
        n = _to_int(whole, radix)
        if sign == "-":
            n = -n
        if den is not None:
            _check_digits(den, radix)
            d = _to_int(den, radix)
            if d == 0:
                return None
            q = Fraction(n, d)
            value = q.numerator if q.denominator == 1 else q
        else:
            value = n
        return to_float(value) if exactness == "i" else _exact_value(value)
    # a decimal (radix 10): inexact unless #e
    marker, exponent = m.group(5), m.group(6)
    if exactness == "e":
        return _exact_decimal(sign, m.group(4), int(exponent) if exponent else 0)
    if marker is not None and marker not in "eE":  # 1d2, 1s2, 1f2, 1l2: as 1e2
        return float(sign + m.group(4) + "e" + exponent)
    return float(body)  # validated above: plain ASCII decimal syntax


# ---------------------------------------------------------------- writing


def _format_int(n, radix):
    if n < 0:
        return "-" + _radix_digits(-n, radix)
    return _radix_digits(n, radix)


def _format_float(x, radix):
    if x != x:
        return "+nan.0"
    if x == math.inf:
        return "+inf.0"
    if x == -math.inf:
        return "-inf.0"
    if radix == 10:
        r = repr(x)  # shortest text that reads back as the same float
        e = r.find("e")
        if e >= 0:  # '1e+21' -> '1e21', '1.5e-07' -> '1.5e-7'
            return r[:e] + "e" + str(int(r[e + 1 :]))
        return r
    # Another radix: the float's exact value (a dyadic rational), whose expansion
    # terminates in an even radix; in an odd one it is cut off after 64 places.
    neg = math.copysign(1.0, x) < 0
    q = Fraction(abs(x))
    num, den = q.numerator, q.denominator
    whole, rest = divmod(num, den)
    digits = []
    limit = 1 << 30 if radix % 2 == 0 else 64
    while rest and len(digits) < limit:
        rest *= radix
        d, rest = divmod(rest, den)
        digits.append(_DIGIT_CHARS[d])
    text = _radix_digits(whole, radix) + "." + ("".join(digits) or "0")
    return "-" + text if neg else text


def _format_real(x, radix):
    t = type(x)
    if t is int:
        return _format_int(x, radix)
    if t is float:
        return _format_float(x, radix)
    return _format_int(x.numerator, radix) + "/" + _radix_digits(x.denominator, radix)


def _format_complex(re_part, im_part, radix):
    """re+imi: the real part left out when it is exact 0 or 0.0 (not -0.0), the imaginary
    part always signed, and an exact imaginary 1 or -1 written as just the sign."""
    if type(re_part) is float:
        head = "" if re_part == 0.0 and math.copysign(1.0, re_part) > 0 else _format_float(re_part, radix)
    else:
        head = "" if re_part == 0 else _format_real(re_part, radix)
    if type(im_part) is not float and (im_part == 1 or im_part == -1):
        return head + ("+i" if im_part == 1 else "-i")
    tail = _format_real(im_part, radix)
    if tail[0] != "-" and tail[0] != "+":
        tail = "+" + tail
    return head + tail + "i"


def format_number(x, radix=10):
    """The text of a Scheme number, as `number->string` gives it.

    Exact integers and rationals in any radix 2 to 36 (`-1/3`, `ff`); floats in radix 10
    as the shortest text that reads back exactly (`1.0`, `0.5`, `1e21`, `1.5e-7`,
    `+inf.0`, `-inf.0`, `+nan.0`), in another radix as their exact expansion (`1.1`
    for 1.5 in binary); complex numbers as `1+2i`, `-i`, `1/2-3/4i`, `+2.0i`,
    `1.5-0.0i`. ValueError for a bad radix, TypeError for a non-number.
    """
    if type(radix) is not int or not 2 <= radix <= 36:
        raise ValueError(f"radix must be an integer from 2 to 36, got {radix!r}")
    t = type(x)
    if t is int:
        return _format_int(x, radix)
    if t is float:
        return _format_float(x, radix)
    if t is Fraction:
        return _format_int(x.numerator, radix) + "/" + _radix_digits(x.denominator, radix)
    if t is ExactComplex or t is complex:
        return _format_complex(x.real, x.imag, radix)
    raise TypeError(f"not a number: {x!r}")
