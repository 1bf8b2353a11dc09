;; iterative Fibonacci into bignum territory, and a rational identity
(define (fib n) (let loop ((a 0) (b 1) (i 0)) (if (= i n) a (loop b (+ a b) (+ i 1)))))
(write (map fib '(0 1 2 10 20))) (newline)
(write (fib 100)) (newline)
(write (fib 300)) (newline)
(write (/ (fib 31) (fib 30))) (newline)
(write (= (- (* (fib 51) (fib 49)) (* (fib 50) (fib 50))) 1)) (newline)
