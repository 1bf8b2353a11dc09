;;; R7RS-small 5  Program structure
;;; programs and import declarations, variable definitions (top level and internal),
;;; define-values, syntax definitions, define-record-type, define-library.

;;; ---------------------------------------------------------------- 5.1, 5.2 programs and imports

(test "import-scheme-base" 3
  (import (scheme base))
  (+ 1 2))
(test "import-several-libraries" "3"
  (import (scheme base) (scheme write) (scheme char))
  (number->string 3))
(test "import-every-standard-library" 'ok
  (import (scheme base) (scheme case-lambda) (scheme char) (scheme complex)
          (scheme cxr) (scheme eval) (scheme file) (scheme inexact) (scheme lazy)
          (scheme load) (scheme process-context) (scheme read) (scheme repl)
          (scheme time) (scheme write))
  'ok)
(test "import-r5rs" 'ok (import (scheme r5rs)) 'ok)
(test "import-only" 1
  (import (only (scheme base) car))
  (car '(1 2)))
(test "import-prefix" 1
  (import (prefix (scheme base) base:))
  (base:car '(1 2)))
(test "import-rename" 1
  (import (rename (scheme base) (car first-of)))
  (first-of '(1 2)))
(test "import-except" 2
  (import (except (scheme base) cdr))
  (cadr '(1 2)))
(test "import-nested-sets" 1
  (import (prefix (only (scheme base) car cdr) my-))
  (my-car '(1 2)))
(test-error "import-unknown-library" (import (no such library)))
(test-error "import-malformed" (import 42))
(test "program-toplevel-begin-with-definitions" 3
  (begin (define a 1) (define b 2))
  (+ a b))
(test "program-commands-and-definitions-interleave" '(1 2)
  (define out '())
  (set! out (cons 1 out))
  (define x 2)
  (set! out (cons x out))
  (reverse out))

;;; ---------------------------------------------------------------- 5.3 variable definitions

(test "define-variable" 6
  (define add3 (lambda (x) (+ x 3)))
  (add3 3))
(test "define-procedure-shorthand" 6
  (define (add3 x) (+ x 3))
  (add3 3))
(test "define-rest-shorthand" '(1 (2 3))
  (define (f a . rest) (list a rest))
  (f 1 2 3))
(test "define-rest-only-shorthand" '(1 2)
  (define (f . all) all)
  (f 1 2))
(test "define-first-value" 1
  (define first car)
  (first '(1 2)))
(test "redefine-is-assignment" 2
  (define x 1)
  (define (get) x)
  (define x 2)
  (get))
(test "define-primitive-name" 'mine
  (define (car x) 'mine)
  (car '(1 2)))
(test "define-then-use-in-earlier-procedure" 10
  (define (f) (g))
  (define (g) 10)
  (f))
(test "internal-definitions-standard-example" 45
  (let ((x 5))
    (define foo (lambda (y) (bar x y)))
    (define bar (lambda (a b) (+ (* a b) a)))
    (foo (+ x 3))))
(test "internal-definitions-are-letrec*" 3
  (let ()
    (define a 1)
    (define b (+ a 2))
    b))
(test "internal-definitions-are-local" 'outer
  (define x 'outer)
  (let () (define x 'inner) x)
  x)
(test "internal-define-shadows-in-whole-body" 'inner
  (define x 'outer)
  (let () (define (get) x) (define x 'inner) (get)))
(test "internal-definitions-in-lambda-body" 6
  ((lambda (n) (define (double k) (* 2 k)) (double n)) 3))
(test "internal-definitions-after-begin" 3
  (let () (begin (define a 1)) (define b 2) (+ a b)))
(test-error "internal-define-referring-to-later-variable"
  (let () (define a b) (define b 1) a))
(test-error "define-in-expression-context" (if #t (define x 1) 2))
(test-error "define-non-identifier" (define 1 2))

;;; ---------------------------------------------------------------- 5.3.3 define-values

(test "define-values" '(2 1)
  (define-values (x y) (exact-integer-sqrt 5))
  (list x y))
(test "define-values-internal" 3
  (define (f)
    (define-values (x y) (values 1 2))
    (+ x y))
  (f))
(test "define-values-dotted" '(1 (2 3))
  (define-values (a . rest) (values 1 2 3))
  (list a rest))
(test "define-values-all" '(1 2)
  (define-values all (values 1 2))
  all)
(test "define-values-none" 'ok
  (define-values () (values))
  'ok)
(test-error "define-values-wrong-count" (define-values (a b) (values 1 2 3)))

;;; ---------------------------------------------------------------- 5.4 syntax definitions

(test "define-syntax-toplevel" 3
  (define-syntax plus1 (syntax-rules () ((_ x) (+ x 1))))
  (plus1 2))
(test "define-syntax-internal-before-use" 6
  (let ()
    (define-syntax triple (syntax-rules () ((_ x) (* 3 x))))
    (define y (triple 2))
    y))
(test "define-syntax-then-use-in-procedure" 10
  (define-syntax ten (syntax-rules () ((_) 10)))
  (define (f) (ten))
  (f))

;;; ---------------------------------------------------------------- 5.5 record-type definitions

(test "record-pare-standard-example" '(#t #f 1 2 3)
  (define-record-type <pare>
    (kons x y)
    pare?
    (x kar set-kar!)
    (y kdr))
  (list (pare? (kons 1 2))
        (pare? (cons 1 2))
        (kar (kons 1 2))
        (kdr (kons 1 2))
        (let ((k (kons 1 2))) (set-kar! k 3) (kar k))))
(test "record-constructor-field-order" '(b a)
  (define-record-type point (make-point y x) point? (x point-x) (y point-y))
  (let ((p (make-point 'a 'b)))
    (list (point-x p) (point-y p))))
(test "record-field-not-in-constructor-can-be-set" 5
  (define-record-type thing (make-thing a) thing? (a thing-a) (b thing-b set-thing-b!))
  (let ((t (make-thing 1)))
    (set-thing-b! t 5)
    (thing-b t)))
(test "record-types-are-disjoint" '(#f #f #f #f #f #f)
  (define-record-type point (make-point x y) point? (x point-x) (y point-y))
  (let ((p (make-point 1 2)))
    (list (pair? p) (vector? p) (procedure? p) (string? p) (symbol? p) (null? p))))
(test "record-predicate-rejects-other-records" '(#t #f)
  (define-record-type a-type (make-a) a?)
  (define-record-type b-type (make-b) b?)
  (list (a? (make-a)) (a? (make-b))))
(test "record-predicate-on-non-records" '(#f #f #f)
  (define-record-type point (make-point x y) point? (x point-x) (y point-y))
  (list (point? 1) (point? (vector 1 2)) (point? '(1 2))))
(test "record-instances-are-distinct" #f
  (define-record-type point (make-point x y) point? (x point-x) (y point-y))
  (eq? (make-point 1 2) (make-point 1 2)))
(test "record-mutation-is-per-instance" '(10 2)
  (define-record-type cell (make-cell v) cell? (v cell-v set-cell-v!))
  (let ((a (make-cell 1)) (b (make-cell 2)))
    (set-cell-v! a 10)
    (list (cell-v a) (cell-v b))))
(test "record-no-fields" #t
  (define-record-type empty (make-empty) empty?)
  (empty? (make-empty)))
(test "record-internal-definition" 3
  (define (f)
    (define-record-type box (make-box v) box? (v unbox))
    (unbox (make-box 3)))
  (f))
(test-error "record-accessor-on-wrong-type"
  (define-record-type point (make-point x y) point? (x point-x) (y point-y))
  (point-x (cons 1 2)))
(test-error "record-accessor-on-other-record"
  (define-record-type a-type (make-a x) a? (x a-x))
  (define-record-type b-type (make-b x) b? (x b-x))
  (a-x (make-b 1)))
(test-error "record-modifier-on-wrong-type"
  (define-record-type cell (make-cell v) cell? (v cell-v set-cell-v!))
  (set-cell-v! (vector 1) 2))
(test-error "record-constructor-arity"
  (define-record-type point (make-point x y) point? (x point-x) (y point-y))
  (make-point 1))

;;; ---------------------------------------------------------------- 5.6 libraries

(test "define-library-export-import" 12
  (define-library (test lib1)
    (export double)
    (import (scheme base))
    (begin (define (double x) (* 2 x))))
  (import (test lib1))
  (double 6))
(test "define-library-unexported-is-hidden" 'hidden
  (define-library (test lib2)
    (export get)
    (import (scheme base))
    (begin (define secret 'hidden) (define (get) secret)))
  (import (test lib2))
  (guard (e (#t (get))) secret))
(test "define-library-export-rename" 'value
  (define-library (test lib3)
    (export (rename internal-name external-name))
    (import (scheme base))
    (begin (define internal-name 'value)))
  (import (test lib3))
  external-name)
(test "define-library-exports-syntax" 3
  (define-library (test lib4)
    (export my-inc)
    (import (scheme base))
    (begin (define-syntax my-inc (syntax-rules () ((_ x) (+ x 1))))))
  (import (test lib4))
  (my-inc 2))
(test "define-library-state-is-shared" 2
  (define-library (test counter)
    (export next!)
    (import (scheme base))
    (begin (define n 0) (define (next!) (set! n (+ n 1)) n)))
  (import (test counter))
  (next!)
  (next!))
(test "define-library-imports-other-library" 20
  (define-library (test base-lib)
    (export ten)
    (import (scheme base))
    (begin (define ten 10)))
  (define-library (test user-lib)
    (export twenty)
    (import (scheme base) (test base-lib))
    (begin (define twenty (* 2 ten))))
  (import (test user-lib))
  twenty)
(test "define-library-import-prefix" 7
  (define-library (test lib5)
    (export seven)
    (import (scheme base))
    (begin (define seven 7)))
  (import (prefix (test lib5) l5-))
  l5-seven)
(test "define-library-numeric-name-part" 'ok
  (define-library (test lib 2)
    (export v)
    (import (scheme base))
    (begin (define v 'ok)))
  (import (test lib 2))
  v)
(test "define-library-cond-expand-declaration" 'r7rs
  (define-library (test lib6)
    (export which)
    (import (scheme base))
    (cond-expand
      (r7rs (begin (define which 'r7rs)))
      (else (begin (define which 'other)))))
  (import (test lib6))
  which)
(test "define-library-include" 84
  (define-library (test lib7)
    (export included-proc included-value)
    (import (scheme base))
    (include "data/include-a.scm"))
  (import (test lib7))
  (included-proc included-value))
(test "define-library-body-does-not-see-program" 'library
  (define x 'program)
  (define-library (test lib8)
    (export get-x)
    (import (scheme base))
    (begin (define x 'library) (define (get-x) x)))
  (import (test lib8))
  (get-x))
(test "define-library-export-undefined-is-an-error" '(1 error)
  (define-library (test ok9)
    (export v9)
    (import (scheme base))
    (begin (define v9 1)))
  (import (test ok9))
  (list v9
        (guard (e (#t 'error))
          (eval '(define-library (test lib9)
                   (export nothing-defined-here)
                   (import (scheme base))
                   (begin (define something 1)))
                (interaction-environment))
          (eval '(import (test lib9)) (interaction-environment))
          (eval 'nothing-defined-here (interaction-environment)))))
(test "define-library-macro-uses-private-helper" '(42 mine)
  (define-library (test lib10)
    (export twice)
    (import (scheme base))
    (begin
      (define (double-it x) (* 2 x))
      (define-syntax twice (syntax-rules () ((_ e) (double-it e))))))
  (import (test lib10))
  (define (double-it x) 'mine)
  (list (twice 21) (double-it 0)))
(test "define-library-import-sets-of-user-library" '(1 2 3)
  (define-library (test lib11)
    (export a b c)
    (import (scheme base))
    (begin (define a 1) (define b 2) (define c 3)))
  (import (only (test lib11) a) (prefix (except (test lib11) a c) p-) (rename (test lib11) (c third)))
  (list a p-b third))
(test-error "define-library-import-only-hides-the-rest"
  (define-library (test lib12)
    (export a b)
    (import (scheme base))
    (begin (define a 1) (define b 2)))
  (import (only (test lib12) a))
  (guard (e ((error-object? e) (raise 'b-is-hidden))) b))
(test-error "define-library-body-imports-only-what-it-names"
  (define-library (test lib13)
    (export up)
    (import (scheme base))
    (begin (define (up c) (char-upcase c))))
  (import (test lib13))
  (guard (e ((error-object? e) (raise 'char-upcase-not-imported))) (up #\a)))
(test-error "define-library-unknown-import" (define-library (test lib14) (import (no such lib))))
(test-error "define-library-unknown-declaration" (define-library (test lib15) (frobnicate)))
(test-error "define-library-imported-variable-is-immutable"
  (define-library (test lib16) (export v) (import (scheme base)) (begin (define v 1)))
  (import (test lib16))
  (set! v 2))
(test "define-library-reexport" 'two
  (define-library (test lib17 base) (export v) (import (scheme base)) (begin (define v 'two)))
  (define-library (test lib17 again) (export v) (import (test lib17 base)))
  (import (test lib17 again))
  v)
(test "define-library-include-library-declarations" '(42 84)
  (define-library (test lib18)
    (include-library-declarations "data/library-declarations.scm"))
  (import (test lib18))
  (list included-value (included-proc included-value)))
(test-error "define-values-too-few" (define-values (a b c) (values 1 2)))
(test "define-values-rest-formal" '(1 2 (3 4))
  (define-values (a b . c) (values 1 2 3 4))
  (list a b c))
