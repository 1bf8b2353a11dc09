"""define-library and import: exports (renamed, syntax), import sets over standard
and user libraries, declarations (begin, include, include-library-declarations,
cond-expand), a library's own environment and shared state, and the errors (which
name the library and the place)."""

import pytest

from evalhelp import error, ev, interp

COUNTER = """
(define-library (util counter)
  (export next! (rename current counter-value))
  (import (scheme base))
  (begin
    (define n 0)
    (define (next!) (set! n (+ n 1)) n)
    (define (current) n)))
"""


def test_exports_are_the_library_cells_so_state_is_shared():
    it = interp()
    it.eval(COUNTER)
    assert ev("(import (util counter)) (next!) (next!) (counter-value)", it) == "2"
    # a second importer (another library) sees the same variable
    it.eval("""
      (define-library (util reader)
        (export peek)
        (import (scheme base) (util counter))
        (begin (define (peek) (counter-value))))
      (import (util reader))""")
    assert ev("(next!) (peek)", it) == "3"


def test_unexported_and_renamed_away_names_are_not_visible():
    it = interp()
    it.eval(COUNTER + "(import (util counter))")
    assert "unbound variable: n" in error("n", it).message
    assert "unbound variable: current" in error("(current)", it).message


def test_library_body_does_not_see_the_program_globals():
    it = interp()
    it.eval("(define helper 'program)")
    it.eval("""
      (define-library (l body)
        (export get)
        (import (scheme base))
        (begin (define (get) helper)))
      (import (l body))""")
    assert "unbound variable: helper" in error("(get)", it).message
    # and the program's definition of the same name does not reach into it
    it.eval("""
      (define-library (l own)
        (export get-own)
        (import (scheme base))
        (begin (define helper 'library) (define (get-own) helper)))
      (import (l own))""")
    assert ev("(list helper (get-own))", it) == "(program library)"


def test_library_imports_only_what_it_names():
    # (scheme base) has no char-upcase: the library body cannot use it
    it = interp()
    it.eval("""
      (define-library (l chars)
        (export up)
        (import (scheme base))
        (begin (define (up c) (char-upcase c))))
      (import (l chars))""")
    assert "unbound variable: char-upcase" in error("(up #\\a)", it).message
    it.eval("""
      (define-library (l chars2)
        (export up2)
        (import (scheme base) (only (scheme char) char-upcase))
        (begin (define (up2 c) (char-upcase c))))
      (import (l chars2))""")
    assert ev("(up2 #\\a)", it) == "#\\A"


MACRO_LIBRARY = """
  (define-library (l mac)
    (export twice)
    (import (scheme base))
    (begin
      (define (double-it x) (* 2 x))
      (define-syntax twice (syntax-rules () ((_ e) (double-it e))))))
  (import (l mac))"""


def test_exported_macro_refers_to_library_private_bindings():
    it = interp()
    it.eval(MACRO_LIBRARY)
    assert ev("(twice 21)", it) == "42"
    assert "unbound variable: double-it" in error("(double-it 1)", it).message
    # the program's own double-it neither breaks nor is used by the macro
    assert ev("(define (double-it x) 'mine) (list (twice 5) (double-it 5))", it) == "(10 mine)"


@pytest.mark.parametrize(
    "spec, program, expected",
    [
        ("(only (l sets) a)", "a", "1"),
        ("(except (l sets) a)", "(list b c)", "(2 3)"),
        ("(prefix (l sets) s:)", "(list s:a s:b s:c)", "(1 2 3)"),
        ("(rename (l sets) (a first) (c third))", "(list first b third)", "(1 2 3)"),
        ("(prefix (rename (only (l sets) a b) (b bee)) x-)", "(list x-a x-bee)", "(1 2)"),
    ],
)
def test_import_sets_of_a_user_library(spec, program, expected):
    it = interp()
    it.eval("""
      (define-library (l sets)
        (export a b c)
        (import (scheme base))
        (begin (define a 1) (define b 2) (define c 3)))""")
    assert ev(f"(import {spec}) {program}", it) == expected


def test_import_sets_filter_what_is_visible():
    it = interp()
    it.eval("""
      (define-library (l sets)
        (export a b)
        (import (scheme base))
        (begin (define a 1) (define b 2)))
      (import (only (l sets) a))""")
    assert "unbound variable: b" in error("b", it).message
    it = interp()
    it.eval("""
      (define-library (l sets)
        (export a b)
        (import (scheme base))
        (begin (define a 1) (define b 2)))
      (import (prefix (l sets) p-))""")
    assert "unbound variable: a" in error("a", it).message


def test_library_with_renamed_standard_imports():
    src = """
      (define-library (l renamed)
        (export go)
        (import (rename (scheme base) (+ plus) (define def)) (prefix (only (scheme base) list) std-))
        (begin (def (go) (std-list (plus 1 2)))))
      (import (l renamed))
      (go)"""
    assert ev(src) == "(3)"


