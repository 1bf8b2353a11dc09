"""Ports and I/O (R7RS 6.13): textual and binary ports over strings, bytevectors and
files, their open/closed state, reading every datum syntax with `read`, the current
ports under parameterize, and the errors for wrong types, closed ports, reading
past the end and bytevector ranges out of bounds (each naming the procedure)."""

import io

import pytest

from evalhelp import error, ev, interp, output
from interp import Interpreter


def check(src, expected):
    assert ev(src) == expected


def fails(src, message):
    """src raises a SchemeError whose message starts with message."""
    e = error(src)
    assert e.message.startswith(message), e.message
    return e


IN = '(open-input-string "abc")'
OUT = "(open-output-string)"
BIN = "(open-input-bytevector (bytevector 1 2 3))"
BOUT = "(open-output-bytevector)"


# ---------------------------------------------------------------- kinds of port


@pytest.mark.parametrize(
    "port, expected",
    [
        # port? input-port? output-port? textual-port? binary-port?
        (IN, "(#t #t #f #t #f)"),
        (OUT, "(#t #f #t #t #f)"),
        (BIN, "(#t #t #f #f #t)"),
        (BOUT, "(#t #f #t #f #t)"),
        ("(current-output-port)", "(#t #f #t #t #f)"),
        ("(current-input-port)", "(#t #t #f #t #f)"),
        ("(current-error-port)", "(#t #f #t #t #f)"),
        ("5", "(#f #f #f #f #f)"),
        ('"abc"', "(#f #f #f #f #f)"),
        ("(bytevector 1)", "(#f #f #f #f #f)"),
        ("(eof-object)", "(#f #f #f #f #f)"),
        ("car", "(#f #f #f #f #f)"),
    ],
)
def test_port_predicates(port, expected):
    check(f"(let ((p {port})) (map (lambda (f) (f p)) (list port? input-port? output-port? textual-port? binary-port?)))",
          expected)


def test_ports_are_written_by_kind_and_state():
    check(f"(list {IN} {OUT} {BIN} {BOUT})", "(#<input-port> #<output-port> #<binary-input-port> #<binary-output-port>)")
    check(f"(let ((p {IN})) (close-port p) p)", "#<closed input-port>")


def test_eof_object():
    check("(list (eof-object? (eof-object)) (eq? (eof-object) (eof-object)) (eof-object? 'eof) (eof-object? '()))",
          "(#t #t #f #f)")
    check("(eof-object)", "#<eof>")
    check('(eq? (eof-object) (read-char (open-input-string "")))', "#t")


# ---------------------------------------------------------------- open and closed


def test_ports_start_open_and_close_once():
    check(f"(let ((i {IN}) (o {OUT}) (b {BIN}) (bo {BOUT}))"
          " (list (input-port-open? i) (output-port-open? o) (input-port-open? b) (output-port-open? bo)"
          "       (output-port-open? i) (input-port-open? o)))",
          "(#t #t #t #t #f #f)")
    check(f"(let ((i {IN}) (o {OUT}) (b {BIN}) (bo {BOUT}))"
          " (close-port i) (close-output-port o) (close-input-port b) (close-port bo)"
          " (close-port i) (close-port o)"  # closing again does nothing
          " (list (input-port-open? i) (output-port-open? o) (input-port-open? b) (output-port-open? bo)))",
          "(#f #f #f #f)")


@pytest.mark.parametrize(
    "src, message",
    [
        ("(input-port-open? 5)", "input-port-open?: expected a port, got 5"),
        ('(output-port-open? "x")', 'output-port-open?: expected a port, got "x"'),
        ("(close-port 'p)", "close-port: expected a port, got p"),
        (f"(close-input-port {OUT})", "close-input-port: expected an input port, got #<output-port>"),
        (f"(close-output-port {IN})", "close-output-port: expected an output port, got #<input-port>"),
        (f"(close-output-port {BIN})", "close-output-port: expected an output port, got #<binary-input-port>"),
    ],
)
def test_closing_what_is_not_such_a_port(src, message):
    fails(src, message)


