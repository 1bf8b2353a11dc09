"""Character, string and symbol primitives, called directly (no evaluator)."""

from interp.values import NIL, Symbol, Vector, char, sym

from primhelp import L, err, p, py


def C(s):
    return char(s)


# ---------------------------------------------------------------- characters


def test_char_basics():
    assert p("char?", C("a")) is True
    assert p("char?", "a") is False
    assert p("char->integer", C("A")) == 65
    assert p("integer->char", 955) is C("λ")
    assert p("integer->char", 0x10FFFF).code == 0x10FFFF
    assert err("char->integer", "a") == 'char->integer: expected a char, got "a"'
    assert err("integer->char", 0xD800) == "integer->char: 55296 is not a Unicode scalar value"
    assert err("integer->char", -1) == "integer->char: -1 is not a Unicode scalar value"
    assert err("integer->char", 0x110000).startswith("integer->char: 1114112 is not")
    assert err("integer->char", True) == "integer->char: expected an exact integer, got #t"
    assert err("integer->char", 65.0) == "integer->char: expected an exact integer, got 65.0"


def test_char_comparisons():
    a, b, c = C("a"), C("b"), C("c")
    assert p("char=?", a, a) is True
    assert p("char=?", a, a, b) is False
    assert p("char<?", a, b, c) is True
    assert p("char<?", a, c, b) is False
    assert p("char>?", c, b, a) is True
    assert p("char<=?", a, a, b) is True
    assert p("char>=?", b, b, c) is False
    assert p("char-ci=?", C("A"), a) is True
    assert p("char-ci<?", C("a"), C("B")) is True
    assert p("char-ci>?", C("Z"), C("a"), C("A")) is False
    assert err("char<?", a, 1) == "char<?: expected a char, got 1"
    assert err("char-ci=?", "a", a) == 'char-ci=?: expected a char, got "a"'


def test_char_case_and_classes():
    assert p("char-upcase", C("a")) is C("A")
    assert p("char-upcase", C("ß")) is C("ß")  # full mapping "SS" is not a char
    assert p("char-downcase", C("Λ")) is C("λ")
    assert p("char-foldcase", C("A")) is C("a")
    assert p("char-upcase", C("1")) is C("1")
    assert p("char-alphabetic?", C("é")) is True
    assert p("char-alphabetic?", C("1")) is False
    assert p("char-numeric?", C("7")) is True
    assert p("char-numeric?", C("x")) is False
    assert p("char-whitespace?", C(" ")) is True
    assert p("char-whitespace?", C("\n")) is True
    assert p("char-whitespace?", C("\u00a0")) is True
    assert p("char-whitespace?", C("\x1f")) is False
    assert p("char-whitespace?", C("a")) is False
    assert p("char-upper-case?", C("A")) is True
    assert p("char-upper-case?", C("a")) is False
    assert p("char-lower-case?", C("a")) is True
    assert p("char-lower-case?", C("1")) is False
    assert p("digit-value", C("7")) == 7
    assert p("digit-value", C("\u0664")) == 4  # ARABIC-INDIC DIGIT FOUR
    assert p("digit-value", C("a")) is False
    assert err("char-upcase", 97) == "char-upcase: expected a char, got 97"
    assert err("digit-value", "7") == 'digit-value: expected a char, got "7"'


# ---------------------------------------------------------------- strings: construction & access


def test_string_construction():
    assert p("string?", "x") is True
    assert p("string?", C("x")) is False
    assert p("string?", sym("x")) is False
    assert p("make-string", 3, C("x")) == "xxx"
    assert p("make-string", 2) == "  "
    assert p("make-string", 0, C("x")) == ""
    assert err("make-string", -1) == "make-string: expected an exact non-negative integer, got -1"
    assert err("make-string", 2, "x") == 'make-string: expected a char, got "x"'
    assert p("string") == ""
    assert p("string", C("a"), C("b")) == "ab"
    assert err("string", C("a"), "b") == 'string: expected a char, got "b"'
    assert p("string-append") == ""
    assert p("string-append", "ab", "", "c") == "abc"
    assert err("string-append", "a", 1) == "string-append: expected a string, got 1"


