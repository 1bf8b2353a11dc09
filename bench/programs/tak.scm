;; tak: the Takeuchi function (tak 18 12 6).
;; Measures: calls with several arguments, nested non-tail and tail calls.
;; expect: 7
(define (tak x y z)
  (if (not (< y x))
      z
      (tak (tak (- x 1) y z)
           (tak (- y 1) z x)
           (tak (- z 1) x y))))

(display (tak 18 12 6))
(newline)
