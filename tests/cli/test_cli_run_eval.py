"""`flowscheme run FILE` and `flowscheme eval EXPR`: output, error reports and exit
statuses, both in-process (click's runner) and as a real process."""

import pytest

from clihelp import run_process

PROGRAM = """\
(define (greet name)
  (string-append "hello, " name))
(display (greet "world"))
(newline)
(write (list 1 "two" #\\3))
(newline)
"""

FAILING = """\
(display "partial output")
(newline)
(define (first-of x)
  (car x))
(define (go) (+ 1 (first-of 5)))
(go)
(display "never")
"""


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


# ---------------------------------------------------------------- run


def test_run_prints_program_output(cli, tmp_path):
    r = cli("run", write(tmp_path, "ok.scm", PROGRAM))
    assert r.exit_code == 0
    assert r.stdout == 'hello, world\n(1 "two" #\\3)\n'
    assert r.stderr == ""


def test_run_error_reports_place_and_backtrace_on_stderr(cli, tmp_path):
    path = write(tmp_path, "bad.scm", FAILING)
    r = cli("run", path)
    assert r.exit_code == 1
    assert r.stdout == "partial output\n"
    lines = r.stderr.splitlines()
    assert lines[0] == f"{path}:4:3: car: expected a pair, got 5"
    assert "backtrace (innermost first):" in lines
    assert f"  first-of at {path}:4:3" in lines
    assert f"  go at {path}:5:19" in lines
    assert "Traceback" not in r.stderr


def test_run_passes_arguments_as_the_command_line(cli, tmp_path):
    path = write(tmp_path, "args.scm", "(write (cdr (command-line)))")
    r = cli("run", path, "a", "b c")
    assert r.exit_code == 0
    assert r.stdout == '("a" "b c")'


def test_run_missing_file(cli, tmp_path):
    r = cli("run", tmp_path / "nope.scm")
    assert r.exit_code == 1
    assert r.stderr.strip() == f"cannot read {tmp_path / 'nope.scm'}: No such file or directory"


def test_run_directory_is_a_usage_error(cli, tmp_path):
    r = cli("run", tmp_path)
    assert r.exit_code == 2
    assert "is a directory" in r.stderr


def test_run_without_a_file_is_a_usage_error(cli):
    r = cli("run")
    assert r.exit_code == 2
    assert "Missing argument" in r.stderr


def test_run_file_that_is_not_utf8(cli, tmp_path):
    r = cli("run", write(tmp_path, "latin.scm", b"(display \"caf\xe9\")"))
    assert r.exit_code == 1
    assert "not UTF-8 text" in r.stderr


def test_run_syntax_error_reports_the_position(cli, tmp_path):
    path = write(tmp_path, "syntax.scm", "(display 1)\n(define (f x)\n  (+ x 1)\n")
    r = cli("run", path)
    assert r.exit_code == 1
    assert r.stderr.startswith(f"{path}:2:1: unclosed ( opened at 2:1")
    r = cli("run", write(tmp_path, "extra.scm", "(display 1))\n"))
    assert r.exit_code == 1
    assert ":1:12: unexpected )" in r.stderr


def test_run_analysis_error_reports_the_position(cli, tmp_path):
    path = write(tmp_path, "let.scm", "(display 1)\n(let ((x 1) (x 2)) x)\n")
    r = cli("run", path)
    assert r.exit_code == 1
    assert r.stdout == "1"  # forms run one by one until the bad one
    assert r.stderr.startswith(f"{path}:2:1: let: duplicate variable")


@pytest.mark.parametrize("form, code", [("(exit)", 0), ("(exit 7)", 7), ("(exit #f)", 1), ("(exit #t)", 0)])
def test_run_exit_status(cli, tmp_path, form, code):
    r = cli("run", write(tmp_path, "exit.scm", f'(display "out") {form} (display "never")'))
    assert r.exit_code == code
    assert r.stdout == "out"


def test_run_uncaught_raise(cli, tmp_path):
    path = write(tmp_path, "raise.scm", "(define (f) (raise 'boom))\n(f)\n")
    r = cli("run", path)
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0] == f"{path}:1:13: uncaught raise: boom"