@pytest.mark.parametrize(
    "call",
    ["(read-char p)", "(peek-char p)", "(read-line p)", "(read-string 2 p)", "(read p)", "(char-ready? p)"],
)
def test_a_closed_textual_input_port_refuses_to_read(call):
    name = call[1:].split()[0]
    e = fails(f'(let ((p (open-input-string "abc"))) (close-input-port p) {call})',
              f"{name}: cannot read from a closed port")
    assert e.irritants == []


@pytest.mark.parametrize(
    "call",
    ["(write-char #\\a p)", '(write-string "a" p)', "(display 1 p)", "(write 1 p)", "(newline p)",
     "(flush-output-port p)", '(format p "x")'],
)
def test_a_closed_textual_output_port_refuses_to_write(call):
    name = call[1:].split()[0]
    fails(f"(let ((p (open-output-string))) (close-output-port p) {call})", f"{name}: cannot ")


@pytest.mark.parametrize(
    "call", ["(read-u8 p)", "(peek-u8 p)", "(u8-ready? p)", "(read-bytevector 1 p)", "(read-bytevector! (bytevector 0) p)"]
)
def test_a_closed_binary_input_port_refuses_to_read(call):
    name = call[1:].split()[0]
    fails(f"(let ((p {BIN})) (close-port p) {call})", f"{name}: cannot read from a closed port")


@pytest.mark.parametrize("call", ["(write-u8 1 p)", "(write-bytevector (bytevector 1) p)", "(flush-output-port p)"])
def test_a_closed_binary_output_port_refuses_to_write(call):
    name = call[1:].split()[0]
    fails(f"(let ((p {BOUT})) (close-port p) {call})", f"{name}: cannot ")


def test_what_was_written_to_a_closed_string_or_bytevector_port_stays_readable():
    check('(let ((p (open-output-string))) (display "hi" p) (close-port p) (get-output-string p))', '"hi"')
    check("(let ((p (open-output-bytevector))) (write-u8 7 p) (close-port p) (get-output-bytevector p))", "#u8(7)")


def test_closing_the_current_output_port_stops_output_there():
    it = interp()
    e = error("(define p (open-output-string)) (parameterize ((current-output-port p)) (close-port p) (display 1))", it)
    assert e.message == "display: cannot write to a closed port"
    assert output('(display "still here")', it) == "still here"  # the console port itself is untouched


# ---------------------------------------------------------------- textual input: characters and lines


def test_read_char_and_peek_char():
    check('(let ((p (open-input-string "ab"))) (list (peek-char p) (peek-char p) (read-char p) (peek-char p)'
          " (read-char p) (peek-char p) (read-char p) (read-char p)))",
          "(#\\a #\\a #\\a #\\b #\\b #<eof> #<eof> #<eof>)")
    check('(let ((p (open-input-string "λ\\x1F600;"))) (list (read-char p) (read-char p) (read-char p)))',
          "(#\\λ #\\\U0001F600 #<eof>)")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "(#<eof>)"),
        ("abc", '("abc" #<eof>)'),
        ("abc\\n", '("abc" #<eof>)'),
        ("\\n", '("" #<eof>)'),
        ("\\n\\n", '("" "" #<eof>)'),
        ("a\\nb\\n\\nc", '("a" "b" "" "c" #<eof>)'),
        ("a\\r\\nb", '("a" "b" #<eof>)'),  # CR LF and a lone CR end a line too, as in chibi
        ("a\\rb\\r", '("a" "b" #<eof>)'),
        ("\\r\\n\\r\\n", '("" "" #<eof>)'),
    ],
)
def test_read_line(text, expected):
    check(f'(let ((p (open-input-string "{text}"))) (let loop ((acc (quote ()))) (let ((l (read-line p)))'
          " (if (eof-object? l) (reverse (cons l acc)) (loop (cons l acc))))))",
          expected)


def test_read_line_then_read_char_continue_where_the_line_ended():
    check('(let ((p (open-input-string "ab\\ncd"))) (list (read-char p) (read-line p) (read-char p) (read-line p)))',
          '(#\\a "b" #\\c "d")')


