;;; R7RS-small 4.1  Primitive expression types
;;; variable references, literals, procedure calls, lambda, if, set!, include.
;;; Format: see tests/interp/test_r7rs.py.  Every case runs in a fresh interpreter.

;;; ---------------------------------------------------------------- 4.1.1 variable references

(test "variable-reference" 28
  (define x 28)
  x)
(test "variable-names-are-case-sensitive" '(1 2)
  (define abc 1)
  (define ABC 2)
  (list abc ABC))
(test "local-shadows-global" '(2 1)
  (define y 1)
  (list (let ((y 2)) y) y))
(test "peculiar-identifiers-as-variables" '(1 2 3 4 5)
  (let ((... 1) (->x 2) (+ 3) (<=? 4) (a.b 5))
    (list ... ->x + <=? a.b)))
(test "shadowing-a-primitive-locally" 'shadowed
  (let ((car (lambda (x) 'shadowed)))
    (car '(1 2))))
(test-error "unbound-variable" this-variable-is-not-bound)
(test-error "unbound-operator" (this-procedure-is-not-bound 1 2))

;;; ---------------------------------------------------------------- 4.1.2 literal expressions

(test "quote-symbol" 'a (quote a))
(test "quote-vector" '#(a b c) (quote #(a b c)))
(test "quote-list-is-not-evaluated" '(+ 1 2) (quote (+ 1 2)))
(test "quote-abbreviation" '(+ 1 2) '(+ 1 2))
(test "quote-of-quote" '(quote a) ''a)
(test "quote-of-quote-long" '(quote a) '(quote a))
(test "quote-string" "abc" '"abc")
(test "quote-number" 145932 '145932)
(test "quote-boolean" #t '#t)
(test "self-evaluating-string" "abc" "abc")
(test "self-evaluating-number" 145932 145932)
(test "self-evaluating-boolean" #f #f)
(test "self-evaluating-char" #\a #\a)
(test "self-evaluating-vector" '#(a 10) #(a 10))
(test "self-evaluating-bytevector" (bytevector 1 2 255) #u8(1 2 255))
(test "quote-empty-list" #t (null? '()))
(test-error "empty-combination-is-not-an-expression" ())

;;; ---------------------------------------------------------------- 4.1.3 procedure calls

(test "call-primitive" 7 (+ 3 4))
(test "call-computed-operator" 12 ((if #f + *) 3 4))
(test "call-lambda-expression" 8 ((lambda (x) (+ x x)) 4))
(test "call-without-arguments" 0 (+))
(test "call-every-operand-evaluated" '(3 6)
  (define seen '())
  (define (note x) (set! seen (cons x seen)) x)
  (+ (note 1) (note 2) (note 3))
  (list (length seen) (apply + seen)))
(test "call-operator-is-an-expression" 3
  (define procs (list car cadr caddr))
  ((caddr procs) '(1 2 3)))
(test-error "call-a-number" (5 3))
(test-error "call-a-string" ("abc" 1))
(test-error "call-a-symbol-value" ('car '(1 2)))
(test-error "too-few-arguments" ((lambda (x y) x) 1))
(test-error "too-many-arguments" ((lambda (x) x) 1 2))
(test-error "primitive-too-few-arguments" (car))
(test-error "primitive-too-many-arguments" (car '(1) '(2)))

;;; ---------------------------------------------------------------- 4.1.4 procedures

(test "lambda-is-a-procedure" #t (procedure? (lambda (x) (+ x x))))
(test "lambda-named-by-define" 3
  (define reverse-subtract (lambda (x y) (- y x)))
  (reverse-subtract 7 10))
(test "lambda-closes-over-its-environment" 10
  (define add4 (let ((x 4)) (lambda (y) (+ x y))))
  (add4 6))
(test "lambda-rest-only" '(3 4 5 6) ((lambda x x) 3 4 5 6))
(test "lambda-rest-only-no-arguments" '() ((lambda x x)))
(test "lambda-dotted-formals" '(5 6) ((lambda (x y . z) z) 3 4 5 6))
(test "lambda-dotted-formals-empty-rest" '() ((lambda (x y . z) z) 3 4))
(test-error "lambda-dotted-formals-too-few" ((lambda (x y . z) z) 3))
(test "lambda-rest-list-newly-allocated" #f
  (define l (list 1 2 3))
  (eq? l (apply (lambda args args) l)))
(test "lambda-rest-list-mutation-is-private" '(1 2 3)
  (define l (list 1 2 3))
  ((lambda args (set-car! args 99)) l)
  (apply (lambda args args) l)
  l)
(test "lambda-body-is-a-sequence" 3 ((lambda () 1 2 3)))
(test "lambda-body-internal-defines" 5
  ((lambda () (define a 2) (define b 3) (+ a b))))
(test "lambda-each-call-new-locations" '(3 1)
  (define (make-counter)
    (let ((n 0)) (lambda () (set! n (+ n 1)) n)))
  (define c1 (make-counter))
  (define c2 (make-counter))
  (c1)
  (c1)
  (list (c1) (c2)))
(test "lambda-closures-share-a-binding" 5
  (define get #f)
  (define put #f)
  (let ((v 0))
    (set! get (lambda () v))
    (set! put (lambda (x) (set! v x))))
  (put 5)
  (get))
(test "lambda-parameters-shadow-outer" 1
  (define x 10)
  ((lambda (x) x) 1))
(test-error "lambda-duplicate-formals" (lambda (x x) x))
(test-error "lambda-non-identifier-formal" (lambda (1) 1))
(test-error "lambda-without-body" (lambda (x)))

;;; ---------------------------------------------------------------- 4.1.5 conditionals

(test "if-true" 'yes (if (> 3 2) 'yes 'no))
(test "if-false" 'no (if (> 2 3) 'yes 'no))
(test "if-computed-branches" 1 (if (> 3 2) (- 3 2) (+ 3 2)))
(test "if-zero-is-true" 'yes (if 0 'yes 'no))
(test "if-empty-list-is-true" 'yes (if '() 'yes 'no))
(test "if-empty-string-is-true" 'yes (if "" 'yes 'no))
(test "if-empty-vector-is-true" 'yes (if #() 'yes 'no))
(test "if-only-false-is-false" 'no (if #f 'yes 'no))
(test "if-long-false-spelling" 'no (if #false 'yes 'no))
(test "if-one-armed-true" 'yes (if #t 'yes))
(test "if-evaluates-one-branch-only" 1
  (define n 0)
  (if #t (set! n 1) (set! n 2))
  n)
(test "if-false-branch-only" 2
  (define n 0)
  (if #f (set! n 1) (set! n 2))
  n)

;;; ---------------------------------------------------------------- 4.1.6 assignments

(test "set!-local" 5 (let ((x 2)) (set! x (+ x 3)) x))
(test "set!-global" 3
  (define x 2)
  (set! x 3)
  x)
(test "set!-seen-by-closure" 4
  (define x 2)
  (define (get) x)
  (set! x 4)
  (get))
(test "set!-inside-closure-seen-outside" 7
  (define x 2)
  ((lambda () (set! x 7)))
  x)
(test "set!-parameter-is-local" '(10 1)
  (define x 1)
  (define (f x) (set! x 10) x)
  (list (f 5) x))
(test-error "set!-unbound-variable" (set! this-is-not-bound-anywhere 1))
(test-error "set!-non-identifier" (set! (car x) 1))

;;; ---------------------------------------------------------------- 4.1.7 inclusion

(test "include-defines" 84
  (include "data/include-a.scm")
  (included-proc included-value))
(test "include-several-files-in-order" '(42 b 43)
  (include "data/include-a.scm" "data/include-b.scm")
  (list included-value included-b included-sum))
(test "include-in-a-body" 42
  (let ()
    (include "data/include-a.scm")
    included-value))
(test "include-ci-folds-case" '(hello (1 1))
  (include-ci "data/include-ci.scm")
  (list included-ci (included-twice 1)))
(test "include-nested-relative" 43
  (include "data/include-nested.scm")
  included-nested)
(test-error "include-missing-file" (include "data/there-is-no-such-file.scm"))
(test-error "include-non-string" (include data/include-a))
