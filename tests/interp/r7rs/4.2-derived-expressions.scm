;;; R7RS-small 4.2  Derived expression types
;;; cond, case, and, or, when, unless, cond-expand, let and friends, begin, do,
;;; named let, delay/force, parameterize, guard, quasiquote, case-lambda;
;;; tail positions in the derived forms (3.5).

;;; ---------------------------------------------------------------- 4.2.1 conditionals

(test "cond-first-match" 'greater (cond ((> 3 2) 'greater) ((< 3 2) 'less)))
(test "cond-else" 'equal (cond ((> 3 3) 'greater) ((< 3 3) 'less) (else 'equal)))
(test "cond-arrow" 2 (cond ((assv 'b '((a 1) (b 2))) => cadr) (else #f)))
(test "cond-test-only-clause-yields-test" 7 (cond ((+ 3 4)) (else 0)))
(test "cond-body-sequence" 3 (cond (#t 1 2 3)))
(test "cond-zero-is-true" 'zero (cond (0 'zero) (else 'other)))
(test "cond-empty-list-is-true" 'nil (cond ('() 'nil) (else 'other)))
(test "cond-stops-at-first-true" 1
  (define n 0)
  (cond ((begin (set! n (+ n 1)) #t) 'a) ((begin (set! n (+ n 1)) #t) 'b))
  n)
(test "cond-else-arrow-is-not-special-in-else" 3 (cond (#f 1) (else 1 2 3)))
(test-error "cond-else-not-last" (cond (else 1) (#t 2)))

(test "case-composite" 'composite
  (case (* 2 3) ((2 3 5 7) 'prime) ((1 4 6 8 9) 'composite)))
(test "case-else-arrow" 'c
  (case (car '(c d))
    ((a e i o u) 'vowel)
    ((w y) 'semivowel)
    (else => (lambda (x) x))))
(test "case-clause-arrow" 4 (case 2 ((1 2) => (lambda (x) (* x 2))) (else 0)))
(test "case-else" 'consonant
  (case (car '(z d)) ((a e i o u) 'vowel) ((w y) 'semivowel) (else 'consonant)))
(test "case-chars" 'letter (case #\a ((#\a #\b) 'letter) (else 'other)))
(test "case-uses-eqv-not-equal" 'no (case (list 1) (((1)) 'yes) (else 'no)))
(test "case-zero-is-not-false" 'zero (case 0 ((#f) 'false) ((0) 'zero)))
(test "case-false-is-not-zero" 'false (case #f ((0) 'zero) ((#f) 'false)))
(test "case-one-is-not-true" 'one (case 1 ((#t) 'true) ((1) 'one)))
(test "case-empty-list-datum" 'empty (case '() ((()) 'empty) (else 'other)))
(test "case-exactness-matters" 'other (case 2.0 ((2) 'exact-two) (else 'other)))
(test "case-key-evaluated-once" 1
  (define n 0)
  (case (begin (set! n (+ n 1)) 'x) ((a) 1) ((b) 2) ((x) 3))
  n)

(test "and-empty" #t (and))
(test "and-all-true-yields-last" '(f g) (and 1 2 'c '(f g)))
(test "and-false" #f (and (= 2 2) (< 2 1)))
(test "and-short-circuit" 0
  (define n 0)
  (and #f (set! n 1))
  n)
(test "and-zero-is-true" 0 (and #t 0))
(test "or-empty" #f (or))
(test "or-first-true" #t (or (= 2 2) (> 2 1)))
(test "or-all-false" #f (or #f #f #f))
(test "or-short-circuit-value" '(b c) (or (memq 'b '(a b c)) (/ 3 0)))
(test "or-empty-list-is-true" '() (or '() #t))

(test-output "when-true" "12" (when (= 1 1.0) (display "1") (display "2")))
(test-output "when-false" "" (when (= 1 2) (display "1") (display "2")))
(test-output "unless-false" "12" (unless (= 1 2.0) (display "1") (display "2")))
(test-output "unless-true" "" (unless (= 1 1.0) (display "1") (display "2")))

(test "cond-expand-r7rs" 'yes (cond-expand (r7rs 'yes) (else 'no)))
(test "cond-expand-else" 'no (cond-expand (no-such-feature 'yes) (else 'no)))
(test "cond-expand-and" 'yes (cond-expand ((and r7rs (not no-such-feature)) 'yes) (else 'no)))
(test "cond-expand-and-empty" 'yes (cond-expand ((and) 'yes) (else 'no)))
(test "cond-expand-or" 'yes (cond-expand ((or no-such-feature r7rs) 'yes) (else 'no)))
(test "cond-expand-or-empty" 'no (cond-expand ((or) 'yes) (else 'no)))
(test "cond-expand-not" 'yes (cond-expand ((not no-such-feature) 'yes) (else 'no)))
(test "cond-expand-first-match" 1 (cond-expand (r7rs 1) (r7rs 2) (else 3)))
(test "cond-expand-library" 'yes (cond-expand ((library (scheme base)) 'yes) (else 'no)))
(test "cond-expand-missing-library" 'no
  (cond-expand ((library (no such library here)) 'yes) (else 'no)))
(test "cond-expand-in-features-list" #t
  (cond-expand (full-unicode (and (memq 'full-unicode (features)) #t)) (else #t)))
(test "cond-expand-toplevel-define" 1
  (cond-expand (r7rs (define cx 1)) (else (define cx 2)))
  cx)

;;; ---------------------------------------------------------------- 4.2.2 binding constructs

(test "let" 6 (let ((x 2) (y 3)) (* x y)))
(test "let-inits-see-outer-scope" 35
  (let ((x 2) (y 3)) (let ((x 7) (z (+ x y))) (* z x))))
(test "let-empty-bindings" 1 (let () 1))
(test "let-body-defines" 3 (let ((x 1)) (define y 2) (+ x y)))
(test-error "let-duplicate-names" (let ((x 1) (x 2)) x))
(test-error "let-malformed-binding" (let ((x)) x))
(test-error "let*-malformed-binding" (let* ((x 1) (y)) y))
(test-error "letrec-malformed-binding" (letrec ((f)) f))
(test-error "named-let-malformed-binding" (let loop ((i)) i))
(test "let*" 70 (let ((x 2) (y 3)) (let* ((x 7) (z (+ x y))) (* z x))))
(test "let*-empty" 1 (let* () 1))
(test "let*-rebinds-same-name" 2 (let* ((x 1) (x (+ x 1))) x))
(test "letrec-mutual-recursion" #t
  (letrec ((even? (lambda (n) (if (zero? n) #t (odd? (- n 1)))))
           (odd? (lambda (n) (if (zero? n) #f (even? (- n 1))))))
    (even? 88)))
(test "letrec-lambda-may-refer-later" 1
  (letrec ((a (lambda () b)) (b 1)) (a)))
(test-error "letrec-restriction" (letrec ((x y) (y 1)) x))
(test "letrec*-sequential" 5
  (letrec* ((p (lambda (x) (+ 1 (q (- x 1)))))
            (q (lambda (y) (if (zero? y) 0 (+ 1 (p (- y 1))))))
            (x (p 5))
            (y x))
    y))
(test-error "letrec*-restriction" (letrec* ((a b) (b 1)) a))
(test "let-values" 35
  (let-values (((root rem) (exact-integer-sqrt 32))) (* root rem)))
(test "let-values-dotted-formals" '(1 (2 3))
  (let-values (((a . rest) (values 1 2 3))) (list a rest)))
(test "let-values-single-rest-formal" '(1 2) (let-values ((all (values 1 2))) all))
(test "let-values-zero-values" 'ok (let-values ((() (values))) 'ok))
(test "let-values-inits-see-outer-scope" '(x y a b)
  (let ((a 'a) (b 'b) (x 'x) (y 'y))
    (let-values (((a b) (values x y)) ((x y) (values a b)))
      (list a b x y))))
(test "let*-values-sequential" '(x y x y)
  (let ((a 'a) (b 'b) (x 'x) (y 'y))
    (let*-values (((a b) (values x y)) ((x y) (values a b)))
      (list a b x y))))
(test-error "let-values-too-few-values" (let-values (((a b) (values 1))) a))
(test-error "let-values-too-many-values" (let-values (((a) (values 1 2))) a))

;;; ---------------------------------------------------------------- 4.2.3 sequencing

(test "begin-value-of-last" 6
  (define x 0)
  (and (= x 0) (begin (set! x 5) (+ x 1))))
(test-output "begin-in-order" "4 plus 1 equals 5"
  (begin (display "4 plus 1 equals ") (display (+ 4 1))))
(test "begin-toplevel-definitions-splice" 3
  (begin (define a 1) (define b 2))
  (+ a b))
(test "begin-in-body-splices-definitions" 3
  (let () (begin (define a 1) (define b 2)) (+ a b)))

;;; ---------------------------------------------------------------- 4.2.4 iteration

(test "do-fills-a-vector" '#(0 1 2 3 4)
  (do ((vec (make-vector 5)) (i 0 (+ i 1))) ((= i 5) vec) (vector-set! vec i i)))
(test "do-sum" 25
  (let ((x '(1 3 5 7 9)))
    (do ((x x (cdr x)) (sum 0 (+ sum (car x)))) ((null? x) sum))))
(test "do-steps-in-parallel" '(2 0)
  (do ((i 0 (+ i 1)) (j 3 (- j 1)) (prev #f i)) ((= i 3) (list prev j))))
(test "do-result-sequence" 'last (do ((i 0 (+ i 1))) ((= i 2) 'first 'last)))
(test "do-fresh-binding-each-iteration" '(2 1 0)
  (do ((i 0 (+ i 1)) (acc '() (cons (lambda () i) acc)))
      ((= i 3) (map (lambda (f) (f)) acc))))
(test "named-let" '((6 1 3) (-5 -2))
  (let loop ((numbers '(3 -2 1 6 -5)) (nonneg '()) (neg '()))
    (cond ((null? numbers) (list nonneg neg))
          ((>= (car numbers) 0) (loop (cdr numbers) (cons (car numbers) nonneg) neg))
          ((< (car numbers) 0) (loop (cdr numbers) nonneg (cons (car numbers) neg))))))
(test "named-let-inits-outside-name" 'outer
  (define loop 'outer)
  (let loop ((v loop)) v))
(test "named-let-name-is-a-procedure" #t (let f ((n 0)) (procedure? f)))
(test "named-let-no-bindings" 'done (let f () 'done))

;;; ---------------------------------------------------------------- 3.5 tail positions of derived forms

(test "tail-cond" 'done
  (define (f n) (cond ((= n 0) 'done) (else (f (- n 1)))))
  (f 20000))
(test "tail-cond-arrow" 'done
  (define (f n) (cond ((= n 0) 'done) ((- n 1) => f)))
  (f 20000))
(test "tail-case" 'done
  (define (f n) (case n ((0) 'done) (else (f (- n 1)))))
  (f 20000))
(test "tail-and-or" 'done
  (define (f n) (or (and (= n 0) 'done) (and #t (f (- n 1)))))
  (f 20000))
(test "tail-when-unless" 20000
  (define count 0)
  (define (f n) (when (> n 0) (set! count (+ count 1)) (unless #f (f (- n 1)))))
  (f 20000)
  count)
(test "tail-let-forms" 'done
  (define (f n)
    (if (= n 0) 'done
        (let ((m (- n 1))) (let* ((k m)) (letrec ((j k)) (let-values (((i) j)) (f i)))))))
  (f 20000))
(test "tail-do-result" 'done
  (define (f n) (if (= n 0) 'done (do ((i 0 (+ i 1))) ((= i 1) (f (- n 1))))))
  (f 20000))

;;; ---------------------------------------------------------------- 4.2.5 delayed evaluation

(test "force-delay" 3 (force (delay (+ 1 2))))
(test "force-twice" '(3 3) (let ((p (delay (+ 1 2)))) (list (force p) (force p))))
(test "delay-is-memoized" 1
  (define count 0)
  (define p (delay (begin (set! count (+ count 1)) count)))
  (force p)
  (force p)
  count)
(test "delay-is-lazy" 0
  (define count 0)
  (define p (delay (begin (set! count (+ count 1)) count)))
  count)
(test "stream-of-integers" 2
  (define integers
    (letrec ((next (lambda (n) (delay (cons n (next (+ n 1)))))))
      (next 0)))
  (define (head stream) (car (force stream)))
  (define (tail stream) (cdr (force stream)))
  (head (tail (tail integers))))
(test "force-reentrant-first-value-wins" 6
  (define count 0)
  (define p
    (delay (begin (set! count (+ count 1))
                  (if (> count x) count (force p)))))
  (define x 5)
  (force p))
(test "force-reentrant-then-fixed" 6
  (define count 0)
  (define p
    (delay (begin (set! count (+ count 1))
                  (if (> count x) count (force p)))))
  (define x 5)
  (force p)
  (set! x 10)
  (force p))
(test "delay-force-iterative-space" 'done
  (define (countdown n)
    (delay-force (if (= n 0) (delay 'done) (countdown (- n 1)))))
  (force (countdown 20000)))
(test "make-promise" 7 (force (make-promise 7)))
(test "make-promise-of-a-promise" #t (let ((p (delay 1))) (eq? p (make-promise p))))
(test "promise?" '(#t #t #t #f #f)
  (list (promise? (delay 1)) (promise? (make-promise 1)) (promise? (delay-force (delay 1)))
        (promise? 1) (promise? (lambda () 1))))

;;; ---------------------------------------------------------------- 4.2.6 dynamic bindings

(test "parameter-initial-value" 10 ((make-parameter 10)))
(test "parameter-converter-on-initial-value" "12" ((make-parameter 12 number->string)))
(test "parameterize" '(5 10)
  (define p (make-parameter 10))
  (list (parameterize ((p 5)) (p)) (p)))
(test "parameterize-standard-example" '("12" "1100" "12")
  (define radix
    (make-parameter 10 (lambda (x)
                         (if (and (exact-integer? x) (<= 2 x 16)) x (error "invalid radix")))))
  (define (f n) (number->string n (radix)))
  (list (f 12) (parameterize ((radix 2)) (f 12)) (f 12)))
(test-error "parameterize-converter-rejects" 
  (define radix
    (make-parameter 10 (lambda (x)
                         (if (and (exact-integer? x) (<= 2 x 16)) x (error "invalid radix")))))
  (parameterize ((radix 0)) (radix)))
(test "parameterize-converter-applied" "5"
  (define p (make-parameter 1 number->string))
  (parameterize ((p 5)) (p)))
(test "parameterize-several" '(3 4 1 2)
  (define a (make-parameter 1))
  (define b (make-parameter 2))
  (append (parameterize ((a 3) (b 4)) (list (a) (b))) (list (a) (b))))
(test "parameterize-restored-on-escape" 1
  (define p (make-parameter 1))
  (call/cc (lambda (k) (parameterize ((p 2)) (k 0))))
  (p))
(test "parameterize-restored-on-error" 1
  (define p (make-parameter 1))
  (guard (e (#t #f)) (parameterize ((p 2)) (raise 'oops)))
  (p))
(test "parameterize-dynamic-not-lexical" 2
  (define p (make-parameter 1))
  (define (get) (p))
  (parameterize ((p 2)) (get)))
(test "parameterize-body-defines" 3
  (define p (make-parameter 1))
  (parameterize ((p 2)) (define x 1) (+ x (p))))

;;; ---------------------------------------------------------------- 4.2.7 exception handling

(test "guard-arrow-clause" 42
  (guard (condition
          ((assq 'a condition) => cdr)
          ((assq 'b condition)))
    (raise (list (cons 'a 42)))))
(test "guard-test-only-clause" '(b . 23)
  (guard (condition
          ((assq 'a condition) => cdr)
          ((assq 'b condition)))
    (raise (list (cons 'b 23)))))
(test "guard-else" 'caught (guard (e (#f 'no) (else 'caught)) (raise 'boom)))
(test "guard-no-raise" 3 (guard (e (#t 'caught)) (+ 1 2)))
(test "guard-body-multiple-values" '(1 2)
  (call-with-values (lambda () (guard (e (#t 0)) (values 1 2))) list))
(test "guard-nested-reraise" 'outer
  (guard (e ((eq? e 'x) 'outer))
    (guard (e2 ((eq? e2 'y) 'inner))
      (raise 'x))))
(test "guard-error-object" "bad thing"
  (guard (e ((error-object? e) (error-object-message e)))
    (error "bad thing" 1 2)))
(test-error "guard-no-clause-reraises" (guard (e ((string? e) 'str)) (raise 'sym)))
(test "guard-reraise-is-continuable-in-raise-context" 43
  (with-exception-handler
    (lambda (e) 42)
    (lambda ()
      (+ (guard (e ((string? e) 'str)) (raise-continuable 'sym)) 1))))
(test-output "guard-unwinds-dynamic-wind" "in out handled"
  (guard (e (#t (display "handled")))
    (dynamic-wind
      (lambda () (display "in "))
      (lambda () (raise 'x))
      (lambda () (display "out ")))))
(test "guard-variable-scope" 'outer
  (define e 'outer)
  (guard (e (#t #f)) 'no-raise)
  e)
(test "guard-catches-primitive-errors" 'caught (guard (e (#t 'caught)) (car 1)))
(test "guard-body-defines" 3 (guard (e (#t #f)) (define x 3) x))

;;; ---------------------------------------------------------------- 4.2.8 quasiquotation

(test "qq-unquote" '(list 3 4) `(list ,(+ 1 2) 4))
(test "qq-quote-inside" '(list a (quote a)) (let ((name 'a)) `(list ,name ',name)))
(test "qq-splice" '(a 3 4 5 6 b) `(a ,(+ 1 2) ,@(map abs '(4 -5 6)) b))
(test "qq-dotted" '((foo 7) . cons) `((foo ,(- 10 3)) ,@(cdr '(c)) . ,(car '(cons))))
(test "qq-vector" '#(10 5 2 4 3 8) `#(10 5 ,(+ 1 1) ,@(map - '(-4 -3)) 8))
(test "qq-splice-at-end" '(x y z) `(x ,@'(y z)))
(test "qq-splice-empty" '(a b) `(a ,@'() b))
(test "qq-splice-only" '(1 2) `(,@(list 1 2)))
(test "qq-unquote-in-cdr" '(1 . 2) `(1 . ,(+ 1 1)))
(test "qq-vector-splice-empty" '#() `#(,@'()))
(test "qq-nested-level" '(a `(b ,(+ 1 2) ,(foo 4 d) e) f)
  `(a `(b ,(+ 1 2) ,(foo ,(+ 1 3) d) e) f))
(test "qq-nested-unquote-unquote" '(a `(b ,x ,'y d) e)
  (let ((name1 'x) (name2 'y)) `(a `(b ,,name1 ,',name2 d) e)))
(test "qq-long-form" '(list 3 4) (quasiquote (list (unquote (+ 1 2)) 4)))
(test "qq-long-form-quoted" '(quasiquote (list (unquote (+ 1 2)) 4))
  '(quasiquote (list (unquote (+ 1 2)) 4)))
(test "qq-no-unquote" '(a b c) `(a b c))
(test "qq-atom" 5 `,(+ 2 3))
(test "qq-splice-preserves-tail" '(1 2 3 . 4) `(1 ,@(list 2 3) . 4))

;;; ---------------------------------------------------------------- 4.2.9 case-lambda

(test "case-lambda-range" '((0 1 2) (3 4))
  (define range
    (case-lambda
      ((e) (range 0 e))
      ((b e) (do ((r '() (cons e r)) (e (- e 1) (- e 1))) ((< e b) r)))))
  (list (range 3) (range 3 5)))
(test "case-lambda-by-arity" '(0 1 3 6 10)
  (define plus
    (case-lambda
      (() 0)
      ((x) x)
      ((x y) (+ x y))
      ((x y z) (+ (+ x y) z))
      (args (apply + args))))
  (list (plus) (plus 1) (plus 1 2) (plus 1 2 3) (plus 1 2 3 4)))
(test "case-lambda-first-matching-clause" 'rest
  ((case-lambda ((x . r) 'rest) ((x y) 'two)) 1 2))
(test "case-lambda-is-procedure" #t (procedure? (case-lambda ((x) x))))
(test-error "case-lambda-no-matching-clause" ((case-lambda ((x) x) ((x y) y))))
