"""The core special forms (issue 2), by what a program sees: define, lambda, if,
set!, quote, quasiquote, begin, the let family, do, cond, case, and, or, when, unless."""

import pytest

from evalhelp import error, ev, interp, output


def check(src, expected):
    assert ev(src) == expected


# ---------------------------------------------------------------- define and lambda


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(define x 5) x", "5"),
        ("(define x 5) (define x 6) x", "6"),
        ("(define (sq x) (* x x)) (sq 12)", "144"),
        ("(define (f . args) args) (f)", "()"),
        ("(define (f . args) args) (f 1 2 3)", "(1 2 3)"),
        ("(define (f a b . rest) (list a b rest)) (f 1 2)", "(1 2 ())"),
        ("(define (f a b . rest) (list a b rest)) (f 1 2 3 4)", "(1 2 (3 4))"),
        ("(define ((adder n) x) (+ n x)) ((adder 3) 4)", "7"),
        ("(define f (lambda args (length args))) (f 1 2 3)", "3"),
        ("((lambda (x y) (- x y)) 10 3)", "7"),
        ("((lambda (x . r) (list x r)) 1 2 3)", "(1 (2 3))"),
        ("((lambda args args))", "()"),
        ("(define v) (if (eq? v v) 'ok)", "ok"),
        ("(define (f) 1) (define g f) (eq? f g)", "#t"),
        # a lambda's value is a procedure closing over its definition environment
        ("(define (counter) (let ((n 0)) (lambda () (set! n (+ n 1)) n)))"
         " (define c (counter)) (c) (c) (c)", "3"),
        ("(define (make) (define n 0) (lambda () (set! n (+ n 1)) n))"
         " (define a (make)) (define b (make)) (a) (a) (b) (list (a) (b))", "(3 2)"),
        ("(procedure? (lambda () 1))", "#t"),
        ("(define (f) (define a 1) (define (g) (* a 10)) (g)) (f)", "10"),
        # internal defines see each other (letrec* semantics) and may be mutually recursive
        ("(define (f n) (define (ev? n) (if (= n 0) #t (od? (- n 1))))"
         " (define (od? n) (if (= n 0) #f (ev? (- n 1)))) (ev? n)) (list (f 10) (f 7))", "(#t #f)"),
        ("(define (f) (define a 1) (define b (+ a 1)) (list a b)) (f)", "(1 2)"),
        # internal define after an expression, and inside begin
        ("(define (f) (begin (define a 1) (define b 2)) (+ a b)) (f)", "3"),
        ("(let () (define x 1) (set! x (+ x 1)) x)", "2"),
        ("(define (f x) (define x 10) x) (f 1)", "10"),
    ],
)
def test_define_and_lambda(src, expected):
    check(src, expected)


def test_redefining_a_builtin_is_local_to_the_program():
    it = interp()
    assert ev("(define (car x) 'mine) (car '(1))", it) == "mine"
    assert ev("(car '(1))") == "1"  # a fresh interpreter is unaffected


def test_define_returns_nothing_printable():
    from interp import format_value

    it = interp()
    assert format_value(it.eval("(define x 1)")) == ""


@pytest.mark.parametrize(
    "src, message",
    [
        ("(lambda (x x) x)", "duplicate parameter x"),
        ("(lambda (1) 1)", "parameter is not an identifier"),
        ("(lambda (x))", "lambda: expected parameters and a body"),
        ("(define)", "define: expected a name"),
        ("(define 5 1)", "define: expected a name"),
        ("(define x 1 2)", "expected (define name expr)"),
        ("(+ 1 (define x 2))", "define: not allowed in an expression context"),
        ("(let ((x 1)) )", "let: expected bindings and a body"),
        ("(list 1 ())", "empty combination"),
        ("(if)", "if: expected (if test then [else])"),
        ("(if 1 2 3 4)", "if: expected"),
        ("(set! 5 1)", "set!: expected (set! name expr)"),
        ("(quote 1 2)", "quote: expected exactly one datum"),
        ("(let ((1 2)) 1)", "let: bad binding"),
        ("(let ((x 1) (x 2)) x)", "let: duplicate variable"),
        ("(cond (else 1) (#t 2))", "cond: else clause must be last"),
        ("(case 1 (else 1) ((1) 2))", "case: else clause must be last"),
        ("(f . 1)", "procedure call: not a proper list"),
        ("(list if)", "syntax keyword if used as a variable"),
    ],
)
def test_malformed_forms_are_syntax_errors(src, message):
    e = error(src)
    assert message in e.message
    assert e.pos is not None


