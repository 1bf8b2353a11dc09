;; raise-continuable: the handler's value becomes the value of the raise
(write (with-exception-handler
         (lambda (e) (* e 10))
         (lambda () (+ 1 (raise-continuable 5)))))
(newline)
(define log '())
(write (with-exception-handler
         (lambda (e) (set! log (cons e log)) 0)
         (lambda ()
           (+ (raise-continuable 'first) (raise-continuable 'second) 7))))
(newline)
(write (length log)) (newline)
(define (safe-parse s)
  (let ((n (string->number s)))
    (if n n (raise-continuable (list 'bad-number s)))))
(write (with-exception-handler
         (lambda (e) -1)
         (lambda () (map safe-parse '("1" "x" "3")))))
(newline)
(write (with-exception-handler
         (lambda (outer) (list 'outer outer))
         (lambda ()
           (with-exception-handler
             (lambda (inner) (raise-continuable (list 'from-inner inner)))
             (lambda () (raise-continuable 'deep))))))
(newline)
