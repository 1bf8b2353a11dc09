"""The reader: every datum kind, source positions, error messages, read_datum, is_complete."""

import math
from fractions import Fraction

import pytest

from interp.errors import SchemeError, SchemeSyntaxError
from interp.reader import is_complete, parse_number, read_all, read_datum
from interp.values import (
    EOF_OBJECT,
    NIL,
    Pair,
    SourcePos,
    Vector,
    char,
    equal,
    list_to_pairs,
    pairs_to_list,
    sym,
)


def read1(text):
    data = read_all(text)
    assert len(data) == 1, data
    return data[0]


def L(*items):
    return list_to_pairs(list(items))


def S(name):
    return sym(name)


def syntax_error(text, filename=None):
    with pytest.raises(SchemeSyntaxError) as info:
        read_all(text, filename)
    return info.value


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "token, value",
    [
        ("0", 0),
        ("42", 42),
        ("-42", -42),
        ("+7", 7),
        ("1/3", Fraction(1, 3)),
        ("-2/6", Fraction(-1, 3)),
        ("1.5", 1.5),
        (".5", 0.5),
        ("-.5", -0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("1.5e-2", 0.015),
        ("-2.5e+2", -250.0),
        ("#x1F", 31),
        ("#X1f", 31),
        ("#x-1F", -31),
        ("#b101", 5),
        ("#o17", 15),
        ("#d99", 99),
        ("#e1.5", Fraction(3, 2)),
        ("#e1e3", 1000),
        ("#e1.25e-1", Fraction(1, 8)),
        ("#i1/4", 0.25),
        ("#i3", 3.0),
        ("#x#e10", 16),
        ("#e#x10", 16),
        ("#x1/A", Fraction(1, 10)),
    ],
)
def test_parse_number_values(token, value):
    got = parse_number(token)
    assert type(got) is type(value)
    assert got == value


def test_rationals_are_normalised_to_integers():
    assert parse_number("4/2") == 2 and type(parse_number("4/2")) is int
    assert parse_number("#e1.0") == 1 and type(parse_number("#e1.0")) is int
    assert parse_number("0/5") == 0 and type(parse_number("0/5")) is int


def test_special_floats():
    assert parse_number("+inf.0") == math.inf
    assert parse_number("-inf.0") == -math.inf
    assert math.isnan(parse_number("+nan.0"))
    assert math.isnan(parse_number("-nan.0"))
    assert parse_number("#e+inf.0") is None


def test_negative_zero_keeps_its_sign():
    assert math.copysign(1, parse_number("-0.0")) == -1


def test_radix_argument_applies_without_prefix():
    assert parse_number("ff", 16) == 255
    assert parse_number("-101", 2) == -5
    assert parse_number("#d10", 16) == 10  # a prefix overrides the radix
    assert parse_number("12", 2) is None
    assert parse_number("z", 36) == 35  # any radix 2..36, like Guile
    assert parse_number("-Zz/10", 36) == Fraction(-1295, 36)
    assert parse_number("12", 3) == 5
    assert parse_number("1.1", 3) is None  # decimals are radix 10 only
    assert parse_number("1", 37) is None
    assert parse_number("1", 1) is None


@pytest.mark.parametrize(
    "token",
    [
        "", "+", "-", ".", "...", "abc", "1+", "1-", "1e", "e1", "1.2.3", "1/", "/2", "1/0",
        "#x", "#xG", "#x1G", "#e", "#x#x1", "#e#i1", "#q1", "1_000", "١٢", "1 2", " 1", "inf",
        "+inf", "nan.0", "#x1.8", "#b1.1", "#x1e2.", "1/2.5", "1+2", "1+2j", "i", "1i", "+1i2",
    ],
)
def test_parse_number_rejects(token):
    assert parse_number(token) is None


def test_parse_number_of_non_string_is_none():
    assert parse_number(None) is None
    assert parse_number(12) is None


def test_huge_integers_read_beyond_pythons_digit_limit():
    digits = "7" * 6000
    assert parse_number(digits) == int("7" * 3000) * 10**3000 + int("7" * 3000)
    assert read1("-" + digits) == -parse_number(digits)


def test_exact_exponent_too_large_is_rejected_not_hung():
    assert parse_number("#e1e999999999") is None
    assert parse_number("1e999999999") == math.inf


