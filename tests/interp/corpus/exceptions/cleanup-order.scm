;; guard, dynamic-wind and handlers interleave in a predictable order
(define trace '())
(define (note x) (set! trace (cons x trace)))
(define result
  (guard (e (#t (note (list 'guard e)) 'recovered))
    (dynamic-wind
      (lambda () (note 'enter))
      (lambda ()
        (with-exception-handler
          (lambda (e) (note (list 'handler e)) (raise-continuable (list 'wrapped e)))
          (lambda () (+ 1 (raise-continuable 'problem)))))
      (lambda () (note 'exit)))))
(write result) (newline)
(write (reverse trace)) (newline)
