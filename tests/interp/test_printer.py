"""The printer: number->string, write and display of every kind of value, cycles,
size limits, and the read/write round trip (property tests)."""

import math
import struct
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.printer import display_string, format_number, write_string
from interp.reader import read_all, read_datum
from interp.values import (
    EOF_OBJECT,
    NIL,
    UNSPECIFIED,
    Pair,
    Vector,
    char,
    equal,
    gensym,
    list_to_pairs,
    sym,
)


def L(*items):
    return list_to_pairs(list(items))


def read1(text):
    (d,) = read_all(text)
    return d


# ---------------------------------------------------------------- format_number


@pytest.mark.parametrize(
    "x, text",
    [
        (0, "0"),
        (42, "42"),
        (-42, "-42"),
        (10**30, "1000000000000000000000000000000"),
        (Fraction(1, 3), "1/3"),
        (Fraction(-7, 2), "-7/2"),
        (1.0, "1.0"),
        (0.5, "0.5"),
        (-0.0, "-0.0"),
        (123.456, "123.456"),
        (1e21, "1e21"),
        (1e16, "1e16"),
        (1.5e-7, "1.5e-7"),
        (1e-5, "1e-5"),
        (-2.5e-300, "-2.5e-300"),
        (0.1, "0.1"),
        (math.inf, "+inf.0"),
        (-math.inf, "-inf.0"),
        (math.nan, "+nan.0"),
    ],
)
def test_format_number(x, text):
    assert format_number(x) == text


@pytest.mark.parametrize(
    "x, radix, text",
    [
        (255, 16, "ff"),
        (-255, 16, "-ff"),
        (5, 2, "101"),
        (8, 8, "10"),
        (Fraction(-1, 10), 16, "-1/a"),
        (1.5, 2, "1.1"),
        (-0.75, 16, "-0.c"),
        (4.0, 2, "100.0"),
        (math.inf, 16, "+inf.0"),
        (35, 36, "z"),
        (-255, 7, "-513"),
        (Fraction(-1, 3), 5, "-1/3"),
        (0.5, 3, "0.1111111111111111111111111111111111111111111111111111111111111111"),
    ],
)
def test_format_number_radix(x, radix, text):
    assert format_number(x, radix) == text


def test_format_number_huge_integer():
    n = 7**20000  # ~16900 digits: more than str(int) allows by default
    text = format_number(n)
    assert len(text) == math.floor(20000 * math.log10(7)) + 1
    assert read1(text) == n
    assert format_number(-n) == "-" + text
    assert format_number(Fraction(n, 3)) == text + "/3"


def test_format_number_rejects_bad_radix_and_non_numbers():
    with pytest.raises(ValueError):
        format_number(10, 37)
    with pytest.raises(ValueError):
        format_number(10, 1)
    with pytest.raises(TypeError):
        format_number(True)
    with pytest.raises(TypeError):
        format_number("1")


@given(st.floats(allow_nan=False))
def test_float_text_reads_back_exactly(x):
    back = read1(format_number(x))
    assert type(back) is float
    assert struct.pack("<d", back) == struct.pack("<d", x)


def _value_of_radix_text(text, radix):
    sign = -1 if text.startswith("-") else 1
    whole, frac = text.lstrip("-").split(".")
    value = Fraction(int(whole, radix))
    for i, d in enumerate(frac):
        value += Fraction(int(d, radix), radix ** (i + 1))
    return sign * value


@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([2, 4, 8, 16, 32]))
def test_float_in_a_power_of_two_radix_is_exact(x, radix):
    assert _value_of_radix_text(format_number(x, radix), radix) == Fraction(x)


@given(st.integers() | st.fractions(), st.integers(min_value=2, max_value=36))
def test_exact_number_text_reads_back(x, radix):
    from interp.reader import parse_number

    if isinstance(x, Fraction) and x.denominator == 1:
        x = x.numerator
    assert parse_number(format_number(x, radix), radix) == x


def _same_float(a, b):
    return type(a) is float and (a != a and b != b or struct.pack("<d", a) == struct.pack("<d", b))