def test_numbers_in_source():
    assert read_all("1 -2 3/4 1.5 #x10 +inf.0") == [1, -2, Fraction(3, 4), 1.5, 16, math.inf]


# ---------------------------------------------------------------- atoms


def test_booleans():
    data = read_all("#t #f #true #false")
    assert [d is True for d in data] == [True, False, True, False]
    assert [d is False for d in data] == [False, True, False, True]


def test_strings_and_escapes():
    assert read1(r'"plain"') == "plain"
    assert read1(r'"a\nb\tc\rd\ae\\f\"g\|h\bi"') == 'a\nb\tc\rd\ae\\f"g|h\bi'
    assert read1(r'"\v\f"') == "\v\f"  # Guile's extra escapes
    assert read1(r'"\x41;\x3bb;\x1F600;"') == "A\u03bb\U0001F600"
    assert read1('"multi\nline"') == "multi\nline"
    assert read1('"λ unicode ☃"') == "λ unicode ☃"
    assert read1('""') == ""


def test_string_line_continuation():
    assert read1('"abc \\\n     def"') == "abc def"
    assert read1('"abc\\   \n\t  def"') == "abcdef"
    assert read1('"abc\\\r\n  def"') == "abcdef"


@pytest.mark.parametrize(
    "text, value",
    [
        (r"#\a", "a"),
        (r"#\A", "A"),
        (r"#\x", "x"),
        (r"#\space", " "),
        (r"#\newline", "\n"),
        (r"#\tab", "\t"),
        (r"#\nul", "\0"),
        (r"#\null", "\0"),
        (r"#\alarm", "\a"),
        (r"#\backspace", "\b"),
        (r"#\delete", "\x7f"),
        (r"#\escape", "\x1b"),
        (r"#\esc", "\x1b"),
        (r"#\vtab", "\x0b"),
        (r"#\page", "\x0c"),
        (r"#\return", "\r"),
        (r"#\x41", "A"),
        (r"#\x3bb", "λ"),
        (r"#\(", "("),
        (r"#\)", ")"),
        (r"#\;", ";"),
        (r"#\"", '"'),
        (r"#\|", "|"),
        (r"#\#", "#"),
        (r"#\\", "\\"),
        ("#\\ ", " "),
        (r"#\λ", "λ"),
    ],
)
def test_characters(text, value):
    assert read1(text) is char(value)


def test_character_followed_by_delimiter():
    assert pairs_to_list(read1(r"(#\( #\a)")) == [char("("), char("a")]
    assert pairs_to_list(read1(r"(#\))")) == [char(")")]


def test_symbols_are_case_sensitive_and_interned():
    a, b, c = read_all("foo Foo foo")
    assert a is S("foo") and b is S("Foo") and c is a


@pytest.mark.parametrize(
    "name",
    ["+", "-", "...", "->x", "<=?", "1+", "a.b", "!$%&*/:<=>?^_~", "a#b", "λ", ".5a", ".."],
)
def test_peculiar_identifiers(name):
    assert read1(name) is S(name)


def test_bar_symbols():
    assert read1("|hello world|") is S("hello world")
    assert read1("||") is S("")
    assert read1(r"|a\|b|") is S("a|b")
    assert read1(r"|tab\there|") is S("tab\there")
    assert read1(r"|\x41;bc|") is S("Abc")
    assert read1("|42|") is S("42")
    assert read1("|(|") is S("(")


# ---------------------------------------------------------------- structure


def test_lists():
    assert read1("()") is NIL
    assert equal(read1("(1 2 3)"), L(1, 2, 3))
    assert equal(read1("(a (b (c)) ())"), L(S("a"), L(S("b"), L(S("c"))), NIL))


def test_dotted_lists():
    d = read1("(a . b)")
    assert type(d) is Pair and d.car is S("a") and d.cdr is S("b")
    d = read1("(1 2 . 3)")
    assert d.car == 1 and d.cdr.car == 2 and d.cdr.cdr == 3
    assert equal(read1("(1 . (2 3))"), L(1, 2, 3))
    assert read1("(a . ())").cdr is NIL


def test_dot_needs_a_delimiter():
    assert equal(read1("(a .b)"), L(S("a"), S(".b")))
    assert equal(read1("(a ...)"), L(S("a"), S("...")))
    assert equal(read1("(.5)"), L(0.5))


