;; Included by the 4.1 include cases (tests/interp/r7rs/4.1-primitive-expressions.scm).
(define included-value 42)
(define (included-proc x) (* x 2))