@given(st.integers() | st.fractions(), st.integers() | st.fractions(), st.sampled_from([2, 10, 16, 36]))
def test_exact_complex_text_reads_back(re_part, im_part, radix):
    from interp.complexes import rectangular
    from interp.reader import parse_number

    z = rectangular(re_part.numerator if re_part.denominator == 1 else re_part,
                    im_part.numerator if im_part.denominator == 1 else im_part)
    assert parse_number(format_number(z, radix), radix) == z
    assert read1(write_string(z)) == z


@given(st.floats(), st.floats())
def test_inexact_complex_text_reads_back(re_part, im_part):
    z = complex(re_part, im_part)
    back = read1(write_string(z))
    assert type(back) is complex
    assert _same_float(back.real, z.real) and _same_float(back.imag, z.imag)


# ---------------------------------------------------------------- atoms


def test_booleans_never_print_as_numbers():
    assert write_string(True) == "#t"
    assert write_string(False) == "#f"
    assert write_string(L(True, 1, False, 0)) == "(#t 1 #f 0)"


def test_strings():
    assert write_string("abc") == '"abc"'
    assert write_string('a"b\\c') == r'"a\"b\\c"'
    assert write_string("l1\nl2\tx\ry") == r'"l1\nl2\tx\ry"'
    assert write_string("\x00\x07\x08\x0b\x0c\x1b\x7f") == r'"\x0;\a\b\v\f\x1b;\x7f;"'
    assert write_string("\x85\u2028\u3000\xad|") == r'"\x85;\x2028;\x3000;\xad;|"'
    assert write_string("λ ☃") == '"λ ☃"'
    assert display_string('a"b\\c\n') == 'a"b\\c\n'


@pytest.mark.parametrize(
    "c, written",
    [
        ("a", r"#\a"),
        ("A", r"#\A"),
        (" ", r"#\space"),
        ("\n", r"#\newline"),
        ("\t", r"#\tab"),
        ("\x0b", r"#\vtab"),
        ("\x0c", r"#\page"),
        ("\r", r"#\return"),
        ("\0", r"#\null"),
        ("\a", r"#\alarm"),
        ("\b", r"#\backspace"),
        ("\x1b", r"#\escape"),
        ("\x7f", r"#\delete"),
        ("\x01", r"#\x1"),
        ("\xa0", r"#\xa0"),
        ("(", r"#\("),
        ("x", r"#\x"),
        ("λ", r"#\λ"),
    ],
)
def test_chars(c, written):
    assert write_string(char(c)) == written
    assert display_string(char(c)) == c
    assert read1(written) is char(c)


@pytest.mark.parametrize(
    "name, written",
    [
        ("abc", "abc"),
        ("->x", "->x"),
        ("...", "..."),
        ("+", "+"),
        ("1+", "1+"),
        ("λ", "λ"),
        ("Hello", "Hello"),
        ("", "||"),
        ("a b", "|a b|"),
        ("(", "|(|"),
        ("a|b", r"|a\|b|"),
        ("a\\b|", r"|a\\b\||"),
        ("1", "|1|"),
        ("-1.5", "|-1.5|"),
        ("+inf.0", "|+inf.0|"),
        ("1/2", "|1/2|"),
        ("+i", "|+i|"),
        ("-i", "|-i|"),
        ("1+2i", "|1+2i|"),
        ("1@2", "|1@2|"),
        ("-inf.0i", "|-inf.0i|"),
        ("1d2", "|1d2|"),
        ("1+i+", "1+i+"),
        ("+ii", "+ii"),
        ("@", "@"),
        (".", "|.|"),
        ("#t", "|#t|"),
        ("#foo", "|#foo|"),
        ("a;b", "|a;b|"),
        ("'x", "|'x|"),
        ('a"b', '|a"b|'),
        ("tab\there", r"|tab\there|"),
        ("nl\n", r"|nl\n|"),
        ("\x01", r"|\x1;|"),
    ],
)
def test_symbols(name, written):
    assert write_string(sym(name)) == written
    assert display_string(sym(name)) == name
    assert read1(written) is sym(name)


def test_special_objects():
    assert write_string(NIL) == "()"
    assert write_string(UNSPECIFIED) == "#<unspecified>"
    assert write_string(EOF_OBJECT) == "#<eof>"
    assert write_string(bytearray([1, 2, 255])) == "#u8(1 2 255)"
    assert write_string(bytearray()) == "#u8()"
    assert write_string(gensym("tmp")).startswith("tmp")


