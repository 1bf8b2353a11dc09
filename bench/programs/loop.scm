;; loop: a 1,000,000-iteration named-let loop summing the counter.
;; Measures: tail calls in a tight loop, variable lookup, integer arithmetic.
;; expect: 499999500000
;; sized: (sum-below 65000) expect: 2112467500
(define (sum-below n)
  (let loop ((i 0) (acc 0))
    (if (= i n)
        acc
        (loop (+ i 1) (+ acc i)))))

(display (sum-below 1000000))
(newline)
