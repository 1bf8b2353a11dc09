;; an error raised without irritants has an empty irritant list
(define e (guard (x (#t x)) (error "no irritants")))
(write (error-object-message e)) (newline)
(write (error-object-irritants e)) (newline)
(write (list? (error-object-irritants e))) (newline)
(write (length (error-object-irritants e))) (newline)
