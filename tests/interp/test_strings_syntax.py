"""Reader and printer corners of R7RS 2.1, 2.4 and 6.13: the #!fold-case and
#!no-fold-case directives (program text and `read`), square brackets, and datum
labels from write-shared (all sharing) versus write (cycles only)."""

import pytest

from interp.errors import SchemeSyntaxError
from interp.printer import write_shared_string, write_string
from interp.reader import read_all, read_datum
from interp.values import EOF_OBJECT, char, sym

from evalhelp import error, ev


# ---------------------------------------------------------------- #!fold-case


def test_fold_case_folds_identifiers_and_character_names_only():
    text = '#!fold-case (DEFINE Straße #\\SPACE #\\A #\\X41 "ABC" |Bar| #T #X1F 1E2)'
    (d,) = read_all(text)
    items = list(d)
    assert items[:2] == [sym("define"), sym("strasse")]  # string-foldcase, not lower()
    assert items[2] is char(" ") and items[3] is char("A") and items[4] is char("A")
    assert items[5] == "ABC" and items[6] is sym("Bar")  # strings and |symbols| as written
    assert items[7] is True and items[8] == 31 and items[9] == 100.0


def test_no_fold_case_turns_it_off_and_each_read_starts_unfolded():
    data = read_all("A #!fold-case B (C #!no-fold-case D) E")
    assert [write_string(d) for d in data] == ["A", "b", "(c D)", "E"]
    assert read_all("X") == [sym("X")]  # a new read_all: not folded
    with pytest.raises(SchemeSyntaxError, match="bad character name"):
        read_all("#\\SPACE")


def test_directives_need_a_delimiter_after_them():
    with pytest.raises(SchemeSyntaxError, match="unknown # syntax #!fold-caseX"):
        read_all("#!fold-caseX a")
    assert [write_string(d) for d in read_all("#!fold-case(A)")] == ["(a)"]


def test_fold_case_state_carries_from_one_read_datum_to_the_next():
    class Port:
        fold_case = False

    p = Port()
    text = "#!fold-case A ; comment\n B #!no-fold-case C"
    a, i = read_datum(text, 0, None, fold_state=p)
    assert a is sym("a") and p.fold_case is True
    b, i = read_datum(text, i, None, fold_state=p)
    c, i = read_datum(text, i, None, fold_state=p)
    assert (b, c) == (sym("b"), sym("C")) and p.fold_case is False
    assert read_datum(text, i, None, fold_state=p)[0] is EOF_OBJECT
    # without a state: every read starts unfolded
    assert read_datum("B", 0)[0] is sym("B")


def test_fold_case_in_programs_and_through_read():
    assert ev("#!fold-case (DEFINE (SQ X) (* X X)) #!no-fold-case (sq 4)") == "16"
    assert ev('(define p (open-input-string "#!fold-case HELLO #\\\\NEWLINE World #!no-fold-case World"))'
              " (list (read p) (read p) (read p) (read p) (read p))") == "(hello #\\newline world World #<eof>)"
    # each port has its own state
    assert ev('(define p (open-input-string "#!fold-case A B")) (define q (open-input-string "A"))'
              " (list (read p) (read q) (read p))") == "(a A b)"
    assert "DEFINE" in error("(DEFINE x 1)").message


# ---------------------------------------------------------------- brackets


def test_brackets_are_list_parentheses():
    assert ev("(let ([x 1] [y 2]) (+ x y))") == "3"
    assert ev("'[a [b] (c . [d]) #(e) . f]") == "(a (b) (c d) #(e) . f)"
    assert ev("(quote [])") == "()"
    assert [write_string(d) for d in read_all("a[b]c")] == ["a", "(b)", "c"]
    assert [write_string(d) for d in read_all("#\\[ #\\] [#\\a]")] == ["#\\[", "#\\]", "(#\\a)"]


@pytest.mark.parametrize("text, message", [
    ("(a]", "1:3: unexpected ]: the ( opened at 1:1 is closed by )"),
    ("[a)", "1:3: unexpected ): the [ opened at 1:1 is closed by ]"),
    ("(a [b) c]", "1:6: unexpected ): the [ opened at 1:4 is closed by ]"),
    ("#(a]", "1:4: unexpected ]: the #( opened at 1:1 is closed by )"),
    ("a]", "1:2: unexpected ]"),
    ("[a b", "1:1: unclosed [ opened at 1:1"),
    ("[. a]", "1:2: unexpected ."),
])
def test_mismatched_brackets_are_syntax_errors(text, message):
    with pytest.raises(SchemeSyntaxError) as info:
        read_all(text)
    assert str(info.value).endswith(message)


def test_symbols_holding_brackets_are_written_with_bars_and_read_back():
    for name in ("[", "a]b", "[x]"):
        text = write_string(sym(name))
        assert text.startswith("|") and read_all(text) == [sym(name)]


def test_read_datum_ends_a_bracketed_datum_at_its_bracket():
    d, end = read_datum("[a [b]] rest", 0)
    assert write_string(d) == "(a (b))" and end == 7
    with pytest.raises(SchemeSyntaxError, match="closed by"):
        read_datum("[a (b]) c", 0)


# ---------------------------------------------------------------- write-shared


def out(src):
    return ev(f"(define p (open-output-string)) {src} (get-output-string p)")


def test_write_shared_labels_every_shared_pair_and_vector():
    assert out("(define x (list 1 2)) (write-shared (list x x) p)") == '"(#0=(1 2) #0#)"'
    assert out("(define v (vector 1)) (write-shared (list v (list v)) p)") == '"(#0=#(1) (#0#))"'
    assert out("(define a (list 'a)) (define b (list 'b)) (write-shared (vector a b b a) p)") \
        == '"#(#0=(a) #1=(b) #1# #0#)"'
    # a shared tail is labelled where the list reaches it
    assert out("(define t (list 2 3)) (write-shared (list (cons 1 t) t) p)") == '"((1 . #0=(2 3)) #0#)"'
    # cycles too
    assert out("(define x (list 1 2)) (set-cdr! (cdr x) x) (write-shared x p)") == '"#0=(1 2 . #0#)"'
    # nothing shared: no labels; atoms never get labels (strings included)
    assert out('(define s (string-copy "s")) (write-shared (list s s \'(1) \'(1)) p)') == '"(\\"s\\" \\"s\\" (1) (1))"'
    assert out("(write-shared 'atom p)") == '"atom"'


def test_write_labels_only_cycles_and_display_like_write():
    assert out("(define x (list 1 2)) (write (list x x) p)") == '"((1 2) (1 2))"'
    assert out("(define x (list 1 2)) (set-cdr! (cdr x) x) (write (list x x) p)") == '"(#0=(1 2 . #0#) #0#)"'
    assert out("(define x (list 1 2)) (write-simple (list x x) p)") == '"((1 2) (1 2))"'


def test_write_shared_text_reads_back_with_the_same_sharing():
    src = """
      (define x (list 1 2)) (define v (vector x 'y))
      (define data (list v x (list v)))
      (define p (open-output-string))
      (write-shared data p)
      (define back (read (open-input-string (get-output-string p))))
      (list (equal? back data) (eq? (vector-ref (car back) 0) (cadr back)) (eq? (car back) (car (caddr back))))"""
    assert ev(src) == "(#t #t #t)"


def test_write_shared_string_matches_write_without_sharing():
    for text in ("(1 (2 #(3 \"x\")) . 4)", "#(a b)", "\"str\"", "()"):
        (d,) = read_all(text)
        assert write_shared_string(d) == write_string(d)