@pytest.mark.parametrize(
    "src, expected",
    [
        ('(read-string 3 (open-input-string "abcdef"))', '"abc"'),
        ('(let ((p (open-input-string "abcde"))) (list (read-string 2 p) (read-string 2 p) (read-string 2 p) (read-string 2 p)))',
         '("ab" "cd" "e" #<eof>)'),
        ('(read-string 0 (open-input-string ""))', '""'),  # k = 0: "" even at the end, as chibi
        ('(read-string 5 (open-input-string ""))', "#<eof>"),
        ('(read-string 100 (open-input-string "x\\ny"))', '"x\\ny"'),
        ('(read-string (open-input-string "abc") 2)', '"ab"'),  # the older argument order still works
    ],
)
def test_read_string(src, expected):
    check(src, expected)


@pytest.mark.parametrize(
    "src, message",
    [
        ('(read-string -1 (open-input-string "a"))', "read-string: expected an exact non-negative integer, got -1"),
        ('(read-string 1.5 (open-input-string "a"))', "read-string: expected an exact non-negative integer, got 1.5"),
        ('(read-string #t (open-input-string "a"))', "read-string: expected an exact non-negative integer, got #t"),
        ("(read-string 2 'p)", "read-string: expected a textual input port, got p"),
        (f"(read-string 2 {BIN})", "read-string: expected a textual input port, got #<binary-input-port>"),
        ("(read-char 5)", "read-char: expected a textual input port, got 5"),
        (f"(read-char {OUT})", "read-char: expected a textual input port, got #<output-port>"),
        (f"(peek-char {BIN})", "peek-char: expected a textual input port, got #<binary-input-port>"),
        ('(read-line "abc")', 'read-line: expected a textual input port, got "abc"'),
        ("(char-ready? 1)", "char-ready?: expected a textual input port, got 1"),
        (f"(read {BIN})", "read: expected a textual input port, got #<binary-input-port>"),
        ("(open-input-string 'abc)", "open-input-string: expected a string, got abc"),
        ("(open-input-string (bytevector 1))", "open-input-string: expected a string, got #u8(1)"),
        (f"(get-output-string {IN})", "get-output-string: expected a string output port"),
        ("(get-output-string (current-output-port))", "get-output-string: expected a string output port"),
        ("(read-char (open-input-string \"a\") 2)", "read-char"),  # too many arguments
    ],
)
def test_textual_input_errors(src, message):
    fails(src, message)


def test_char_ready():
    check('(let ((p (open-input-string "a"))) (list (char-ready? p) (read-char p) (char-ready? p)))', "(#t #\\a #t)")


def test_reading_past_the_end_keeps_answering_eof():
    check('(let ((p (open-input-string "x"))) (read-char p)'
          " (list (read-char p) (peek-char p) (read-line p) (read-string 3 p) (read p) (read-char p)))",
          "(#<eof> #<eof> #<eof> #<eof> #<eof> #<eof>)")


# ---------------------------------------------------------------- read: every datum syntax


def test_reading_successive_datums_from_one_string_port():
    check('(let ((p (open-input-string "1 (a b) #(1 2) \\"s\\" #\\\\a")))'
          " (list (read p) (read p) (read p) (read p) (read p) (read p)))",
          '(1 (a b) #(1 2) "s" #\\a #<eof>)')


@pytest.mark.parametrize(
    "text, expected",
    [
        ("42 -7 1/2 3.5 1e3 #x1F #b101 #e1.5 #i1/2", "(42 -7 1/2 3.5 1000.0 31 5 3/2 0.5)"),
        ("#t #f #true #false", "(#t #f #t #f)"),
        (r'"a\nb" "q\"q" "\x41;"', r'("a\nb" "q\"q" "A")'),
        (r"#\a #\space #\newline #\x41 #\(", r"(#\a #\space #\newline #\A #\()"),
        ("foo |a b| Hello", "(foo |a b| Hello)"),
        ("() (1 . 2) (a (b (c))) (x . (y))", "(() (1 . 2) (a (b (c))) (x y))"),
        ("#() #(1 #(2)) #u8() #u8(0 255)", "(#() #(1 #(2)) #u8() #u8(0 255))"),
        ("'x `(a ,b ,@c)", "((quote x) (quasiquote (a (unquote b) (unquote-splicing c))))"),
        ("; line comment\n1 #| block #| nested |# |# 2 #;(skipped) 3", "(1 2 3)"),
        ("#0=(a b . #0#)", "(#0=(a b . #0#))"),
    ],
)
def test_read_every_datum_syntax(text, expected):
    scheme_text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    check(f'(let ((p (open-input-string "{scheme_text}")))'
          " (let loop ((acc (quote ()))) (let ((d (read p))) (if (eof-object? d) (reverse acc) (loop (cons d acc))))))",
          expected)


