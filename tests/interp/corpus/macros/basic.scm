;; simple syntax-rules macros: swap!, my-unless, my-or with multiple clauses
(define-syntax swap!
  (syntax-rules ()
    ((_ a b) (let ((tmp a)) (set! a b) (set! b tmp)))))
(define x 1)
(define y 2)
(swap! x y)
(write (list x y)) (newline)
(define-syntax my-unless
  (syntax-rules ()
    ((_ cond body ...) (if cond #f (begin body ...)))))
(write (list (my-unless #f 'ran) (my-unless #t 'ran))) (newline)
(define-syntax my-or
  (syntax-rules ()
    ((_) #f)
    ((_ e) e)
    ((_ e r ...) (let ((t e)) (if t t (my-or r ...))))))
(write (list (my-or) (my-or 1) (my-or #f 2) (my-or #f #f))) (newline)
(define-syntax inc!
  (syntax-rules ()
    ((_ v) (set! v (+ v 1)))
    ((_ v n) (set! v (+ v n)))))
(define counter 0)
(inc! counter)
(inc! counter 10)
(write counter) (newline)
(define-syntax square-it (syntax-rules () ((_ e) (* e e))))
(write (square-it (+ 1 2))) (newline)
