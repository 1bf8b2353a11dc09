"""Mutable strings: string-set!, string-fill!, string-copy!; which procedures make new
(mutable) strings and which strings are immutable; both kinds everywhere a string goes
(comparison, equal?, hash tables, symbols, ports, the printer, the host)."""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interp import write_string
from interp.values import MString, equal, is_string, string_text

from evalhelp import error, ev, interp


def msg(src):
    return error(src).message


# ---------------------------------------------------------------- mutation


def test_string_set_changes_the_string_seen_through_every_reference():
    assert ev('(define s (make-string 3 #\\a)) (define t s) (string-set! s 1 #\\λ) (list s t (eq? s t))') \
        == '("aλa" "aλa" #t)'


def test_string_fill_whole_and_ranges():
    assert ev('(let ((s (string-copy "abcdef"))) (string-fill! s #\\x) s)') == '"xxxxxx"'
    assert ev('(let ((s (string-copy "abcdef"))) (string-fill! s #\\x 2) s)') == '"abxxxx"'
    assert ev('(let ((s (string-copy "abcdef"))) (string-fill! s #\\x 2 4) s)') == '"abxxef"'
    assert ev('(let ((s (string-copy "abcdef"))) (string-fill! s #\\x 3 3) s)') == '"abcdef"'
    assert ev('(let ((s (make-string 0))) (string-fill! s #\\x) s)') == '""'


@pytest.mark.parametrize("args, expected", [
    ("1 s 0 3", '"aabcef"'),    # overlapping, copying to the right
    ("0 s 2 6", '"cdefef"'),    # overlapping, copying to the left
    ("0 s", '"abcdef"'),        # onto itself
    ("6 s 6", '"abcdef"'),      # nothing, at the very end
    ("4 \"XY\"", '"abcdXY"'),
    ("2 \"XYZ\" 1", '"abYZef"'),
    ("0 (string-copy \"12345\") 1 3", '"23cdef"'),
])
def test_string_copy_into(args, expected):
    assert ev(f'(define s (string-copy "abcdef")) (string-copy! s {args}) s') == expected


def test_mutation_interleaved_with_whole_string_operations():
    # a mutated string keeps its characters as a list; whole-string operations join
    # them; later mutations and reads must all see the latest characters
    src = """
      (define s (string-copy "hello"))
      (define out '())
      (define (note x) (set! out (cons x out)))
      (string-set! s 0 #\\j)
      (note (string-append s "!"))
      (string-set! s 4 #\\y)
      (note (string-ref s 4))
      (note (string-length s))
      (note (string->list s 3))
      (string-copy! s 1 "EL")
      (note (string->symbol s))
      (note (string=? s "jELly"))
      (string-fill! s #\\z 3)
      (note (list s (substring s 2) (string-upcase s)))
      (reverse out)"""
    assert ev(src) == '("jello!" #\\y 5 (#\\l #\\y) jELly #t ("jELzz" "Lzz" "JELZZ"))'


def test_mutation_errors_name_the_procedure_and_the_culprit():
    assert msg('(string-set! (make-string 2 #\\a) 2 #\\b)') == "string-set!: index 2 out of range for string of length 2"
    assert msg('(string-set! (make-string 2 #\\a) -1 #\\b)') == "string-set!: expected an exact non-negative integer, got -1"
    assert msg('(string-set! (make-string 2 #\\a) 0 "b")') == 'string-set!: expected a char, got "b"'
    assert msg("(string-set! 'abc 0 #\\b)") == "string-set!: expected a string, got abc"
    assert msg('(string-fill! (make-string 2) #\\a 3)') == "string-fill!: start index 3 out of range for length 2"
    assert msg('(string-fill! (make-string 2) 1)') == "string-fill!: expected a char, got 1"
    assert msg('(string-copy! (make-string 2 #\\a) 0 "abc")') == \
        "string-copy!: 3 characters do not fit at index 0 in a string of length 2"
    assert msg('(string-copy! (make-string 2 #\\a) 3 "")') == \
        "string-copy!: 0 characters do not fit at index 3 in a string of length 2"
    assert msg('(string-copy! (make-string 2 #\\a) 0 "abc" 2 1)') == \
        "string-copy!: start index 2 is greater than end index 1"
    assert msg('(string-copy! (make-string 2 #\\a) 0 #\\c)') == "string-copy!: expected a string, got #\\c"


