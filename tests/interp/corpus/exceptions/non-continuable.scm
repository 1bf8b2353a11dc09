;; returning from a handler for a non-continuable raise is itself an error
(write (guard (e (#t 'secondary-error-caught))
         (with-exception-handler
           (lambda (e) 'handler-returned)
           (lambda () (raise 'not-continuable) 'after-raise))))
(newline)
(write (guard (e (#t 'caught-after-error))
         (with-exception-handler
           (lambda (e) 'ignored)
           (lambda () (error "plain error") 'after))))
(newline)
(write (with-exception-handler
         (lambda (e) 'continuable-is-fine)
         (lambda () (raise-continuable 'ok))))
(newline)
