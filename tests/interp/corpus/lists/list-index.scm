;; list-index: position of the first element satisfying the predicate
(write (list-index even? '(1 3 5 6 7))) (newline)
(write (list-index even? '(1 3 5))) (newline)
(write (list-index (lambda (x) (eq? x 'c)) '(a b c d))) (newline)
(write (list-index < '(3 2 1) '(1 2 3))) (newline)
(write (list-index = '(1 2) '(3 4 5))) (newline)
(write (list-index even? '())) (newline)
