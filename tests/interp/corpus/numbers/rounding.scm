;; round (to even), floor, ceiling, truncate on exact and inexact numbers
(write (map round '(0.5 1.5 2.5 3.5 -1.5 -2.5 -3.5 2.6 -2.6))) (newline)
(write (map round '(1/2 3/2 5/2 7/2 -1/2 -3/2 7/3))) (newline)
(write (map floor '(2.7 -2.7 5/2 -5/2 3))) (newline)
(write (map ceiling '(2.1 -2.1 5/2 -5/2 3))) (newline)
(write (map truncate '(2.7 -2.7 5/2 -5/2 3))) (newline)
(write (list (round 7) (exact (round 2.5)) (exact (round 3.5)))) (newline)
(write (list (integer? (round 2.5)) (exact? (round 2.5)) (exact? (round 5/2)))) (newline)
