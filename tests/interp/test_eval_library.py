"""The forms of issue 3 besides macros and control: case-lambda, the values forms,
records, parameters, promises, include, import, cond-expand, and the small
everyday pieces (receive, and-let*, format, ports and files, time, random, exit)."""

import io
import os
import time

import pytest

from evalhelp import error, ev, interp, output
from interp import Interpreter
from interp.primitives.io import SchemeExit


def check(src, expected):
    assert ev(src) == expected


# ---------------------------------------------------------------- case-lambda, values


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(define f (case-lambda ((x) (list 'one x)) ((x y) (list 'two x y)) ((x . r) (list 'many x r))))"
         " (list (f 1) (f 1 2) (f 1 2 3))", "((one 1) (two 1 2) (many 1 (2 3)))"),
        ("(define g (case-lambda (() 'none) (args (length args)))) (list (g) (g 1 2))", "(none 2)"),
        ("(define (h . a) a) (define k (case-lambda ((a) a))) (procedure? k)", "#t"),
        ("(call-with-values (lambda () (values 1 2)) +)", "3"),
        ("(call-with-values (lambda () (values)) list)", "()"),
        ("(call-with-values (lambda () 5) list)", "(5)"),
        ("(call-with-values values list)", "()"),
        ("(let-values (((a b) (values 1 2)) ((c . d) (values 3 4 5))) (list a b c d))", "(1 2 3 (4 5))"),
        ("(let-values ((all (values 1 2))) all)", "(1 2)"),
        ("(let ((a 'outer)) (let-values (((a) (values 1)) ((b) (values a))) (list a b)))", "(1 outer)"),
        ("(let*-values (((a b) (values 1 2)) ((c) (values (+ a b)))) (list a b c))", "(1 2 3)"),
        ("(define-values (q r) (floor/ 17 5)) (list q r)", "(3 2)"),
        ("(define-values (a . rest) (values 1 2 3)) (list a rest)", "(1 (2 3))"),
        ("(define-values all (values 1 2)) all", "(1 2)"),
        ("(define (f) (define-values (x y) (values 10 20)) (+ x y)) (f)", "30"),
        ("(receive (a . rest) (values 1 2 3) (list a rest))", "(1 (2 3))"),
        ("(and-let* ((x 5) ((> x 3)) (y (* x 2))) y)", "10"),
        ("(and-let* ((x #f) (y (car x))) y)", "#f"),
        ("(and-let* () 1)", "1"),
    ],
)
def test_case_lambda_and_values(src, expected):
    check(src, expected)


def test_case_lambda_with_no_matching_clause():
    e = error("(define f (case-lambda ((a) a))) (f 1 2)")
    assert "case-lambda" in e.message


# ---------------------------------------------------------------- records


def test_define_record_type():
    it = interp()
    it.eval(
        """(define-record-type point (make-point x y) point?
             (x point-x set-point-x!)
             (y point-y))"""
    )
    assert ev("(define p (make-point 1 2)) (list (point-x p) (point-y p))", it) == "(1 2)"
    assert ev("(set-point-x! p 10) (point-x p)", it) == "10"
    assert ev("(list (point? p) (point? 5) (point? (vector 1 2)))", it) == "(#t #f #f)"
    assert ev("p", it) == "#<point x: 10 y: 2>"
    e = error("(point-x 5)", it)
    assert e.message == "point-x: expected a point record, got 5"
    assert "make-point: expected 2 arguments, got 1" in error("(make-point 1)", it).message


def test_record_types_are_distinct_and_constructors_may_take_a_subset():
    it = interp()
    it.eval(
        """(define-record-type <node> (make-node val) node? (val node-val) (next node-next set-node-next!))
           (define-record-type <other> (make-other val) other? (val other-val))"""
    )
    assert ev("(define n (make-node 1)) (list (node-val n) (node-next n))", it) == "(1 #f)"
    assert ev("(list (node? (make-other 1)) (other? n))", it) == "(#f #f)"
    assert "node-val: expected a node record" in error("(node-val (make-other 1))", it).message


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(define p (make-parameter 10)) (list (p) (parameterize ((p 3)) (p)) (p))", "(10 3 10)"),
        ("(define p (make-parameter 10 (lambda (x) (* x 2)))) (list (p) (parameterize ((p 3)) (p)) (p))",
         "(20 6 20)"),
        ("(define a (make-parameter 1)) (define b (make-parameter 2))"
         " (parameterize ((a 10) (b (+ 1 (a)))) (list (a) (b)))", "(10 2)"),  # values computed outside
        ("(define p (make-parameter 1)) (define (get) (p)) (parameterize ((p 2)) (get))", "2"),
        # an escape out of parameterize restores the old value
        ("(define p (make-parameter 1)) (call/cc (lambda (k) (parameterize ((p 2)) (k 0)))) (p)", "1"),
        ("(define p (make-parameter 1))"
         " (guard (e (#t (p))) (parameterize ((p 2)) (raise 'x)))", "1"),
        ("(define p (make-parameter 'a)) (parameterize ((p 'b)) (parameterize ((p 'c)) (p)))", "c"),
        ("(parameterize () 5)", "5"),
    ],
)
def test_parameters(src, expected):
    check(src, expected)