@pytest.mark.parametrize("src, shown", [
    ('(string-set! "literal" 0 #\\L)', '"literal"'),
    ('(define s "abc") (string-fill! s #\\x)', '"abc"'),
    ("(string-copy! (symbol->string 'sym) 0 \"x\")", '"sym"'),
    ('(string-set! (quote ("in a list")) 0 #\\x)', None),  # a list is not a string at all
])
def test_literals_and_symbol_names_are_immutable(src, shown):
    m = msg(src)
    if shown is None:
        assert "expected a string" in m
    else:
        assert "cannot change the immutable string " + shown in m and "string-copy" in m


# ---------------------------------------------------------------- fresh strings

FRESH = [
    '(make-string 2 #\\a)', '(string #\\a #\\b)', '(string-copy "ab")', '(string-copy "xab" 1)',
    '(substring "xaby" 1 3)', '(string-append)', '(string-append "ab")', '(string-append "a" "b")',
    '(string-append "a" "" "b")', '(string-append "a" (string #\\b) "" "")', "(list->string '(#\\a #\\b))",
    '(vector->string #(#\\a #\\b))', '(utf8->string (bytevector 97 98))', '(string-upcase "ab")',
    '(string-downcase "AB")', '(string-foldcase "AB")', '(read-string 2 (open-input-string "abc"))',
    '(read-line (open-input-string "ab\\ncd"))',
    '(let ((p (open-output-string))) (write-string "ab" p) (get-output-string p))',
    '(string-join (list "a" "b") "")', '(car (string-split "ab,c" #\\,))', '(string-pad "ab" 2)',
    '(string-trim "  ab ")', '(string-reverse "ba")', '(format #f "~a~a" "a" "b")',
    '(string-map char-downcase "AB")',
]


@pytest.mark.parametrize("make", FRESH)
def test_procedures_that_make_strings_make_new_mutable_ones(make):
    src = f"""
      (define a {make})
      (define b {make})
      (define before (string-copy a))
      (if (> (string-length a) 0) (string-set! a 0 #\\z))
      (list (eq? a b) (eqv? a b) (equal? before b) (string? a)
            (if (> (string-length a) 0) (string-ref a 0) #\\z))"""
    assert ev(src) == "(#f #f #t #t #\\z)"


def test_a_fresh_one_character_string_is_not_a_literal():
    assert ev('(define lit "b") (define made (string #\\b)) (list (equal? lit made) (eq? lit made) (eqv? lit made))') \
        == "(#t #f #f)"
    assert ev("(define s (make-string 1 #\\a)) (eq? s s)") == "#t"
    assert ev("(memq (string #\\a) (list \"a\"))") == "#f"
    assert ev("(member (string #\\a) (list \"b\" \"a\"))") == '("a")'
    assert ev("(assoc (string #\\a) (list (cons \"a\" 1)))") == '("a" . 1)'


# ---------------------------------------------------------------- both kinds everywhere

# procedures applied to S, a string with the same characters given as a literal or as a
# mutable (and mutated) copy: the answers must be the same
ACCEPTING = [
    "(string-length S)", "(string-ref S 1)", "(string=? S \"aBc d\")", "(string=? \"aBc d\" S S)",
    "(string<? S \"b\")", "(string>? S \"a\" \"\")", "(string-ci=? S \"ABC D\")", "(string-ci<? \"A\" S)",
    "(string->list S 1 3)", "(string->vector S)", "(string->symbol S)", "(string->utf8 S)",
    "(string-copy S 2)", "(substring S 0 2)", "(string-append S S)", "(string-upcase S)",
    "(string-index S #\\c)", "(string-contains S \"c d\")", "(string-prefix? \"aB\" S)",
    "(string-suffix? S \"d\")", "(string-null? S)", "(string-join (list S S) S)",
    "(string-split S #\\space)", "(string-pad S 7 #\\*)", "(string-trim S #\\a)",
    "(string->number S)", "(read (open-input-string S))", "(equal? S \"aBc d\")",
    "(equal? (list 1 (vector S)) (list 1 (vector \"aBc d\")))", "(hash-table-ref/default H S 'none)",
    "(let ((p (open-output-string))) (write S p) (display S p) (write-string S p 1 3) (get-output-string p))",
    "(string->uninterned-symbol S)", "(symbol->string (string->symbol S))", "(string? S)",
    "(string-map char-upcase S)", "(let ((n 0)) (string-for-each (lambda (c) (set! n (+ n 1))) S) n)",
    "(error-object-message (guard (e (#t e)) (error S 1)))", "(format #f \"<~a ~s>\" S S)",
    "(with-output-to-string (lambda () (display S)))",
]