def test_vectors_and_bytevectors():
    v = read1("#(1 #(2) (3) \"s\")")
    assert type(v) is Vector and len(v) == 4
    assert type(v[1]) is Vector and v[1] == [2]
    assert read1("#()") == Vector()
    b = read1("#u8(0 1 255)")
    assert type(b) is bytearray and b == bytearray([0, 1, 255])
    assert read1("#u8()") == bytearray()


@pytest.mark.parametrize(
    "text, head",
    [("'x", "quote"), ("`x", "quasiquote"), (",x", "unquote"), (",@x", "unquote-splicing")],
)
def test_abbreviations(text, head):
    assert equal(read1(text), L(S(head), S("x")))


def test_nested_abbreviations():
    assert equal(
        read1("`(a ,b ,@(c) 'd)"),
        L(
            S("quasiquote"),
            L(S("a"), L(S("unquote"), S("b")), L(S("unquote-splicing"), L(S("c"))), L(S("quote"), S("d"))),
        ),
    )
    assert equal(read1("''a"), L(S("quote"), L(S("quote"), S("a"))))
    assert equal(read1("'()"), L(S("quote"), NIL))


def test_comments():
    text = """
    ; a line comment
    (a ; inside
     b) #| block
     #| nested |# still comment |# c
    #;(skipped datum) d
    #|| odd but fine ||# e
    """
    assert [write(x) for x in read_all(text)] == ["(a b)", "c", "d", "e"]


def test_datum_comments_everywhere():
    assert equal(read1("(a #;b c)"), L(S("a"), S("c")))
    assert equal(read1("(a #; b)"), L(S("a")))
    assert read1("(#;a)") is NIL
    assert read1("(a . #;b c)").cdr is S("c")
    assert read1("(a . b #;c)").cdr is S("b")
    assert equal(read1("' #;a b"), L(S("quote"), S("b")))
    assert read_all("#; #; a b c") == [S("c")]
    assert read_all("#;(a (b) c)") == []
    assert read1("#(1 #;2 3)") == [1, 3]
    assert read1("#;#;1 2 #;3 4") == 4


def test_fold_case_directives_fold_what_follows_them():
    assert read_all("ABC #!fold-case ABC #!no-fold-case ABC") == [S("ABC"), S("abc"), S("ABC")]


def test_datum_labels():
    d = read1("#0=(a b . #0#)")
    assert d.car is S("a") and d.cdr.cdr is d
    d = read1("(#0=(x) #0#)")
    assert d.car is d.cdr.car
    v = read1("#1=#(1 #1#)")
    assert v[1] is v
    d = read1("#0=(#1=(a . #1#) . #0#)")
    assert d.cdr is d and d.car.cdr is d.car
    d = read1("#0='#0#")
    assert d.cdr.car is d


# ---------------------------------------------------------------- positions


def test_positions_of_lists_and_elements():
    text = "(define (f x)\n  (+ x\n     1))"
    d = read_all(text, "prog.scm")[0]
    assert d.pos == SourcePos("prog.scm", 1, 1)  # the paren
    second = d.cdr  # (f x) as an element
    assert second.pos == SourcePos("prog.scm", 1, 9)
    assert second.car.pos == SourcePos("prog.scm", 1, 9)  # its own paren
    assert second.car.cdr.pos == SourcePos("prog.scm", 1, 12)  # x
    body = d.cdr.cdr
    assert body.pos == SourcePos("prog.scm", 2, 3)
    plus = body.car
    assert plus.pos == SourcePos("prog.scm", 2, 3)
    assert plus.cdr.pos == SourcePos("prog.scm", 2, 6)  # x
    assert plus.cdr.cdr.pos == SourcePos("prog.scm", 3, 6)  # 1
    assert str(plus.cdr.cdr.pos) == "prog.scm:3:6"


def test_positions_of_quote_forms():
    d = read1("(a\n 'b)")
    q = d.cdr.car
    assert q.pos == SourcePos(None, 2, 2)  # the quote mark
    assert q.cdr.pos == SourcePos(None, 2, 3)  # b
    assert d.cdr.pos == SourcePos(None, 2, 2)


def test_positions_of_dotted_and_after_multiline_tokens():
    d = read1('("a\nbc" x . y)')
    assert d.pos == SourcePos(None, 1, 1)
    assert d.cdr.pos == SourcePos(None, 2, 5)
    d = read_all("#| one\ntwo |# (a)")[0]
    assert d.pos == SourcePos(None, 2, 8)


