"""Number syntax (interp/numsyntax.py): every R7RS numeric literal in the reader and
string->number, what is not a number staying a symbol, and the text numbers print as."""

import math
import struct
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalhelp import ev
from interp.complexes import ExactComplex as EC
from interp.numsyntax import NumberTooLarge, format_number, parse_number
from interp.reader import read_all
from interp.values import Symbol, sym

INF = math.inf
NAN = math.nan


def same(a, b):
    """Same type and same value, telling -0.0 from 0.0 and NaN from anything else
    only by its NaN-ness (parts of complex numbers likewise)."""
    if type(a) is not type(b):
        return False
    if type(a) is complex:
        return same(a.real, b.real) and same(a.imag, b.imag)
    if type(a) is float:
        return (a != a and b != b) or struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize(
    "text, value",
    [
        # complex, rectangular
        ("1+2i", EC(1, 2)),
        ("1-2i", EC(1, -2)),
        ("+i", EC(0, 1)),
        ("-i", EC(0, -1)),
        ("3-i", EC(3, -1)),
        ("+2i", EC(0, 2)),
        ("1/2-3/4i", EC(F(1, 2), F(-3, 4))),
        ("-2/4+6/3i", EC(F(-1, 2), 2)),
        ("1.5e3-2i", complex(1500.0, -2.0)),
        ("1.5+2.5i", complex(1.5, 2.5)),
        ("1+2.0i", complex(1.0, 2.0)),
        ("+2.0i", complex(0.0, 2.0)),
        ("-0.0+2.0i", complex(-0.0, 2.0)),
        ("1.5-0.0i", complex(1.5, -0.0)),
        ("-2.5+0.0i", complex(-2.5, 0.0)),
        ("+inf.0i", complex(0.0, INF)),
        ("-inf.0i", complex(0.0, -INF)),
        ("1-inf.0i", complex(1.0, -INF)),
        ("+inf.0+inf.0i", complex(INF, INF)),
        ("+nan.0-nan.0i", complex(NAN, NAN)),
        ("1E2+1E1I", complex(100.0, 10.0)),
        # an exact zero imaginary part makes a real
        ("3+0i", 3),
        ("1.0+0i", 1.0),
        ("1/2-0i", F(1, 2)),
        # polar
        ("2@0", 2),
        ("2.0@0", 2.0),
        ("0@1", 0),
        ("1@2", complex(math.cos(2), math.sin(2))),
        ("-1.5@.5", complex(-1.5 * math.cos(0.5), -1.5 * math.sin(0.5))),
        # prefixes apply to both parts
        ("#i1+2i", complex(1.0, 2.0)),
        ("#i+i", complex(0.0, 1.0)),
        ("#e1.5+2.5i", EC(F(3, 2), F(5, 2))),
        ("#e1.0+0.0i", 1),
        ("#i3+0i", complex(3.0, 0.0)),
        ("#x1e+2i", EC(30, 2)),
        ("#xA-Bi", EC(10, -11)),
        ("#b101-11i", EC(5, -3)),
        ("#o7/10+i", EC(F(7, 8), 1)),
        ("#e#x1+i", EC(1, 1)),
        ("#e1@0", 1),
        # exponent markers: e, and s f d l as in R5RS
        ("1d2", 100.0),
        ("1s2", 100.0),
        ("1f2", 100.0),
        ("1l2", 100.0),
        ("1D2", 100.0),
        ("1.5d-1", 0.15),
        ("-2l+1", -20.0),
        ("#e1d2", 100),
        ("#e1.5s1", 15),
        # the rest of the real syntax
        ("#e1.5", F(3, 2)),
        ("#i1/3", 1 / 3),
        ("#i#x10", 16.0),
        ("#x#i10", 16.0),
        (".5", 0.5),
        ("1.", 1.0),
        ("+5", 5),
        ("-0.0", -0.0),
        ("-nan.0", NAN),
        ("+INF.0", INF),
    ],
)
def test_parse_number(text, value):
    assert same(parse_number(text), value)
    # and the reader reads the same number from program text
    (datum,) = read_all(text)
    assert same(datum, value)


def test_polar_with_exact_prefix_is_exact():
    z = parse_number("#e1@2")
    assert type(z) is EC
    assert z.real == F(math.cos(2)) and z.imag == F(math.sin(2))


@pytest.mark.parametrize(
    "text",
    [
        "i", "1i", "+1i2", "1+2", "1+2j", "1+i2", "1+2ii", "1+2i+3i", "1i+2", "+-i", "1++i",
        "1@", "@1", "@", "1@2@3", "1@+i", "+i@1", "1@2i", "#e+inf.0i", "#e1+inf.0i",
        "1/0+i", "1+1/0i", "#x1.5i", "#b2+i", "1+.i", "1+i.", "1e+2i", "1e2i", "inf.0i",
        "+inf.0ii", "1d", "1d+", "1x2", "1e2.5", "1 +i", "#i#e1", "#d#x1",
    ],
)
def test_not_numbers(text):
    assert parse_number(text) is None


