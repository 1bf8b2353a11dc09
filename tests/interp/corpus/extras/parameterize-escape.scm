;; parameter values are restored when control escapes or an error unwinds
(define level (make-parameter 0))
(define k-result
  (call/cc (lambda (k) (parameterize ((level 5)) (k (list 'inside (level)))))))
(write (list k-result (level))) (newline)
(write (guard (e (#t (list 'caught e (level)))) (parameterize ((level 9)) (raise (level))))) (newline)
(write (level)) (newline)
(define (nested n) (if (= n 0) (level) (parameterize ((level (+ (level) 1))) (nested (- n 1)))))
(write (nested 50)) (newline)
(write (level)) (newline)
