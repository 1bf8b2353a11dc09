;; Included by the 4.1 include cases, after include-a.scm.
(define included-b 'b)
(define included-sum (+ included-value 1))