def test_positions_count_characters_not_bytes():
    d = read1('("λλ" x)')
    assert d.cdr.pos.col == 7


def test_every_reader_pair_has_a_position():
    d = read1("(a (b #(c (d))) 'e `(,f) . g)")
    todo = [d]
    while todo:
        x = todo.pop()
        if type(x) is Pair:
            assert isinstance(x.pos, SourcePos)
            todo += [x.car, x.cdr]
        elif type(x) is Vector:
            todo += list(x)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "text, message, line, col",
    [
        ("(a b", "unclosed ( opened at 1:1", 1, 1),
        ("(a\n  (b c)\n  (d", "unclosed ( opened at 3:3", 3, 3),
        ("  #(1 2", "unclosed #( opened at 1:3", 1, 3),
        ("#u8(1", "unclosed #u8( opened at 1:1", 1, 1),
        (")", "unexpected )", 1, 1),
        ("(a))", "unexpected )", 1, 4),
        ('(a "bc', "unterminated string", 1, 4),
        ('(a "b\nc\\qd', r"bad escape \q in string", 2, 2),
        ("x #| a #| b |# c", "unterminated block comment opened at 1:3", 1, 3),
        (r"#\foo", r"bad character name #\foo", 1, 1),
        (r"(x #\xZZ)", r"bad character name #\xZZ", 1, 4),
        (r'"a\qb"', r"bad escape \q in string", 1, 3),
        ('"ok"\n  "x\\x41"', r"bad escape \x41 (expected \xHH;) in string", 2, 5),
        (r'"\x110000;"', r"bad escape \x110000; (not a character) in string", 1, 2),
        (r"|a\qb|", r"bad escape \q in |symbol|", 1, 3),
        ("#x1G", "bad number syntax #x1G", 1, 1),
        ("#e1.2.3", "bad number syntax #e1.2.3", 1, 1),
        ("#foo", "unknown # syntax #foo", 1, 1),
        ("( . a)", "unexpected .", 1, 3),
        (".", "unexpected .", 1, 1),
        ("(a . b . c)", "unexpected .", 1, 8),
        ("#(a . b)", "unexpected .", 1, 5),
        ("(a . )", "missing datum after .", 1, 6),
        ("(a . b c)", "more than one datum after . in a dotted list", 1, 8),
        ("(')", "unexpected ) after '", 1, 3),
        ("(a #;)", "unexpected ) after #;", 1, 6),
        ("'", "unexpected end of input after '", 1, 1),
        ("#;", "unexpected end of input after #;", 1, 1),
        ("|abc", "unterminated |symbol|", 1, 1),
        ("a |# b", "unexpected |# (no block comment is open)", 1, 3),
        ("#0#", "undefined datum label #0#", 1, 1),
        ("#u8(1 256)", "bad bytevector element 256 (expected an integer 0 to 255)", 1, 7),
        ("#u8(a)", "bad bytevector element a (expected an integer 0 to 255)", 1, 5),
    ],
)
def test_error_messages_and_positions(text, message, line, col):
    err = syntax_error(text, "in.scm")
    assert err.message == message
    assert err.pos == SourcePos("in.scm", line, col)
    assert str(err) == f"in.scm:{line}:{col}: {message}"
    assert isinstance(err, SchemeError)


def test_error_without_filename_says_input():
    assert str(syntax_error("(")) == "<input>:1:1: unclosed ( opened at 1:1"


def test_too_deeply_nested_block_comment_is_a_clear_error():
    text = "#|" * 20 + "|#" * 20
    assert "nested more than" in syntax_error(text).message


def test_non_string_input_is_a_syntax_error():
    with pytest.raises(SchemeSyntaxError):
        read_all(None)
    with pytest.raises(SchemeSyntaxError):
        read_datum(b"(a)")


@pytest.mark.parametrize(
    "text",
    ["(", "(()", '"abc', '"abc\\', '"abc\\x4', "#|", "'", "`(a ,", "#;", "(a . ", "#(", "|ab", '(display "x\\', "#0="],
)
def test_incomplete_input(text):
    assert is_complete(text) is False


@pytest.mark.parametrize(
    "text",
    ["", "   ", "; just a comment", "(a)", "(a) (b)", "'a", ")", "(a))", "#\\foo", "#x1G",
     "(a . b c)", "#| done |#", '"\\q', '"ab\\x41 cd', '"ab\\q'],
)
def test_complete_or_definitely_wrong_input(text):
    assert is_complete(text) is True