def test_parameterize_with_a_non_parameter_is_an_error():
    assert "parameterize: expected a parameter object" in error("(parameterize ((car 1)) 1)").message


# ---------------------------------------------------------------- promises


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(force (delay (+ 1 2)))", "3"),
        ("(define n 0) (define p (delay (begin (set! n (+ n 1)) n))) (force p) (force p) (list (force p) n)",
         "(1 1)"),
        ("(force (delay-force (delay 'x)))", "x"),
        ("(force (make-promise 5))", "5"),
        ("(define p (make-promise 5)) (eq? p (make-promise p))", "#t"),
        ("(promise? (delay 1))", "#t"),
        ("(force 7)", "7"),
        # R7RS: a promise that forces itself recursively
        ("(define count 0) (define p (delay (begin (set! count (+ count 1))"
         " (if (> count x) count (force p))))) (define x 5) (list (force p) (begin (set! x 10) (force p)))", "(6 6)"),
        # delay-force runs in constant space (the R7RS stream-tail example)
        ("(define (stream-tail s k) (if (= k 0) s (delay-force (stream-tail (cdr (force s)) (- k 1)))))"
         " (define (from n) (delay (cons n (from (+ n 1)))))"
         " (car (force (stream-tail (from 0) 2000)))", "2000"),
        ("(define s (cons-stream 1 (error \"never forced\"))) (car s)", "1"),
    ],
)
def test_promises(src, expected):
    check(src, expected)


# ---------------------------------------------------------------- include, import, cond-expand


def test_include_is_relative_to_the_including_file(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "helpers.scm").write_text("(define (helper x) (* 2 x))\n(define-syntax twice (syntax-rules () ((_ e) (list e e))))\n")
    (lib / "lib.scm").write_text('(include "helpers.scm")\n(define (double x) (helper x))\n')
    (tmp_path / "body.scm").write_text("(define a 6)\n(define b 7)\n")
    main = tmp_path / "main.scm"
    main.write_text(
        '(include "lib/lib.scm")\n'
        "(define (f) (include \"body.scm\") (* a b))\n"
        "(display (list (double 21) (f) (twice 1)))\n"
    )
    it = interp()
    it.eval_file(str(main))
    assert it.stdout.getvalue() == "(42 42 (1 1))"


def test_include_of_several_files_and_include_ci(tmp_path):
    (tmp_path / "a.scm").write_text("(define A 1)")
    (tmp_path / "b.scm").write_text("(DEFINE B 2)")
    main = tmp_path / "main.scm"
    main.write_text('(include "a.scm")\n(include-ci "b.scm")\n(list A b)')
    assert Interpreter(stdout=io.StringIO()).eval_file(str(main)).car == 1


def test_include_errors(tmp_path):
    main = tmp_path / "main.scm"
    main.write_text('\n  (include "missing.scm")')
    e = error(main.read_text(), filename=str(main))
    assert e.message.startswith("include: cannot read ")
    assert "missing.scm: No such file or directory" in e.message
    assert (e.pos.line, e.pos.col) == (2, 3)
    assert ev('(guard (e ((file-error? e) \'file-error)) (eval \'(include "nowhere.scm")))') == "file-error"
    (tmp_path / "self.scm").write_text('(include "self.scm")')
    assert "too many nested includes" in error('(include "self.scm")', filename=str(tmp_path / "x.scm")).message
    assert "expected a file name string" in error("(include foo)").message
    (tmp_path / "bad.scm").write_text("(define x")
    e = error('(include "bad.scm")', filename=str(tmp_path / "x.scm"))
    assert e.pos.file.endswith("bad.scm")  # the syntax error is located in the included file


