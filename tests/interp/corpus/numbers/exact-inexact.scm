;; exactness: predicates and conversions both ways
(write (list (exact? 1) (exact? 1/2) (exact? 1.0) (inexact? 1.0) (inexact? 1))) (newline)
(write (list (exact->inexact 1/4) (exact->inexact 3) (inexact 7/2))) (newline)
(write (list (inexact->exact 0.5) (exact 2.5) (exact 4.0) (exact -0.75))) (newline)
(write (exact 0.1)) (newline)
(write (list (integer? 2.0) (integer? 2.5) (exact-integer? 2.0) (exact-integer? 2))) (newline)
(write (list (exact (floor 2.7)) (exact (round 2.5)) (exact (ceiling -1.5)))) (newline)
(write (list (* 2 0.5) (+ 1/2 0.5) (+ 1/2 1/2) (- 3 3.0))) (newline)
(write (exact? (+ 1/3 2/3))) (newline)
