;; exp/log/trig on inexact arguments with well-known values
(import (scheme base) (scheme inexact) (scheme write))
(write (list (exp 0.0) (log 1.0) (sin 0.0) (cos 0.0) (atan 0.0))) (newline)
(write (exp 1.0)) (newline)
(write (atan 1.0 1.0)) (newline)
(write (* 4 (atan 1.0))) (newline)
(write (log 100.0 10)) (newline)
(write (list (sqrt 2.0) (exp (log 2.0)))) (newline)
(write (< (abs (- (sin (/ (* 4 (atan 1.0)) 2)) 1.0)) 1e-12)) (newline)
