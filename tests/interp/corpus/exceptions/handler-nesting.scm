;; a handler runs with the outer handler installed: raising inside it goes outward
(write (with-exception-handler
         (lambda (e) (list 'outer-got e))
         (lambda ()
           (with-exception-handler
             (lambda (e) (raise-continuable (list 'inner-saw e)))
             (lambda () (raise-continuable 'original))))))
(newline)
(write (guard (e (#t (list 'guard-got e)))
         (with-exception-handler
           (lambda (e) (raise (list 'handler-raised e)))
           (lambda () (raise 'first)))))
(newline)
(define trace '())
(write (guard (e (#t (set! trace (cons 'guard trace)) e))
         (with-exception-handler
           (lambda (e) (set! trace (cons 'handler trace)) (raise 'second))
           (lambda () (raise 'first)))))
(newline)
(write (reverse trace)) (newline)
