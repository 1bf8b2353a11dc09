;; fib: naive doubly-recursive Fibonacci of 25.
;; Measures: procedure call/return, integer arithmetic, `if`.
;; expect: 75025
;; sized: (fib 22) expect: 17711
(define (fib n)
  (if (< n 2)
      n
      (+ (fib (- n 1)) (fib (- n 2)))))

(display (fib 25))
(newline)