def test_read_leaves_the_port_just_after_the_datum():
    check('(let ((p (open-input-string "abc (1)x ;c"))) (list (read p) (read-char p) (read p) (read-char p) (read p)))',
          "(abc #\\space (1) #\\x #<eof>)")
    check('(let ((p (open-input-string "   ; only a comment\\n  #| and this |#  "))) (read p))', "#<eof>")


@pytest.mark.parametrize("text", ["(1 2", ")", "#(1", '\\"abc', "#\\\\nosuchchar", "(1 . )"])
def test_malformed_input_is_a_read_error(text):
    check(f"(guard (e ((read-error? e) 'read-error) (else (list 'other (error-object-message e))))"
          f' (read (open-input-string "{text}")))',
          "read-error")


def test_read_from_the_current_input_port(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("(a\n b)\nnext line\n\r\nrest"))
    it = Interpreter(stdout=io.StringIO())
    assert ev("(list (read) (read-char) (read-line) (char-ready?) (read-line) (read-string 10) (read-char))", it) == \
        '((a b) #\\newline "next line" #t "" "rest" #<eof>)'


def test_binary_procedures_refuse_the_textual_current_ports():
    fails("(read-u8)", "read-u8: expected a binary input port, got #<input-port>")
    fails("(write-u8 1)", "write-u8: expected a binary output port, got #<output-port>")


# ---------------------------------------------------------------- textual output


def test_string_output_ports():
    check("(let ((p (open-output-string))) (write 'sym p) (display \" \" p) (write \"s\" p) (write-char #\\z p)"
          " (newline p) (write-string \"abc\" p) (get-output-string p))",
          '"sym \\"s\\"z\\nabc"')
    check("(let ((p (open-output-string))) (list (get-output-string p) (begin (display 1 p) (get-output-string p))"
          " (begin (display 2 p) (get-output-string p))))",
          '("" "1" "12")')


@pytest.mark.parametrize(
    "args, expected",
    [
        ('"abcdef" p', '"abcdef"'),
        ('"abcdef" p 2', '"cdef"'),
        ('"abcdef" p 2 4', '"cd"'),
        ('"abcdef" p 6', '""'),
        ('"abcdef" p 3 3', '""'),
        ('"" p 0 0', '""'),
    ],
)
def test_write_string_with_start_and_end(args, expected):
    check(f"(let ((p (open-output-string))) (write-string {args}) (get-output-string p))", expected)


@pytest.mark.parametrize(
    "src, message",
    [
        ("(write-string 'abc)", "write-string: expected a string, got abc"),
        ('(write-string "abc" 5)', "write-string: expected a textual output port, got 5"),
        (f'(write-string "abc" {BOUT})', "write-string: expected a textual output port, got #<binary-output-port>"),
        (f'(write-string "abc" {OUT} 4)', "write-string: start index 4 out of range for length 3"),
        (f'(write-string "abc" {OUT} 0 4)', "write-string: end index 4 out of range for length 3"),
        (f'(write-string "abc" {OUT} 2 1)', "write-string: start index 2 is greater than end index 1"),
        (f'(write-string "abc" {OUT} -1)', "write-string: expected an exact non-negative integer, got -1"),
        (f'(write-string "abc" {OUT} 1.0)', "write-string: expected an exact non-negative integer, got 1.0"),
        ('(write-char "a")', 'write-char: expected a char, got "a"'),
        (f"(write-char #\\a {IN})", "write-char: expected a textual output port, got #<input-port>"),
        ("(display 1 'port)", "display: expected a textual output port, got port"),
        (f"(write 1 {BOUT})", "write: expected a textual output port, got #<binary-output-port>"),
        (f"(newline {IN})", "newline: expected a textual output port, got #<input-port>"),
        (f"(flush-output-port {IN})", "flush-output-port: expected an output port, got #<input-port>"),
        ("(flush-output-port 0)", "flush-output-port: expected an output port, got 0"),
    ],
)
def test_textual_output_errors(src, message):
    fails(src, message)


