;; expt: exact results for exact arguments, rational and inexact cases
(write (list (expt 2 10) (expt 2 0) (expt 0 0) (expt 0 5) (expt 1 100))) (newline)
(write (list (expt 2 -2) (expt 2/3 3) (expt -2 3) (expt -2 4) (expt -1/2 -3))) (newline)
(write (list (expt 2.0 3) (expt 4 0.5) (expt 2.0 -1))) (newline)
(write (expt 7 40)) (newline)
(write (exact? (expt 3 4))) (newline)
(write (list (square 5) (square 1/3) (square -4) (square 1.5))) (newline)