@pytest.mark.parametrize(
    "spec",
    [
        "(scheme base)",
        "(scheme base) (scheme write) (scheme char) (scheme cxr) (scheme case-lambda)",
        "(scheme inexact) (scheme complex) (scheme lazy) (scheme process-context) (scheme time)",
        "(scheme read) (scheme eval) (scheme file) (scheme r5rs)",
        "(srfi 1) (srfi 2) (srfi 6) (srfi 8) (srfi 9) (srfi 13) (srfi 23) (srfi 28) (srfi 39)",
        "(srfi 69) (srfi 95) (srfi 125) (srfi 132)",
        "(only (scheme base) car cdr) (except (srfi 1) fold) (prefix (scheme write) w:)",
        "(rename (scheme base) (car first-of))",
        "(only (prefix (scheme base) b:) b:car)",
    ],
)
def test_import_of_provided_libraries_is_accepted(spec):
    assert ev(f"(import {spec}) (+ 1 2)") == "3"


def test_import_rename_and_prefix_make_the_new_names_work():
    assert ev("(import (rename (scheme base) (car kar) (if when-true))) (list (kar '(1)) (when-true #t 2 3))") == "(1 2)"
    assert ev("(import (prefix (srfi 1) s1:)) (s1:fold + 0 '(1 2 3))") == "6"


@pytest.mark.parametrize(
    "src, message",
    [
        ("(import (foo bar))", "import: unknown library (foo bar)"),
        ("(import (scheme base) (scheme basic))", "import: unknown library (scheme basic)"),
        ("(import (srfi 9999))", "import: unknown library (srfi 9999)"),
        ("(import (only (nosuch lib) x))", "import: unknown library (nosuch lib)"),
        ("(import 5)", "import: expected a library name"),
        ("(import ())", "import"),
        ("(import (rename (scheme base) car))", "expected (old new) in rename"),
    ],
)
def test_import_of_unknown_libraries_is_an_error(src, message):
    e = error(src)
    assert message in e.message
    assert e.pos is not None


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(cond-expand (r7rs 'r7rs) (else 'other))", "r7rs"),
        ("(cond-expand (no-such-feature 1) (else 2))", "2"),
        ("(cond-expand ((and r7rs (not no-such)) 'yes) (else 'no))", "yes"),
        ("(cond-expand ((or no-such (library (scheme base))) 'lib) (else 'no))", "lib"),
        ("(cond-expand ((library (foo bar)) 'lib) (else 'no))", "no"),
        ("(cond-expand (srfi-1 (define x 1)) (else (define x 2))) x", "1"),
        ("(define (f) (cond-expand (r7rs (define y 5))) y) (f)", "5"),
        ("(cond-expand (no-such 1))", "#<unspecified>"),
        ("(list? (memq 'r7rs (features)))", "#t"),
    ],
)
def test_cond_expand(src, expected):
    check(src, expected)


# ---------------------------------------------------------------- ports, files, format


@pytest.mark.parametrize(
    "src, expected",
    [
        ('(define p (open-input-string "(a b) 42 \\"s\\"")) (list (read p) (read p) (read p) (eof-object? (read p)))',
         '((a b) 42 "s" #t)'),
        ('(define p (open-input-string "ab\\ncd")) (list (read-char p) (peek-char p) (read-line p) (read-line p) (read-line p))',
         '(#\\a #\\b "b" "cd" #<eof>)'),
        ('(read-string 3 (open-input-string "abcdef"))', '"abc"'),
        ("(let ((p (open-output-string))) (write 'sym p) (display \" \" p) (write \"s\" p) (get-output-string p))",
         '"sym \\"s\\""'),
        ("(with-output-to-string (lambda () (display 42) (newline)))", '"42\\n"'),
        ("(call-with-output-string (lambda (p) (display 'x p)))", '"x"'),
        ('(format "~a and ~s~%" "x" "y")', '"x and \\"y\\"\\n"'),
        ('(format #f "~a~~" 1)', '"1~"'),
        ('(with-output-to-string (lambda () (format #t "<~a>" 5)))', '"<5>"'),
        ("(guard (e ((read-error? e) 'read-error)) (read (open-input-string \"(1 2\")))", "read-error"),
        ("(guard (e ((error-object? e) (list (error-object-message e) (error-object-irritants e)))) (format \"~a\"))",
         '("format: too few arguments for" ("~a"))'),
    ],
)
def test_ports_and_format(src, expected):
    check(src, expected)