@pytest.mark.parametrize("expr", ACCEPTING)
def test_every_string_procedure_takes_both_kinds(expr):
    table = '(define H (make-equal-hash-table)) (hash-table-set! H "aBc d" 1)'
    literal = ev(f'{table} (define S "aBc d") {expr}')
    mutable = ev(f'{table} (define S (string-copy "xBc d")) (string-set! S 0 #\\a) {expr}')
    assert literal == mutable


def test_equal_hash_tables_hash_mutable_strings_by_their_characters():
    src = """
      (define h (make-equal-hash-table))
      (define k (string-copy "key"))
      (hash-table-set! h k 'mutable)
      (hash-table-set! h "key" 'literal)
      (list (hash-table-count h) (hash-table-ref/default h (string #\\k #\\e #\\y) #f)
            (eq? (car (hash-table-keys h)) k))"""
    assert ev(src) == "(1 literal #t)"
    # eqv? tables: by identity
    assert ev('(define h (make-eqv-hash-table)) (define k (string-copy "k")) (hash-table-set! h k 1)'
              ' (list (hash-table-ref/default h k #f) (hash-table-ref/default h (string-copy "k") #f))') == "(1 #f)"
    # a key mutated after it went in is not found by its new characters (as for list keys)
    assert ev('(define h (make-equal-hash-table)) (define k (string-copy "ab")) (hash-table-set! h k 1)'
              ' (string-set! k 0 #\\x) (hash-table-ref/default h k #f)') == "#f"


def test_printer_writes_both_kinds_the_same():
    it = interp()
    it.eval('(define m (string-copy "q\\"\\\\\\n\\x7;"))')
    lit = it.eval('"q\\"\\\\\\n\\x7;"')
    assert write_string(it.lookup("m")) == write_string(lit) == '"q\\"\\\\\\n\\a"'
    it.eval("(string-set! m 0 #\\λ)")
    assert ev('(define p (open-output-string)) (display (list (string-copy "a b") "c") p) (get-output-string p)',
              it) == '"(a b c)"'
    assert write_string(it.eval("(vector m)")) == '#("λ\\"\\\\\\n\\a")'


def test_the_host_sees_python_str():
    it = interp()
    v = it.eval('(string-append "a" "b")')
    assert type(v) is str and v == "ab"
    assert type(it.call("string-copy", "xy")) is str
    made = it.eval('(list (string-copy "a"))')
    assert type(made.car) is MString and made.car == "a" and "a" == made.car and made.car != "b"
    assert hash(made.car) == hash("a") and str(made.car) == "a" and repr(made.car) == "MString('a')"
    assert is_string(made.car) and is_string("a") and not is_string(1)
    assert string_text(made.car) == "a" and string_text("b") == "b"
    twin = copy.deepcopy(made.car)
    assert twin == made.car and twin is not made.car


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.text(max_size=4), max_size=4), st.lists(st.booleans(), max_size=4))
def test_equal_sees_only_the_characters(texts, mutable):
    """equal? (Python's interp.values.equal) of nested data that differ only in which
    strings are mutable is #t; changing one character makes it #f."""
    from interp.values import Vector, list_to_pairs

    kinds = [MString(t) if i < len(mutable) and mutable[i] else t for i, t in enumerate(texts)]
    a = list_to_pairs([Vector(kinds), list_to_pairs(kinds)])
    b = list_to_pairs([Vector(texts), list_to_pairs(texts)])
    assert equal(a, b) and equal(b, a)
    if texts and texts[0]:
        changed = [texts[0][:-1] + chr(ord(texts[0][-1]) ^ 1)] + texts[1:]
        assert not equal(a, list_to_pairs([Vector(changed), list_to_pairs(changed)]))