# ---------------------------------------------------------------- if, set!, quote, begin


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(if #t 1 2)", "1"),
        ("(if #f 1 2)", "2"),
        ("(if '() 1 2)", "1"),  # the empty list is true
        ("(if 0 1 2)", "1"),  # so is 0
        ("(if \"\" 1 2)", "1"),
        ("(if #f #f)", "#<unspecified>"),
        ("(define x 1) (set! x 2) x", "2"),
        ("(let ((x 1)) (set! x (+ x 10)) x)", "11"),
        ("(define (f) (define y 1) (set! y 5) y) (f)", "5"),
        ("(let ((x 1)) (let ((f (lambda () (set! x 99)))) (f) x))", "99"),
        ("'a", "a"),
        ("''a", "(quote a)"),
        ("'(1 . 2)", "(1 . 2)"),
        ("'#(1 (2) \"s\")", '#(1 (2) "s")'),
        ("(quote (quasiquote (a (unquote b))))", "(quasiquote (a (unquote b)))"),
        ("(begin 1 2 3)", "3"),
        ("(begin (define b 4) (* b 2))", "8"),
        ("(let ((x 0)) (begin (set! x 1) (set! x (+ x 1))) x)", "2"),
    ],
)
def test_if_set_quote_begin(src, expected):
    check(src, expected)


def test_set_of_an_undefined_global_is_an_error():
    assert "set!: unbound variable: nope" in error("(set! nope 1)").message


def test_quoted_data_is_constant_and_shared():
    it = interp()
    assert ev("(define (f) '(1 2)) (eq? (f) (f))", it) == "#t"


# ---------------------------------------------------------------- quasiquote


@pytest.mark.parametrize(
    "src, expected",
    [
        ("`(1 ,(+ 1 1) 3)", "(1 2 3)"),
        ("`(1 ,@(list 2 3) 4)", "(1 2 3 4)"),
        ("`(,@'() . x)", "x"),
        ("`(1 . ,(+ 1 1))", "(1 . 2)"),
        ("`(a ,@(list 1 2))", "(a 1 2)"),
        ("`#(1 ,(+ 1 1) ,@(list 3 4))", "#(1 2 3 4)"),
        ("`#(a b)", "#(a b)"),
        ("`(1 #(,(* 2 3)))", "(1 #(6))"),
        ("(let ((x 5)) `(x ,x ,'x))", "(x 5 x)"),
        # nested quasiquote: only the innermost-level unquote is evaluated
        ("`(a `(b ,(c ,(+ 1 2))))", "(a (quasiquote (b (unquote (c 3)))))"),
        ("(let ((name 'x)) `(a `(b ,,name)))", "(a (quasiquote (b (unquote x))))"),
        ("`(1 `,(+ 1 ,(+ 2 3)) 4)", "(1 (quasiquote (unquote (+ 1 5))) 4)"),
        ("`(a `(b ,@(c ,@(list 1 2))))", "(a (quasiquote (b (unquote-splicing (c 1 2)))))"),
        ("`,(+ 2 3)", "5"),
        ("`()", "()"),
        ("(quasiquote (1 (unquote (+ 1 1))))", "(1 2)"),
        # a spliced list is copied, the last one may be shared
        ("(define l (list 1 2)) (define r `(,@l 3)) (set-car! l 99) r", "(1 2 3)"),
    ],
)
def test_quasiquote(src, expected):
    check(src, expected)


def test_unquote_splicing_outside_a_list_is_an_error():
    assert "unquote-splicing" in error("`,@(list 1)").message


# ---------------------------------------------------------------- let family


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(let ((x 1) (y 2)) (+ x y))", "3"),
        ("(let () 5)", "5"),
        ("(let ((x 1)) (let ((x 2) (y x)) y))", "1"),  # inits see the outer x
        ("(let* ((x 1) (y (+ x 1))) (* x y))", "2"),
        ("(let* () 7)", "7"),
        ("(let* ((x 1) (x (+ x 1))) x)", "2"),
        ("(letrec ((f (lambda (n) (if (= n 0) 1 (* n (f (- n 1))))))) (f 5))", "120"),
        ("(letrec ((ev? (lambda (n) (if (= n 0) #t (od? (- n 1)))))"
         " (od? (lambda (n) (if (= n 0) #f (ev? (- n 1)))))) (ev? 100))", "#t"),
        ("(letrec* ((a 1) (b (+ a 1))) (list a b))", "(1 2)"),
        ("(letrec* ((f (lambda () (g))) (g (lambda () 'g))) (f))", "g"),
        ("(let loop ((i 0) (acc '())) (if (= i 3) (reverse acc) (loop (+ i 1) (cons i acc))))", "(0 1 2)"),
        ("(let loop () 'done)", "done"),
        # the loop name is local to the body
        ("(define loop 5) (let loop ((i 0)) (if (< i 1) (loop (+ i 1)) i)) loop", "5"),
        ("(let ((x 'outer)) (let f ((x 1)) x))", "1"),
        # named-let inits are evaluated outside the loop's scope
        ("(define (f) 'outer) (let f ((x (f))) x)", "outer"),
    ],
)
def test_let_forms(src, expected):
    check(src, expected)


