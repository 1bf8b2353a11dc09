;; deep: non-tail recursion 100,000 deep: build a list recursively, then sum
;; it recursively. Measures: deep (non-tail) recursion, which must be bounded
;; by memory rather than by the host language's stack.
;; expect: 5000050000
(define (build n)
  (if (= n 0)
      '()
      (cons n (build (- n 1)))))

(define (sum lst)
  (if (null? lst)
      0
      (+ (car lst) (sum (cdr lst)))))

(display (sum (build 100000)))
(newline)