# ---------------------------------------------------------------- read_datum


def test_read_datum_reads_one_at_a_time():
    text = "  (a b) c 'd ;end\n"
    d, i = read_datum(text)
    assert equal(d, L(S("a"), S("b"))) and i == 7
    d, i = read_datum(text, i)
    assert d is S("c") and i == 9
    d, i = read_datum(text, i)
    assert equal(d, L(S("quote"), S("d"))) and i == 12
    d, i = read_datum(text, i)
    assert d is EOF_OBJECT and i == len(text)
    assert read_datum(text, len(text)) == (EOF_OBJECT, len(text))
    assert read_datum("") == (EOF_OBJECT, 0)
    assert read_datum(" #| c |# ; c\n #;(x)") == (EOF_OBJECT, 19)


def test_read_datum_stops_at_the_datum_end():
    d, i = read_datum('abc(def "unterminated')
    assert d is S("abc") and i == 3
    d, i = read_datum('42"x"')
    assert d == 42 and i == 2


def test_read_datum_skips_datum_comments():
    d, i = read_datum("#; a #; #; b c 'd e")
    assert equal(d, L(S("quote"), S("d"))) and i == 17


def test_read_datum_positions_are_absolute():
    text = "one\n two\n   (x\n y)"
    d, i = read_datum(text, 8)
    assert d.pos == SourcePos(None, 3, 4)
    assert d.cdr.pos == SourcePos(None, 4, 2)


def test_read_datum_errors():
    with pytest.raises(SchemeSyntaxError) as info:
        read_datum("x (a b", 1)
    assert info.value.message == "unclosed ( opened at 1:3"
    with pytest.raises(SchemeSyntaxError) as info:
        read_datum(")")
    assert info.value.message == "unexpected )"


# ---------------------------------------------------------------- size


def test_long_list():
    n = 100_000
    d = read1("(" + " ".join(map(str, range(n))) + ")")
    count = 0
    while d is not NIL:
        assert d.car == count
        count += 1
        d = d.cdr
    assert count == n


def test_deep_nesting():
    depth = 10_000
    d = read1("(" * depth + "x" + ")" * depth)
    for _ in range(depth):
        assert type(d) is Pair and d.cdr is NIL
        d = d.car
    assert d is S("x")
    v = read1("#(" * depth + ")" * depth)
    for _ in range(depth - 1):
        v = v[0]
    assert v == Vector()
    q = read1("'" * depth + "x")
    for _ in range(depth):
        q = q.cdr.car
    assert q is S("x")


def test_deeply_unclosed_input_reports_innermost_paren():
    err = syntax_error("(" * 5000)
    assert err.message == "unclosed ( opened at 1:5000"


def write(x):
    from interp.printer import write_string

    return write_string(x)


# ---------------------------------------------------------------- the parser cache


def test_parser_cache_is_written_read_back_and_survives_corruption(tmp_path, monkeypatch):
    import interp.reader as reader

    cache = tmp_path / "cache" / "scheme.lark.json"
    monkeypatch.setattr(reader, "_cache_paths", lambda key: [str(cache)])
    text = "(a #(1 2) 'b . c) \"s\" #\\x"

    def parse_with(parser):
        reader._ctx.filename = None
        reader._ctx.labels = None
        return [write(d) for d in parser.parse(text)]

    expected = [write(d) for d in read_all(text)]
    built = reader._build_parser()  # no cache yet: analyses the grammar, writes the cache
    assert cache.exists() and cache.read_text().startswith("{")
    assert parse_with(built) == expected
    import lark

    loads = []
    original = lark.Lark._load_from_dict.__func__
    monkeypatch.setattr(
        lark.Lark,
        "_load_from_dict",
        classmethod(lambda cls, *a, **k: loads.append(1) or original(cls, *a, **k)),
    )
    loaded = reader._build_parser()  # from the JSON cache
    assert loads == [1]
    assert parse_with(loaded) == expected
    cache.write_text('{"d": [["data", 1]]}')  # corrupt: ignored and rebuilt
    assert parse_with(reader._build_parser()) == expected


# ---------------------------------------------------------------- found by fuzzing (tests/interp/test_fuzz_source.py)


