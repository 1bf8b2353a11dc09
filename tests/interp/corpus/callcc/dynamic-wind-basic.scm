;; dynamic-wind: before/thunk/after order and the thunk's value
(define trace '())
(define (note x) (set! trace (cons x trace)))
(define v (dynamic-wind (lambda () (note 'before)) (lambda () (note 'during) 'value) (lambda () (note 'after))))
(write v) (newline)
(write (reverse trace)) (newline)
(set! trace '())
(dynamic-wind
  (lambda () (note 'outer-in))
  (lambda ()
    (dynamic-wind (lambda () (note 'inner-in)) (lambda () (note 'body)) (lambda () (note 'inner-out))))
  (lambda () (note 'outer-out)))
(write (reverse trace)) (newline)
