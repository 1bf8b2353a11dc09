;; strings: join the numbers 1..20000 with commas ("1,2,...,20000") using
;; string-append and number->string, then print the length of the result.
;; The join is divide-and-conquer so the cost is string building and calls,
;; not one quadratic copy. Measures: string allocation, number->string,
;; string-append, string-length.
;; expect: 108893
(define (join-range lo hi)
  (if (= lo hi)
      (number->string lo)
      (let ((mid (quotient (+ lo hi) 2)))
        (string-append (join-range lo mid) "," (join-range (+ mid 1) hi)))))

(display (string-length (join-range 1 20000)))
(newline)