def test_flush_output_port():
    assert output("(display 1) (flush-output-port) (flush-output-port (current-output-port)) (display 2)") == "12"
    check(f"(list (flush-output-port {OUT}) (flush-output-port {BOUT}))", "(#<unspecified> #<unspecified>)")


# ---------------------------------------------------------------- the current ports under parameterize


def test_current_output_port_parameterized_to_a_string_port():
    it = interp()
    assert ev("(define p (open-output-string))"
              " (parameterize ((current-output-port p)) (display \"in\") (write \"w\") (newline) (write-char #\\c)"
              "  (write-string \"str\") (format #t \"~a\" 5))"
              " (display \"out\")"
              " (get-output-string p)", it) == '"in\\"w\\"\\ncstr5"'
    assert it.stdout.getvalue() == "out"


def test_with_output_to_string_nests_and_restores_on_errors():
    check("(with-output-to-string (lambda () (display 1) (display (with-output-to-string (lambda () (display 2)))) (display 3)))",
          '"123"')
    it = interp()
    assert ev("(guard (e (#t 'caught)) (with-output-to-string (lambda () (display \"lost\") (error \"boom\"))))", it) == "caught"
    assert output("(display \"after\")", it) == "after"
    check("(call-with-output-string (lambda (p) (write 'x p) (display \" y\" p)))", '"x y"')


def test_current_input_port_parameterized_to_a_string_port():
    check('(parameterize ((current-input-port (open-input-string "(1 2) rest\\nline2")))'
          " (list (read) (read-char) (read-line) (read-line) (read-line) (peek-char) (char-ready?)))",
          '((1 2) #\\space "rest" "line2" #<eof> #<eof> #t)')


def test_binary_procedures_use_binary_current_ports_when_parameterized():
    check("(parameterize ((current-input-port (open-input-bytevector (bytevector 9 8))))"
          " (list (peek-u8) (read-u8) (u8-ready?) (read-bytevector 4) (read-u8)))",
          "(9 9 #t #u8(8) #<eof>)")
    check("(let ((p (open-output-bytevector))) (parameterize ((current-output-port p)) (write-u8 1) (write-bytevector (bytevector 2 3)))"
          " (get-output-bytevector p))",
          "#u8(1 2 3)")


def test_a_current_output_port_that_is_not_one():
    fails("(parameterize ((current-output-port 5)) (display 1))", "display: expected a textual output port, got 5")
    fails("(parameterize ((current-input-port 'x)) (read-char))", "read-char: expected a textual input port, got x")


# ---------------------------------------------------------------- binary ports


def test_bytevector_input_port():
    check("(let ((p (open-input-bytevector (bytevector 1 2 3 4 5))))"
          " (list (u8-ready? p) (peek-u8 p) (read-u8 p) (read-bytevector 2 p) (read-bytevector 0 p)"
          "       (read-bytevector 10 p) (read-u8 p) (peek-u8 p) (read-bytevector 1 p) (read-bytevector 0 p) (u8-ready? p)))",
          "(#t 1 1 #u8(2 3) #u8() #u8(4 5) #<eof> #<eof> #<eof> #u8() #t)")
    check("(read-u8 (open-input-bytevector (bytevector)))", "#<eof>")
    check("(read-u8 (open-input-bytevector (bytevector 0 255)))", "0")


def test_open_input_bytevector_reads_the_bytes_it_was_given():
    check("(let* ((b (bytevector 1 2)) (p (open-input-bytevector b))) (bytevector-u8-set! b 0 99) (read-bytevector 2 p))",
          "#u8(1 2)")


def test_read_bytevector_returns_a_fresh_bytevector():
    check("(let* ((p (open-input-bytevector (bytevector 1 2))) (b (read-bytevector 2 p))) (bytevector-u8-set! b 0 7) b)",
          "#u8(7 2)")