def test_string_access():
    assert p("string-length", "héllo") == 5
    assert err("string-length", sym("a")) == "string-length: expected a string, got a"
    assert p("string-ref", "abc", 1) is C("b")
    assert err("string-ref", "abc", 3) == "string-ref: index 3 out of range for string of length 3"
    assert err("string-ref", "abc", -1) == (
        "string-ref: expected an exact non-negative integer, got -1"
    )
    assert err("string-ref", "abc", True) == (
        "string-ref: expected an exact non-negative integer, got #t"
    )
    assert p("substring", "hello", 1, 3) == "el"
    assert p("substring", "hello", 2) == "llo"
    assert p("substring", "hello", 5, 5) == ""
    assert err("substring", "abc", 4) == "substring: start index 4 out of range for length 3"
    assert err("substring", "abc", 2, 5) == "substring: end index 5 out of range for length 3"
    assert err("substring", "abc", 2, 1) == (
        "substring: start index 2 is greater than end index 1"
    )
    assert err("substring", "abc", 1.0) == (
        "substring: expected an exact non-negative integer, got 1.0"
    )
    assert p("string-copy", "hello") == "hello"
    assert p("string-copy", "hello", 1) == "ello"
    assert p("string-copy", "hello", 1, 2) == "e"
    assert p("string-null?", "") is True
    assert p("string-null?", "a") is False
    assert err("string-null?", NIL) == "string-null?: expected a string, got ()"


def test_copies_of_longer_strings_are_new_objects():
    s = "".join(["hel", "lo"])
    assert p("string-copy", s) == s and p("string-copy", s) is not s
    assert p("substring", s, 0) is not s
    assert p("string-append", s) is not s
    assert p("eq?", p("string-append", "a", "b"), p("string-append", "a", "b")) is False


def test_string_conversions():
    assert py(p("string->list", "abc")) == [C("a"), C("b"), C("c")]
    assert py(p("string->list", "abc", 1)) == [C("b"), C("c")]
    assert py(p("string->list", "abc", 1, 2)) == [C("b")]
    assert p("string->list", "") is NIL
    assert p("list->string", L(C("a"), C("b"))) == "ab"
    assert p("list->string", NIL) == ""
    assert err("list->string", L(C("a"), "b")) == 'list->string: expected a char, got "b"'
    assert err("list->string", C("a")).startswith("list->string: expected a proper list")
    v = p("string->vector", "ab")
    assert type(v) is Vector and v == [C("a"), C("b")]
    assert p("string->vector", "abc", 2) == [C("c")]
    assert p("vector->string", Vector([C("x"), C("y")])) == "xy"
    assert p("vector->string", Vector([C("x"), C("y")]), 1) == "y"
    assert err("vector->string", Vector([1])) == "vector->string: expected a char, got 1"
    assert err("vector->string", L(C("a"))).startswith("vector->string: expected a vector")
    big = "x" * 1_000_000
    assert len(py(p("string->list", big))) == 1_000_000


# ---------------------------------------------------------------- comparison & case


def test_string_comparisons():
    assert p("string=?", "a", "a") is True
    assert p("string=?", "a", "a", "b") is False
    assert p("string<?", "a", "b", "c") is True
    assert p("string<?", "ab", "a") is False
    assert p("string<?", "a", "ab") is True
    assert p("string>?", "b", "a") is True
    assert p("string<=?", "a", "a", "b") is True
    assert p("string>=?", "a", "b") is False
    assert p("string-ci=?", "Straße", "STRASSE") is True
    assert p("string-ci<?", "apple", "BANANA") is True
    assert p("string-ci>?", "b", "A") is True
    assert p("string-ci<=?", "A", "a") is True
    assert p("string-ci>=?", "a", "B") is False
    assert err("string=?", "a", C("a")) == "string=?: expected a string, got #\\a"
    assert err("string<?", sym("a"), "b") == "string<?: expected a string, got a"


def test_string_case():
    assert p("string-upcase", "abc") == "ABC"
    assert p("string-downcase", "ABC") == "abc"
    assert p("string-foldcase", "Straße") == "strasse"
    assert p("string-reverse", "abc") == "cba"
    assert err("string-upcase", 1) == "string-upcase: expected a string, got 1"


# ---------------------------------------------------------------- searching


def test_string_search():
    assert p("string-index", "abcb", C("b")) == 1
    assert p("string-index", "abcb", C("z")) is False
    assert p("string-index", "abcb", C("b"), 2) == 3
    assert p("string-rindex", "abcb", C("b")) == 3
    assert p("string-index-right", "abcb", C("a")) == 0
    assert err("string-index", "abc", "b") == 'string-index: expected a char, got "b"'
    assert p("string-contains", "abcd", "cd") == 2
    assert p("string-contains", "abcd", "x") is False
    assert p("string-contains", "abcd", "") == 0
    assert p("string-contains", "abab", "ab", 1) == 2
    assert err("string-contains", "abc", C("a")) == (
        "string-contains: expected a string, got #\\a"
    )
    assert p("string-search-forward", "b", "abcb", 2) == 3
    assert p("string-search-forward", "b", "abcb", 0) == 1
    assert p("string-search-forward", "z", "abcb", 0) is False
    assert err("string-search-forward", "b", "abc", 9) == (
        "string-search-forward: start index 9 out of range for length 3"
    )
    assert p("string-prefix?", "ab", "abc") is True
    assert p("string-prefix?", "abc", "ab") is False
    assert p("string-suffix?", "bc", "abc") is True
    assert p("string-suffix?", "x", "abc") is False
    assert err("string-prefix?", C("a"), "abc").startswith("string-prefix?: expected a string")
    assert p("string-count", "banana", C("a")) == 3


