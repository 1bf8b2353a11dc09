;; vector patterns and vector templates
(define-syntax vsum (syntax-rules () ((_ #(x ...)) (+ x ...))))
(write (vsum #(1 2 3 4))) (newline)
(define-syntax vfirst (syntax-rules () ((_ #(a b ...)) 'a)))
(write (vfirst #(p q r))) (newline)
(define-syntax to-vector (syntax-rules () ((_ x ...) #(x ...))))
(write (to-vector 1 2 3)) (newline)
(define-syntax vswap (syntax-rules () ((_ #(a b)) '#(b a))))
(write (vswap #(1 2))) (newline)
