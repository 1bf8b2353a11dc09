;; continuation-passing style: 100,000 nested closures, all calls in tail position
(define (fact-cps n k) (if (= n 0) (k 1) (fact-cps (- n 1) (lambda (v) (k (* n v))))))
(display (fact-cps 20 (lambda (v) v))) (newline)
(define (sum-cps n k) (if (= n 0) (k 0) (sum-cps (- n 1) (lambda (v) (k (+ n v))))))
(display (sum-cps 100000 (lambda (v) v))) (newline)
(define (len-cps l k) (if (null? l) (k 0) (len-cps (cdr l) (lambda (v) (k (+ 1 v))))))
(display (len-cps (iota 50000) (lambda (v) (list 'length v)))) (newline)