@pytest.mark.parametrize(
    "args, expected",
    [
        ("", "(5 #u8(1 2 3 4 5) #<eof>)"),  # into the whole bytevector
        (" 1", "(4 #u8(0 1 2 3 4) 1)"),
        (" 1 3", "(2 #u8(0 1 2 0 0) 2)"),
        (" 5", "(0 #u8(0 0 0 0 0) 0)"),  # an empty range reads nothing, even at the end
        (" 2 2", "(0 #u8(0 0 0 0 0) 0)"),
    ],
)
def test_read_bytevector_bang(args, expected):
    check("(let ((p (open-input-bytevector (bytevector 1 2 3 4 5))) (b (make-bytevector 5 0)))"
          f" (let* ((n (read-bytevector! b p{args})) (copy (bytevector-copy b))) (list n copy (read-bytevector! b p{args}))))",
          expected)


def test_read_bytevector_bang_counts_and_ends():
    check("(let ((p (open-input-bytevector (bytevector 1 2 3))) (b (make-bytevector 2 0)))"
          " (list (read-bytevector! b p) (bytevector-copy b) (read-bytevector! b p) (bytevector-copy b)"
          "       (read-bytevector! b p) (read-bytevector! b p 1 1)))",
          "(2 #u8(1 2) 1 #u8(3 2) #<eof> 0)")
    check("(let ((p (open-input-bytevector (bytevector 7 8 9))) (b (make-bytevector 4 0)))"
          " (list (read-bytevector! b p 1 3) (bytevector-copy b) (read-bytevector! b p 3) b))",
          "(2 #u8(0 7 8 0) 1 #u8(0 7 8 9))")


def test_bytevector_output_port():
    check("(let ((p (open-output-bytevector)))"
          " (write-u8 0 p) (write-u8 255 p) (write-bytevector (bytevector 1 2 3) p) (write-bytevector (bytevector 4 5 6 7) p 1)"
          " (write-bytevector (bytevector 8 9 10 11) p 1 3) (write-bytevector (bytevector) p) (write-bytevector (bytevector 1) p 1 1)"
          " (get-output-bytevector p))",
          "#u8(0 255 1 2 3 5 6 7 9 10)")
    check("(get-output-bytevector (open-output-bytevector))", "#u8()")
    check("(let* ((p (open-output-bytevector)) (a (begin (write-u8 1 p) (get-output-bytevector p))))"
          " (bytevector-u8-set! a 0 42) (write-u8 2 p) (list a (get-output-bytevector p)))",
          "(#u8(42) #u8(1 2))")


@pytest.mark.parametrize(
    "src, message",
    [
        ("(open-input-bytevector \"abc\")", 'open-input-bytevector: expected a bytevector, got "abc"'),
        ("(open-input-bytevector '(1 2))", "open-input-bytevector: expected a bytevector, got (1 2)"),
        (f"(get-output-bytevector {OUT})", "get-output-bytevector: expected a bytevector output port"),
        (f"(get-output-bytevector {BIN})", "get-output-bytevector: expected a bytevector output port"),
        (f"(read-u8 {IN})", "read-u8: expected a binary input port, got #<input-port>"),
        (f"(peek-u8 {BOUT})", "peek-u8: expected a binary input port, got #<binary-output-port>"),
        ("(u8-ready? 5)", "u8-ready?: expected a binary input port, got 5"),
        (f"(read-bytevector -1 {BIN})", "read-bytevector: expected an exact non-negative integer, got -1"),
        (f"(read-bytevector 'a {BIN})", "read-bytevector: expected an exact non-negative integer, got a"),
        (f"(read-bytevector 2 {IN})", "read-bytevector: expected a binary input port, got #<input-port>"),
        (f"(read-bytevector! (make-vector 2 0) {BIN})", "read-bytevector!: expected a bytevector, got #(0 0)"),
        (f'(read-bytevector! "ab" {BIN})', 'read-bytevector!: expected a bytevector, got "ab"'),
        (f"(read-bytevector! (make-bytevector 2) {IN})", "read-bytevector!: expected a binary input port, got #<input-port>"),
        (f"(read-bytevector! (make-bytevector 2) {BIN} 3)", "read-bytevector!: start index 3 out of range for length 2"),
        (f"(read-bytevector! (make-bytevector 2) {BIN} 0 3)", "read-bytevector!: end index 3 out of range for length 2"),
        (f"(read-bytevector! (make-bytevector 2) {BIN} 2 1)", "read-bytevector!: start index 2 is greater than end index 1"),
        (f"(read-bytevector! (make-bytevector 2) {BIN} -1)", "read-bytevector!: expected an exact non-negative integer, got -1"),
        (f"(write-u8 256 {BOUT})", "write-u8: expected a byte (an exact integer from 0 to 255), got 256"),
        (f"(write-u8 -1 {BOUT})", "write-u8: expected a byte (an exact integer from 0 to 255), got -1"),
        (f"(write-u8 #\\a {BOUT})", "write-u8: expected a byte (an exact integer from 0 to 255), got #\\a"),
        (f"(write-u8 1.0 {BOUT})", "write-u8: expected a byte (an exact integer from 0 to 255), got 1.0"),
        (f"(write-u8 1 {OUT})", "write-u8: expected a binary output port, got #<output-port>"),
        (f"(write-bytevector \"ab\" {BOUT})", 'write-bytevector: expected a bytevector, got "ab"'),
        (f"(write-bytevector (bytevector 1) {OUT})", "write-bytevector: expected a binary output port, got #<output-port>"),
        (f"(write-bytevector (bytevector 1 2) {BOUT} 3)", "write-bytevector: start index 3 out of range for length 2"),
        (f"(write-bytevector (bytevector 1 2) {BOUT} 0 5)", "write-bytevector: end index 5 out of range for length 2"),
        (f"(write-bytevector (bytevector 1 2) {BOUT} 2 1)", "write-bytevector: start index 2 is greater than end index 1"),
        (f"(write-bytevector (bytevector 1 2) {BOUT} 'a)", "write-bytevector: expected an exact non-negative integer, got a"),
    ],
)
def test_binary_port_errors(src, message):
    fails(src, message)


