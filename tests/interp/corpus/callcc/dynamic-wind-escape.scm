;; escaping out of nested dynamic-winds runs every after thunk, innermost first
(define trace '())
(define (note x) (set! trace (cons x trace)))
(define result
  (call/cc
    (lambda (k)
      (dynamic-wind
        (lambda () (note 'in-1))
        (lambda ()
          (dynamic-wind
            (lambda () (note 'in-2))
            (lambda () (k 'escaped) (note 'not-reached))
            (lambda () (note 'out-2))))
        (lambda () (note 'out-1))))))
(write result) (newline)
(write (reverse trace)) (newline)
(set! trace '())
(define (safe-div a b)
  (call/cc (lambda (k)
    (dynamic-wind (lambda () (note 'enter)) (lambda () (if (= b 0) (k 'div-by-zero) (/ a b))) (lambda () (note 'leave))))))
(write (list (safe-div 10 2) (safe-div 1 0))) (newline)
(write (reverse trace)) (newline)