# ---------------------------------------------------------------- joining & splitting


def test_string_join():
    assert p("string-join", L("a", "b", "c")) == "a b c"
    assert p("string-join", L("a", "b"), ", ") == "a, b"
    assert p("string-join", NIL, ",") == ""
    assert err("string-join", L("a", 1)) == "string-join: expected a string in the list, got 1"
    assert err("string-join", L("a"), C(",")) == "string-join: expected a string, got #\\,"
    assert err("string-join", "ab").startswith("string-join: expected a proper list")


def test_string_split():
    assert py(p("string-split", "a,,b", C(","))) == ["a", "", "b"]
    assert py(p("string-split", "a b", " ")) == ["a", "b"]
    assert py(p("string-split", "", C(","))) == [""]
    assert py(p("string-split", "abc", C(","))) == ["abc"]
    assert py(p("string-split", ",a,", C(","))) == ["", "a", ""]
    assert err("string-split", "a,b", ",,") == (
        'string-split: expected a char or a one-character string, got ",,"'
    )
    assert err("string-split", "a,b", "").startswith("string-split: expected a char")
    assert err("string-split", 5, C(",")) == "string-split: expected a string, got 5"


# ---------------------------------------------------------------- padding & trimming


def test_string_pad():
    assert p("string-pad", "abc", 5) == "  abc"
    assert p("string-pad", "abcde", 3) == "cde"
    assert p("string-pad", "7", 3, C("0")) == "007"
    assert p("string-pad-left", "7", 2) == " 7"
    assert p("string-pad-right", "abc", 5) == "abc  "
    assert p("string-pad-right", "abcde", 3) == "abc"
    assert p("string-pad-right", "a", 3, C(".")) == "a.."
    assert p("string-pad", "abc", 0) == ""
    assert err("string-pad", "abc", -1) == (
        "string-pad: expected an exact non-negative integer, got -1"
    )
    assert err("string-pad", "abc", 5, "0") == 'string-pad: expected a char, got "0"'


def test_string_trim():
    assert p("string-trim", "  a b \n") == "a b"
    assert p("string-trim-both", "\t a ") == "a"
    assert p("string-trim-left", "  a  ") == "a  "
    assert p("string-trim-right", "  a  ") == "  a"
    assert p("string-trim", "   ") == ""
    assert p("string-trim", "") == ""
    assert p("string-trim", "xxaxx", C("x")) == "a"
    assert p("string-trim-left", "xxaxx", C("x")) == "axx"
    assert err("string-trim", 5) == "string-trim: expected a string, got 5"


# ---------------------------------------------------------------- symbols


def test_symbols():
    a = sym("abc")
    assert p("symbol?", a) is True
    assert p("symbol?", "abc") is False
    assert p("symbol->string", a) == "abc"
    assert p("string->symbol", "abc") is a
    assert p("string->symbol", "with space").name == "with space"
    assert err("symbol->string", "abc") == 'symbol->string: expected a symbol, got "abc"'
    assert err("string->symbol", a) == "string->symbol: expected a string, got abc"
    assert p("symbol=?", a, sym("abc")) is True
    assert p("symbol=?", a, a, sym("x")) is False
    assert err("symbol=?", a, "abc") == 'symbol=?: expected a symbol, got "abc"'
    assert p("symbol<?", sym("a"), sym("b")) is True
    assert p("symbol-append", sym("foo"), sym("bar")) is sym("foobar")


def test_uninterned_symbols():
    u = p("string->uninterned-symbol", "abc")
    assert type(u) is Symbol and u.name == "abc" and u is not sym("abc")
    assert p("symbol=?", u, sym("abc")) is False
    g1, g2 = p("gensym"), p("gensym")
    assert g1 is not g2 and g1.name != g2.name
    assert g1 is not sym(g1.name)
    assert p("gensym", "tmp").name.startswith("tmp")
    assert p("gensym", sym("x")).name.startswith("x")
    assert err("gensym", 5) == "gensym: expected a string or a symbol, got 5"
