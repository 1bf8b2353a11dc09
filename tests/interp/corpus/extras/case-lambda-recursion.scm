;; case-lambda procedures calling themselves with different arities
(define fact
  (case-lambda
    ((n) (fact n 1))
    ((n acc) (if (= n 0) acc (fact (- n 1) (* acc n))))))
(write (fact 20)) (newline)
(define range
  (case-lambda
    ((end) (range 0 end))
    ((start end) (range start end 1))
    ((start end step) (if (>= start end) '() (cons start (range (+ start step) end step))))))
(write (list (range 4) (range 2 5) (range 0 10 4))) (newline)
(define (make-acc)
  (let ((total 0))
    (case-lambda
      (() total)
      ((x) (set! total (+ total x)) total))))
(define acc (make-acc))
(acc 5) (acc 10)
(write (acc)) (newline)