def test_a_failed_write_writes_nothing():
    check("(let ((p (open-output-bytevector))) (guard (e (#t #f)) (write-bytevector (bytevector 1 2) p 0 9))"
          " (guard (e (#t #f)) (write-u8 300 p)) (get-output-bytevector p))",
          "#u8()")


# ---------------------------------------------------------------- call-with-port and friends


def test_call_with_port_closes_the_port_and_returns_what_proc_returns():
    check('(let* ((p (open-input-string "abc")) (r (call-with-port p read-char))) (list r (input-port-open? p)))',
          "(#\\a #f)")
    check("(let ((p (open-output-bytevector))) (call-with-values (lambda () (call-with-port p (lambda (q) (write-u8 5 q) (values 1 2))))"
          " (lambda (a b) (list a b (output-port-open? p) (get-output-bytevector p)))))",
          "(1 2 #f #u8(5))")
    fails("(call-with-port 5 (lambda (p) p))", "call-with-port: expected a port, got 5")


def test_call_with_input_string():
    check('(call-with-input-string "(x) y" (lambda (p) (list (read p) (read p) (read p))))', "((x) y #<eof>)")


# ---------------------------------------------------------------- files


def test_text_file_ports_round_trip(tmp_path):
    path = str(tmp_path / "t.txt")
    it = interp()
    ev(f'(define o (open-output-file "{path}")) (write \'(1 "two" #\\λ) o) (newline o) (write-string "línea 2" o)'
       " (flush-output-port o) (close-port o)", it)
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == '(1 "two" #\\λ)\nlínea 2'
    assert ev(f'(define i (open-input-file "{path}"))'
              " (list (textual-port? i) (binary-port? i) (read i) (read-line i) (peek-char i) (read-line i) (read-line i)"
              "       (begin (close-port i) (input-port-open? i)))", it) == '(#t #f (1 "two" #\\λ) "" #\\l "línea 2" #<eof> #f)'
    assert "read-char: cannot read from a closed port" in error("(read-char i)", it).message
    fails(f'(let ((o (open-output-file "{path}"))) (close-port o) (display 1 o))', "display: cannot write to a closed port")


def test_open_output_file_truncates_and_appends_when_asked(tmp_path):
    path = str(tmp_path / "a.txt")
    ev(f'(call-with-output-file "{path}" (lambda (p) (display "first" p)))'
       f' (call-with-output-file "{path}" (lambda (p) (display "second" p)))'
       f' (let ((p (open-output-file "{path}" #t))) (display "+more" p) (close-port p))')
    assert (tmp_path / "a.txt").read_text() == "second+more"


