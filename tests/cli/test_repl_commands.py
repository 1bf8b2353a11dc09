"""The REPL's inspection commands (,bt ,describe ,apropos ,expand ,trace ,untrace
,pp), several expressions on one line, positions of piped input, and how
procedures and hash tables print — through the plain (piped) front end."""

import io

import pytest

from flow import FlowRuntime
from flow.repl import ALIASES, COMMANDS, HELP, Repl, run_plain


def session(*lines):
    out, err = io.StringIO(), io.StringIO()
    repl = Repl(FlowRuntime(stdout=out), out=out, err=err)
    code = run_plain(repl, io.StringIO("".join(line + "\n" for line in lines)))
    return code, out.getvalue(), err.getvalue()


FIB = "(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))"


def test_several_expressions_on_one_line_all_print():
    code, out, err = session("1 2 (+ 1 2)", '(define x 5) x "s"')
    assert (code, err) == (0, "")
    assert out.splitlines() == ["1", "2", "3", "5", '"s"']


def test_an_error_stops_the_rest_of_its_line_and_names_the_piped_line_and_column():
    code, out, err = session("(define x 1)", "", "x (car x) 'never")
    assert code == 1
    assert out.splitlines() == ["1"]
    assert err.startswith("<stdin>:3:3: car: expected a pair, got 1")


def test_a_multi_line_input_reports_the_line_it_failed_on():
    code, out, err = session("1", "(define (f)", "  (car", "    '()))", "(f)")
    assert "<stdin>:3:3: car: expected a pair" in err


def test_bt_shows_the_whole_backtrace_of_the_last_error():
    deep = "(define (down n) (if (= n 0) (car '()) (+ 1 (down (- n 1)))))"
    code, out, err = session(deep, "(down 30)", ",bt")
    shown, _, rest = err.partition(";; ,bt shows the whole backtrace")
    assert rest == "\n"
    assert shown.count(" down at ") == 10 and "... 21 more" in shown  # the error shows ten frames
    assert out.count(" down at ") == 31  # ,bt all of them (the innermost is where car was called)
    assert out.index("car") < out.index(" down at ")


def test_bt_before_any_error_says_so():
    code, out, err = session(",bt")
    assert "no error yet" in err and code == 1


def test_procedures_print_with_their_names_and_parameters():
    code, out, err = session(FIB, "fib", "(lambda (a b . c) a)", "(lambda args 1)", "car")
    assert out.splitlines() == ["#<procedure fib (n)>", "#<procedure (a b . c)>", "#<procedure args>",
                                "#<procedure car>"]


def test_hash_tables_print_their_contents():
    code, out, err = session("(define h (make-equal-hash-table))", "(hash-table-set! h 'a 1)",
                             '(hash-table-set! h "b" (list 1 2))', "h", "(hash-table-set! h 'me h)", "h")
    lines = out.splitlines()
    assert lines[0] == '#<hash-table 2 (a . 1) ("b" 1 2)>'
    assert lines[1] == '#<hash-table 3 (a . 1) ("b" 1 2) (me . #<hash-table 3>)>'


def test_describe_names_values_and_expressions():
    code, out, err = session(FIB, ",describe fib", ",d car", ",d (list 1 2 3)", ",d when", ",d nothing-here")
    assert "fib is a global variable whose value is a procedure (n)" in out
    assert "defined at <stdin>:1:1" in out
    assert "car is a global variable whose value is a procedure (1 argument)" in out
    assert "a list of 3 elements\n  written: (1 2 3)" in out
    assert "when is a special form" in out
    assert ",describe: nothing-here is not bound" in err


def test_apropos_lists_matching_names_with_what_they_are():
    code, out, err = session(FIB, ",apropos fi", ",a zzzz-none")
    assert any(line.startswith("fib ") and line.endswith("procedure (n)") for line in out.splitlines())
    assert ";; no bound name contains 'zzzz-none'" in out


def test_expand_shows_user_macros_expanded_with_hygienic_names():
    code, out, err = session(
        "(define-syntax my-or (syntax-rules () ((_) #f) ((_ e) e)"
        " ((_ e r ...) (let ((t e)) (if t t (my-or r ...))))))",
        ",expand (my-or a b)", ",x '(my-or a b)", ",x (lambda (my-or) (my-or 1))")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "(let ((t.1 a)) (if t.1 t.1 b))"
    assert lines[1] == "(quote (my-or a b))"


def test_trace_prints_calls_and_results_nested_and_untrace_stops_it():
    code, out, err = session(FIB, ",trace fib", "(fib 2)", ",untrace fib", "(fib 2)")
    assert (code, err) == (0, "")
    assert out.splitlines() == [";; tracing fib", "(fib 2)", "  (fib 1)", "  => 1", "  (fib 0)", "  => 0", "=> 1",
                                "1", ";; untraced fib", "1"]


@pytest.mark.parametrize("line, message", [
    (",trace nope", ",trace: nope is not a bound global variable"),
    (",trace x", ",trace: x is not a procedure"),
    (",untrace car", ",untrace: car is not traced"),
    (",expand", "usage: ,expand EXPR"),
    (",expand 1 2", ",expand takes one expression"),
    (",pp", "usage: ,pp EXPR"),
    (",apropos", "usage: ,apropos TEXT"),
    (",describe", "usage: ,describe"),
])
def test_misused_commands_say_how_to_use_them(line, message):
    code, out, err = session("(define x 1)", line)
    assert code == 1 and message in err


def test_pp_lays_out_long_code_and_fills_data():
    long = "(quote (define (f x) (let ((aaaaaaaaaaaa 1) (bbbbbbbbbbbbbbb 2)) (list aaaaaaaaaaaa bbbbbbbbbbbbbbb x x x x x x x x x x x x x))))"
    code, out, err = session(f",pp {long}", ",pp (iota 40)")
    lines = out.splitlines()
    assert lines[:3] == ["(define (f x)", "  (let ((aaaaaaaaaaaa 1) (bbbbbbbbbbbbbbb 2))",
                         "    (list aaaaaaaaaaaa bbbbbbbbbbbbbbb x x x x x x x x x x x x x)))"]
    data = lines[3:]
    assert len(data) > 1 and all(len(line) <= 79 for line in data)
    assert " ".join(" ".join(data).strip("()").split()) == " ".join(map(str, range(40)))


def test_help_lists_every_command_and_alias():
    for name in COMMANDS:
        assert f",{name}" in HELP
    for alias in ALIASES:
        assert f",{alias}" in HELP, alias
