;; an uncaught error ends the program after the output so far
(display "before the error") (newline)
(define (fail-deep n) (if (= n 0) (error "fatal failure" 'deep 42) (+ 1 (fail-deep (- n 1)))))
(display (guard (e (#t "first one caught")) (fail-deep 3))) (newline)
(fail-deep 5)
(display "never printed") (newline)