def test_file_ports(tmp_path):
    path = str(tmp_path / "out.txt").replace("\\", "/")
    it = interp()
    src = f"""
      (call-with-output-file "{path}" (lambda (p) (write '(1 "two") p) (newline p) (display "line2" p)))
      (list (file-exists? "{path}")
            (call-with-input-file "{path}" (lambda (p) (list (read p) (read-line p) (read-line p) (read-line p)))))
    """
    assert ev(src, it) == '(#t ((1 "two") "" "line2" #<eof>))'
    assert ev(f'(with-output-to-file "{path}" (lambda () (display "hi"))) (with-input-from-file "{path}" read-line)', it) == '"hi"'
    assert ev(f'(delete-file "{path}") (file-exists? "{path}")', it) == "#f"
    e = ev(f'(guard (e ((file-error? e) (error-object-message e))) (open-input-file "{path}"))', it)
    assert "No such file or directory" in e


def test_reading_the_current_input_port(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("first line\n(a b)\nc"))
    it = Interpreter(stdout=io.StringIO())
    assert ev("(list (read-line) (read) (read-char) (read-char) (read-char))", it) == '("first line" (a b) #\\newline #\\c #<eof>)'


def test_environment_variables(monkeypatch):
    monkeypatch.setenv("FLOWSCHEME_TEST_VAR", "v1")
    assert ev('(get-environment-variable "FLOWSCHEME_TEST_VAR")') == '"v1"'
    assert ev('(get-environment-variable "FLOWSCHEME_SURELY_UNSET_VAR")') == "#f"
    assert ev('(string? (cdr (assoc "FLOWSCHEME_TEST_VAR" (get-environment-variables))))') == "#t"


# ---------------------------------------------------------------- time, random, exit


def test_current_time_and_second():
    it = interp()
    now = time.time()
    assert abs(it.eval("(current-time)") - now) < 5
    assert type(it.eval("(current-time)")) is int
    assert abs(it.eval("(current-second)") - now) < 5
    assert it.eval("(< (current-jiffy) (begin (let loop ((i 0)) (if (< i 1000) (loop (+ i 1)))) (current-jiffy)))")


def test_random_is_seedable():
    it = interp()
    a = ev("(random-seed! 42) (list (random 1000) (random 1000) (random 1000))", it)
    b = ev("(random-seed! 42) (list (random 1000) (random 1000) (random 1000))", it)
    assert a == b
    assert ev("(let loop ((i 0)) (if (= i 200) #t (let ((r (random 6))) (if (and (>= r 0) (< r 6)) (loop (+ i 1)) r))))") == "#t"
    assert ev("(let ((x (random 1.0))) (and (inexact? x) (< x 1.0)))") == "#t"
    assert "random: expected a positive integer" in error("(random 0)").message
    assert "random: expected a positive number" in error("(random 'x)").message


@pytest.mark.parametrize("src, code", [("(exit)", 0), ("(exit 3)", 3), ("(exit #f)", 1), ("(exit #t)", 0)])
def test_exit_stops_the_program_with_a_status(src, code):
    it = interp()
    with pytest.raises(SchemeExit) as info:
        it.eval(f'(display "before") {src} (display "after")')
    assert info.value.code == code
    assert it.stdout.getvalue() == "before"


def test_exit_runs_no_more_code_even_inside_dynamic_wind():
    it = interp()
    with pytest.raises(SchemeExit):
        it.eval("(dynamic-wind (lambda () #f) (lambda () (exit 2)) (lambda () (display \"after\")))")


def test_unspecified_value_prints_nothing():
    from interp import format_value

    it = interp()
    for src in ("(if #f #f)", "(display \"\")", "(vector-fill! (make-vector 1) 0)", "(for-each car '())"):
        assert format_value(it.eval(src)) == ""
    assert format_value(it.eval("(values 1 2)")) == "1\n2"


