;; vectors compare with equal? structurally and eqv? by identity
(define a (vector 1 (list 2 3) "s"))
(define b (vector 1 (list 2 3) "s"))
(write (list (equal? a b) (eqv? a b) (eq? a a))) (newline)
(write (equal? #(1 #(2 #(3))) (vector 1 (vector 2 (vector 3))))) (newline)
(write (equal? #(1 2) #(1 2 3))) (newline)
(write (equal? #() (vector))) (newline)
(write (equal? #(1.0) #(1))) (newline)
(write (equal? (list #(1)) (list (vector 1)))) (newline)
