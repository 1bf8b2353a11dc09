;; operations keep exact integers exact, including integer-valued division
(write (list (/ 10 5) (/ 10 4) (quotient 10 4) (* 1/2 4) (+ 1/3 2/3) (- 5/2 1/2))) (newline)
(write (map exact-integer? (list (/ 10 5) (* 1/2 4) (+ 1/3 2/3) (/ 10 4)))) (newline)
(write (list (floor 5/2) (ceiling 5/2) (round 5/2) (truncate -5/2))) (newline)
(write (list (quotient 7.0 2) (remainder 7.0 2) (modulo -7.0 2))) (newline)
(write (list (exact (quotient 7.0 2)) (inexact (quotient 7 2)))) (newline)
