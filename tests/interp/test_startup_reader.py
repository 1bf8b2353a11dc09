"""The reader's fast path (interp/reader_fast.py) reads exactly what the Lark reader reads:
the same datums with every pair at the same position, the same positions per top-level
form, and the same errors (it hands anything odd to Lark); common programs never
import Lark."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.errors import SchemeSyntaxError
from interp.reader import read_all, read_all_lark
from interp.reader_fast import read_common
from interp.values import Char, Pair, Vector, equal

ROOT = Path(__file__).resolve().parents[2]


def same_with_positions(a, b, seen=None):
    """Equal data of the same types, and every pair at the same source position
    (cycles, from datum labels, are followed once)."""
    if type(a) is not type(b):
        return False
    if seen is None:
        seen = set()
    if type(a) is Pair:
        while type(a) is Pair and type(b) is Pair:
            if (id(a), id(b)) in seen:
                return True
            seen.add((id(a), id(b)))
            if getattr(a, "pos", None) != getattr(b, "pos", None):
                return False
            if not same_with_positions(a.car, b.car, seen):
                return False
            a, b = a.cdr, b.cdr
        return same_with_positions(a, b, seen)
    if type(a) is Vector:
        if (id(a), id(b)) in seen:
            return True
        seen.add((id(a), id(b)))
        return len(a) == len(b) and all(same_with_positions(x, y, seen) for x, y in zip(a, b))
    if type(a) is float and a != a:
        return b != b
    if type(a) is float:
        return repr(a) == repr(b)  # -0.0 and 0.0
    return equal(a, b)


def both_readers(text, filename="t.scm"):
    """(outcome of read_all, outcome of the Lark reader): each a list of
    (datums, positions) or the error text `file:line:col: message`."""
    out = []
    for reader in (read_all, read_all_lark):
        positions = []
        try:
            out.append((reader(text, filename, positions), positions))
        except SchemeSyntaxError as e:
            out.append(str(e.format() if hasattr(e, "format") else e))
    return out


def assert_same_reading(text, filename="t.scm"):
    fast, lark = both_readers(text, filename)
    if isinstance(lark, str) or isinstance(fast, str):
        assert fast == lark, text
        return
    (d1, p1), (d2, p2) = fast, lark
    assert len(d1) == len(d2), text
    assert all(same_with_positions(a, b) for a, b in zip(d1, d2)), text
    assert p1 == p2, text


# ---------------------------------------------------------------- examples


COMMON = [
    "",
    "   ; only a comment\n",
    "(define (f x) (* x 2))\n(f 21)\n",
    "(a . b) (a b . c) [a b] [a . b] #(1 2 #(3)) ()",
    "'x `(a ,b ,@c) '(1 . 2) ''x ',@'y",
    "#;x y (a #;b c) (a . #;b c) ' #;a b #; 'a b #;#;a b c",
    '"plain" "esc\\n\\t\\x41;\\\\" "multi\nline" "cont\\\n   inued"',
    "#\\a #\\space #\\x41 #\\( #\\) #\\; #\\\" #\\x #\\newline",
    "|odd sym| |a\\|b| a|b|c",
    "1 -2 3.5 -0.0 1/3 #x1F #e1.5 +inf.0 1e3 12345678901234567890 .5 1+ ... -> - +",
    "#t #f #true #false",
    "(x\n  (y\n\t z)  ; c\n w)\r\n(v)",
    "\u00e9t\u00e9 (\u03bb x) \"\u00fc\"",
]

UNCOMMON_OR_BAD = [
    "#| block |# x",
    "#!fold-case ABC #\\SPACE",
    "#0=(a . #0#)",
    "#u8(1 2 255)",
    "(a b",
    "a b)",
    "(a . )",
    "( . a)",
    "(a . b c)",
    "(a . b . c)",
    "#(a . b)",
    "[a b)",
    "(a b]",
    "'",
    "(a ')",
    "#;",
    '"unterminated',
    '"bad \\q escape"',
    "#\\nosuchname",
    "#\\",
    "#",
    "#z",
    "|unterminated",
    "|# x",
    ".",
    "'.",
    "#xZZ",
    "1" * 5000,
    "(#!no-fold-case a)",
]


@pytest.mark.parametrize("text", COMMON)
def test_common_syntax_is_read_without_lark_exactly_as_lark_reads_it(text):
    assert read_common(text, "t.scm") is not None, "the fast path should take this"
    assert_same_reading(text)


@pytest.mark.parametrize("text", UNCOMMON_OR_BAD)
def test_other_syntax_and_errors_go_to_lark(text):
    assert read_common(text, "t.scm") is None or text == "1" * 5000
    assert_same_reading(text)


def test_errors_name_file_line_and_column():
    with pytest.raises(SchemeSyntaxError) as e:
        read_all("(a\n (b c]\n", "prog.scm")
    assert str(e.value.pos) == "prog.scm:2:6"
    assert "the ( opened at 2:2 is closed by )" in e.value.message


def test_every_scheme_file_in_the_repository_reads_the_same():
    files = [p for p in ROOT.rglob("*.scm") if ".git" not in p.parts]
    assert len(files) > 10
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert_same_reading(text, str(path))


def test_deep_nesting_and_long_lists_read_without_recursion():
    text = "(" * 100000 + ")" * 100000 + " (" + "x " * 200000 + ")"
    entries = read_common(text, None)
    assert entries is not None and len(entries) == 2
    d = entries[0][0]
    depth = 0
    while type(d) is Pair:
        d = d.car
        depth += 1
    assert depth == 99999


def test_a_one_line_program_does_not_import_lark(tmp_path):
    prog = tmp_path / "one.scm"
    prog.write_text('(display "ok")(newline)\n')
    code = (
        "import sys, interp; it = interp.Interpreter(); it.eval_file(sys.argv[1]);"
        "print('lark' in sys.modules)"
    )
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    r = subprocess.run(
        [sys.executable, "-c", code, str(prog)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ok", "False"]


# ---------------------------------------------------------------- generated text

PIECES = [
    "(", ")", "[", "]", "#(", ".", " . ", "'", "`", ",", ",@", "#;", " ", "\n", "\t", "\r\n",
    "; c\n", "a", "foo", "x1", "1", "-2", "3.5", "1/2", "#x1F", "#t", "#f", "...", ".5", "+",
    "-", "#", "#z", '"s"', '"a\\nb"', '"\\x41;"', '"bad\\q"', '"un', '"l1\nl2"', "#\\a",
    "#\\space", "#\\(", "#\\x41", "#\\bad", "|a b|", "|x", "#|c|#", "#|", "|#", "#!fold-case",
    "#0=", "#0#", "#u8(", "\u03bb", "1e400", "#e1e400",
]


@st.composite
def token_soup(draw):
    return "".join(draw(st.lists(st.sampled_from(PIECES), max_size=40)))


ATOMS = st.sampled_from(["a", "b1", "42", "-7", "2.5", "1/3", "#t", '"s"', "#\\x", "|p q|", "..."])


def _compound(children):
    return st.one_of(
        st.lists(children, max_size=4).map(lambda xs: "(" + " ".join(xs) + ")"),
        st.lists(children, max_size=4).map(lambda xs: "[" + "\n".join(xs) + "]"),
        st.lists(children, max_size=4).map(lambda xs: "#(" + " ".join(xs) + ")"),
        st.tuples(st.lists(children, min_size=1, max_size=3), children).map(
            lambda t: "(" + " ".join(t[0]) + " . " + t[1] + ")"
        ),
        st.tuples(st.sampled_from(["'", "`", ",", ",@", "#;x "]), children).map("".join),
        st.tuples(children, st.sampled_from([" ;c\n", "\n\n", "\t"])).map("".join),
    )


WELL_FORMED = st.recursive(ATOMS, _compound, max_leaves=25)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(token_soup())
def test_token_soup_reads_the_same_both_ways(text):
    assert_same_reading(text)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(WELL_FORMED, min_size=1, max_size=4).map("\n".join))
def test_well_formed_data_read_the_same_both_ways(text):
    assert_same_reading(text)


def test_characters_read_through_the_fast_path_are_the_interned_ones():
    entries = read_common("#\\a #\\space", None)
    assert [type(e[0]) for e in entries] == [Char, Char]
    assert entries[0][0] is read_all_lark("#\\a")[0]