def test_binary_file_ports_round_trip(tmp_path):
    path = str(tmp_path / "b.bin")
    it = interp()
    ev(f'(define o (open-binary-output-file "{path}"))'
       " (list (binary-port? o) (textual-port? o) (output-port? o))", it)
    ev("(write-u8 0 o) (write-u8 255 o) (write-bytevector (bytevector 10 13 10 200) o) (flush-output-port o) (close-port o)", it)
    assert (tmp_path / "b.bin").read_bytes() == bytes([0, 255, 10, 13, 10, 200])
    assert ev(f'(define i (open-binary-input-file "{path}"))'
              " (list (binary-port? i) (input-port? i) (peek-u8 i) (read-u8 i) (read-bytevector 2 i) (u8-ready? i)"
              "       (let ((b (make-bytevector 4 0))) (list (read-bytevector! b i) b)) (read-u8 i) (read-bytevector 3 i))", it) == \
        "(#t #t 0 0 #u8(255 10) #t (3 #u8(13 10 200 0)) #<eof> #<eof>)"
    ev("(close-port i)", it)
    fails(f'(let ((p (open-binary-output-file "{path}"))) (close-port p) (write-u8 1 p))', "write-u8: cannot write to a closed port")


def test_a_large_binary_file_is_read_whole(tmp_path):
    data = bytes(range(256)) * 300  # more than one read chunk (64 KiB)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    it = interp()
    assert ev(f'(let* ((p (open-binary-input-file "{path}")) (b (read-bytevector 1000000 p)))'
              " (list (bytevector-length b) (bytevector-u8-ref b 70000) (read-u8 p)))", it) == f"(76800 {70000 % 256} #<eof>)"
    assert ev(f'(call-with-port (open-binary-input-file "{path}")'
              " (lambda (p) (let loop ((n 0) (sum 0)) (let ((b (read-u8 p))) (if (eof-object? b) (list n sum) (loop (+ n 1) (+ sum b)))))))",
              it) == f"(76800 {sum(data)})"


def test_file_ports_in_text_and_binary_are_separate_kinds(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hi")
    fails(f'(read-u8 (open-input-file "{path}"))', "read-u8: expected a binary input port, got #<input-port>")
    fails(f'(read-char (open-binary-input-file "{path}"))', "read-char: expected a textual input port, got #<binary-input-port>")


def test_a_file_that_is_not_utf8_text(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9\n")
    e = fails(f'(read-line (open-input-file "{path}"))', "read-line: ")
    assert "not UTF-8 text" in e.message
    check(f'(read-bytevector 10 (open-binary-input-file "{path}"))', "#u8(99 97 102 233 10)")


@pytest.mark.parametrize(
    "proc", ["open-input-file", "open-binary-input-file", "open-output-file", "open-binary-output-file"]
)
def test_file_open_errors_are_file_errors(tmp_path, proc):
    missing = str(tmp_path / "no" / "such" / "file")
    check(f'(guard (e ((file-error? e) (list (read-error? e) (error-object-message e)))) ({proc} "{missing}"))',
          f'(#f "{proc}: cannot open {missing}: No such file or directory")')
    fails(f"({proc} 'name)", f"{proc}: expected a file name string, got name")
    fails(f"({proc} 42)", f"{proc}: expected a file name string, got 42")


def test_read_error_and_file_error_predicates():
    check("(guard (e (#t (list (read-error? e) (file-error? e)))) (read (open-input-string \"(\")))", "(#t #f)")
    check("(guard (e (#t (list (read-error? e) (file-error? e)))) (read-char 5))", "(#f #f)")
    check("(list (read-error? 1) (file-error? \"x\"))", "(#f #f)")


def test_file_procedures_are_capabilities(tmp_path, monkeypatch):
    from interp.capabilities import POLICY, RESTRICTED

    for name in ("open-input-file", "open-binary-input-file", "open-output-file", "open-binary-output-file"):
        assert RESTRICTED[name] == "file"
    it = interp()
    monkeypatch.setattr(POLICY, "granted", frozenset())
    path = tmp_path / "x"
    for proc in ("open-binary-input-file", "open-binary-output-file"):
        assert error(f'({proc} "{path}")', it).message.startswith(f"{proc}: not granted")
    assert not path.exists()
    check('(read-u8 (open-input-bytevector (bytevector 1)))', "1")  # in-memory ports need no grant