def test_eval_and_load(tmp_path):
    f = tmp_path / "defs.scm"
    f.write_text("(define loaded-value 41)\n(define-syntax inc (syntax-rules () ((_ x) (+ x 1))))\n")
    it = interp()
    assert ev(f'(load "{f}") (inc loaded-value)', it) == "42"
    assert ev("(eval '(* 6 7) (interaction-environment))", it) == "42"
    assert ev("(eval '(begin (define zz 3) (+ zz 1)) (scheme-report-environment 5))", it) == "4"
    # a report environment is its own: its definitions do not reach the program
    assert "unbound variable: zz" in error("zz", it).message
    assert "cannot read" in error('(load "/nonexistent/file.scm")', it).message


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(eval '(* 7 3) (environment '(scheme base)))", "21"),
        ("(eval '(char-upcase #\\a) (environment '(scheme base) '(scheme char)))", "#\\A"),
        ("(eval '(b:car '(1 2)) (environment '(prefix (scheme base) b:)))", "1"),
        ("(eval '(first '(1 2)) (environment '(rename (only (scheme base) car quote) (car first))))", "1"),
        ("(eval '(do ((i 0 (+ i 1))) ((= i 3) i)) (environment '(scheme base)))", "3"),
        ("(eval '(let-values (((a b) (values 1 2))) (+ a b)) (environment '(scheme base)))", "3"),
        ("((eval '(lambda (f x) (f x x)) (null-environment 5)) + 10)", "20"),
        ("(eval '(if #t 'a 'b) (null-environment 5))", "a"),
        ("(eval '(+ 1 2) (scheme-report-environment 5))", "3"),
        ("(eval '(exact->inexact 1/2) (scheme-report-environment 5))", "0.5"),
        # definitions stay in the environment they were made in
        ("(define e (environment '(scheme base))) (eval '(define q 5) e) (eval '(* q q) e)", "25"),
        ("(define e1 (environment '(scheme base))) (define e2 (environment '(scheme base)))"
         " (eval '(define q 1) e1) (guard (x (#t 'not-in-e2)) (eval 'q e2))", "not-in-e2"),
        ("(eval '(define r7-leak 1) (interaction-environment))"
         " (guard (e (#t 'hidden)) (eval 'r7-leak (environment '(scheme base))))", "hidden"),
        # redefining a standard name in an environment does not touch the builtin
        ("(define e (environment '(scheme base))) (eval '(define car cdr) e) (list (eval '(car '(1 2)) e) (car '(1 2)))",
         "((2) 1)"),
        # a procedure made in an environment can refer to later definitions there
        ("(define e (environment '(scheme base))) (eval '(define (f) (g)) e) (eval '(define (g) 'g) e) (eval '(f) e)",
         "g"),
        # a user library is importable into an environment
        ("(define-library (env lib) (export v) (import (scheme base)) (begin (define v 'lib)))"
         " (eval 'v (environment '(env lib)))", "lib"),
        ("(environment '(scheme base))", "#<environment>"),
    ],
)
def test_eval_environments(src, expected):
    assert ev(src) == expected


@pytest.mark.parametrize(
    "src, message",
    [
        ("(define only-in-program 1) (eval 'only-in-program (environment '(scheme base)))",
         "only-in-program: not bound in this environment"),
        ("(eval '(char-upcase #\\a) (environment '(scheme base)))", "char-upcase: not bound in this environment"),
        ("(eval '(cdr '(1 2)) (environment '(only (scheme base) car quote)))", "cdr: not bound"),
        ("(eval '(car '(1 2)) (null-environment 5))", "car: not bound in the null environment"),
        ("(environment '(no such library))", "import: unknown library (no such library)"),
        ("(environment 'scheme)", "import: expected a library name"),
        ("(scheme-report-environment 7)", "scheme-report-environment: only version 5 is provided"),
        ("(null-environment 'x)", "null-environment: only version 5 is provided"),
        ("(eval 1 'not-an-environment)", "eval: expected an environment"),
        ("(eval '(set! car 1) (environment '(scheme base)))", "set!: cannot assign the imported variable car"),
    ],
)
def test_eval_environment_errors(src, message):
    assert message in error(src).message
