;; with-exception-handler handlers that escape with a continuation
(define (safe thunk default)
  (call/cc
    (lambda (k)
      (with-exception-handler
        (lambda (e) (k default))
        thunk))))
(write (safe (lambda () (car '())) 'default-used)) (newline)
(write (safe (lambda () (+ 1 2)) 'default-used)) (newline)
(write (safe (lambda () (raise 'x)) 'raised)) (newline)
(write (safe (lambda () (error "boom")) 'errored)) (newline)
(define (try-all thunks)
  (map (lambda (t) (safe t 'failed)) thunks))
(write (try-all (list (lambda () 1) (lambda () (vector-ref (vector) 1)) (lambda () 3)))) (newline)