def test_run_include_relative_to_the_file(cli, tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    write(sub, "lib.scm", "(define (twice x) (* 2 x))")
    path = write(sub, "main.scm", '(include "lib.scm") (display (twice 21))')
    r = cli("run", path)
    assert r.exit_code == 0 and r.stdout == "42"


def test_debug_shows_the_python_traceback(cli, tmp_path):
    path = write(tmp_path, "bad.scm", FAILING)
    r = cli("--debug", "run", path)
    assert r.exit_code == 1
    assert "Traceback (most recent call last)" in r.stderr
    assert f"{path}:4:3: car: expected a pair, got 5" in r.stderr


# ---------------------------------------------------------------- eval


@pytest.mark.parametrize(
    "expr, shown",
    [
        ("(+ 1 2)", "3\n"),
        ("'(a \"b\" #\\c 1.5)", '(a "b" #\\c 1.5)\n'),
        ('"text"', '"text"\n'),
        ("(define x 20) (+ x 1)", "21\n"),
        ("(values 1 2)", "1\n2\n"),
        ("(if #f #f)", ""),
        ("(vector 1 'x)", "#(1 x)\n"),
        ("(exact->inexact 1/3)", "0.3333333333333333\n"),
        ("(map (lambda (x) (* x x)) (iota 5))", "(0 1 4 9 16)\n"),
    ],
)
def test_eval_prints_the_value_in_write_notation(cli, expr, shown):
    r = cli("eval", expr)
    assert r.exit_code == 0
    assert r.stdout == shown


def test_eval_output_comes_before_the_value(cli):
    r = cli("eval", '(begin (display "side effect") 42)')
    assert r.stdout == "side effect42\n"


@pytest.mark.parametrize(
    "expr, message",
    [
        ("(car 1)", "<eval>:1:1: car: expected a pair, got 1"),
        (")", "<eval>:1:1: unexpected )"),
        ("(+ 1", "<eval>:1:1: unclosed ( opened at 1:1"),
        ("(list undefined-thing)", "<eval>:1:7: unbound variable: undefined-thing"),
        ("undefined-thing", "<eval>:1:1: unbound variable: undefined-thing"),
        ("1 2   undefined-thing", "<eval>:1:7: unbound variable: undefined-thing"),
    ],
)
def test_eval_errors(cli, expr, message):
    r = cli("eval", expr)
    assert r.exit_code == 1
    assert r.stderr.startswith(message)
    assert r.stdout == ""


def test_eval_exit(cli):
    assert cli("eval", "(exit 4)").exit_code == 4


def test_eval_without_an_expression_is_a_usage_error(cli):
    r = cli("eval")
    assert r.exit_code == 2


# ---------------------------------------------------------------- as a real process


def test_process_run_and_exit_status(tmp_path):
    ok = write(tmp_path, "ok.scm", PROGRAM)
    done = run_process("run", ok)
    assert done.returncode == 0
    assert done.stdout == 'hello, world\n(1 "two" #\\3)\n'
    bad = write(tmp_path, "bad.scm", FAILING)
    done = run_process("run", bad)
    assert done.returncode == 1
    assert done.stdout == "partial output\n"
    assert done.stderr.splitlines()[0] == f"{bad}:4:3: car: expected a pair, got 5"
    assert "Traceback" not in done.stderr


def test_process_eval(tmp_path):
    done = run_process("eval", "(list 1 (+ 1 1) 'three)")
    assert done.returncode == 0
    assert done.stdout == "(1 2 three)\n"
    done = run_process("eval", "(exit 3)")
    assert done.returncode == 3
    done = run_process("--debug", "eval", "(vector-ref (vector) 0)")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "vector-ref" in done.stderr


def test_process_missing_file_and_usage(tmp_path):
    done = run_process("run", tmp_path / "missing.scm")
    assert done.returncode == 1
    assert "cannot read" in done.stderr and "No such file or directory" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_process("frobnicate")
    assert done.returncode == 2


def test_process_output_into_a_closed_pipe_stops_quietly(tmp_path):
    import subprocess
    import sys

    from clihelp import ROOT, flowscheme_argv
    import os

    loop = write(tmp_path, "loop.scm", "(let loop ((i 0)) (display i) (newline) (loop (+ i 1)))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen(flowscheme_argv("run", loop), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = p.stdout.readline()
    p.stdout.close()
    _, err = p.communicate(timeout=60)
    assert first == b"0\n"
    assert p.returncode == 141
    assert b"Traceback" not in err and b"Broken pipe" not in err