def test_letrec_use_before_definition_is_an_error():
    e = error("(letrec ((a b) (b 1)) a)")
    assert "b: variable used before its definition" in e.message


# ---------------------------------------------------------------- do


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(do ((i 0 (+ i 1)) (acc '() (cons i acc))) ((= i 3) acc))", "(2 1 0)"),
        ("(do ((vec (make-vector 5)) (i 0 (+ i 1))) ((= i 5) vec) (vector-set! vec i i))", "#(0 1 2 3 4)"),
        ("(let ((x '(1 3 5 7 9))) (do ((x x (cdr x)) (sum 0 (+ sum (car x)))) ((null? x) sum)))", "25"),
        ("(do ((i 0 (+ i 1))) ((= i 2)))", "#<unspecified>"),
        ("(define n 0) (do () ((= n 4) n) (set! n (+ n 1)))", "4"),
        ("(do ((i 0 (+ i 1)) (j 10)) ((= i 2) (list i j)))", "(2 10)"),
    ],
)
def test_do(src, expected):
    check(src, expected)


# ---------------------------------------------------------------- cond, case, and, or, when, unless


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(cond ((> 3 2) 'greater) ((< 3 2) 'less))", "greater"),
        ("(cond ((> 3 3) 'greater) ((< 3 3) 'less) (else 'equal))", "equal"),
        ("(cond (#f 1))", "#<unspecified>"),
        ("(cond ((assv 'b '((a 1) (b 2))) => cadr) (else #f))", "2"),
        ("(cond (#f => car) (else 'no))", "no"),
        ("(cond ((+ 1 2)))", "3"),  # a test alone: its value
        ("(cond (#f) (2))", "2"),
        ("(cond ((= 1 1) 'a 'b))", "b"),
        ("(let ((=> #f)) (cond (#t => 'ok)))", "ok"),  # => rebound: not the arrow
        ("(let ((else #f)) (cond (else 'no) (#t 'yes)))", "yes"),  # else rebound: a variable
        ("(case (* 2 3) ((2 3 5 7) 'prime) ((1 4 6 8 9) 'composite))", "composite"),
        ("(case (car '(c d)) ((a e i o u) 'vowel) ((w y) 'semivowel) (else => (lambda (x) x)))", "c"),
        ("(case 5 ((5) => (lambda (x) (* x 2))) (else 0))", "10"),
        ("(case 'x ((a) 1))", "#<unspecified>"),
        ("(case (list 1) (((1)) 'list) (else 'no))", "no"),  # case uses eqv?
        ("(case #\\a ((#\\a) 'char) (else 'no))", "char"),
        ("(case 2.0 ((2) 'exact) ((2.0) 'inexact))", "inexact"),
        ("(case '() ((()) 'empty) (else 'no))", "empty"),
        ("(and)", "#t"),
        ("(and 1 2 3)", "3"),
        ("(and 1 #f 3)", "#f"),
        ("(or)", "#f"),
        ("(or #f 2 3)", "2"),
        ("(or #f #f)", "#f"),
        ("(let ((x 0)) (or #t (set! x 1)) x)", "0"),  # short-circuit
        ("(let ((x 0)) (and #f (set! x 1)) x)", "0"),
        ("(when (> 1 0) 'a 'b)", "b"),
        ("(when #f 'a)", "#<unspecified>"),
        ("(unless #f 'a 'b)", "b"),
        ("(unless #t 'a)", "#<unspecified>"),
    ],
)
def test_conditionals(src, expected):
    check(src, expected)