@pytest.mark.parametrize(
    "text, col",
    [("#0=(#0# #0=x)", 9), ("#0=(a #0=(b #0#) #0#)", 7), ("#0=(#0# . #0=(#0#))", 11), ("#0=#;#0=x y", 6)],
)
def test_a_label_defined_again_inside_its_own_datum_is_an_error(text, col):
    # used to leave the outer label's placeholder in the datum: (#<_Placeholder> x)
    err = syntax_error(text)
    assert err.message == "datum label #0= defined again inside its own datum"
    assert err.pos == SourcePos(None, 1, col)


def test_a_label_may_be_defined_again_once_its_datum_is_read():
    d = read1("(#0=a #0=b #0#)")
    assert pairs_to_list(d) == [S("a"), S("b"), S("b")]


def test_labels_with_more_digits_than_python_converts():
    # int() of 5000 digits raised ValueError ("cannot read: ValueError: ...")
    n = "0" * 4999 + "7"
    d = read1("#" + n + "=(a . #" + n + "#)")
    assert d.cdr is d
    assert syntax_error("#" + "9" * 5000 + "#").message.startswith("undefined datum label #9999")


@pytest.mark.parametrize("radix", [3, 7, 12, 36])
def test_long_digit_strings_in_any_radix(radix):
    # int(digits, radix) refuses over 4300 digits unless the radix is a power of two
    digits = "1" * 6000
    expected = 0
    for _ in range(6000):
        expected = expected * radix + 1
    assert parse_number(digits, radix) == expected
    assert parse_number("-" + digits + "/1" + "0" * 5000, radix) == Fraction(-expected, radix**5000)


@pytest.mark.parametrize("start", [-1, -10, 1.5, None, "0"])
def test_read_datum_rejects_a_bad_start_index(start):
    # -1 read from the end, -10 and 1.5 gave "cannot read: AssertionError/TypeError"
    with pytest.raises(SchemeSyntaxError, match="read_datum: expected a start index"):
        read_datum("abc", start)


def test_read_datum_positions_when_reading_on_jumping_back_and_switching_text():
    text = "a\n (b\n c)\n\n  (d)\n'e"
    starts = []
    i = 0
    while True:
        d, j = read_datum(text, i, "f.scm")
        if d is EOF_OBJECT:
            break
        starts.append(i)
        if type(d) is Pair:
            assert d.pos.file == "f.scm"
            starts[-1] = (i, (d.pos.line, d.pos.col))
        i = j
    assert [s[1] for s in starts[1:]] == [(2, 2), (5, 3), (6, 1)]
    assert read_datum(text, starts[1][0])[0].pos == SourcePos(None, 2, 2)  # back again
    other = "".join(["\n\n", text])  # another string: counted from its own start
    assert read_datum(other, starts[1][0] + 2)[0].pos == SourcePos(None, 4, 2)
    assert read_datum(text, starts[3][0])[0].pos == SourcePos(None, 6, 1)
    assert read_datum(text, starts[2][0])[0].cdr is NIL


def test_reading_a_long_text_datum_by_datum_counts_its_lines_once():
    # each read_datum used to count the newlines of the whole text before `start`:
    # reading a long port datum by datum was quadratic
    class Text(str):
        counted = 0

        def count(self, sub, start=0, end=None):
            end = len(self) if end is None else end
            Text.counted += max(0, end - start)
            return str.count(self, sub, start, end)

    text = Text("(a 1)\n" * 2000)
    i = n = 0
    while True:
        d, i = read_datum(text, i)
        if d is EOF_OBJECT:
            break
        n += 1
    assert n == 2000
    assert Text.counted <= 2 * len(text)


def test_nested_labelled_data_are_patched_in_one_pass(monkeypatch):
    # each label's placeholders used to be patched as its datum ended, walking all the
    # labelled data inside it again: 3000 nested labels took 12 s to read
    import interp.reader as reader

    passes = []
    patch = reader._patch
    monkeypatch.setattr(reader, "_patch", lambda roots: passes.append(1) or patch(roots))
    n = 3000
    text = "".join("#%d=(a #%d# . " % (i, i) for i in range(n)) + "()" + ")" * n
    d = read1(text)
    assert len(passes) == 1
    for _ in range(n):
        assert d.cdr.car is d
        d = d.cdr.cdr
    assert d is NIL


def test_a_label_in_a_bytevector_is_named_in_the_error():
    assert syntax_error("#0=#u8(#0#)").message == "bad bytevector element #0# (expected an integer 0 to 255)"