def test_exponent_markers_and_i_are_digits_in_larger_radixes():
    assert parse_number("1d2", 16) == 0x1D2
    assert parse_number("1e2", 16) == 0x1E2
    assert parse_number("+i", 36) == 18  # a digit in radix 36: a real, as in Guile
    assert parse_number("1+2i", 16) == EC(1, 2)
    assert parse_number("1.5+2i", 16) is None  # decimals are radix 10 only


def test_too_large_exact_parts():
    assert parse_number("1+#e1e999999999i") is None
    assert parse_number("#e1+1e999999999i") is None
    with pytest.raises(NumberTooLarge):
        parse_number("#e1+1e999999999i", strict=True)


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("(1+2i -i + - ... 1+ -a 1@2 +i)", [EC, EC, Symbol, Symbol, Symbol, Symbol, Symbol, complex, EC]),
        ("(1d2 1e +ii -inf.0i +inf.0 ->x .5e1)", [float, Symbol, Symbol, complex, float, Symbol, float]),
    ],
)
def test_reader_tells_numbers_from_symbols(text, kinds):
    (lst,) = read_all(text)
    got = []
    while lst is not None and hasattr(lst, "car"):
        got.append(type(lst.car))
        lst = lst.cdr
    assert got == kinds


def test_hash_number_syntax_errors_name_the_token():
    from interp.errors import SchemeSyntaxError

    with pytest.raises(SchemeSyntaxError) as info:
        read_all("(list #e1+inf.0i)")
    assert "bad number syntax #e1+inf.0i" in str(info.value)
    assert ":1:7" in str(info.value)


# ---------------------------------------------------------------- writing


@pytest.mark.parametrize(
    "x, text",
    [
        (EC(1, 2), "1+2i"),
        (EC(1, -2), "1-2i"),
        (EC(0, 1), "+i"),
        (EC(0, -1), "-i"),
        (EC(5, 1), "5+i"),
        (EC(0, 2), "+2i"),
        (EC(F(1, 2), F(-3, 4)), "1/2-3/4i"),
        (complex(0.0, 2.0), "+2.0i"),
        (complex(-0.0, 2.0), "-0.0+2.0i"),
        (complex(1.0, 1.0), "1.0+1.0i"),
        (complex(1.5, -0.0), "1.5-0.0i"),
        (complex(0.0, 0.0), "+0.0i"),
        (complex(NAN, INF), "+nan.0+inf.0i"),
        (complex(-INF, -INF), "-inf.0-inf.0i"),
        (complex(1e21, 1e-7), "1e21+1e-7i"),
        (1e21, "1e21"),
        (1e-7, "1e-7"),
        (5e-324, "5e-324"),
        (0.5, "0.5"),
        (100.0, "100.0"),
        (-0.0, "-0.0"),
        (123456789012345678.0, "1.2345678901234568e17"),
    ],
)
def test_format_number(x, text):
    assert format_number(x) == text
    assert same(parse_number(text), x)


def test_format_number_radix_of_complex():
    assert format_number(EC(255, -1), 16) == "ff-i"
    assert format_number(EC(F(1, 2), 5), 2) == "1/10+101i"
    assert parse_number("ff-i", 16) == EC(255, -1)


@given(st.floats())
def test_every_float_reads_back(x):
    text = format_number(x)
    assert same(parse_number(text), x if x == x else NAN)
    assert "e+" not in text and not text.startswith(".")


@given(st.floats(), st.floats())
def test_every_inexact_complex_reads_back(a, b):
    assert same(parse_number(format_number(complex(a, b))), complex(a, b))


# ---------------------------------------------------------------- through Scheme


@pytest.mark.parametrize(
    "src, written",
    [
        ('(number->string 1+2i)', '"1+2i"'),
        ('(number->string -i 2)', '"-i"'),
        ('(number->string 10+11i 2)', '"1010+1011i"'),
        ('(number->string (sqrt -4.0))', '"+2.0i"'),
        ('(string->number "1+2i")', "1+2i"),
        ('(string->number "ff+ai" 16)', "255+10i"),
        ('(string->number "#e1.5-i")', "3/2-i"),
        ('(string->number "1d2")', "100.0"),
        ('(string->number "1+2")', "#f"),
        ('(string->number "+i+")', "#f"),
        ("(string->number (number->string 1e21))", "1e21"),
        ("'(|+i| |1| |1@2| + - ...)", "(|+i| |1| |1@2| + - ...)"),
        ("(symbol->string '|-i|)", '"-i"'),
        ("(string->symbol \"1+2i\")", "|1+2i|"),
        ("(read (open-input-string \"(1+2i . -i)\"))", "(1+2i . -i)"),
        ("(exact? (read (open-input-string \"#e1.5+2.5i\")))", "#t"),
    ],
)
def test_through_scheme(src, written):
    assert ev(src) == written


def test_written_symbols_that_look_like_numbers_read_back_as_symbols():
    for name in ["+i", "-i", "1+2i", "1@2", "+inf.0i", "1d2", "#e1", "1/2+3/4i"]:
        (back,) = read_all(ev(f"(string->symbol {name!r})".replace("'", '"')))
        assert back is sym(name)