# ---------------------------------------------------------------- #f is not 0, #t is not 1


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(eqv? #f 0)", "#f"),
        ("(eqv? #t 1)", "#f"),
        ("(eq? #f 0)", "#f"),
        ("(equal? #f 0)", "#f"),
        ("(equal? #t 1)", "#f"),
        ("(equal? '(#f) '(0))", "#f"),
        ("(equal? #(1) #(#t))", "#f"),
        ("(memv 0 '(#f 0))", "(0)"),
        ("(memv #f '(0 #f))", "(#f)"),
        ("(member 1 '(#t 1))", "(1)"),
        ("(assv #f '((0 . a) (#f . b)))", "(#f . b)"),
        ("(assv 1 '((#t . a) (1 . b)))", "(1 . b)"),
        ("(assoc 1 '((#t . x) (1 . y)))", "(1 . y)"),
        ("(assoc #f '((0 . x) (#f . y)))", "(#f . y)"),
        ("(assq #t '((1 . x) (#t . y)))", "(#t . y)"),
        ("(case 0 ((#f) 'false) ((0) 'zero))", "zero"),
        ("(case #f ((0) 'zero) ((#f) 'false))", "false"),
        ("(case 1 ((#t) 'true) ((1) 'one))", "one"),
        ("(case #t ((1) 'one) ((#t) 'true))", "true"),
        ("(let ((h (make-hash-table))) (hash-table-set! h 0 'zero) (hash-table-set! h #f 'false)"
         " (list (hash-table-ref/default h 0 #f) (hash-table-ref/default h #f #f)))", "(zero false)"),
    ],
)
def test_false_is_not_zero_and_true_is_not_one(src, expected):
    check(src, expected)


def test_output_of_display_and_write():
    assert output('(display "a\\nb") (write "c") (write #\\x) (newline)') == 'a\nb"c"#\\x\n'


@pytest.mark.parametrize(
    "src, message",
    [
        ("(let ((x)) x)", "let: bad binding (x)"),
        ("(let* ((x 1) (y)) y)", "bad binding (y)"),
        ("(letrec ((f)) f)", "letrec: bad binding (f)"),
        ("(let loop ((i)) i)", "let: bad binding (i)"),
        ("(define-values (a b) (values 1 2 3))", "define-values: too many values for (a b) (1 2 3)"),
        ("(define-values (a b c) (values 1 2))", "define-values: too few values for (a b c) (1 2)"),
        ("(define-values (a b . c) (values 1))", "define-values: too few values"),
        ("(let () (define-values (a) (values)) a)", "define-values: too few values"),
        # the letrec restriction, where it shows: a variable used before its init ran
        ("(letrec ((a b) (b 1)) a)", "b: variable used before its definition"),
        ("(let () (define a b) (define b 1) a)", "b: variable used before its definition"),
    ],
)
def test_malformed_bindings_and_value_counts_are_errors(src, message):
    assert message in error(src).message


@pytest.mark.parametrize(
    "src, expected",
    [
        ("(define-values (a b . c) (values 1 2 3 4)) (list a b c)", "(1 2 (3 4))"),
        ("(define-values (a b . c) (values 1 2)) (list a b c)", "(1 2 ())"),
        ("(define-values all (values 1 2)) all", "(1 2)"),
        ("(define-values () (values)) 'none", "none"),
        ("(let () (define-values (x y) (values 1 2)) (+ x y))", "3"),
    ],
)
def test_define_values(src, expected):
    assert ev(src) == expected


def test_emergency_exit_skips_the_after_thunks_and_exit_runs_them():
    from interp.interpreter import SchemeExit

    for proc, expected in (("exit", "[in][out]"), ("emergency-exit", "[in]")):
        it = interp()
        with pytest.raises(SchemeExit) as info:
            it.eval(f"(dynamic-wind (lambda () (display \"[in]\")) (lambda () ({proc} 3))"
                    " (lambda () (display \"[out]\")))")
        assert info.value.code == 3
        assert it.stdout.getvalue() == expected


@pytest.mark.parametrize(
    "src, expected",
    [
        # a circular list beside a finite one: for-each stops at the finite one's end (as map)
        ("(let ((ls1 (list 10 100 1000)) (ls2 (list 1 2 3 4 5 6)) (count 0))"
         " (set-cdr! (cddr ls1) ls1)"
         " (for-each (lambda (x y) (set! count (+ count (* x y)))) ls2 ls1) count)", "9750"),
        ("(let ((c (list 1)) (out '())) (set-cdr! c c)"
         " (for-each (lambda (a b) (set! out (cons (+ a b) out))) c '(1 2 3)) out)", "(4 3 2)"),
        ("(let ((n 0)) (for-each (lambda (a b) (set! n (+ n 1))) '(1 2 3) '(1)) n)", "1"),
    ],
)
def test_for_each_stops_at_the_shortest_list(src, expected):
    assert ev(src) == expected


@pytest.mark.parametrize(
    "src, message",
    [
        ("(let ((c (list 1 2))) (set-cdr! (cdr c) c) (for-each display c))", "for-each: expected a finite list"),
        ("(let ((c (list 1 2))) (set-cdr! (cdr c) c) (for-each + c c))", "for-each: expected a finite list"),
        ("(for-each display '(1 . 2))", "for-each: expected a proper list"),
        ("(for-each + '(1 2) '(1 . 2))", "for-each: expected a proper list"),
    ],
)
def test_for_each_rejects_circular_only_and_improper_lists(src, message):
    assert message in error(src).message