def test_foreign_objects():
    class Proc:
        def __scheme_write__(self):
            return "#<procedure car>"

    class Thing:
        type_name = "thing"

    class Plain:
        pass

    assert write_string(Proc()) == "#<procedure car>"
    assert display_string(L(Proc())) == "(#<procedure car>)"
    assert write_string(Thing()) == "#<thing>"
    assert write_string(Plain()) == "#<Plain>"


# ---------------------------------------------------------------- structure


def test_lists_and_pairs():
    assert write_string(L(1, 2, 3)) == "(1 2 3)"
    assert write_string(Pair(1, 2)) == "(1 . 2)"
    assert write_string(Pair(1, Pair(2, 3))) == "(1 2 . 3)"
    assert write_string(L(L(), L(L(1)))) == "(() ((1)))"
    assert write_string(Pair(1, Vector([2]))) == "(1 . #(2))"
    assert write_string(L("a", char("b"), sym("c d"))) == '("a" #\\b |c d|)'
    assert display_string(L("a", char("b"), sym("c d"))) == "(a b c d)"


def test_vectors():
    assert write_string(Vector()) == "#()"
    assert write_string(Vector([1, "s", Vector([L(2)])])) == '#(1 "s" #((2)))'
    assert display_string(Vector(["s"])) == "#(s)"


@pytest.mark.parametrize(
    "text, written",
    [
        ("'x", "(quote x)"),
        ("`(a ,b ,@c)", "(quasiquote (a (unquote b) (unquote-splicing c)))"),
        ("''x", "(quote (quote x))"),
        ("'()", "(quote ())"),
    ],
)
def test_quote_forms_are_written_in_full_like_guile(text, written):
    assert write_string(read1(text)) == written
    assert write_string(read1(written)) == written


def test_quote_abbreviations_can_be_switched_on(monkeypatch):
    import interp.printer

    monkeypatch.setattr(interp.printer, "ABBREVIATE_QUOTES", True)
    for text in ["'x", "`(a ,b ,@c)", "''x", "'()", "'(quote)", "'(quote a b)", "(quote . x)"]:
        assert write_string(read1(text)) == text
    assert write_string(L(sym("quote"), 1, 2)) == "(quote 1 2)"
    assert write_string(L(sym("unquote-splicing"), sym("x"))) == ",@x"
    p = L(sym("quote"), 1)
    p.cdr.cdr = p.cdr  # the (1 . ...) pair closes a cycle: no abbreviation
    assert write_string(p) == "(quote . #0=(1 . #0#))"


def test_pair_repr_uses_write():
    assert repr(L(1, "a")) == '(1 "a")'


# ---------------------------------------------------------------- cycles and sharing


def test_cdr_cycle_gets_a_label():
    p = L(1, 2)
    p.cdr.cdr = p
    assert write_string(p) == "#0=(1 2 . #0#)"


def test_cycle_into_the_middle_of_a_list():
    p = L(1, 2, 3)
    p.cdr.cdr.cdr = p.cdr
    assert write_string(p) == "(1 . #0=(2 3 . #0#))"


def test_car_cycle_and_vector_cycle():
    p = L(1)
    p.car = p
    assert write_string(p) == "#0=(#0#)"
    v = Vector([1, None])
    v[1] = v
    assert write_string(v) == "#0=#(1 #0#)"


def test_two_cycles_get_two_labels():
    a = L(1)
    a.cdr = a
    b = L(a, 2)
    b.cdr.cdr = b
    assert write_string(b) == "#0=(#1=(1 . #1#) 2 . #0#)"


def test_shared_acyclic_structure_is_not_labelled():
    shared = L(1, 2)
    assert write_string(L(shared, shared, Vector([shared]))) == "((1 2) (1 2) #((1 2)))"


def test_cyclic_structure_reads_back():
    p = L(sym("a"), sym("b"))
    p.cdr.cdr = p
    q = read1(write_string(p))
    assert q.car is sym("a") and q.cdr.cdr is q


def test_large_cycle_terminates():
    items = L(*range(50_000))
    last = items
    while last.cdr is not NIL:
        last = last.cdr
    last.cdr = items
    text = write_string(items)
    assert text.startswith("#0=(0 1 2 ") and text.endswith(" 49999 . #0#)")


def test_display_of_cycles_uses_labels_too():
    p = L("x")
    p.cdr = p
    assert display_string(p) == "#0=(x . #0#)"


