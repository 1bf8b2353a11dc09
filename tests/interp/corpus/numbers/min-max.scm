;; min/max: inexact contagion, mixed exact kinds, many arguments
(write (list (max 1 2 3) (min 1 2 3) (max -1) (min 4))) (newline)
(write (list (max 1 2.0) (min 1 2.0) (max 1.5 2) (min 1/2 0.75))) (newline)
(write (list (max 1/2 1/3 1/4) (min 1/2 1/3 1/4))) (newline)
(write (list (exact? (max 3 2.0)) (exact? (max 3 2)) (exact? (min 1/2 1)))) (newline)
(write (apply max '(3 9 2 7))) (newline)
(write (apply min '(3 9 -2 7))) (newline)
(write (max (expt 2 70) (expt 3 40))) (newline)
