;; non-tail recursion 100,000 deep: depth is bounded by memory, not a host stack
(define (sum-to n) (if (= n 0) 0 (+ n (sum-to (- n 1)))))
(display (sum-to 100000)) (newline)
(define (build n) (if (= n 0) '() (cons n (build (- n 1)))))
(define big (build 100000))
(display (length big)) (newline)
(display (car big)) (newline)
(define (my-map f l) (if (null? l) '() (cons (f (car l)) (my-map f (cdr l)))))
(display (apply + (my-map (lambda (x) 1) (list-tail big 90000)))) (newline)
