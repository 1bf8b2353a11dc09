;;; R7RS-small 6.10  Control features
;;; procedure?, apply, map, string-map/vector-map (see 6.7, 6.8), for-each,
;;; call/cc (escape and re-entry), values, call-with-values, dynamic-wind;
;;; proper tail calls through apply, call/cc and call-with-values (3.5).

;;; ---------------------------------------------------------------- procedure?, apply

(test "procedure?" '(#t #f #t #f #t)
  (list (procedure? car) (procedure? 'car) (procedure? (lambda (x) (* x x)))
        (procedure? '(lambda (x) (* x x))) (call-with-current-continuation procedure?)))
(test "procedure?-parameter-and-case-lambda" '(#t #t)
  (list (procedure? (make-parameter 1)) (procedure? (case-lambda ((x) x)))))
(test "procedure?-non-procedures" '(#f #f #f) (list (procedure? 1) (procedure? "car") (procedure? (vector))))
(test "apply" 7 (apply + (list 3 4)))
(test "apply-compose" 30
  (define compose (lambda (f g) (lambda args (f (apply g args)))))
  ((compose - *) 5 -6))
(test "apply-spread-arguments" 10 (apply + 1 2 '(3 4)))
(test "apply-empty-list" '() (apply list '()))
(test "apply-lambda-with-rest" '(1 (2 3)) (apply (lambda (a . r) (list a r)) 1 '(2 3)))
(test "apply-max" 5 (apply max '(1 5 3)))
(test-error "apply-last-not-a-list" (apply + 1 2))
(test-error "apply-improper-list" (apply + '(1 . 2)))
(test-error "apply-non-procedure" (apply 5 '(1)))

;;; ---------------------------------------------------------------- map, for-each

(test "map-cadr" '(b e h) (map cadr '((a b) (d e) (g h))))
(test "map-expt" '(1 4 27 256 3125) (map (lambda (n) (expt n n)) '(1 2 3 4 5)))
(test "map-two-lists" '(5 7 9) (map + '(1 2 3) '(4 5 6)))
(test "map-shortest-list" '(11 22) (map + '(1 2) '(10 20 30)))
(test "map-empty" '() (map car '()))
(test "map-order-unspecified-but-complete" '(1 2)
  (let ((count 0))
    (let ((r (map (lambda (ignored) (set! count (+ count 1)) count) '(a b))))
      (if (equal? r '(2 1)) (reverse r) r))))
(test "map-result-fresh" #f (let ((l (list 1 2))) (eq? l (map (lambda (x) x) l))))
(test "map-reentry-does-not-mutate-earlier-results" '((1 20 3) (1 10 3) (1 2 3))
  (let ((k #f) (count 0) (results '()))
    (let ((r (map (lambda (x) (call/cc (lambda (c) (if (= x 2) (set! k c)) x))) '(1 2 3))))
      (set! results (cons r results))
      (set! count (+ count 1))
      (if (< count 3) (k (* 10 count)) results))))
(test "for-each-vector-fill" '#(0 1 4 9 16)
  (let ((v (make-vector 5)))
    (for-each (lambda (i) (vector-set! v i (* i i))) '(0 1 2 3 4))
    v))
(test-output "for-each-left-to-right" "1234" (for-each display '(1 2 3 4)))
(test-output "for-each-two-lists-shortest" "1a2b" (for-each (lambda (x y) (display x) (display y)) '(1 2 3) '(a b)))
(test-output "for-each-empty" "" (for-each display '()))
(test-error "map-non-procedure" (map 5 '(1 2)))
(test-error "for-each-improper-list" (for-each display '(1 . 2)))

;;; ---------------------------------------------------------------- call/cc

(test "call/cc-escape-from-for-each" -3
  (call-with-current-continuation
    (lambda (exit)
      (for-each (lambda (x) (if (negative? x) (exit x))) '(54 0 37 -3 245 19))
      #t)))
(test "call/cc-list-length-standard-example" '(4 #f)
  (define list-length
    (lambda (obj)
      (call-with-current-continuation
        (lambda (return)
          (letrec ((r (lambda (obj)
                        (cond ((null? obj) 0)
                              ((pair? obj) (+ (r (cdr obj)) 1))
                              (else (return #f))))))
            (r obj))))))
  (list (list-length '(1 2 3 4)) (list-length '(a b . c))))
(test "call/cc-normal-return" 3 (call/cc (lambda (k) 3)))
(test "call/cc-abandons-continuation" 42 (call/cc (lambda (k) (+ 1 (k 42)))))
(test "call/cc-alias" 5 (call-with-current-continuation (lambda (k) (k 5))))
(test "call/cc-multiple-values" '(1 2)
  (call-with-values (lambda () (call/cc (lambda (k) (k 1 2)))) list))
(test "call/cc-zero-values" '()
  (call-with-values (lambda () (call/cc (lambda (k) (k)))) list))
(test "call/cc-reentry-loop" '(0 1 2 3)
  (let ((r '()) (k #f))
    (let ((v (call/cc (lambda (c) (set! k c) 0))))
      (set! r (cons v r))
      (if (< v 3) (k (+ v 1)) (reverse r)))))
(test "call/cc-continuation-returned-and-reentered" 5
  (let ((x (call/cc (lambda (k) k))))
    (if (procedure? x) (x 5) x)))
(test "call/cc-reentry-in-argument-evaluation" '(1 10 100)
  (let ((k #f) (results '()))
    (let ((v (+ 1 (call/cc (lambda (c) (set! k c) 0)))))
      (set! results (cons v results))
      (cond ((= v 1) (k 9))
            ((= v 10) (k 99))
            (else (reverse results))))))
(test "call/cc-reentry-preserves-local-state" '(a b c)
  (let ((k #f) (n 0) (acc '()))
    (let ((item (call/cc (lambda (c) (set! k c) 'a))))
      (set! acc (cons item acc))
      (set! n (+ n 1))
      (cond ((= n 1) (k 'b)) ((= n 2) (k 'c)) (else (reverse acc))))))
(test "call/cc-generator" '(1 2 3 done)
  (define (make-gen lst)
    (define return #f)
    (define resume #f)
    (lambda ()
      (call/cc
        (lambda (r)
          (set! return r)
          (if resume
              (resume #f)
              (begin
                (for-each (lambda (x) (call/cc (lambda (next) (set! resume next) (return x)))) lst)
                (return 'done)))))))
  (let ((g (make-gen '(1 2 3))))
    (let* ((a (g)) (b (g)) (c (g)) (d (g)))
      (list a b c d))))
(test "call/cc-escape-deep-recursion" 'found
  (define (search n k) (if (= n 0) (k 'found) (+ 1 (search (- n 1) k))))
  (call/cc (lambda (k) (search 10000 k))))
(test "call/cc-continuation-is-procedure-of-any-arity" '(#t 7)
  (let ((r (call/cc (lambda (k) k))))
    (if (procedure? r) (r (list #t 7)) r)))
(test "call/cc-escape-from-nested-lambda" 'out
  (call/cc (lambda (k) ((lambda () ((lambda () (k 'out))))) 'not-here)))

;;; ---------------------------------------------------------------- values, call-with-values

(test "call-with-values" 5 (call-with-values (lambda () (values 4 5)) (lambda (a b) b)))
(test "call-with-values-primitive-producer" -1 (call-with-values * -))
(test "call-with-values-zero-values" '() (call-with-values (lambda () (values)) list))
(test "values-single" 1 (values 1))
(test "values-single-in-expression" 3 (+ (values 1) 2))
(test "call-with-values-rest" '(1 (2 3)) (call-with-values (lambda () (values 1 2 3)) (lambda (a . r) (list a r))))
(test "values-through-let-values" 6 (let-values (((a b c) (values 1 2 3))) (+ a b c)))
(test-error "call-with-values-arity-mismatch" (call-with-values (lambda () (values 1 2)) (lambda (a) a)))

;;; ---------------------------------------------------------------- dynamic-wind

(test "dynamic-wind-standard-example" '(connect talk1 disconnect connect talk2 disconnect)
  (let ((path '())
        (c #f))
    (let ((add (lambda (s) (set! path (cons s path)))))
      (dynamic-wind
        (lambda () (add 'connect))
        (lambda () (add (call-with-current-continuation (lambda (c0) (set! c c0) 'talk1))))
        (lambda () (add 'disconnect)))
      (if (< (length path) 4)
          (c 'talk2)
          (reverse path)))))
(test "dynamic-wind-value" 'v (dynamic-wind (lambda () #f) (lambda () 'v) (lambda () #f)))
(test "dynamic-wind-multiple-values" '(1 2)
  (call-with-values (lambda () (dynamic-wind (lambda () #f) (lambda () (values 1 2)) (lambda () #f))) list))
(test-output "dynamic-wind-nested-order" "abcde"
  (dynamic-wind
    (lambda () (display "a"))
    (lambda () (dynamic-wind (lambda () (display "b")) (lambda () (display "c")) (lambda () (display "d"))))
    (lambda () (display "e"))))
(test-output "dynamic-wind-escape-runs-afters-innermost-first" "[in1][in2][out2][out1]"
  (call/cc
    (lambda (k)
      (dynamic-wind
        (lambda () (display "[in1]"))
        (lambda ()
          (dynamic-wind
            (lambda () (display "[in2]"))
            (lambda () (k 0))
            (lambda () (display "[out2]"))))
        (lambda () (display "[out1]"))))))
(test-output "dynamic-wind-reentry-runs-befores-outermost-first" "[in1][in2][out2][out1]|[in1][in2][out2][out1]|"
  (let ((k #f) (n 0))
    (dynamic-wind
      (lambda () (display "[in1]"))
      (lambda ()
        (dynamic-wind
          (lambda () (display "[in2]"))
          (lambda () (call/cc (lambda (c) (set! k c))))
          (lambda () (display "[out2]"))))
      (lambda () (display "[out1]")))
    (display "|")
    (set! n (+ n 1))
    (if (< n 2) (k 'again))))
(test-output "dynamic-wind-jump-between-siblings" "[a-in][a-out][b-in][b-out][a-in][a-out]"
  (let ((ka #f) (done #f))
    (dynamic-wind
      (lambda () (display "[a-in]"))
      (lambda () (call/cc (lambda (c) (set! ka c))))
      (lambda () (display "[a-out]")))
    (if (not done)
        (dynamic-wind
          (lambda () (display "[b-in]"))
          (lambda () (set! done #t) (ka 'x))
          (lambda () (display "[b-out]"))))))
(test-output "dynamic-wind-escape-within-same-extent-runs-nothing" "[in]body[out]"
  (dynamic-wind
    (lambda () (display "[in]"))
    (lambda () (call/cc (lambda (k) (k 0))) (display "body"))
    (lambda () (display "[out]"))))
(test-output "dynamic-wind-after-runs-on-error" "[in][out]"
  (guard (e (#t #f))
    (dynamic-wind
      (lambda () (display "[in]"))
      (lambda () (car '()))
      (lambda () (display "[out]")))))
(test "dynamic-wind-before-outside-extent" 'outside
  (define inside #f)
  (define where #f)
  (dynamic-wind
    (lambda () (set! where (if inside 'inside 'outside)))
    (lambda () (set! inside #t))
    (lambda () (set! inside #f)))
  where)

;;; ---------------------------------------------------------------- 3.5 proper tail calls

(test "tail-call-mutual-recursion" #t
  (define (ev? n) (if (= n 0) #t (od? (- n 1))))
  (define (od? n) (if (= n 0) #f (ev? (- n 1))))
  (ev? 20000))
(test "tail-call-through-apply" 'done
  (define (f n) (if (= n 0) 'done (apply f (list (- n 1)))))
  (f 20000))
(test "tail-call-through-call/cc" 'done
  (define (f n) (if (= n 0) 'done (call/cc (lambda (k) (f (- n 1))))))
  (f 20000))
(test "tail-call-through-call-with-values-consumer" 'done
  (define (f n) (if (= n 0) 'done (call-with-values (lambda () (- n 1)) f)))
  (f 20000))
(test "deep-non-tail-recursion" 50000
  (define (count n) (if (= n 0) 0 (+ 1 (count (- n 1)))))
  (count 50000))
