;; _ matches anything and binds nothing; clauses are tried in order
(define-syntax second (syntax-rules () ((_ _ b . _) 'b)))
(write (second 1 2 3 4)) (newline)
(define-syntax kind
  (syntax-rules ()
    ((_ ()) 'empty)
    ((_ (a)) 'one)
    ((_ (a b)) 'two)
    ((_ _) 'other)))
(write (list (kind ()) (kind (x)) (kind (x y)) (kind (x y z)) (kind atom))) (newline)
(define-syntax ignore-all (syntax-rules () ((_ _ ...) 'ignored)))
(write (ignore-all 1 (2 3) #(4))) (newline)
(define-syntax lit-match (syntax-rules () ((_ 1) 'one) ((_ "s") 'string) ((_ #t) 'true) ((_ x) 'other)))
(write (list (lit-match 1) (lit-match "s") (lit-match #t) (lit-match 2))) (newline)
