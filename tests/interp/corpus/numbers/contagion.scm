;; mixing exact and inexact operands gives inexact results; exact stays exact
(write (list (+ 1 1.0) (* 3 0.5) (- 1/2 0.25) (/ 3 1.5))) (newline)
(write (list (+ 1/2 1/2) (* 2 1/2) (- 1 1/3))) (newline)
(write (list (exact? (+ 1/2 1/2)) (exact? (* 1 1.0)))) (newline)
(write (map exact? (list (+ 1 2) (+ 1 2.0) (abs -2) (abs -2.0)))) (newline)
(write (list (max 1/2 0.25))) (newline)
