;; sqrt: exact results for exact perfect squares, inexact otherwise
(write (list (sqrt 16) (sqrt 0) (sqrt 1) (sqrt 1/4) (sqrt 9/16))) (newline)
(write (list (exact? (sqrt 16)) (exact? (sqrt 15)) (exact? (sqrt 16.0)))) (newline)
(write (list (sqrt 16.0) (sqrt 2.25) (sqrt 15))) (newline)
(write (sqrt (expt 10 40))) (newline)
(write (sqrt (* 123456789 123456789))) (newline)
(write (sqrt 2)) (newline)
(write (map (lambda (n) (call-with-values (lambda () (exact-integer-sqrt n)) list)) '(0 1 2 3 4 24 25 26))) (newline)