# ---------------------------------------------------------------- size


def test_very_long_list():
    n = 100_000
    text = write_string(L(*range(n)))
    assert text == "(" + " ".join(map(str, range(n))) + ")"


def test_very_deep_nesting():
    depth = 10_000
    x = NIL
    for _ in range(depth):
        x = L(x)
    assert write_string(x) == "(" * depth + "()" + ")" * depth
    v = Vector()
    for _ in range(depth):
        v = Vector([v])
    assert write_string(v) == "#(" * (depth + 1) + ")" * (depth + 1)
    q = sym("x")
    for _ in range(depth):
        q = L(sym("quote"), q)
    assert write_string(q) == "(quote " * depth + "x" + ")" * depth
    d = sym("end")
    for i in range(depth):
        d = Pair(i, d)
    assert write_string(d).startswith("(9999 9998 ") and write_string(d).endswith(" 1 0 . end)")


def test_deep_car_nesting_round_trips():
    depth = 10_000
    text = "(" * depth + "a" + ")" * depth
    assert write_string(read1(text)) == text


# ---------------------------------------------------------------- round trip properties


def _normalise(q):
    return q.numerator if q.denominator == 1 else q


ODD_SYMBOL_NAMES = [
    "", " ", ".", "..", "...", "+", "-", "1", "1+", "-1", "+inf.0", "+nan.0", "1/2", "#t",
    "#foo", "a b", "(", ")", "|", "\\", '"', ";", "'", "`", ",", ",@", "#|", "|#", "#;", "λ",
    "quote", "\n", "\x00", "\x7f", "\u200b", "\u3000", "\ud800",
]

atoms = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.builds(
        lambda n, d: _normalise(Fraction(n, d)),
        st.integers(min_value=-(10**12), max_value=10**12),
        st.integers(min_value=1, max_value=10**12),
    ),
    st.floats(),
    st.text(),
    st.text(st.characters(codec=None)),
    st.text().map(sym),
    st.sampled_from(ODD_SYMBOL_NAMES).map(sym),
    st.characters(codec=None).map(char),
    st.sampled_from(["\0", "\a", " ", "\n", "\x7f", "(", ")", "x", "#", "\\", "|", '"', ";"]).map(char),
    st.binary(max_size=8).map(bytearray),
    st.just(NIL),
)


def _compound(children):
    return st.one_of(
        st.lists(children, max_size=6).map(lambda xs: list_to_pairs(xs)),
        st.tuples(st.lists(children, min_size=1, max_size=4), children).map(
            lambda t: list_to_pairs(t[0], t[1])
        ),
        st.lists(children, max_size=5).map(Vector),
        children.map(lambda x: L(sym("quote"), x)),
        children.map(lambda x: L(sym("unquote-splicing"), x)),
    )


datums = st.recursive(atoms, _compound, max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(datums)
def test_read_of_write_is_equal(d):
    text = write_string(d)
    back = read_all(text)
    assert len(back) == 1, text
    assert equal(back[0], d), text


@settings(max_examples=300, deadline=None)
@given(datums)
def test_write_of_read_is_stable(d):
    text = write_string(d)
    assert write_string(read1(text)) == text


@settings(max_examples=100, deadline=None)
@given(st.lists(datums, max_size=5))
def test_read_datum_reads_a_written_sequence(ds):
    text = " ".join(write_string(d) for d in ds)
    i = 0
    out = []
    while True:
        d, i = read_datum(text, i)
        if d is EOF_OBJECT:
            break
        out.append(d)
    assert len(out) == len(ds)
    assert all(equal(a, b) for a, b in zip(out, ds))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_display_of_strings_and_symbols_is_raw(s):
    assert display_string(s) == s
    assert display_string(sym(s)) == s


SCHEME_ISH = st.lists(
    st.sampled_from(list("()#;|\\\"'`,@.x1e/+- \n") + ["#|", "|#", "#\\", "#(", "#u8(", "#0=", "#0#"]),
    max_size=20,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30) | SCHEME_ISH)
def test_reader_never_leaks_python_exceptions(text):
    from interp.errors import SchemeSyntaxError

    try:
        data = read_all(text)
    except SchemeSyntaxError as e:
        assert e.pos is not None
        return
    for d in data:  # whatever reads, writes and reads back the same
        assert equal(read1(write_string(d)), d)
