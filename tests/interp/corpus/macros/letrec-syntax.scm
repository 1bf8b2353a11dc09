;; letrec-syntax: local macros that refer to themselves and each other
(write (letrec-syntax
           ((my-or (syntax-rules ()
                     ((_) #f)
                     ((_ e) e)
                     ((_ e r ...) (let ((t e)) (if t t (my-or r ...)))))))
         (let ((x #f) (y 7) (t 'user-t))
           (list (my-or x y) (my-or x t) (my-or)))))
(newline)
(write (letrec-syntax
           ((ev? (syntax-rules () ((_) #t) ((_ x . r) (od? . r))))
            (od? (syntax-rules () ((_) #f) ((_ x . r) (ev? . r)))))
         (list (ev? a b c d) (ev? a b c))))
(newline)