def test_numeric_name_parts_and_reexport():
    src = """
      (define-library (l 2 base) (export v) (import (scheme base)) (begin (define v 'two)))
      (define-library (l 2 again) (export v) (import (l 2 base)))
      (import (l 2 again))
      v"""
    assert ev(src) == "two"


def test_declarations_cond_expand_include_and_include_library_declarations(tmp_path):
    (tmp_path / "body.scm").write_text("(define (body-proc) 'from-body)\n")
    (tmp_path / "decls.scm").write_text('(export body-proc feature)\n(include "body.scm")\n')
    prog = tmp_path / "prog.scm"
    prog.write_text("""
      (define-library (l decl)
        (import (scheme base))
        (include-library-declarations "decls.scm")
        (cond-expand
          ((and r7rs (not no-such-feature)) (begin (define feature 'r7rs)))
          (else (begin (define feature 'other)))))
      (import (l decl))
      (list (body-proc) feature)
    """)
    it = interp()
    from interp import write_string

    assert write_string(it.eval_file(str(prog))) == "(from-body r7rs)"


def test_cond_expand_library_requirement_sees_user_libraries():
    src = """
      (define-library (l present) (export x) (import (scheme base)) (begin (define x 1)))
      (cond-expand ((library (l present)) 'yes) (else 'no))"""
    assert ev(src) == "yes"
    assert ev("(cond-expand ((library (l absent)) 'yes) (else 'no))") == "no"


def test_library_body_runs_when_the_form_runs():
    it = interp()
    it.eval("""(define-library (l effect) (export v) (import (scheme base) (scheme write))
                 (begin (display "ran;") (define v 1)))""")
    assert it.stdout.getvalue() == "ran;"
    it.eval("(import (l effect)) (display v)")
    assert it.stdout.getvalue() == "ran;1"


def test_macro_defined_with_the_same_name_in_two_libraries_do_not_clash():
    src = """
      (define-library (l one) (export m) (import (scheme base))
        (begin (define k 'one) (define-syntax m (syntax-rules () ((_) k)))))
      (define-library (l two) (export (rename m m2)) (import (scheme base))
        (begin (define k 'two) (define-syntax m (syntax-rules () ((_) k)))))
      (import (l one) (l two))
      (list (m) (m2))"""
    assert ev(src) == "(one two)"


@pytest.mark.parametrize(
    "src, message",
    [
        ("(define-library (l bad)\n  (export missing)\n  (import (scheme base))\n  (begin (define here 1)))",
         "t.scm:2:3: define-library (l bad): exports missing, which it neither defines nor imports"),
        ("(define-library (l bad) (import (no such lib)))", "import: unknown library (no such lib)"),
        ("(define-library (l bad) (frobnicate))", "define-library (l bad): unknown library declaration (frobnicate)"),
        ("(define-library (l bad) (export (rename a)))", "define-library (l bad): bad export spec (rename a)"),
        ("(define-library (l bad) (export a (rename b a)) (import (scheme base)) (begin (define a 1) (define b 2)))",
         "define-library (l bad): a exported twice"),
        ("(define-library (l \"x\") (export))", "define-library: bad library name (l \"x\")"),
        ("(define-library)", "define-library: expected a library name"),
        ("(let () (define-library (l x) (export)) 1)", "define-library: only allowed at top level"),
        ("(import (nope))", "import: unknown library (nope)"),
        ("(let () (import (scheme base)) 1)", "import: only allowed at top level"),
        ("(import (only (scheme base) no-such-name))",
         "import: (only ...): no-such-name is not exported by (scheme base)"),
        ("(import (rename (scheme char) (car kar)))", "import: (rename ...): car is not exported by (scheme char)"),
        ("(define-library (l e) (export) (import (scheme base)) (begin (define x (car '()))))", "car: expected a pair"),
    ],
)
def test_define_library_errors_name_the_library_and_the_place(src, message):
    e = error(src, filename="t.scm")
    assert message in str(e)
    assert str(e).startswith("t.scm:")


def test_imported_variables_cannot_be_assigned_but_can_be_redefined():
    it = interp()
    it.eval(COUNTER + "(import (util counter))")
    assert "cannot assign the imported variable next!" in error("(set! next! 5)", it).message
    # a program definition makes its own binding; the library keeps its own
    assert ev("(define (next!) 'mine) (list (next!) (counter-value))", it) == "(mine 0)"


def test_redefining_a_library_replaces_it_for_later_imports():
    src = """
      (define-library (l v) (export v) (import (scheme base)) (begin (define v 1)))
      (define-library (l v) (export v) (import (scheme base)) (begin (define v 2)))
      (import (l v))
      v"""
    assert ev(src) == "2"
