;; after thunks run when an error or raise unwinds through dynamic-wind
(define trace '())
(define (note x) (set! trace (cons x trace)))
(define r
  (guard (e (#t (note 'handler) (list 'caught e)))
    (dynamic-wind
      (lambda () (note 'in))
      (lambda () (raise 'boom) (note 'unreachable))
      (lambda () (note 'out)))))
(write r) (newline)
(write (reverse trace)) (newline)
(set! trace '())
(define r2
  (guard (e ((error-object? e) (error-object-message e)))
    (dynamic-wind
      (lambda () (note 'in-a))
      (lambda ()
        (dynamic-wind
          (lambda () (note 'in-b))
          (lambda () (error "inner failure" 1 2))
          (lambda () (note 'out-b))))
      (lambda () (note 'out-a)))))
(write r2) (newline)
(write (reverse trace)) (newline)
