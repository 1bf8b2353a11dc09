;;; R7RS-small 6.12  Environments and evaluation
;;; environment, scheme-report-environment, null-environment,
;;; interaction-environment, eval.

(test "eval-standard-example" 21 (eval '(* 7 3) (environment '(scheme base))))
(test "eval-null-environment-standard-example" 20
  (let ((f (eval '(lambda (f x) (f x x)) (null-environment 5))))
    (f + 10)))
(test "eval-scheme-report-environment" 'a (eval ''a (scheme-report-environment 5)))
(test "eval-scheme-report-environment-procedures" 3 (eval '(+ 1 2) (scheme-report-environment 5)))
(test "eval-special-forms" 1 (eval '(if #t 1 2) (environment '(scheme base))))
(test "eval-let" 2 (eval '(let ((x 1)) (+ x 1)) (environment '(scheme base))))
(test "eval-derived-syntax" 3 (eval '(let-values (((a b) (values 1 2))) (+ a b)) (environment '(scheme base))))
(test "eval-constructed-expression" 3 (eval (list '+ 1 2) (interaction-environment)))
(test "eval-returns-procedure" 9 ((eval '(lambda (x) (* x x)) (environment '(scheme base))) 3))
(test "eval-interaction-environment-definitions-persist" 3
  (eval '(define r7rs-eval-zz 3) (interaction-environment))
  (eval 'r7rs-eval-zz (interaction-environment)))
(test "eval-interaction-environment-sees-program-globals" 42
  (define r7rs-program-var 42)
  (eval 'r7rs-program-var (interaction-environment)))
(test "eval-macro-definition-in-interaction-environment" 5
  (eval '(define-syntax r7rs-five (syntax-rules () ((_) 5))) (interaction-environment))
  (eval '(r7rs-five) (interaction-environment)))
(test "eval-environment-several-libraries" #\A
  (eval '(char-upcase #\a) (environment '(scheme base) '(scheme char))))
(test "eval-environment-only" 1 (eval '(car '(1 2)) (environment '(only (scheme base) car quote))))
(test "eval-environment-prefix" 1 (eval '(b:car '(1 2)) (environment '(prefix (scheme base) b:))))
(test-error "eval-environment-excludes-program-globals"
  (define r7rs-program-only 1)
  (eval 'r7rs-program-only (environment '(scheme base))))
(test-error "eval-environment-excludes-other-libraries"
  (eval '(char-upcase #\a) (environment '(scheme base))))
(test-error "eval-environment-only-excludes-rest"
  (eval '(cdr '(1 2)) (environment '(only (scheme base) car quote))))
(test-error "eval-null-environment-has-no-procedures"
  (eval '(car '(1 2)) (null-environment 5)))
(test-error "eval-environment-unknown-library" (environment '(no such library)))
(test-error "eval-syntax-error" (eval '(if) (environment '(scheme base))))
(test-error "eval-unbound-variable" (eval 'surely-unbound-r7rs-variable (environment '(scheme base))))
(test "eval-error-is-catchable" 'caught
  (guard (e (#t 'caught)) (eval '(car '()) (environment '(scheme base)))))
(test "eval-environments-do-not-leak-definitions" #f
  (eval '(define r7rs-leak 1) (interaction-environment))
  (guard (e (#t #f)) (eval 'r7rs-leak (environment '(scheme base)))))
(test "eval-self-evaluating" '("s" 1 #\c #t) (map (lambda (x) (eval x (environment '(scheme base)))) (list "s" 1 #\c #t)))
(test "eval-vector-literal" '#(1 2) (eval '#(1 2) (environment '(scheme base))))
(test "eval-environment-definitions-stay-in-it" '(25 not-in-other)
  (define e1 (environment '(scheme base)))
  (define e2 (environment '(scheme base)))
  (eval '(define q 5) e1)
  (list (eval '(* q q) e1) (guard (x (#t 'not-in-other)) (eval 'q e2))))
(test "eval-environment-redefinition-does-not-touch-builtin" '((2) 1)
  (define e (environment '(scheme base)))
  (eval '(define car cdr) e)
  (list (eval '(car '(1 2)) e) (car '(1 2))))
(test "eval-null-environment-derived-syntax" 3
  ((eval '(lambda (n add1 done?) (do ((i 0 (add1 i))) ((done? i n) i))) (null-environment 5))
   3 (lambda (x) (+ x 1)) =))
(test "eval-environment-rename" 1
  (eval '(first '(1 2)) (environment '(rename (only (scheme base) car quote) (car first)))))
(test "eval-environment-user-library" 'lib
  (define-library (test env-lib) (export v) (import (scheme base)) (begin (define v 'lib)))
  (eval 'v (environment '(test env-lib))))
(test-error "eval-scheme-report-environment-other-version" (scheme-report-environment 7))
